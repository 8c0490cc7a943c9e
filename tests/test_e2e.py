"""End to end through the command line: prepare -> train -> evaluate -> report, and evaluate's bad input."""

import json
import logging
import os
import re
import shutil
import sys

import numpy as np
import pytest
import torch
from _train_helpers import make_dataset, synthetic_table

from peakcnn.cli import main
from peakcnn.metrics import bootstrap_interval
from peakcnn.runconfig import N_BOOT

MOTIF = "TGACGTCA"


def _tiny_genome(folder, n_chroms=4, length=30_000, seed=0):
    """Random chromosomes with a motif-rich 'peak' every ~600 bp; returns (fasta, bed) paths."""
    rng = np.random.default_rng(seed)
    fasta, bed = folder / "genome.fa", folder / "peaks.bed"
    fa_lines, bed_lines = [], []
    for c in range(n_chroms):
        seq = list(rng.choice(list("ACGT"), length))
        for centre in range(500, length - 500, 600):
            for offset in (-40, 0, 40):
                at = centre + offset
                seq[at : at + len(MOTIF)] = MOTIF
            bed_lines.append(f"chr{c + 1}\t{centre - 50}\t{centre + 50}\n")
        fa_lines.append(f">chr{c + 1}\n" + "\n".join("".join(seq[i : i + 60]) for i in range(0, length, 60)) + "\n")
    fasta.write_text("".join(fa_lines))
    bed.write_text("".join(bed_lines))
    return fasta, bed


def _sigmoid(logits):
    return 1 / (1 + np.exp(-np.asarray(logits, dtype=np.float64)))


def _pairwise_auroc(y, p):
    """Fraction of (positive, negative) pairs the positive outranks, ties counting one half."""
    y, p = np.asarray(y).astype(bool), np.asarray(p, dtype=np.float64)
    diff = p[y][:, None] - p[~y][None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def _average_precision(y, p):
    """Sum over distinct thresholds (high to low) of precision times the recall gained there."""
    y, p = np.asarray(y).astype(bool), np.asarray(p, dtype=np.float64)
    ap, recall_before = 0.0, 0.0
    for t in np.unique(p)[::-1]:
        called = p >= t
        tp = int((called & y).sum())
        recall = tp / y.sum()
        ap += (recall - recall_before) * tp / called.sum()
        recall_before = recall
    return ap


def _assert_metrics_of(metrics, tasks, labels, probs, abs_tol=1e-9):
    """The per-task and macro metrics of one model in metrics.json are those of ``labels`` and ``probs``."""
    labels, probs = np.asarray(labels).reshape(len(labels), -1), np.asarray(probs).reshape(len(probs), -1)
    assert list(metrics["tasks"]) == list(tasks) and labels.shape == probs.shape == (len(labels), len(tasks))
    rocs = []
    for i, task in enumerate(tasks):
        m, y, p = metrics["tasks"][task], labels[:, i], probs[:, i]
        assert 0 < y.sum() < len(y)  # both classes, so auROC and auPRC are defined
        assert (m["n"], m["n_pos"], m["n_neg"]) == (len(y), int(y.sum()), int(len(y) - y.sum()))
        assert m["auroc"] == pytest.approx(_pairwise_auroc(y, p), abs=abs_tol)
        assert m["auprc"] == pytest.approx(_average_precision(y, p), abs=abs_tol)
        assert m["accuracy"] == pytest.approx(np.mean((p >= 0.5) == (y == 1)), abs=1e-12)
        assert m["brier"] == pytest.approx(np.mean((p - y) ** 2), abs=max(abs_tol, 1e-6))
        ci = bootstrap_interval(y, p, n_boot=N_BOOT)  # evaluate's default: 1,000 stratified resamples, seed 0
        for key in ("auroc", "auprc"):
            assert m[f"{key}_interval"] == pytest.approx(ci[key], abs=max(abs_tol, 1e-6))
            assert ci[key][0] <= ci[key][1]
        rocs.append(_pairwise_auroc(y, p))
    assert metrics["macro"]["n"] == len(labels)
    assert metrics["macro"]["auroc"] == pytest.approx(np.mean(rocs), abs=abs_tol)


def test_prepare_train_evaluate_report(tmp_path, capsys):
    fasta, bed = _tiny_genome(tmp_path)
    ds, run = tmp_path / "ds", tmp_path / "run"
    assert (
        main(
            [
                "-q",
                "prepare",
                "--genome",
                str(fasta),
                "--peaks",
                str(bed),
                "--out",
                str(ds),
                "--window",
                "200",
            ]
        )
        == 0
    )
    assert main(["-q", "train", str(ds), "--out", str(run), "--arch", "small", "--epochs", "1"]) == 0
    assert (run / "model.safetensors").exists() and (run / "history.csv").exists()
    capsys.readouterr()
    assert main(["-q", "evaluate", str(run)]) == 0
    out = capsys.readouterr().out
    assert "report:" in out and "| CNN (small) |" in out and "4-mer logistic regression" in out
    folder = run / "eval_test"
    doc = json.loads((folder / "metrics.json").read_text())
    assert doc["intervals"]["resamples"] == N_BOOT and "In brackets: 95% intervals" in out
    lo, hi = doc["models"]["CNN"]["metrics"]["macro"]["auroc_interval"]
    cell = f"{doc['models']['CNN']['metrics']['macro']['auroc']:.3f} ({lo:.3f}-{hi:.3f})"
    assert cell in out and cell in (folder / "report.html").read_text()
    macro = doc["models"]["CNN"]["metrics"]["macro"]
    lo, hi = macro["auprc_interval"]
    pr_cell = f"{macro['auprc']:.3f} ({lo:.3f}-{hi:.3f}) | {macro['positive_rate']:.3f} |"
    assert "| auPRC | auPRC chance |" in out and pr_cell in out  # the printed table shows auPRC's chance level
    assert set(doc["models"]) == {"CNN", "gc", "kmer4", "kmer6"}
    cnn = doc["models"]["CNN"]["metrics"]["macro"]
    assert cnn["n"] == doc["dataset"]["counts"]["test"] > 0 and 0 <= cnn["auroc"] <= 1
    assert doc["dataset"]["matches_training"] is True and "training_overlap" not in doc["dataset"]
    html = (folder / "report.html").read_text()
    for needle in (doc["dataset"]["negatives"], doc["dataset"]["split_mode"], f"{cnn['n']:,} ("):
        assert needle in html
    assert html.count("data:image/png;base64,") == 4
    for png in ("roc.png", "pr.png", "calibration.png", "training.png"):
        assert (folder / png).stat().st_size > 1000
    assert not list(tmp_path.rglob("*.tmp*")) and not list(tmp_path.rglob("*.old-*"))

    # The figures are those of the test split's labels and each model's probabilities, computed here
    # independently (the baselines refitted on the data set's train/valid splits, the CNN run on the test split).
    from peakcnn.baselines import run_baselines
    from peakcnn.checkpoint import load_model
    from peakcnn.data.store import Dataset
    from peakcnn.trainer import predict_logits

    model, _ = load_model(run)
    with Dataset(ds) as data:
        codes, labels = data.load_split("test")
        fitted = run_baselines(data.load_split("train"), data.load_split("valid"), (codes, labels))
    tasks = doc["dataset"]["tasks"]
    assert len(labels) == cnn["n"]
    _assert_metrics_of(doc["models"]["CNN"]["metrics"], tasks, labels, _sigmoid(predict_logits(model, codes)))
    for name in ("gc", "kmer4", "kmer6"):
        assert doc["models"][name]["chosen_c"] == fitted[name]["chosen_c"]
        _assert_metrics_of(doc["models"][name]["metrics"], tasks, labels, fitted[name]["probs"])

    # Regions of the test split, 1-based and inclusive: every test window lies in one, and each begins at the
    # first base of a test window.
    with Dataset(ds) as data:
        chrom, start, split, names, width = (
            data.read("chrom"),
            data.read("start"),
            data.read("split"),
            data.chroms,
            data.window,
        )
    spans = [re.fullmatch(r"(.+):([\d,]+)-([\d,]+)", s).groups() for s in doc["dataset"]["regions_by_split"]["test"]]
    spans = [(c, int(a.replace(",", "")), int(b.replace(",", ""))) for c, a, b in spans]
    tests = [(names[chrom[i]], max(int(start[i]), 0) + 1, int(start[i]) + width) for i in np.flatnonzero(split == 2)]
    assert spans and all(any(c == sc and a <= lo and hi <= b for sc, a, b in spans) for c, lo, hi in tests)
    assert all(any(c == sc and a == lo for c, lo, _ in tests) for sc, a, _ in spans)
    assert all(any(c == sc and b == hi for c, _, hi in tests) for sc, _, b in spans)  # ends on a window's last base


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    make_dataset(root / "ds", n=120, window=100, n_tasks=1)
    argv = ["-q", "train", str(root / "ds"), "--out", str(root / "run"), "--arch", "small", "--epochs", "1"]
    assert main(argv + ["--batch-size", "16"]) == 0
    return root


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("peakcnn: error: ")
    return err[0]


def test_evaluate_other_dataset_same_tasks_warns(trained, caplog, capsys):
    make_dataset(trained / "other", n=120, window=100, n_tasks=1, seed=5)
    out = trained / "other_eval"
    assert main(["evaluate", str(trained / "run"), "--dataset", str(trained / "other"), "--out", str(out),
                 "--no-baselines"]) == 0  # fmt: skip
    assert "not the data set" in caplog.text
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["dataset"]["matches_training"] is False
    # both data sets tile chrS with the same windows, split at random: a test window of "other" was seen in
    # training where the run's data set put the same window in its train or valid split
    mine, theirs = (synthetic_table(n=120, window=100, n_tasks=1, seed=s).split for s in (5, 0))
    seen = int(((mine == 2) & (theirs != 2)).sum())
    assert 0 < seen < (mine == 2).sum()
    assert doc["caveat"] == (
        f"{seen:,} of the {(mine == 2).sum():,} test windows overlap windows that {trained / 'run'} was trained or "
        "selected "
        "on, so their scores are optimistic"
    )
    assert doc["dataset"]["training_overlap"] == doc["caveat"]
    assert f"\ncaveat: {doc['caveat']}\n" in capsys.readouterr().out  # printed above the table too
    report = (out / "report.html").read_text()
    assert doc["caveat"] in report and "the caveat above counts its windows that overlap" in report
    assert "may overlap" not in caplog.text + report


def test_evaluate_other_dataset_without_shared_windows_says_none_overlap(trained, caplog):
    from peakcnn.data.store import write_dataset

    table = synthetic_table(n=120, window=100, n_tasks=1, seed=7)
    table.start[:] += 10**6  # past every window the run was trained on
    (trained / "far").mkdir()
    write_dataset(table, trained / "far" / "dataset.h5")
    out = trained / "far_eval"
    caplog.set_level(logging.INFO)
    argv = ["evaluate", str(trained / "run"), "--dataset", str(trained / "far"), "--out", str(out), "--no-baselines"]
    assert main(argv) == 0
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["caveat"] is None and doc["dataset"]["training_overlap"] == "none"
    n_test = int((table.split == 2).sum())
    assert f"none of the {n_test} test windows of {trained / 'far' / 'dataset.h5'} overlaps a window" in caplog.text
    assert (
        "none of its test windows overlaps a window the model was trained or selected on"
        in (out / "report.html").read_text()
    )


def test_evaluate_on_a_data_set_without_training_windows_scores_the_cnn_alone(trained, caplog):
    """Baselines are fitted on the train split; with none there, evaluation raised a numpy traceback."""
    from _train_helpers import synthetic_table

    from peakcnn.data.store import write_dataset

    table = synthetic_table(n=120, window=100, n_tasks=1, seed=6)
    table.split[:] = np.where(np.arange(120) % 2, 1, 2)  # valid and test only
    (trained / "no_train").mkdir()
    write_dataset(table, trained / "no_train" / "dataset.h5")
    out = trained / "no_train_eval"
    assert main(["evaluate", str(trained / "run"), "--dataset", str(trained / "no_train"), "--out", str(out)]) == 0
    assert "the train split has no windows to fit the baselines on; none are scored" in caplog.text
    assert list(json.loads((out / "metrics.json").read_text())["models"]) == ["CNN"]


@pytest.mark.parametrize("kw, message", [({"n_tasks": 2}, "tasks"), ({"window": 120}, "bp windows")])
def test_evaluate_incompatible_dataset(trained, capsys, kw, message):
    make_dataset(trained / f"bad{len(kw)}{kw.get('window', 0)}", n=60, **{"window": 100, **kw})
    folder = trained / f"bad{len(kw)}{kw.get('window', 0)}"
    assert main(["evaluate", str(trained / "run"), "--dataset", str(folder), "--no-baselines"]) == 2
    assert message in _error(capsys)


def test_evaluate_recorded_dataset_changed(trained, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    make_dataset(tmp_path / "ds", n=60, window=100, n_tasks=1, seed=1)
    config = json.loads((run / "config.json").read_text())
    config["dataset"]["path"] = str(tmp_path / "ds" / "dataset.h5")
    (run / "config.json").write_text(json.dumps(config))
    assert main(["evaluate", str(run), "--no-baselines"]) == 2
    assert "changed since" in _error(capsys)
    assert not (run / "eval_test").exists()


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: [c], "config.json: holds a JSON list, not an object"),
        (lambda c: {**c, "dataset": "/data/ds"}, "config.json: its 'dataset' section is '/data/ds', not an object"),
        (lambda c: {**c, "training": [1]}, "config.json: its 'training' section is [1], not an object"),
        (lambda c: {**c, "dataset": {**c["dataset"], "path": 5}}, "config.json: its dataset path is 5, not a string"),
        (lambda c: {**c, "dataset": {**c["dataset"], "sha256": []}}, "its dataset sha256 is [], not a string"),
    ],
)
def test_an_edited_config_json_is_one_line_for_evaluate_and_resume(trained, tmp_path, capsys, edit, message):
    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    (run / "config.json").write_text(json.dumps(edit(json.loads((run / "config.json").read_text()))))
    for argv in (
        ["evaluate", str(run), "--no-baselines", "--out", str(tmp_path / "ev")],
        ["train", str(trained / "ds"), "--out", str(run), "--resume"],
    ):
        assert main(argv) == 2
        err = _error(capsys)
        assert message in err and err.endswith("the run folder is damaged, train into a new --out folder"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.update(epochs=0), "its training section does not load (--epochs 0: must be at least 1)"),
        (lambda t: t.update(arch="nope"), "its training section does not load (--arch 'nope': choose one of"),
        (lambda t: t.update(foo=1), "does not load (training config has unknown keys: foo)"),
        (lambda t: t.pop("epochs"), "config.json: its training section lacks epochs"),
    ],
)
def test_a_damaged_training_section_stops_resume_naming_config_json(trained, tmp_path, capsys, edit, message):
    """Values read from the run are blamed on config.json, not on options this command line did not give;
    an option every run records is not silently replaced by its default (a missing epochs trained 20)."""
    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    config = json.loads((run / "config.json").read_text())
    edit(config["training"])
    (run / "config.json").write_text(json.dumps(config))
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert main(["train", str(trained / "ds"), "--out", str(run), "--resume"]) == 2
    err = _error(capsys)
    assert message in err and err.endswith("the run folder is damaged, train into a new --out folder"), err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_evaluate_damaged_checkpoint(trained, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    meta = json.loads((run / "model.json").read_text())
    meta["model_config"]["dense_units"] = [32]
    (run / "model.json").write_text(json.dumps(meta))
    assert main(["evaluate", str(run), "--no-baselines"]) == 2
    assert "do not fit the model config" in _error(capsys)


def test_evaluate_of_a_model_file_or_missing_run_names_the_run_not_the_output(trained, tmp_path, capsys):
    for run in (trained / "run" / "model.safetensors", tmp_path / "missing"):
        assert main(["evaluate", str(run), "--no-baselines"]) == 2
        assert f"{run}: no run folder here; give the --out folder of 'peakcnn train'" in _error(capsys)
    assert not (tmp_path / "missing").exists()


def test_evaluate_rc_scores_the_mean_of_both_strands(trained, capsys):
    from peakcnn.checkpoint import load_model
    from peakcnn.data.store import Dataset
    from peakcnn.evaluate import STRANDS_BOTH, score
    from peakcnn.sequence import reverse_complement_codes
    from peakcnn.trainer import predict_logits

    forward, arrays_f = score(trained / "run", baselines=False)
    both, arrays_b = score(trained / "run", baselines=False, rc=True)
    model, _ = load_model(trained / "run")
    with Dataset(trained / "ds" / "dataset.h5") as ds:
        codes, labels = ds.load_split("test")
    p_fwd = _sigmoid(predict_logits(model, codes))
    p_rev = _sigmoid(predict_logits(model, np.ascontiguousarray(reverse_complement_codes(codes))))
    assert np.abs(p_fwd - p_rev).max() > 1e-3  # the untrained-ish model is not strand-symmetric
    np.testing.assert_allclose(arrays_f["probs"]["CNN"], p_fwd, atol=1e-6)
    np.testing.assert_allclose(arrays_b["probs"]["CNN"], (p_fwd + p_rev) / 2, atol=1e-5)
    for arrays in (arrays_f, arrays_b):  # the windows scored are the test split's, with their labels
        assert np.array_equal(arrays["labels"], labels)
    # the metrics are those of the test labels and the forward / both-strand probabilities
    _assert_metrics_of(forward["models"]["CNN"]["metrics"], ["task0"], labels, p_fwd)
    _assert_metrics_of(both["models"]["CNN"]["metrics"], ["task0"], labels, (p_fwd + p_rev) / 2)
    assert both["model"]["strands"] == STRANDS_BOTH != forward["model"]["strands"]
    out = trained / "rc_eval"
    assert main(["-q", "evaluate", str(trained / "run"), "--rc", "--no-baselines", "--out", str(out)]) == 0
    assert "mean of both strands" in capsys.readouterr().out
    assert STRANDS_BOTH in (out / "report.html").read_text()


def test_evaluate_draws_the_baselines_bar_on_a_terminal_unless_quiet(trained, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    argv = ["evaluate", str(trained / "run"), "--bootstrap", "0"]
    bar = "baselines: "
    assert main([*argv, "--out", str(trained / "bar_eval")]) == 0
    assert bar in capsys.readouterr().err
    assert main([*argv, "--out", str(trained / "quiet_eval"), "-q"]) == 0
    assert bar not in capsys.readouterr().err
    assert main(["-q", *argv, "--out", str(trained / "quiet_eval2")]) == 0
    assert bar not in capsys.readouterr().err


def test_evaluate_shifts_average_moved_windows_and_the_report_says_so(trained, capsys):
    from peakcnn.checkpoint import load_model
    from peakcnn.data.store import Dataset
    from peakcnn.evaluate import score
    from peakcnn.trainer import predict_logits

    model, _ = load_model(trained / "run")
    with Dataset(trained / "ds" / "dataset.h5") as ds:
        codes, labels = ds.load_split("test")

    def moved(s):  # N moved in, by hand
        out = np.full_like(codes, 4)
        if s >= 0:
            out[:, s:] = codes[:, : codes.shape[1] - s]
        else:
            out[:, :s] = codes[:, -s:]
        return out

    p = np.mean([_sigmoid(predict_logits(model, moved(s))) for s in (-4, 0, 4)], axis=0)
    doc, arrays = score(trained / "run", baselines=False, shifts=[4, 0, -4])
    np.testing.assert_allclose(arrays["probs"]["CNN"], p, atol=1e-6)
    _assert_metrics_of(doc["models"]["CNN"]["metrics"], ["task0"], labels, p)
    assert doc["model"]["shifts"] == [4, 0, -4]
    out = trained / "shift_eval"
    argv = ["-q", "evaluate", str(trained / "run"), "--shifts", "-4", "0", "4", "--no-baselines", "--out", str(out)]
    assert main(argv) == 0
    assert "each window moved by -4, 0, +4 bp (N moved in), probabilities averaged" in (out / "report.html").read_text()
    assert json.loads((out / "metrics.json").read_text())["model"]["shifts"] == [-4, 0, 4]
    for bad, message in ((["0", "0"], "--shifts 0 0: give distinct whole numbers"),
                         (["100"], "--shifts 100: a window of 100 bp moved that far")):  # fmt: skip
        assert main(["evaluate", str(trained / "run"), "--shifts", *bad, "--no-baselines", "--out", str(out)]) == 2
        assert message in _error(capsys)
    assert (out / "metrics.json").exists() and not list(out.parent.glob(".shift_eval.*"))
    one, arrays = score(trained / "run", baselines=False, shifts=[4])  # one shift: that window alone
    np.testing.assert_allclose(arrays["probs"]["CNN"], _sigmoid(predict_logits(model, moved(4))), atol=1e-6)
    assert one["model"]["strands"] == "forward strand, each window moved by +4 bp (N moved in)"
    both, _ = score(trained / "run", baselines=False, shifts=[4], rc=True)
    assert both["model"]["strands"] == (
        "mean of both strands (forward and reverse complement), each window moved by +4 bp along its own strand "
        "(N moved in)"
    )


def test_the_valid_split_caveat_names_the_6mer_choice_only_when_valid_made_it(trained, caplog):
    """On another data set's valid split the run chose nothing; the 6-mer baseline chose its L2 strength there
    unless every task had one class in it, and only then does the caveat say so. A split of one class only
    is warned about."""
    import dataclasses

    from _train_helpers import synthetic_table

    from peakcnn.data.store import write_dataset

    table = synthetic_table(n=120, window=100, n_tasks=1, seed=5)
    table = dataclasses.replace(table, start=table.start + 1_000_000)  # beside the run's windows, not on them
    valid = table.split == 1
    one_class = dataclasses.replace(table, labels=np.where(valid[:, None], 0, table.labels).astype(np.uint8))
    one_class = dataclasses.replace(one_class, source=(one_class.labels.max(axis=1) == 0).astype(np.uint8))
    caveats = {}
    for name, t in (("both", table), ("one", one_class)):
        (trained / f"valid_{name}").mkdir()
        write_dataset(t, trained / f"valid_{name}" / "dataset.h5")
        out = trained / f"valid_{name}_eval"
        argv = ["-q", "evaluate", str(trained / "run"), "--dataset", str(trained / f"valid_{name}"), "--split", "valid"]
        assert main([*argv, "--out", str(out)]) == 0
        caveats[name] = json.loads((out / "metrics.json").read_text())["caveat"]
        assert ("one class only for every task: no auROC or auPRC" in caplog.text) == (name == "one")
    assert caveats == {"both": "this split chose the 6-mer baseline's L2 strength, so its scores are optimistic "
                       "(use --split test)", "one": None}  # fmt: skip


def test_the_interval_note_comes_only_with_brackets_shown():
    """Intervals computed but undefined everywhere (every task of one class in the split) are not explained;
    a per-task interval beside a macro without one is explained in the report, not in the macro printout."""
    from peakcnn.report import interval_note

    nan = float("nan")

    def doc(macro_ci, task_ci):
        metrics = {"macro": {"auroc_interval": macro_ci}, "tasks": {"a": {"auprc_interval": task_ci}}}
        return {"intervals": {"level": 0.95, "method": "m", "resamples": 10}, "models": {"CNN": {"metrics": metrics}}}

    assert interval_note(doc([nan, nan], [nan, nan])) == "" and interval_note(doc(None, None)) == ""
    assert interval_note(doc(None, [0.1, 0.2])).startswith("In brackets: 95% intervals")
    assert interval_note(doc(None, [0.1, 0.2]), macro_only=True) == ""
    assert interval_note(doc([0.1, 0.2], None), macro_only=True).startswith("In brackets")
    assert interval_note({**doc([0.1, 0.2], None), "intervals": None}) == ""


def test_split_caveat_names_what_used_the_split():
    from peakcnn.evaluate import split_caveat

    def run(sha, **training):
        return {"dataset_sha256": sha, "training": training}

    plain = run("A", early_stop=0, select_best=False, lr_schedule="none")
    best = run("A", early_stop=3, select_best=False, lr_schedule="cosine")
    tail = ", so its scores are optimistic (use --split test)"
    assert split_caveat("test", best, True, "A") is None
    assert split_caveat("valid", plain, False, "A") is None  # nothing chose anything on it
    assert (
        split_caveat("valid", best, False, "A")
        == "this split decided when to stop training and chose the kept epoch" + tail
    )
    plateau = run("A", select_best=True, lr_schedule="plateau")
    assert split_caveat("valid", plateau, True, "A") == (
        "this split chose the kept epoch, drove the plateau schedule and chose the 6-mer baseline's L2 strength" + tail
    )
    # another data set than the run's: only the baselines used its split
    assert split_caveat("valid", best, True, "B") == "this split chose the 6-mer baseline's L2 strength" + tail
    assert split_caveat("valid", best, False, "B") is None
    # an ensemble: what its members trained on this data set did with it
    ensemble = {"training": {"arch": "ensemble of 2"}, "ensemble": {"members": [plain, run("B", select_best=True)]}}
    assert split_caveat("valid", ensemble, False, "A") is None
    assert split_caveat("valid", ensemble, False, "B") == "this split chose the kept epoch" + tail
    assert split_caveat("train", ensemble, False, "B").startswith("the CNN was fitted on this split")
    assert split_caveat("train", plain, True, "A").startswith("the CNN and the baselines were fitted on this split")
    assert split_caveat("train", plain, True, "B").startswith("the baselines were fitted on this split")
    assert split_caveat("train", plain, False, "B") is None


def test_evaluate_bootstrap_option(trained, tmp_path, capsys, monkeypatch, caplog):
    argv = ["-q", "evaluate", str(trained / "run"), "--no-baselines", "--out", str(tmp_path / "ev")]
    # by default, intervals only for data sets of at most N_BOOT_MAX_TASKS tasks
    monkeypatch.setattr("peakcnn.evaluate.N_BOOT_MAX_TASKS", 0)
    caplog.set_level(logging.INFO)
    assert main(argv[1:]) == 0  # without -q: the message is at INFO level
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["intervals"] is None
    assert "no intervals for 1 tasks by default; --bootstrap 1000 computes them" in caplog.text
    monkeypatch.undo()
    assert main(argv + ["--bootstrap", "0"]) == 0
    doc = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert doc["intervals"] is None and "auroc_interval" not in doc["models"]["CNN"]["metrics"]["macro"]
    assert "In brackets" not in capsys.readouterr().out
    assert main(argv + ["--bootstrap", "200"]) == 0
    doc = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert doc["intervals"]["resamples"] == 200
    lo, hi = doc["models"]["CNN"]["metrics"]["tasks"][doc["dataset"]["tasks"][0]]["auprc_interval"]
    assert 0 <= lo <= hi <= 1
    capsys.readouterr()
    assert main(argv + ["--bootstrap", "-5"]) == 2
    rule = "must be 0 (no intervals) or lie between 100 and 100,000"
    assert f"argument --bootstrap: '-5' {rule}" in capsys.readouterr().err.strip()
    for few_or_many in ("1", "99", "100001"):  # one resample made a "95% interval" without the figure in it
        assert main(argv + ["--bootstrap", few_or_many]) == 2
        assert f"'{few_or_many}' {rule}" in capsys.readouterr().err


def test_evaluate_device_option(trained, tmp_path, capsys):
    out = tmp_path / "ev"
    argv = ["-q", "evaluate", str(trained / "run"), "--no-baselines", "--out", str(out)]
    assert main(argv + ["--device", "cpu"]) == 0 and (out / "metrics.json").exists()
    if not torch.cuda.is_available():
        shutil.rmtree(out)
        assert main(argv + ["--device", "cuda"]) == 2
        assert "--device cuda: no CUDA device is available here" in _error(capsys)
        assert not out.exists() and not list(tmp_path.glob(".ev.*"))


def test_evaluate_leaves_other_folders_alone_and_writes_through_a_link(trained, tmp_path):
    """A user's folder named like a temporary one (``OUT.tmp``) is not touched; an --out that links to a
    folder elsewhere gets the evaluation in that folder and stays a link, also when evaluated again."""
    (tmp_path / "results.tmp").mkdir()
    (tmp_path / "results.tmp" / "notes.txt").write_text("keep me\n")
    argv = ["-q", "evaluate", str(trained / "run"), "--no-baselines", "--bootstrap", "0", "--out"]
    assert main([*argv, str(tmp_path / "results")]) == 0
    assert (tmp_path / "results.tmp" / "notes.txt").read_text() == "keep me\n"
    (tmp_path / "scratch").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "scratch")
    for _ in range(2):
        assert main([*argv, str(tmp_path / "link")]) == 0
        assert (tmp_path / "link").is_symlink() and (tmp_path / "scratch" / "metrics.json").is_file()
    assert sorted(os.listdir(tmp_path)) == ["link", "results", "results.tmp", "scratch"]


def test_evaluate_out_never_replaces_a_folder_it_did_not_write(trained, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    before = sorted(p.name for p in run.iterdir())
    assert main(["evaluate", str(run), "--no-baselines", "--out", str(run)]) == 2
    assert "holds files an evaluation did not write" in _error(capsys)
    assert sorted(p.name for p in run.iterdir()) == before
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "notes.txt").write_text("keep me\n")
    assert main(["evaluate", str(run), "--no-baselines", "--out", str(tmp_path / "notes")]) == 2
    assert "notes.txt" in _error(capsys)
    assert (tmp_path / "notes" / "notes.txt").read_text() == "keep me\n"
    (tmp_path / "afile").write_text("x\n")
    assert main(["evaluate", str(run), "--no-baselines", "--out", str(tmp_path / "afile")]) == 2
    assert "is a file" in _error(capsys)
    # an earlier evaluation's folder is replaced as a whole
    out = tmp_path / "eval"
    assert main(["-q", "evaluate", str(run), "--no-baselines", "--out", str(out)]) == 0
    first = (out / "metrics.json").read_text()
    assert main(["-q", "evaluate", str(run), "--out", str(out), "--split", "valid"]) == 0
    assert (out / "metrics.json").read_text() != first
    doc = json.loads((out / "metrics.json").read_text())
    # the run kept its last epoch (founding recipe), so only the 6-mer's L2 strength was chosen on this split
    assert doc["split"] == "valid"
    assert doc["caveat"] == (
        "this split chose the 6-mer baseline's L2 strength, so its scores are optimistic (use --split test)"
    )
    # the windows scored are the validation split's, not the test split's
    from peakcnn.checkpoint import load_model
    from peakcnn.data.store import Dataset
    from peakcnn.trainer import predict_logits

    with Dataset(trained / "ds") as ds:
        codes, labels = ds.load_split("valid")
        n_test = ds.count("test")
    assert doc["models"]["CNN"]["metrics"]["macro"]["n"] == len(labels) == doc["dataset"]["counts"]["valid"] != n_test
    model, _ = load_model(run)
    _assert_metrics_of(doc["models"]["CNN"]["metrics"], ["task0"], labels, _sigmoid(predict_logits(model, codes)))
    assert "so its scores are optimistic" in (out / "report.html").read_text()
    assert json.loads(first)["caveat"] is None


@pytest.mark.parametrize(
    "argv, message",
    [
        (["prepare"], "the following arguments are required: --genome, --peaks, --out; see 'peakcnn prepare --help'"),
        (["train", "D", "--out", "R", "--epochs", "nan"], "argument --epochs: invalid int value: 'nan'"),
        (["predict", "R", "--genome", "g.fa", "--bed", "a.bed", "--fasta", "a.fa", "--out", "o.tsv"],
         "argument --fasta: not allowed with argument --bed"),
        (["bogus"], "argument COMMAND: invalid choice: 'bogus'"),
        (["evaluate", "R", "--shifts", "-5", "x"], "argument --shifts: invalid int value: 'x'"),
    ],
)  # fmt: skip
def test_command_line_mistakes_are_one_line(argv, message, capsys):
    status = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1, err
    assert err[0].startswith("peakcnn: error: ") and message in err[0], err


def test_ctrl_c_while_the_command_line_is_read_is_one_line_exit_130(monkeypatch, capsys):
    """Before main's handlers are in place (sub-commands importing, arguments parsed) Ctrl-C is still the
    one line 'peakcnn: interrupted' and exit 130, as later."""
    import peakcnn.cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(peakcnn.cli, "build_parser", interrupted)
    monkeypatch.setattr(sys, "argv", ["peakcnn", "evaluate", "RUN"])
    with pytest.raises(SystemExit) as e:
        peakcnn.cli.entry()
    assert e.value.code == 130 and capsys.readouterr().err == "peakcnn: interrupted\n"


def test_running_out_of_memory_is_one_line_exit_1(monkeypatch, capsys):
    import peakcnn.cli.evaluate

    def too_big(args):
        np.empty((2**33, 2**20), dtype=np.float64)  # 64 PiB: refused at once by numpy

    monkeypatch.setattr(peakcnn.cli.evaluate, "run", too_big)
    assert main(["evaluate", "RUN"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("peakcnn: error: out of memory (Unable to allocate 64.0 PiB"), err


@pytest.mark.parametrize("size", [10, 1_000_000])
def test_a_reader_that_goes_away_ends_the_command_quietly_with_status_141(size):
    """``peakcnn ... | head``: once the reader of stdout is gone, the command stops with the shell's status for
    SIGPIPE (128 + 13) and writes nothing to stderr. A short output sits in stdout's buffer until the command
    is done; flushed only as Python exits, it ended in status 120 and Python's note 'Exception ignored ...
    BrokenPipeError'."""
    import subprocess

    script = (
        "import sys, peakcnn.cli.evaluate as e\n"
        f"e.run = lambda args: print('x' * {size}) or 0\n"  # 1 MB: more than any pipe or buffer holds
        "from peakcnn.cli import main\n"
        "sys.exit(main(['evaluate', 'RUN']))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout buffered, as by default
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    child.stdout.close()  # the reader is gone before the command writes
    err = child.stderr.read().decode()
    assert child.wait(timeout=60) == 141 and err == ""


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.replace("\n1,", "\n1,xx", 1), "history.csv:2: could not convert string to float: 'xx"),
        (lambda t: t.splitlines()[0] + "\n1,0.5," + ",".join(["0"] * 40) + "\n", "history.csv:2: more fields"),
        (lambda t: "epoch,valid_auprc\n1,inf\n", "history.csv: no column 'train_loss' in the header line"),
        (lambda t: t.replace("\n1,", "\ninf,", 1), "history.csv:2: cannot convert float infinity to integer"),
        (
            lambda t: t.splitlines()[0] + "\n1,-1e308,0.5,0.5,0.5,0.6,0.5,0.5,0.5,0.02,1\n",
            ":2: train_loss -1e+308 is not a",
        ),
        (
            lambda t: t.splitlines()[0] + "\n1,0.6,1.5,0.5,0.5,0.6,0.5,0.5,0.5,0.02,1\n",
            ":2: train_acc 1.5 is not a score",
        ),
        (
            lambda t: t.splitlines()[0] + "\n0,0.6,0.5,0.5,0.5,0.6,0.5,0.5,0.5,0.02,1\n",
            "history.csv:2: epoch 0 is below 1",
        ),
    ],
)
def test_a_damaged_history_is_one_line_naming_the_file(trained, tmp_path, capsys, edit, message):
    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    history = run / "history.csv"
    history.write_text(edit(history.read_text()))
    assert main(["-q", "evaluate", str(run), "--no-baselines", "--out", str(tmp_path / "ev")]) == 2
    err = _error(capsys)
    assert message in err and err.endswith("train the run again, or delete the file to go without curves"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no report, no temporary folder
    history.write_bytes(b"\xff\xfe\x00")
    assert main(["-q", "evaluate", str(run), "--no-baselines", "--out", str(tmp_path / "ev")]) == 2
    assert "history.csv: cannot be read as a history table" in _error(capsys)


@pytest.mark.parametrize("negatives", ["gc-matched", "none"])
def test_multi_task_negatives_that_are_other_tasks_peaks_are_counted_beside_the_scores(
    tmp_path, capsys, monkeypatch, negatives
):
    """In Basset's multi-task layout a window is a negative of every task it holds no peak of, so a task's
    negatives include the other tasks' peak windows; the printout and the report say how many, per task."""
    from _prepare_helpers import read_windows_bed, tiny_dataset_inputs

    inputs = tiny_dataset_inputs(tmp_path)
    ds, run = tmp_path / "ds", tmp_path / "run"
    argv = ["-q", "prepare", "--genome", str(inputs["genome"]), "--peaks", str(inputs["a"]), str(inputs["b"])]
    assert main([*argv, "--window", "200", "--negatives", negatives, "--out", str(ds)]) == 0
    assert main(["-q", "train", str(ds), "--out", str(run), "--arch", "small", "--epochs", "1"]) == 0
    header, rows = read_windows_bed(ds / "windows.bed")
    expected = {}
    for task in ("a", "b"):
        negs = [r for r in rows if r[header.index("split")] == "test" and r[header.index(task)] == "0"]
        peaks = sum(r[header.index("name")].startswith("peak") for r in negs)
        expected[task] = {"generated": len(negs) - peaks, "peaks_of_other_tasks": peaks}
    assert expected["b"]["peaks_of_other_tasks"] > 0 and expected["a"]["peaks_of_other_tasks"] == 0
    capsys.readouterr()
    (run / "history.csv").unlink()  # a run folder holding only its model: what it does not know is not said
    monkeypatch.setattr("peakcnn.report.MAX_PANELS", 1)
    monkeypatch.setattr("peakcnn.plots.MAX_PANELS", 1)
    assert main(["-q", "evaluate", str(run), "--no-baselines", "--bootstrap", "100"]) == 0
    out = capsys.readouterr().out
    doc = json.loads((run / "eval_test" / "metrics.json").read_text())
    assert doc["dataset"]["negatives_by_task"] == expected
    b = expected["b"]
    shared = f"b {b['peaks_of_other_tasks']} of {sum(b.values())} negatives"
    said = f"{negatives}, and the peak windows of other tasks ({shared})"
    assert f"negatives: {said}, CNN scored" in out
    html = (run / "eval_test" / "report.html").read_text()
    assert f"Negatives: <b>{said}</b>" in html
    # the report's headings and captions say what is there: no baselines, the tasks drawn, the task calibrated
    assert "<h2>CNN (macro over tasks)</h2>" in html and "No baselines were fitted for this evaluation" in html
    assert "CNN and baselines" not in html and "Baselines are fitted" not in html
    # under --negatives none task a has one class: task b is drawn and calibrated instead
    first = "b" if negatives == "none" else "a"
    assert "ROC curves (1 of 2 tasks, those with both classes in the split first)" in html
    assert f"<h2>Calibration of the CNN (task {first})</h2>" in html
    assert "Model: epoch 1, selected by" in html
    # a macro over two tasks has no interval; over the one task left with both classes (task a has no
    # negatives under --negatives none) it has that task's, and the printout says what the brackets are
    bracketed = re.search(r"\| CNN \(small\) \| .* \| [\d.]+ \([\d.]+-[\d.]+\) \|", out) is not None
    assert bracketed == (negatives == "none") and ("In brackets: 95% intervals" in out) == bracketed


@pytest.mark.parametrize(
    "n, said",
    [(1, "1 of the 75 test windows overlaps windows that r (--init) was trained or selected on, so its score is "),
     (2, "2 of the 75 test windows overlap windows that r (--init) was trained or selected on, so their scores are ")],
)  # fmt: skip
def test_an_overlap_caveat_agrees_with_its_count(n, said):
    from peakcnn.evaluate import init_caveat

    meta = {
        "training": {"init": "r"},
        "dataset_sha256": "abc",
        "init_overlap": {"checked": True, "windows": {"test": n}, "of": {"test": 75}},
    }
    assert init_caveat("test", meta, "abc") == said + "optimistic"


def test_a_caveat_counts_the_windows_an_init_run_was_trained_on_in_another_data_set(trained):
    """A run started (--init) from one trained on D, itself trained on windows beside D's, scored on a third
    data set tiling D's windows: the overlap with what the starting run saw is counted."""
    import dataclasses

    from peakcnn.data.store import write_dataset

    beside = synthetic_table(n=120, window=100, n_tasks=1, seed=7)
    (trained / "beside").mkdir()
    write_dataset(dataclasses.replace(beside, start=beside.start + 1_000_000), trained / "beside" / "dataset.h5")
    argv = ["-q", "train", str(trained / "beside"), "--out", str(trained / "run_init"), "--arch", "small"]
    assert main([*argv, "--epochs", "1", "--batch-size", "16", "--init", str(trained / "run")]) == 0
    make_dataset(trained / "third", n=120, window=100, n_tasks=1, seed=5)
    out = trained / "third_eval"
    argv = ["-q", "evaluate", str(trained / "run_init"), "--dataset", str(trained / "third"), "--no-baselines"]
    assert main([*argv, "--out", str(out)]) == 0
    mine, theirs = (synthetic_table(n=120, window=100, n_tasks=1, seed=s).split for s in (5, 0))
    seen = int(((mine == 2) & (theirs != 2)).sum())
    start, run_init = (trained / "run").resolve(), trained / "run_init"
    assert json.loads((out / "metrics.json").read_text())["caveat"] == (
        f"{seen:,} of the {(mine == 2).sum():,} test windows overlap windows that {start} (--init of {run_init}) "
        "was trained or selected on, so their scores are optimistic"
    )


def test_an_ensemble_of_two_data_sets_says_how_many_members_each_one_trained(trained, caplog):
    make_dataset(trained / "other3", n=120, window=100, n_tasks=1, seed=6)
    argv = ["-q", "train", str(trained / "other3"), "--out", str(trained / "run3"), "--arch", "small"]
    assert main([*argv, "--epochs", "1", "--batch-size", "16"]) == 0
    ens = trained / "ens_mixed"
    assert main(["-q", "ensemble", str(trained / "run"), str(trained / "run3"), "--out", str(ens)]) == 0
    make_dataset(trained / "other4", n=120, window=100, n_tasks=1, seed=7)
    for ds, said in (("ds", "1 of the 2 members of {} were"), ("other4", "no member of {} was")):
        caplog.clear()
        argv = ["-q", "evaluate", str(ens), "--dataset", str(trained / ds), "--no-baselines", "--bootstrap", "0"]
        with caplog.at_level("WARNING"):
            assert main([*argv, "--out", str(trained / f"ens_mixed_{ds}")]) == 0
        assert f"warning: {trained / ds / 'dataset.h5'}: {said.format(ens)} trained on it;" in caplog.text


def test_ensemble_members_on_one_data_set_are_each_named_and_their_data_set_read_once(trained, monkeypatch):
    import peakcnn.train

    argv = ["-q", "train", str(trained / "ds"), "--out", str(trained / "run2"), "--arch", "small", "--epochs", "1"]
    assert main([*argv, "--batch-size", "16", "--seed", "2"]) == 0
    ens = trained / "ens2"
    assert main(["-q", "ensemble", str(trained / "run"), str(trained / "run2"), "--out", str(ens)]) == 0
    make_dataset(trained / "other2", n=120, window=100, n_tasks=1, seed=5)
    real, calls = peakcnn.train.training_overlap, []
    monkeypatch.setattr(peakcnn.train, "training_overlap", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    out = trained / "ens2_eval"
    argv = ["-q", "evaluate", str(ens), "--dataset", str(trained / "other2"), "--no-baselines", "--out", str(out)]
    assert main(argv) == 0
    mine, theirs = (synthetic_table(n=120, window=100, n_tasks=1, seed=s).split for s in (5, 0))
    seen, of = int(((mine == 2) & (theirs != 2)).sum()), int((mine == 2).sum())
    assert json.loads((out / "metrics.json").read_text())["caveat"] == "; ".join(
        f"{seen:,} of the {of:,} test windows overlap windows that {(trained / r).resolve()} was trained or "
        "selected on, so their scores are optimistic"
        for r in ("run", "run2")
    )
    assert len(calls) == 1


def test_a_valid_split_evaluation_describes_the_valid_split(trained):
    """Every per-split figure of the document and the report is the valid split's when valid is scored:
    its chromosomes, regions and negatives, computed here from the data set's arrays."""
    from peakcnn.data.store import Dataset
    from peakcnn.evaluate import _split_regions, score
    from peakcnn.report import render

    doc, _ = score(trained / "run", split="valid", baselines=False, n_boot=0)
    with Dataset(trained / "ds" / "dataset.h5") as ds:
        split, chrom, source, labels, names = (
            ds.read("split"),
            ds.read("chrom"),
            ds.read("source"),
            ds.read("labels"),
            ds.chroms,
        )
        spans = _split_regions(ds, "valid", limit=10_000)
        assert len(spans) > 1
        assert _split_regions(ds, "valid", limit=len(spans)) == spans  # no "... 0 more"
        assert _split_regions(ds, "valid", limit=len(spans) - 1)[-1] == "... 1 more"
    negatives = {k: int(((split == k) & (source == 1) & (labels[:, 0] == 0)).sum()) for k in (1, 2)}
    assert negatives[1] != negatives[2]  # so the valid split's count tells the splits apart
    assert doc["dataset"]["negatives_by_task"] == {"task0": {"generated": negatives[1], "peaks_of_other_tasks": 0}}
    ids, counts = np.unique(chrom[split == 1], return_counts=True)
    held = {names[int(i)]: int(n) for i, n in zip(ids, counts, strict=True)}
    html = render(doc, {}, [{"epoch": 1}, {"epoch": 2}, {"epoch": 3}])
    assert f"Chromosomes in the valid split (windows): {', '.join(f'{c} ({n:,})' for c, n in held.items())}." in html
    assert f"Regions of the valid split (1-based, inclusive): {'; '.join(spans)}." in html
    n = [int((split == k).sum()) for k in range(3)]
    assert n[0] > n[1] != n[2]  # not in sorted order, so a count under the wrong name shows
    assert f"(windows per split: train {n[0]:,}, valid {n[1]:,}, test {n[2]:,})" in html
    assert " of 3 trained" in html


def test_intervals_up_to_the_task_limit_and_a_nan_output_of_one_task(tmp_path, monkeypatch):
    import peakcnn.evaluate as ev
    from peakcnn.errors import InputError

    make_dataset(tmp_path / "ds", n=120, window=100, n_tasks=2)
    argv = ["-q", "train", str(tmp_path / "ds"), "--out", str(tmp_path / "run"), "--arch", "small", "--epochs", "1"]
    assert main(argv) == 0
    monkeypatch.setattr(ev, "N_BOOT_MAX_TASKS", 2)
    monkeypatch.setattr(ev, "N_BOOT", 50)
    assert ev.score(tmp_path / "run", baselines=False)[0]["intervals"]["resamples"] == 50  # 2 tasks, limit 2
    real = ev.predict_logits

    def one_nan(*args, **kwargs):
        out = real(*args, **kwargs)
        out[0, 1] = np.nan  # one output of one window
        return out

    monkeypatch.setattr(ev, "predict_logits", one_nan)
    with pytest.raises(InputError, match=r"the model's output is NaN for 1 of \d+ test windows"):
        ev.score(tmp_path / "run", baselines=False, n_boot=0)


def test_caveats_name_the_split_scored(caplog):
    """An --init run's overlap with the valid split is a caveat of valid scores; an ensemble whose members
    share one data set, scored on another, is said not to be trained on it."""
    from types import SimpleNamespace

    from peakcnn.evaluate import _check_compatible, init_caveat

    overlap = {"checked": True, "windows": {"valid": 3, "test": 0}, "of": {"valid": 40, "test": 75}}
    meta = {"training": {"init": "r"}, "dataset_sha256": "abc", "init_overlap": overlap}
    assert init_caveat("valid", meta, "abc") == (
        "3 of the 40 valid windows overlap windows that r (--init) was trained on, so their scores are optimistic"
    )
    assert init_caveat("test", meta, "abc") is None and init_caveat("train", meta, "abc") is None
    ds = SimpleNamespace(tasks=["a"], window=100, sha256="B", path="p")
    ens = {"tasks": ["a"], "window": 100, "dataset_sha256": "A", "ensemble": {"members": [{"dataset_sha256": "A"}] * 2}}
    with caplog.at_level("WARNING"):
        assert _check_compatible(ds, ens, "r", explicit=True) is False
    assert "warning: p is not the data set r was trained on (sha256 differs)" in caplog.text


def test_the_overlap_caveat_of_another_data_set_counts_the_split_scored(tmp_path, monkeypatch):
    """Scored on a data set it was not trained on, a run's caveat gives the overlapping windows of the split
    scored out of that split's windows."""
    from types import SimpleNamespace

    import peakcnn.train
    from peakcnn.evaluate import training_caveat

    counts = {
        "checked": True,
        "windows": {"train": 0, "valid": 3, "test": 5},
        "of": {"train": 100, "valid": 40, "test": 75},
    }
    monkeypatch.setattr(peakcnn.train, "training_overlap", lambda *args: counts)
    meta = {"dataset_sha256": "other", "dataset_path": "/x", "training": {}}
    ds = SimpleNamespace(sha256="mine")
    said = f"windows overlap windows that {tmp_path} was trained or selected on, so their scores are optimistic"
    assert training_caveat("valid", meta, ds, tmp_path) == f"3 of the 40 valid {said}"
    assert training_caveat("test", meta, ds, tmp_path) == f"5 of the 75 test {said}"
    assert training_caveat("train", meta, ds, tmp_path) is None


@pytest.mark.parametrize(("n_tasks", "caption"), [(6, "ROC curves"), (7, "ROC curves (6 of 7 tasks")])
def test_curve_captions_say_when_only_some_tasks_are_drawn(tmp_path, n_tasks, caption):
    """Six panels fit: a caption names a subset only when there are more tasks than panels."""
    from peakcnn.data.store import write_dataset
    from peakcnn.evaluate import score
    from peakcnn.report import render

    table = synthetic_table(n=120, window=100)
    table.labels = np.random.default_rng(0).integers(0, 2, (120, n_tasks)).astype(np.uint8)
    table.tasks = [f"t{k}" for k in range(n_tasks)]
    (tmp_path / "ds").mkdir()
    write_dataset(table, tmp_path / "ds" / "dataset.h5")
    argv = ["-q", "train", str(tmp_path / "ds"), "--out", str(tmp_path / "run"), "--arch", "small", "--epochs", "1"]
    assert main(argv) == 0
    doc, _ = score(tmp_path / "run", baselines=False, n_boot=0)
    (tmp_path / "roc.png").write_bytes(b"png")
    html = render(doc, {"roc": tmp_path / "roc.png"}, [])
    shown = re.search(r"<figcaption>(ROC curves[^<]*)</figcaption>", html).group(1)
    assert shown.startswith(caption) and (n_tasks > 6 or shown == caption)

"""peakcnn motifs: first-layer filters as motifs, matched with Tomtom."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
import torch
from _apply_helpers import _identity_bn, make_run, near_onehot, tiny_model, write_motif_db
from _train_helpers import make_dataset

from peakcnn.cli import main
from peakcnn.data.store import Dataset
from peakcnn.errors import InputError
from peakcnn.interpret.motifs import (
    FEW_TARGETS,
    FilterMotifs,
    MotifDatabase,
    _windows,
    consensus,
    describe_filters,
    few_targets_warning,
    filter_influence,
    filter_motifs,
    find_motifs,
    information,
    jaspar_motifs,
    match,
    matched_filters,
    meme_motifs,
    probabilities,
    top_filters,
    trim,
    write_meme,
)
from peakcnn.model import DNASeqClassifier, ModelConfig
from peakcnn.sequence import codes_to_onehot, codes_to_str, str_to_codes

# The synthetic data set plants TGACGTCA in the windows positive for task0 and CACGTG in those of task1.
DETECTORS = ("TGACGTCA", "CACGTG")


def detector_model(window: int = 200) -> DNASeqClassifier:
    """First layer by hand: filter 0 (width 9) scores +1 per base of TGACGTCA (columns 0-7, bias -7); filter 1 per base
    of CACGTG (columns 1-6, bias -5). With identity batch norm, each is 1 exactly at a full match, else 0."""
    torch.manual_seed(0)
    model = DNASeqClassifier(
        ModelConfig(
            window=window,
            n_tasks=2,
            conv_filters=[2, 4, 4],
            conv_widths=[9, 3, 3],
            pool_widths=[2, 2, 2],
            dense_units=[8],
        )  # fmt: skip
    )
    conv, bn = model.trunk[0], model.trunk[1]
    with torch.no_grad():
        conv.weight.zero_()
        for f, (motif, first) in enumerate(zip(DETECTORS, (0, 1))):
            for j, base in enumerate(motif):
                conv.weight[f, "ACGT".index(base), first + j] = 1.0
            conv.bias[f] = 1.0 - len(motif)
    _identity_bn(bn)
    return model.eval()


def _sites(seqs: list[str], motif: str) -> tuple[int, np.ndarray]:
    per_window = np.array([len(re.findall(f"(?={motif})", s)) for s in seqs])
    return int(per_window.sum()), per_window > 0


def _test_split(folder):
    with Dataset(folder / "dataset.h5") as ds:
        rows = ds.split_slice("test")
        return ds.read("seqs", rows), ds.read("labels", rows)


def test_filter_sites_are_the_motif_occurrences_counted_base_by_base(tmp_path):
    """Counts, sites and auROC of two hand-set detectors are what the windows give when searched by hand."""
    from sklearn.metrics import roc_auc_score

    make_dataset(tmp_path, n=300, n_tasks=2)
    codes, labels = _test_split(tmp_path)
    found = filter_motifs(detector_model(), codes, labels, batch_size=7)
    seqs = [codes_to_str(c) for c in codes]
    peaks = labels.max(axis=1) > 0
    for f, (motif, first) in enumerate(zip(DETECTORS, (0, 1))):
        n, present = _sites(seqs, motif)
        assert n > 10 and found.sites[f] == n and found.max_activation[f] == pytest.approx(1.0)
        onehot = np.array([[b == c for c in motif] for b in "ACGT"], dtype=np.float64)
        np.testing.assert_array_equal(found.counts[f][:, first : first + len(motif)], n * onehot)
        assert found.auroc[f] == pytest.approx(roc_auc_score(peaks, present))
        assert consensus(trim(probabilities(found.counts[f]))) == motif
    assert found.counts[1][:, [0, 7, 8]].sum() == 3 * found.sites[1]  # random flanks, every site inside the window


def test_sites_at_the_window_ends_count_the_padding_as_nothing():
    """A motif cut by the window's end is no site; one that ends on the last base is, once."""
    codes = np.stack([str_to_codes("A" * 192 + "TGACGTCA"), str_to_codes("GTCA" + "A" * 192 + "TGAC")])
    found = filter_motifs(detector_model(), codes, np.array([[1, 0], [0, 0]], np.uint8))
    assert found.sites[0] == 1 and found.counts[0].sum() == 8
    assert found.auroc[0] == 1.0


def test_one_class_gives_no_auroc_and_valid_json(tmp_path):
    make_dataset(tmp_path, n=120, n_tasks=2)
    codes, labels = _test_split(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no UndefinedMetricWarning per filter (older scikit-learn raised)
        found = filter_motifs(detector_model(), codes, np.ones_like(labels))
    assert np.isnan(found.auroc).all()
    db = meme_motifs(_meme(tmp_path / "db.meme"))
    rows = describe_filters(found, db, 0.05)
    assert [r["auroc"] for r in rows] == [None, None]
    json.dumps(rows, allow_nan=False)


def _meme(path, extra_random: int = 30):
    """A MEME file with the two planted motifs among random motifs."""
    return write_motif_db(path, {"M_TGA tga_like": DETECTORS[0], "M_EBOX ebox_like": DETECTORS[1]}, extra_random)


def test_cli_writes_motifs_matched_to_a_meme_file(tmp_path, capsys):
    make_dataset(tmp_path / "d", n=300, n_tasks=2)
    run = make_run(tmp_path, detector_model(), ["task0", "task1"])
    out = tmp_path / "motifs"
    argv = ["motifs", str(run), "--dataset", str(tmp_path / "d" / "dataset.h5"), "--motif-db"]
    assert main([*argv, str(_meme(tmp_path / "db.meme")), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "2 with a motif, 2 matching db.meme" in stdout and f"report: {out / 'report.html'}" in stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["motifs.tsv", "motifs.json", "filters.meme", "logos.png", "report.html"]
    )
    doc = json.loads((out / "motifs.json").read_text())
    assert doc["split"] == "test" and doc["negatives"] == "random synthetic"
    assert doc["database"] == "db.meme (32 motifs)"
    best = {r["filter"]: (r["consensus"], r["match_id"], r["q_value"]) for r in doc["filters"]}
    assert best[0][:2] == ("TGACGTCA", "M_TGA") and best[1][:2] == ("CACGTG", "M_EBOX")
    assert best[0][2] <= 0.05 and best[1][2] <= 0.05
    header, *rows = [line.split("\t") for line in (out / "motifs.tsv").read_text().splitlines()]
    assert header[:5] == ["filter", "sites", "auroc", "bits", "consensus"] and rows[0][5] == "M_TGA"
    # filters.meme reads back as the filters' probability matrices
    back = meme_motifs(out / "filters.meme")
    assert back.ids == ["filter0", "filter1"] and consensus(trim(back.ppms[0])) == "TGACGTCA"
    html = (out / "report.html").read_text()
    assert "tga_like M_TGA" in html and "negatives: <b>random synthetic</b>" in html
    assert f"{doc['windows']} windows (all the windows of the test split)" in html
    assert "data:image/png;base64," in html


def test_a_bzip_detector_matches_a_plant_bzip_in_jaspar():
    """TGACGTCA (the TGA/bZIP site of plant promoters) finds a JASPAR plant motif whose consensus holds it."""
    db = jaspar_motifs("plants")
    assert "CORE plants" in db.source and len(db.ids) > 300
    ppm = near_onehot(DETECTORS[0]).T
    one = np.ones(1)
    found = FilterMotifs(counts=(ppm * 100)[None], sites=np.array([100]), max_activation=one, mean_activation=0 * one,
                         cutoff=one / 2, auroc=0.9 * one)  # fmt: skip
    (row,) = describe_filters(found, db, 0.05)
    assert row["q_value"] <= 0.05 and row["matches"] >= 1
    target = db.ppms[db.ids.index(row["match_id"])]
    core = consensus(target).upper()
    assert "TGACG" in core or "CGTCA" in core, (row, core)


def test_bad_inputs_are_one_line_and_leave_nothing(tmp_path, capsys):
    make_dataset(tmp_path / "d", n=120, n_tasks=2)
    ds = str(tmp_path / "d" / "dataset.h5")
    run = make_run(tmp_path, detector_model(), ["task0", "task1"])
    out = tmp_path / "m"

    def fails(*extra, message):
        assert main(["motifs", str(run), "--out", str(out), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
        assert not out.exists()

    fails("--dataset", ds, "--motif-db", str(tmp_path / "none.meme"), message="none.meme: no such file")
    (tmp_path / "bad.meme").write_text("this is not a motif file\n")
    fails("--dataset", ds, "--motif-db", str(tmp_path / "bad.meme"), message="bad.meme: ")
    fails("--dataset", ds, "--jaspar-group", "martians", message="--jaspar-group martians: no JASPAR CORE motifs")
    fails("--dataset", ds, "--jaspar-release", "JASPAR1999", message="--jaspar-release JASPAR1999")
    fails("--dataset", ds, "--threshold", "1", message="--threshold")
    fails(message="dataset")  # the run records no data set: give --dataset
    # an output folder holding other files is not replaced
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["motifs", str(run), "--dataset", ds, "--out", str(out)]) == 2
    assert "keep.txt" in capsys.readouterr().err and (out / "keep.txt").read_text() == "mine"


def test_an_ensemble_is_refused(tmp_path):
    from peakcnn.ensemble import build_ensemble

    runs = [make_run(tmp_path, tiny_model(1, seed=s), ["a"], name=f"r{s}") for s in (0, 1)]
    build_ensemble(runs, tmp_path / "ens")
    make_dataset(tmp_path / "d", n=60)
    with pytest.raises(InputError, match="an ensemble of 2 networks"):
        find_motifs(tmp_path / "ens", dataset=tmp_path / "d" / "dataset.h5", out=tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_max_windows_draws_a_fixed_subset(tmp_path):
    make_dataset(tmp_path / "d", n=300, n_tasks=2)
    run = make_run(tmp_path, detector_model(), ["task0", "task1"])
    db = _meme(tmp_path / "db.meme")
    kw = dict(dataset=tmp_path / "d" / "dataset.h5", motif_db=db, split="all", max_windows=100, progress=False)
    a, _ = find_motifs(run, out=tmp_path / "a", **kw)
    b, _ = find_motifs(run, out=tmp_path / "b", **kw)
    assert a["windows"] == 100 and a["windows_in_split"] == 300 and a["filters"] == b["filters"]
    assert "a random subset, seed 0, of the 300" in (tmp_path / "a" / "report.html").read_text()


def graded_model() -> DNASeqClassifier:
    """As :func:`detector_model`, with biases -4 and -3: a filter's output is its matching bases minus the
    bias, above zero, so partial matches activate it too (filter 0 up to 4, filter 1 up to 3)."""
    model = detector_model()
    with torch.no_grad():
        model.trunk[0].bias.copy_(torch.tensor([-4.0, -3.0]))
    return model


def test_sites_exceed_each_filters_mean_plus_a_fraction_of_its_range():
    """Activations worked out by hand from the sequences (N and padding match nothing): the cutoff is each
    filter's own mean + t * (max - mean), and the counts are the one-hot stretches above it."""
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 4, (40, 200)).astype(np.uint8)
    codes[rng.random(codes.shape) < 0.05] = 4  # N
    for i in range(0, 40, 2):
        codes[i, 50:58] = str_to_codes(DETECTORS[0])
        codes[i, 120:126] = str_to_codes(DETECTORS[1])
    labels = (np.arange(40) % 4 == 0).astype(np.uint8)[:, None]
    padded = np.pad(codes, ((0, 0), (4, 4)), constant_values=4)
    stretches = np.stack([padded[:, j : j + 9] for j in range(200)], axis=1)  # (N, 200, 9) codes
    onehot = (stretches[..., None] == np.arange(4)).astype(np.float64)  # (N, 200, 9, 4); N: all zero
    for threshold in (0.0, 0.3, 0.5, 0.8):
        found = filter_motifs(graded_model(), codes, labels, threshold=threshold, batch_size=16)
        for f, (motif, first, bias) in enumerate(zip(DETECTORS, (0, 1), (4, 3))):
            want = str_to_codes(motif)
            act = np.maximum((stretches[..., first : first + len(motif)] == want).sum(axis=2) - bias, 0)
            cutoff = act.mean() + threshold * (act.max() - act.mean())
            hit = act > cutoff
            assert found.max_activation[f] == act.max() and found.cutoff[f] == pytest.approx(cutoff)
            assert found.sites[f] == hit.sum() > 0
            np.testing.assert_array_equal(found.counts[f], onehot[hit].sum(axis=0).T)
        from sklearn.metrics import roc_auc_score

        assert found.auroc[1] == pytest.approx(roc_auc_score(labels[:, 0], act.max(axis=1)))


def test_q_values_are_benjamini_hochberg_and_strands_are_reported(tmp_path):
    """q-values follow the step-up rule worked by hand over one filter's p-values; a motif present in the
    database only as its reverse complement is matched on strand '-'."""
    from peakcnn.interpret.motifs import match

    query = near_onehot("AAAGGCT").T
    for motif, strand in (("AAAGGCT", "+"), ("AGCCTTT", "-")):
        db = meme_motifs(write_motif_db(tmp_path / f"{motif}.meme", {"TARGET t": motif}))
        p, q, strands = match([query], db)
        order = np.argsort(p[0])
        ranked = p[0][order] * len(order) / np.arange(1, len(order) + 1)
        expect = np.empty_like(ranked)
        expect[order] = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1)
        np.testing.assert_allclose(q[0], expect)
        assert np.argmin(p[0]) == 0 and "+-"[strands[0, 0]] == strand and q[0, 0] > p[0, 0]


def _detector_run(tmp_path):
    """The detector model's run, and the motifs command line that reads the synthetic data set's windows
    and matches them to the MEME file of the planted motifs."""
    make_dataset(tmp_path / "d", n=300, n_tasks=2)
    run = make_run(tmp_path, detector_model(), ["task0", "task1"])
    db = _meme(tmp_path / "db.meme")
    return run, ["motifs", str(run), "--dataset", str(tmp_path / "d" / "dataset.h5"), "--motif-db", str(db)]


def test_rerun_replaces_the_folder_and_the_current_folder_is_refused(tmp_path, monkeypatch, capsys):
    run, argv = _detector_run(tmp_path)
    assert main([*argv, "--split", "all"]) == 0
    assert main(argv) == 0  # into RUN/motifs again: the test split's figures replace the others
    assert json.loads((run / "motifs" / "motifs.json").read_text())["split"] == "test"
    assert sorted(p.name for p in run.iterdir()) == ["model.json", "model.safetensors", "motifs"]
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    capsys.readouterr()
    assert main([*argv, "--out", "."]) == 2
    assert "is the current folder or holds it" in capsys.readouterr().err
    assert main([*argv, "--out", str(here / "new")]) == 0 and (here / "new" / "motifs.json").is_file()
    (here / "new").rename(tmp_path / "moved")
    assert list(here.iterdir()) == []


def test_a_small_database_is_used_with_one_warning_line(tmp_path, caplog):
    """memelite's own multi-line warning is replaced by one log line, repeated in the report and JSON."""
    import warnings

    make_dataset(tmp_path / "d", n=300, n_tasks=2)
    run = make_run(tmp_path, detector_model(), ["task0", "task1"])
    db = _meme(tmp_path / "small.meme", extra_random=3)
    argv = ["motifs", str(run), "--dataset", str(tmp_path / "d" / "dataset.h5"), "--motif-db", str(db)]
    with warnings.catch_warnings(record=True) as seen, caplog.at_level("WARNING"):
        warnings.simplefilter("always")
        assert main([*argv, "--out", str(tmp_path / "m")]) == 0
    assert not [w for w in seen if "target" in str(w.message).lower()]
    lines = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(lines) == 1 and "built from the columns of the database's 5 motifs; under 25" in lines[0]
    assert "under 25 they can change by orders of magnitude" in (tmp_path / "m" / "report.html").read_text()
    doc = json.loads((tmp_path / "m" / "motifs.json").read_text())
    assert doc["warnings"] == [lines[0].removeprefix("warning: ")]


def test_more_bad_motif_databases(tmp_path, capsys):
    make_dataset(tmp_path / "d", n=60, n_tasks=2)
    run = make_run(tmp_path, detector_model(), ["task0", "task1"])
    wide = tmp_path / "wide.meme"
    wide.write_text(
        "MEME version 4\n\nALPHABET= ACGT\n\nMOTIF x\nletter-probability matrix: alength= 4 w= 99999999999\n"
    )
    (tmp_path / "folder.meme").mkdir()
    argv = ["motifs", str(run), "--dataset", str(tmp_path / "d" / "dataset.h5"), "--out", str(tmp_path / "m")]
    for extra, message in (
        (["--motif-db", str(wide)], "declares a motif 99,999,999,999 columns wide"),
        (["--motif-db", str(tmp_path / "folder.meme")], "folder.meme: not a file"),
        (["--motif-db", str(_meme(tmp_path / "db.meme")), "--jaspar-release", "JASPAR2024"], "--jaspar-release"),
    ):
        assert main([*argv, *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
        assert not (tmp_path / "m").exists()


def test_a_meme_file_with_incomplete_or_repeated_motifs_is_refused(tmp_path):
    """memelite skips a motif without its whole matrix and keeps one of two motifs of the same name: both
    would go unnoticed, so the file is refused, naming the motif."""
    good = _meme(tmp_path / "good.meme").read_text()
    cases = {
        "cut.meme": (good.rsplit("\n", 3)[0] + "\n", "has no complete letter-probability matrix"),
        "bare.meme": (good + "\nMOTIF LONELY one\n", "MOTIF LONELY one has no complete"),
        "twice.meme": (good + good[good.index("MOTIF M_TGA") : good.index("MOTIF M_EBOX")], "motif ID M_TGA appears"),
        "twice_named.meme": (good.replace("M_EBOX ebox_like", "M_TGA other"), "motif ID M_TGA appears"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(InputError, match=message):
            meme_motifs(tmp_path / name)
    assert len(meme_motifs(tmp_path / "good.meme").ids) == 32


def test_meme_files_with_tabs_crlf_and_url_lines_are_read_whole(tmp_path):
    text = _meme(tmp_path / "db.meme").read_text().replace("MOTIF M_TGA tga_like", "MOTIF\tM_TGA  tga_like ")
    text = text.replace("letter-probability", "URL http://jaspar.genereg.net/matrix/M_TGA\n\nletter-probability", 1)
    (tmp_path / "crlf.meme").write_bytes(text.replace("\n", "\r\n").encode())
    db = meme_motifs(tmp_path / "crlf.meme")
    assert len(db.ids) == 32 and db.ids[0] == "M_TGA" and db.names[0] == "tga_like"


def test_influence_equals_scoring_a_network_whose_filter_is_constant():
    """Replacing a filter's output by its mean is the same as giving that filter no weights and the bias
    that batch norm and ReLU turn into the mean; the losses of such a network, computed by the model's own
    forward, give the influence per task and the logit change."""
    import copy

    model = tiny_model(n_tasks=2, seed=3)
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 5, (30, 200)).astype(np.uint8)
    labels = (rng.random((30, 2)) < 0.5).astype(np.uint8)
    found = filter_motifs(model, codes, labels)
    per_task, shift = filter_influence(model, codes, labels, found.mean_activation, batch_size=7)
    assert per_task.shape == (8, 2)
    x, y = torch.as_tensor(codes_to_onehot(codes)), torch.as_tensor(labels, dtype=torch.float32)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    with torch.no_grad():
        base = model(x)
        for f, mean in enumerate(found.mean_activation):
            constant = copy.deepcopy(model)
            conv, bn = constant.trunk[0], constant.trunk[1]
            conv.weight[f] = 0
            scale = torch.sqrt(bn.running_var[f] + bn.eps) / bn.weight[f]
            conv.bias[f] = (float(mean) - bn.bias[f]) * scale + bn.running_mean[f]
            out = constant(x)
            want = (bce(out, y, reduction="none") - bce(base, y, reduction="none")).mean(dim=0).numpy()
            np.testing.assert_allclose(per_task[f], want, rtol=1e-4, atol=1e-7)
            assert shift[f] == pytest.approx((out - base).mean().item(), rel=1e-4, abs=1e-6)
    assert np.abs(per_task).max() > 0


def test_cli_influence_ranks_the_filters(tmp_path, capsys):
    run, argv = _detector_run(tmp_path)
    assert main([*argv, "--influence", "25"]) == 0
    assert "influence measured on 25 windows" in capsys.readouterr().out
    doc = json.loads((run / "motifs" / "motifs.json").read_text())
    assert doc["influence_windows"] == 25 and all(len(r["influence_per_task"]) == 2 for r in doc["filters"])
    assert [r["influence"] for r in doc["filters"]] == [np.mean(r["influence_per_task"]) for r in doc["filters"]]
    assert "Basset's filter influence" in (run / "motifs" / "report.html").read_text()
    header = (run / "motifs" / "motifs.tsv").read_text().splitlines()[0].split("\t")
    assert header[-2:] == ["influence", "logit_change"]
    assert main([*argv, "--influence", "-1"]) == 2
    assert main(argv) == 0  # without --influence the columns stay empty
    assert json.loads((run / "motifs" / "motifs.json").read_text())["filters"][0]["influence"] is None


def test_influence_needs_the_models_window_and_tasks(tmp_path, capsys):
    """The filter analysis reads windows of any length and tasks; the influence scores whole windows
    against the model's tasks, so another window or other tasks are refused with one line."""
    make_dataset(tmp_path / "short", n=120, n_tasks=2, window=100)
    make_dataset(tmp_path / "d", n=120, n_tasks=2)
    db = str(_meme(tmp_path / "db.meme"))
    run = make_run(tmp_path, detector_model(), ["task0", "task1"])
    renamed = make_run(tmp_path, detector_model(), ["x", "y"], name="renamed")
    for model_run, data, message in (
        (run, tmp_path / "short", "100 bp windows, but the model in"),
        (renamed, tmp_path / "d", "tasks ['task0', 'task1'] differ from the model's ['x', 'y']"),
    ):
        out = tmp_path / f"m_{model_run.name}"
        argv = ["motifs", str(model_run), "--dataset", str(data / "dataset.h5"), "--motif-db", db, "--out", str(out)]
        assert main([*argv, "--influence", "5"]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "--influence" in err and len(err.splitlines()) == 1
        assert not out.exists()
        assert main(argv) == 0  # the filter analysis alone reads them


def test_probabilities_information_trim_and_consensus_worked_by_hand():
    """The pseudocount is spread over the four bases; a one-hot column holds 2 bits and a uniform one none;
    a matrix without an informative column trims to nothing; a base with half the probability is uppercase."""
    np.testing.assert_allclose(probabilities(np.array([[3.0], [0], [0], [0]]))[:, 0], [0.8125, 0.0625, 0.0625, 0.0625])
    np.testing.assert_allclose(information(np.eye(4)), [2, 2, 2, 2])
    np.testing.assert_allclose(information(np.full((4, 2), 0.25)), [0, 0], atol=1e-12)
    assert trim(np.full((4, 3), 0.25)).shape == (4, 0)
    assert consensus(np.array([[0.5, 0.4], [0.25, 0.3], [0.25, 0.3], [0, 0]])) == "Aa"


def test_a_filter_that_never_rises_above_its_mean_has_no_site():
    """A filter whose output is the same everywhere never exceeds its cutoff (mean + t * (max - mean) = mean)."""
    model = detector_model()
    with torch.no_grad():
        model.trunk[0].weight[1] = 0
        model.trunk[0].bias[1] = 0.5
    codes = np.random.default_rng(0).integers(0, 4, (6, 200)).astype(np.uint8)
    codes[0, 20:28] = str_to_codes(DETECTORS[0])
    found = filter_motifs(model, codes, (np.arange(6) % 2)[:, None], threshold=0.0)
    assert found.max_activation[1] == found.cutoff[1] == 0.5
    assert found.sites[1] == 0 and found.counts[1].sum() == 0 and found.sites[0] >= 1


def test_describe_filters_needs_enough_sites_and_columns_and_reports_the_best_match(tmp_path):
    """10 sites and 4 trimmed columns are enough to be matched (9 sites or 3 columns are not); the strand is the
    best alignment's ('-' for a motif the database holds only reverse-complemented) and the matches count
    q-values, not p-values, at max_q."""
    db = meme_motifs(write_motif_db(tmp_path / "db.meme", {"TARGET t": "AGCCTTT"}))
    flank = np.full((4, 3), 25.0)
    counts = [near_onehot("AAAGGCT").T * 10, near_onehot("AAAGGCT").T * 9]
    counts += [np.concatenate([flank, near_onehot(m).T * 100, flank], axis=1) for m in ("TGCA", "TGC")]
    width = max(c.shape[1] for c in counts)
    counts = np.stack([np.pad(c, ((0, 0), (0, width - c.shape[1])), constant_values=25) for c in counts])
    n = np.ones(4)
    found = FilterMotifs(counts=counts, sites=np.array([10, 9, 100, 100]), max_activation=n, mean_activation=0 * n,
                         cutoff=n / 2, auroc=n / 2)  # fmt: skip
    rows = describe_filters(found, db, 0.05)
    assert [r["bits"] is not None for r in rows] == [True, False, True, True]
    assert [r["p_value"] is not None for r in rows] == [True, False, True, False]
    assert rows[0]["match_id"] == "TARGET" and rows[0]["strand"] == "-"
    p, q, _ = match([trim(probabilities(counts[0]))], db)
    assert rows[0]["matches"] == int((q[0] <= 0.05).sum()) != int((p[0] <= 0.05).sum())


def test_filters_meme_holds_only_filters_with_sites(tmp_path):
    counts = np.stack([near_onehot("TGACGTCA").T * 12, np.zeros((4, 8))])
    n = np.ones(2)
    found = FilterMotifs(counts=counts, sites=np.array([12, 0]), max_activation=n, mean_activation=n, cutoff=n,
                         auroc=n)  # fmt: skip
    write_meme(tmp_path / "f.meme", found)
    back = meme_motifs(tmp_path / "f.meme")
    assert back.ids == ["filter0"]
    np.testing.assert_allclose(back.ppms[0], probabilities(counts[0]), atol=1e-6)


def test_logos_rank_filters_with_a_motif_by_influence_then_auroc_distance_from_chance():
    def row(f, bits=5.0, influence=None, auroc=0.5, q=None):
        return {"filter": f, "bits": bits, "influence": influence, "auroc": auroc, "sites": 50, "q_value": q}

    # a filter below 0.5 tells the classes apart as well as one above it; one without a motif has no logo
    rows = [row(0, bits=None, auroc=0.99), row(1, auroc=0.6), row(2, auroc=0.1), row(3, auroc=None)]
    assert [r["filter"] for r in top_filters(rows)] == [2, 1, 3]
    rows = [row(0, influence=-0.1), row(1, influence=0.2), row(2, influence=0.0, auroc=0.95)]
    assert [r["filter"] for r in top_filters(rows)] == [1, 2, 0]
    doc = {"max_q": 0.05, "filters": [row(0, q=0.05), row(1, q=0.051), row(2)]}
    assert [r["filter"] for r in matched_filters(doc)] == [0]


def test_the_small_database_warning_starts_under_few_targets_and_the_width_cap_at_one_more_column(tmp_path):
    def db(n):
        return MotifDatabase([str(i) for i in range(n)], [str(i) for i in range(n)], [np.full((4, 6), 0.25)] * n, "x")

    assert few_targets_warning(db(FEW_TARGETS)) is None and "1 motif;" in few_targets_warning(db(1))
    assert f"database's {FEW_TARGETS - 1} motifs" in few_targets_warning(db(FEW_TARGETS - 1))
    (tmp_path / "wide.meme").write_text("MEME version 4\n\nMOTIF x\nletter-probability matrix: alength= 4 w= 1001\n")
    with pytest.raises(InputError, match="declares a motif 1,001 columns wide"):
        meme_motifs(tmp_path / "wide.meme")


def test_find_motifs_checks_its_numbers_before_reading_anything(tmp_path):
    for kwargs, message in (
        ({"threshold": 1.0}, "--threshold 1.0: give a fraction"),
        ({"max_windows": 0}, "--max-windows 0: give a whole number of at least 1"),
        ({"max_q": 0.0}, "--max-q 0.0: give a q-value threshold"),
    ):
        with pytest.raises(InputError, match=message):
            find_motifs(tmp_path / "run", out=tmp_path / "m", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_a_subset_comes_from_its_split_and_influence_takes_every_window_read(tmp_path):
    """Windows drawn from a split beyond max_windows are that split's; --influence larger than the windows read
    scores all of them; max_q 1 counts every database motif as a match."""
    make_dataset(tmp_path / "d", n=120, n_tasks=2)
    with Dataset(tmp_path / "d" / "dataset.h5") as ds:
        for split in ("valid", "test"):
            whole = {bytes(c) for c in ds.read("seqs", ds.split_slice(split))}
            codes, labels, n = _windows(ds, split, 5)
            assert n == ds.count(split) > 5 and len(codes) == len(labels) == 5
            assert {bytes(c) for c in codes} <= whole
    run = make_run(tmp_path, detector_model(), ["task0", "task1"])
    kw = dict(dataset=tmp_path / "d" / "dataset.h5", out=tmp_path / "m", motif_db=_meme(tmp_path / "db.meme"))
    doc, _ = find_motifs(run, max_windows=10, influence=50, max_q=1.0, progress=False, **kw)
    assert doc["windows"] == doc["influence_windows"] == 10 and doc["max_q"] == 1.0
    assert all(len(r["influence_per_task"]) == 2 for r in doc["filters"])
    assert all(r["matches"] == 32 for r in doc["filters"] if r["p_value"] is not None)

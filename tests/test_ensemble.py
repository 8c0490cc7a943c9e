"""Ensembles: one checkpoint holding several runs, scored as the mean of their logits everywhere."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from _apply_helpers import make_run, random_codes, random_genome, tiny_model, write_fasta, write_tensors
from _train_helpers import make_dataset
from safetensors.torch import load_file

from peakcnn.checkpoint import load_model
from peakcnn.cli import main
from peakcnn.ensemble import EnsembleModel, build_ensemble
from peakcnn.errors import InputError
from peakcnn.inference import predict
from peakcnn.scan import default_stride, pool_product, scan_codes
from peakcnn.train import train

TASKS = ["a", "b"]


def _members(tmp_path):
    """Two runs of different architectures (pools 2/2/2 and 3/2/2) with the same tasks and window."""
    one = tiny_model(n_tasks=2, seed=1)
    two = tiny_model(n_tasks=2, seed=2, conv_filters=[6, 4, 4], pool_widths=[3, 2, 2], dense_units=[8])
    return one, two, make_run(tmp_path, one, TASKS, "one"), make_run(tmp_path, two, TASKS, "two")


def test_ensemble_is_the_mean_of_member_logits(tmp_path):
    one, two, r1, r2 = _members(tmp_path)
    build_ensemble([r1, r2], tmp_path / "ens")
    # Self-contained: the members' folders are not needed once the ensemble is written.
    for run in (r1, r2):
        for f in run.iterdir():
            f.unlink()
    model, meta = load_model(tmp_path / "ens")
    assert isinstance(model, EnsembleModel) and len(model.members) == 2
    assert meta["tasks"] == TASKS and meta["window"] == 200
    assert meta["ensemble"]["combine"] == "mean of the members' logits"
    assert [m["run"] for m in meta["ensemble"]["members"]] == [str(r1.resolve()), str(r2.resolve())]
    x = torch.nn.functional.one_hot(torch.as_tensor(random_codes(5 * 200, seed=3)).long(), 4)
    x = x.reshape(5, 200, 4).transpose(1, 2).float()
    with torch.no_grad():
        expected = (one(x) + two(x)) / 2
        assert torch.allclose(model(x), expected, atol=1e-6)
    # Prediction folds each member's batch norm; the result is still the mean of the two.
    codes = random_codes(7 * 200, seed=4).reshape(7, 200)
    np.testing.assert_allclose(predict(model, codes), (predict(one, codes) + predict(two, codes)) / 2, atol=1e-5)
    assert predict(model, codes[:0]).shape == (0, 2)


def test_scan_of_an_ensemble_is_the_mean_of_member_scans(tmp_path):
    one, two, r1, r2 = _members(tmp_path)
    build_ensemble([r1, r2], tmp_path / "ens")
    model, _ = load_model(tmp_path / "ens")
    assert pool_product(model) == 24  # lcm(8, 12)
    assert default_stride(model) == 48
    codes = random_codes(1500, seed=5)
    for stride in (48, 10):
        expected = (scan_codes(one, codes, stride) + scan_codes(two, codes, stride)) / 2
        np.testing.assert_allclose(scan_codes(model, codes, stride), expected, atol=1e-5)


def test_ensemble_rejects_mismatched_or_unsafe_inputs(tmp_path):
    _, _, r1, r2 = _members(tmp_path)
    other_tasks = make_run(tmp_path, tiny_model(n_tasks=2), ["a", "c"], "tasks")
    other_window = make_run(tmp_path, tiny_model(n_tasks=2, window=240), TASKS, "window")
    with pytest.raises(InputError, match="at least two runs"):
        build_ensemble([r1], tmp_path / "e1")
    with pytest.raises(InputError, match=r"tasks \['a', 'c'\] does not match tasks \['a', 'b'\] of"):
        build_ensemble([r1, other_tasks], tmp_path / "e2")
    # Named outputs accept members whose task names differ, matched by position; the count must still fit.
    build_ensemble([r1, other_tasks], tmp_path / "named", tasks=["x", "y"])
    _, meta = load_model(tmp_path / "named")
    assert meta["tasks"] == ["x", "y"] and [m["tasks"] for m in meta["ensemble"]["members"]] == [TASKS, ["a", "c"]]
    with pytest.raises(InputError, match="2 tasks .* but 1 task names were given"):
        build_ensemble([r1, other_tasks], tmp_path / "e5", tasks=["x"])
    # ...but a task at another position in another member, or in --tasks, would be averaged with or named as
    # a different task.
    swapped = make_run(tmp_path, tiny_model(n_tasks=2, seed=3), ["b", "a"], "swapped")
    with pytest.raises(InputError, match=r"swapped: task 'b' is output 1 here but output 2 of .*one; outputs are"):
        build_ensemble([r1, other_tasks, swapped], tmp_path / "e6", tasks=["x", "y"])
    with pytest.raises(InputError, match=r"one: task 'a' is output 1 here but output 2 of --tasks; outputs are"):
        build_ensemble([r1, r2], tmp_path / "e7", tasks=["b", "a"])
    build_ensemble([r1, r2], tmp_path / "e8", tasks=["a", "x"])  # a name kept in place is fine
    assert not any((tmp_path / e).exists() for e in ("e6", "e7"))
    with pytest.raises(InputError, match="window 240 does not match window 200 of"):
        build_ensemble([r1, other_window], tmp_path / "e3")
    with pytest.raises(InputError, match="is also one of the member runs"):
        build_ensemble([r1, r2], r2)
    (tmp_path / "afile").write_text("x\n")
    with pytest.raises(InputError, match="afile: is a file; give --out a folder name"):
        build_ensemble([r1, r2], tmp_path / "afile")
    assert (tmp_path / "afile").read_text() == "x\n"
    for name in ("last.json", "config.json", "history.csv"):  # a finished run whose last.* was deleted too
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.json").write_text("{}")
        (tmp_path / name / name).write_text("{}")
        with pytest.raises(InputError, match=f"holds a training run \\({name}\\)"):
            build_ensemble([r1, r2], tmp_path / name, force=True)
        assert (tmp_path / name / "model.json").read_text() == "{}"
    build_ensemble([r1, r2], tmp_path / "ens")
    with pytest.raises(InputError, match="add --force"):
        build_ensemble([r1, r2], tmp_path / "ens")
    (tmp_path / "ens" / "eval_test").mkdir()  # as peakcnn evaluate leaves it: it scored the ensemble replaced
    for name in ("metrics.json", "report.html"):
        (tmp_path / "ens" / "eval_test" / name).write_text("{}")
    build_ensemble([r2, r1], tmp_path / "ens", force=True)
    assert not (tmp_path / "ens" / "eval_test").exists()
    assert load_model(tmp_path / "ens")[1]["ensemble"]["members"][0]["run"] == str(r2.resolve())
    with pytest.raises(InputError, match="is itself an ensemble"):
        build_ensemble([r1, tmp_path / "ens"], tmp_path / "e4")
    for p in tmp_path.glob("e[1-5]"):
        assert not (p / "model.json").exists()


def test_damaged_ensemble_checkpoint(tmp_path):
    _, _, r1, r2 = _members(tmp_path)
    ens = tmp_path / "ens"
    build_ensemble([r1, r2], ens)
    tensors = load_file(str(ens / "model.safetensors"))
    write_tensors(ens, {**tensors, "extra.weight": torch.zeros(1)})
    with pytest.raises(InputError, match="belong to no member"):
        load_model(ens)
    write_tensors(ens, {k: v for k, v in tensors.items() if not k.startswith("members.1.head")})
    with pytest.raises(InputError, match=r"\(member 2\): tensors do not fit"):
        load_model(ens)
    meta = json.loads((ens / "model.json").read_text())
    (ens / "model.json").write_text(json.dumps({**meta, "ensemble": {"members": "?"}}))
    with pytest.raises(InputError, match="lists no members"):
        load_model(ens)


def _edit_member(i, key, value):
    return lambda m: m["ensemble"]["members"][i].update({key: value})


def _edit_member_config(i, key, value):
    return lambda m: m["ensemble"]["members"][i]["model_config"].update({key: value})


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m.update(tasks=["a", "b", "c"]), "'tasks' is ['a', 'b', 'c'], but the network has 2 output(s) "
         "('ensemble.members[0].model_config.n_tasks')"),
        (lambda m: m.update(tasks=["a", "a"]), "'tasks' is invalid: task name 'a' is used twice"),
        (lambda m: m.update(window=240), "'window' is 240, but the network takes 200 bp "
         "('ensemble.members[0].model_config.window')"),
        (_edit_member_config(1, "window", 240), "'window' is 200, but the network takes 240 bp "
         "('ensemble.members[1].model_config.window')"),
        (_edit_member_config(1, "n_tasks", 1), "('ensemble.members[1].model_config.n_tasks')"),
        (_edit_member_config(1, "dense_units", "8"), "'ensemble.members[1].model_config.dense_units' is '8', must"),
        (_edit_member(1, "tasks", ["a", " b"]), "'ensemble.members[1].tasks' is invalid: task name ' b' is empty"),
        (_edit_member(1, "tasks", ["a"]), "'ensemble.members[1].tasks' names 1 tasks, but the ensemble has 2"),
        (_edit_member(0, "center", "bogus"), "'ensemble.members[0].center' is 'bogus', must be one of summit"),
        (_edit_member(0, "training", []), "'ensemble.members[0].training' is [], must be a JSON object"),
        (_edit_member(0, "run", 5), "'ensemble.members[0].run' is 5, must be a string"),
        (_edit_member(1, "max_n_frac", 2), "'ensemble.members[1].max_n_frac' is 2, must be a fraction from 0 to 1"),
        (lambda m: m["ensemble"].update(members=[1, 2]), "the ensemble lists no members"),
    ],
)  # fmt: skip
def test_hand_edited_ensemble_json_gives_one_line(tmp_path, capsys, edit, message):
    """An ensemble's JSON is checked like a run's, each member's network against the ensemble's tasks and
    window; evaluate, which reads the members' records, stops with one line."""
    _, _, r1, r2 = _members(tmp_path)
    ens = tmp_path / "ens"
    build_ensemble([r1, r2], ens)
    meta = json.loads((ens / "model.json").read_text())
    edit(meta)
    (ens / "model.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=re.escape(message)):
        load_model(ens)
    assert main(["evaluate", str(ens), "--dataset", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"peakcnn: error: {ens / 'model.json'}: ") and message in err[0]


def test_ensemble_refuses_a_run_given_twice_or_bad_output_names(tmp_path, capsys):
    """A member may be listed once only, however its path is spelt (or copied); --tasks names follow the
    rules of 'prepare --names'. Nothing is written."""
    one, _, r1, r2 = _members(tmp_path)
    (tmp_path / "link").symlink_to(r1, target_is_directory=True)
    shutil.copytree(r1, tmp_path / "copy")
    spellings = [
        r1,
        str(r1) + "/",
        tmp_path / "one" / ".." / "one",
        tmp_path / "link",
        r1 / "model.json",
        r1 / "model.safetensors",
    ]
    for again in spellings:
        with pytest.raises(InputError, match=f"{re.escape(str(Path(again)))}: is the same run as {r1}"):
            build_ensemble([r1, r2, again], tmp_path / "ens")
    with pytest.raises(InputError, match=f"copy: holds the same weights as {r1}"):
        build_ensemble([r1, r2, tmp_path / "copy"], tmp_path / "ens")
    # the same network in a training checkpoint, whose file also holds optimizer tensors
    from peakcnn.checkpoint import TRAIN_STATE_PREFIX, model_meta, save_tensors

    (tmp_path / "ckpt").mkdir()
    state = {**one.state_dict(), TRAIN_STATE_PREFIX + "optim.0.momentum_buffer": torch.ones(3)}
    save_tensors(tmp_path / "ckpt" / "last", state, model_meta(one, TASKS))
    with pytest.raises(InputError, match=f"last.json: holds the same weights as {r1}"):
        build_ensemble([r1, r2, tmp_path / "ckpt" / "last.json"], tmp_path / "ens")
    for names, problem in (
        ([""], "task name '' is empty or holds whitespace"),
        (["a b"], "task name 'a b' is empty or holds whitespace"),
        (["x", "x\t"], "task name 'x\\t' is empty or holds whitespace"),
        (["x", "x"], "task name 'x' is used twice"),
        (["x", "start"], "task name 'start' is also the name of a column of predict's tables"),
    ):
        with pytest.raises(InputError, match=re.escape(f"--tasks: {problem}")):
            build_ensemble([r1, r2], tmp_path / "ens", tasks=names)
    with pytest.raises(InputError, match="is also one of the member runs"):
        build_ensemble([r1 / "model.json", r2], r1)
    assert not (tmp_path / "ens").exists()
    # The command line: one line each, exit status 2.
    for argv in (
        [str(r1), str(tmp_path / "link")],
        [str(r1), str(r2), "--tasks", ""],
        [str(r1), str(r2), "--tasks", "a b"],
    ):
        assert main(["ensemble", *argv, "--out", str(tmp_path / "ens")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("peakcnn: error: ")
    assert not (tmp_path / "ens").exists()
    build_ensemble([r1, r2], tmp_path / "ens", tasks=["x", "y"])
    assert load_model(tmp_path / "ens")[1]["tasks"] == ["x", "y"]


def test_ensemble_cli_evaluate_predict_and_init(tmp_path, capsys):
    """Train two tiny runs, combine them on the command line, and use the ensemble like any run."""
    make_dataset(tmp_path / "ds", n=160, window=200, n_tasks=1, noise=0.1)
    make_dataset(tmp_path / "ds2", n=160, window=200, n_tasks=1, seed=1)
    options = {"arch": "small", "batch_size": 16, "epochs": 1}
    train(tmp_path / "ds", tmp_path / "r1", options, progress=False)
    train(tmp_path / "ds", tmp_path / "r2", {**options, "seed": 1}, progress=False)
    train(tmp_path / "ds2", tmp_path / "r3", options, progress=False)
    ens = tmp_path / "ens"
    assert main(["-q", "ensemble", str(tmp_path / "r1"), str(tmp_path / "r2"), "--out", str(ens)]) == 0
    assert "next: peakcnn evaluate" in capsys.readouterr().out
    # Both members were trained on ds, so evaluate finds it; the report lists the members.
    assert main(["-q", "evaluate", str(ens), "--no-baselines"]) == 0
    doc = json.loads((ens / "eval_test" / "metrics.json").read_text())
    assert doc["dataset"]["matches_training"] and doc["model"]["arch"] == "ensemble of 2"
    assert [m["run"] for m in doc["model"]["members"]] == [str((tmp_path / r).resolve()) for r in ("r1", "r2")]
    report = (ens / "eval_test" / "report.html").read_text()
    assert "an ensemble of 2 runs" in report and str((tmp_path / "r2").resolve()) in report
    # Predict through the ensemble equals the mean of the members' logits.
    random_genome(tmp_path / "q.fa", {"s1": 200, "s2": 200, "s3": 150}, seed=7)
    outs = {}
    for name in ("ens", "r1", "r2"):
        out = tmp_path / f"{name}.tsv"
        argv = ["-q", "predict", str(tmp_path / name), "--fasta", str(tmp_path / "q.fa"), "--max-n-frac", "1"]
        assert main([*argv, "--out", str(out)]) == 0
        rows = [ln.split("\t") for ln in out.read_text().splitlines() if not ln.startswith(("#", "name"))]
        outs[name] = np.array([float(r[-1]) for r in rows])
    assert len(outs["ens"]) == 3
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    np.testing.assert_allclose(logit(outs["ens"]), (logit(outs["r1"]) + logit(outs["r2"])) / 2, atol=1e-3)
    # Members from different data sets: evaluate needs --dataset, named in one line.
    mixed = tmp_path / "mixed"
    assert main(["-q", "ensemble", str(tmp_path / "r1"), str(tmp_path / "r3"), "--out", str(mixed)]) == 0
    capsys.readouterr()
    assert main(["-q", "evaluate", str(mixed), "--no-baselines"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("peakcnn: error:") and "--dataset" in err and len(err.splitlines()) == 1
    assert main(["-q", "evaluate", str(mixed), "--dataset", str(tmp_path / "ds"), "--no-baselines"]) == 0
    # Outputs renamed with --tasks: the members' data set still evaluates, its task matched by position.
    named = tmp_path / "named"
    argv = ["-q", "ensemble", str(tmp_path / "r1"), str(tmp_path / "r2"), "--tasks", "open", "--out", str(named)]
    assert main(argv) == 0
    assert main(["-q", "evaluate", str(named), "--no-baselines"]) == 0
    renamed = json.loads((named / "eval_test" / "metrics.json").read_text())
    assert renamed["dataset"]["matches_training"]
    assert renamed["models"]["CNN"]["metrics"]["macro"] == doc["models"]["CNN"]["metrics"]["macro"]
    make_dataset(tmp_path / "ds4", n=80, window=200, n_tasks=2)
    capsys.readouterr()
    assert main(["-q", "evaluate", str(named), "--dataset", str(tmp_path / "ds4"), "--no-baselines"]) == 2
    assert "differ from the model's ['open']" in capsys.readouterr().err
    # The members' data set moved: the message names the file that records it (an ensemble has no config.json).
    (tmp_path / "ds").rename(tmp_path / "ds_moved")
    capsys.readouterr()
    assert main(["-q", "evaluate", str(ens), "--no-baselines"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"peakcnn: error: {(tmp_path / 'ds' / 'dataset.h5').resolve()}: the data set recorded in {ens}/model.json "
        "is gone; "
        "give --dataset DIR"
    )
    (tmp_path / "ds_moved").rename(tmp_path / "ds")
    # An ensemble cannot seed training, and one run is not an ensemble.
    assert main(["-q", "train", str(tmp_path / "ds"), "--out", str(tmp_path / "r4"), "--init", str(ens)]) == 2
    assert "is an ensemble" in capsys.readouterr().err
    assert main(["-q", "ensemble", str(tmp_path / "r1"), "--out", str(tmp_path / "e1")]) == 2
    assert "at least two runs" in capsys.readouterr().err


def test_ensemble_keeps_the_members_centring_or_warns(tmp_path, caplog):
    one, two = tiny_model(n_tasks=2, seed=1), tiny_model(n_tasks=2, seed=2)
    runs = {
        (name, center): make_run(tmp_path, m, TASKS, f"{name}_{center}", center=center, genome_chroms=["chr1"])
        for name, m in (("one", one), ("two", two))
        for center in ("summit", "midpoint")
    }
    meta = build_ensemble([runs["one", "midpoint"], runs["two", "midpoint"]], tmp_path / "same")
    assert meta["center"] == "midpoint" and meta["genome_chroms"] == ["chr1"]
    with caplog.at_level("WARNING"):
        meta = build_ensemble([runs["one", "summit"], runs["two", "midpoint"]], tmp_path / "mixed")
    assert "center" not in meta and "centred peak windows differently (midpoint, summit)" in caplog.text


def test_ensemble_keeps_the_strictest_n_limit_of_its_members(tmp_path):
    one, two = tiny_model(n_tasks=2, seed=1), tiny_model(n_tasks=2, seed=2)
    runs = [make_run(tmp_path, m, TASKS, f"r{i}", max_n_frac=f) for i, (m, f) in enumerate(((one, 0.2), (two, 0.05)))]
    assert build_ensemble(runs, tmp_path / "e")["max_n_frac"] == 0.05
    # a 180 bp record is padded with 20 N (10%): scored by the member that allows 20%, NA by the ensemble
    write_fasta(tmp_path / "q.fa", {"s": "ACGT" * 45})
    for run, na in ((runs[0], False), (tmp_path / "e", True)):
        assert (
            main(["-q", "predict", str(run), "--fasta", str(tmp_path / "q.fa"), "--out", str(tmp_path / "p.tsv")]) == 0
        )
        assert ((tmp_path / "p.tsv").read_text().splitlines()[1].split("\t")[2:] == ["NA", "NA"]) is na
    assert [
        m["max_n_frac"] for m in json.loads((tmp_path / "e" / "model.json").read_text())["ensemble"]["members"]
    ] == [
        0.2,
        0.05,
    ]
    unknown = [make_run(tmp_path, m, TASKS, f"u{i}") for i, m in enumerate((one, two))]  # recorded by none
    assert "max_n_frac" not in build_ensemble(unknown, tmp_path / "u")
    assert build_ensemble([runs[0], unknown[1]], tmp_path / "half")["max_n_frac"] == 0.1  # prepare's default


@pytest.mark.parametrize("failure", ["disk", KeyboardInterrupt])
def test_an_ensemble_whose_write_fails_leaves_nothing(tmp_path, capsys, monkeypatch, failure):
    """The weights written, then the disk full (or Ctrl-C) before the JSON: neither file, nor the folders
    the command made for them, is left."""
    import errno

    import peakcnn.checkpoint as checkpoint

    *_, r1, r2 = _members(tmp_path)
    real = checkpoint.atomic_write_bytes

    def then_fail(path, data):
        if str(path).endswith(".json"):
            if failure == "disk":
                raise OSError(errno.ENOSPC, "No space left on device")
            raise KeyboardInterrupt
        real(path, data)

    monkeypatch.setattr(checkpoint, "atomic_write_bytes", then_fail)
    out = tmp_path / "new" / "ens"
    assert main(["ensemble", str(r1), str(r2), "--out", str(out)]) == (1 if failure == "disk" else 130)
    assert capsys.readouterr().err.strip().startswith("peakcnn: ")
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("fail_at", ["safetensors", "json"])
def test_a_failed_ensemble_force_keeps_the_previous_ensemble_when_it_is_still_whole(
    tmp_path, capsys, monkeypatch, fail_at
):
    """Replacing an ensemble (--force): a failure before the new weights are in place leaves the previous
    ensemble as it was; a failure after (new weights under the old JSON) leaves no inconsistent pair."""
    import errno

    import peakcnn.checkpoint as checkpoint

    *_, r1, r2 = _members(tmp_path)
    out = tmp_path / "ens"
    assert main(["ensemble", str(r1), str(r2), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = checkpoint.atomic_write_bytes

    def fail(path, data):
        if str(path).endswith(fail_at):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(checkpoint, "atomic_write_bytes", fail)
    assert main(["ensemble", str(r2), str(r1), "--out", str(out), "--force"]) == 1
    capsys.readouterr()
    after = {p.name: p.read_bytes() for p in out.iterdir()} if out.exists() else {}
    assert after == (before if fail_at == "safetensors" else {})


def test_ensemble_api_refuses_members_that_do_not_fit_and_strings_for_lists(tmp_path):
    """The Python API checks what the command line checks: members of other windows or output counts (one
    was fed windows of the wrong length, the other failed inside torch.stack), and a string where a list
    of runs or task names belongs (taken letter by letter)."""
    a = tiny_model(n_tasks=2)
    with pytest.raises(InputError, match="ensemble member 2: its window 201 is not member 1's 200"):
        EnsembleModel([a, tiny_model(n_tasks=2, window=201)])
    with pytest.raises(InputError, match="ensemble member 3: its n_tasks 1 is not member 1's 2"):
        EnsembleModel([a, tiny_model(n_tasks=2, seed=1), tiny_model(n_tasks=1)])
    with pytest.raises(InputError, match="runs 'r1': give a list, one item per run"):
        build_ensemble("r1", tmp_path / "ens")
    with pytest.raises(InputError, match="tasks 'xy': give a list, one item per task"):
        build_ensemble(["r1", "r2"], tmp_path / "ens", tasks="xy")
    assert not (tmp_path / "ens").exists()

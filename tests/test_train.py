"""Training: exact resume, run-folder contents, model selection, and every bad-input path."""

import json
import math
import os
import re
import shutil
import signal
import sys

import h5py
import numpy as np
import pytest
import torch
from _apply_helpers import write_motif_db
from _train_helpers import make_dataset
from safetensors.torch import load_file

import peakcnn.trainer
from peakcnn.checkpoint import load_model
from peakcnn.cli import main
from peakcnn.errors import InputError
from peakcnn.runconfig import HISTORY_COLUMNS, TrainConfig, read_history
from peakcnn.train import Interrupted, NonFiniteLoss, _run_config, _RunLock, train

SMALL = {"arch": "small", "batch_size": 16}
SMALL_ARGS = ["--arch", "small", "--batch-size", "16"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ds")
    make_dataset(folder, n=160, window=100, n_tasks=2)
    return folder


@pytest.mark.parametrize("at", ["scheduler", "history"])
def test_ctrl_c_at_the_end_of_an_epoch_is_reported_as_what_is_on_disk(tmp_path, dataset, monkeypatch, capsys, at):
    """A real SIGINT while an epoch is recorded (the schedule stepped, the files written) is held back until
    the epoch's checkpoint is complete: after epoch 1 of 2 the run resumes from epoch 1; after the last epoch
    the run is said to be finished, not to be continued."""
    real_history = peakcnn.trainer.write_history
    calls = {"n": 0}

    def kill_then(real):
        def call(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 2:  # epoch 1's schedule step (the first is the scheduler's own), epoch 2's history
                os.kill(os.getpid(), signal.SIGINT)
            return real(*args, **kwargs)

        return call

    if at == "scheduler":
        real_step = torch.optim.lr_scheduler.CosineAnnealingLR.step
        monkeypatch.setattr(torch.optim.lr_scheduler.CosineAnnealingLR, "step", kill_then(real_step))
    else:
        monkeypatch.setattr(peakcnn.trainer, "write_history", kill_then(real_history))
    run = tmp_path / "run"
    argv = ["train", str(dataset), "--out", str(run), "--arch", "small", "--epochs", "2", "--batch-size", "16"]
    assert main([*argv, "--lr-schedule", "cosine"]) == 130
    err = capsys.readouterr().err.strip()
    done = json.loads((run / "last.json").read_text())["train_state"]["epoch"]
    if at == "scheduler":
        assert done == 1 and err.endswith(f"{run}/last.* holds epoch 1; continue with: peakcnn train {dataset} "
                                          f"--out {run} --resume")  # fmt: skip
    else:
        assert done == 2 and err == (
            f"peakcnn: interrupted once training had ended: {run} holds the finished run (2 epochs); evaluate it "
            f"with: peakcnn evaluate {run}"
        )
    assert [r["epoch"] for r in read_history(run / "history.csv")] == list(range(1, done + 1))


def _interrupt_in_epoch(monkeypatch, epoch_calls, batches_per_epoch, exc):
    """Make ``_train_step`` raise ``exc`` in the middle of epoch ``epoch_calls`` (1-based)."""
    real = peakcnn.trainer._train_step
    calls = {"n": 0}
    stop_at = (epoch_calls - 1) * batches_per_epoch + batches_per_epoch // 2 + 1

    def step(trainer, x, y):
        calls["n"] += 1
        if calls["n"] == stop_at:
            if exc is KeyboardInterrupt:
                raise KeyboardInterrupt
            if exc == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)
            loss, logits = real(trainer, x, y)
            return torch.tensor(math.nan), logits
        return real(trainer, x, y)

    monkeypatch.setattr(peakcnn.trainer, "_train_step", step)


def _count_steps(monkeypatch) -> dict:
    """Count the calls of ``_train_step`` (optimisation steps) from now on; returns the counter."""
    real = peakcnn.trainer._train_step
    calls = {"n": 0}

    def step(trainer, x, y):
        calls["n"] += 1
        return real(trainer, x, y)

    monkeypatch.setattr(peakcnn.trainer, "_train_step", step)
    return calls


def _n_batches(dataset, batch_size):
    from peakcnn.data.store import Dataset

    with Dataset(dataset) as ds:
        n = ds.count("train")
    return len([lo for lo in range(0, n, batch_size) if min(n, lo + batch_size) - lo >= 2])


@pytest.mark.parametrize(
    "recipe",
    [
        {"rc_augment": True, "shift": 3, "lr_schedule": "cosine", "lr": 0.01},
        {
            "optimizer": "adamw",
            "lr": 0.002,
            "lr_schedule": "plateau",
            "select_best": True,
            "weight_decay": 0.01,
        },
        {"rc_augment": True, "amp": "bf16"},
        {"optimizer": "adamw", "lr": 0.002, "ema": 0.9, "select_best": True},
    ],
)
def test_resume_is_bit_exact(tmp_path, dataset, monkeypatch, recipe):
    options = {**SMALL, "epochs": 3, **recipe}
    train(dataset, tmp_path / "full", options, progress=False)
    _interrupt_in_epoch(monkeypatch, 2, _n_batches(dataset, 16), KeyboardInterrupt)
    with pytest.raises(Interrupted, match="--resume"):
        train(dataset, tmp_path / "cut", options, progress=False)
    assert json.loads((tmp_path / "cut" / "last.json").read_text())["train_state"]["epoch"] == 1
    before = read_history(tmp_path / "cut" / "history.csv")
    assert [r["epoch"] for r in before] == [1]
    monkeypatch.undo()
    steps = _count_steps(monkeypatch)
    train(dataset, tmp_path / "cut", {}, resume=True, progress=False)
    # Data order and seeds depend only on (seed, epoch), so a resume that silently started over would end
    # with the same weights: check that only epochs 2 and 3 were trained, and epoch 1's row was kept as written.
    assert steps["n"] == 2 * _n_batches(dataset, 16)
    after = read_history(tmp_path / "cut" / "history.csv")
    assert [r["epoch"] for r in after] == [1, 2, 3]
    assert after[0] == before[0]  # every column, ``seconds`` included: epoch 1 was not run again
    for name in ("last", "model"):
        full = load_file(str(tmp_path / "full" / f"{name}.safetensors"))
        cut = load_file(str(tmp_path / "cut" / f"{name}.safetensors"))
        assert full.keys() == cut.keys()
        for key in full:
            if "rng" not in key:
                assert torch.equal(full[key], cut[key]), key
    assert read_history(tmp_path / "full" / "history.csv")[-1]["train_loss"] == pytest.approx(
        read_history(tmp_path / "cut" / "history.csv")[-1]["train_loss"], abs=0, rel=0
    )


def test_run_folder_is_self_describing(tmp_path, dataset):
    from peakcnn.data.store import Dataset

    train(dataset, tmp_path / "run", {**SMALL, "epochs": 2, "note": "unit test"}, progress=False)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    with Dataset(dataset) as ds:
        sha, tasks, n_train = ds.sha256, ds.tasks, ds.count("train")
    assert config["training"]["epochs"] == 2 and config["training"]["lr"] == 0.02
    assert config["dataset"]["sha256"] == sha and config["dataset"]["n_train"] == n_train
    assert config["device"] == "cpu"
    with Dataset(dataset) as ds:
        # the device as resolved, with its index: a run on the second GPU records cuda:1, not cuda
        assert _run_config(ds, TrainConfig(), torch.device("cuda", 1))["device"] == "cuda:1"
    model, meta = load_model(tmp_path / "run")
    assert meta["tasks"] == tasks and meta["dataset_sha256"] == sha
    assert meta["training"]["note"] == "unit test" and meta["selected_by"] == "last" and meta["epoch"] == 2
    rows = read_history(tmp_path / "run" / "history.csv")
    assert [r["epoch"] for r in rows] == [1, 2]
    assert set(rows[0]) == set(HISTORY_COLUMNS)
    last, _ = load_model(tmp_path / "run", "last")
    for a, b in zip(model.state_dict().values(), last.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_bf16_autocast_trains_in_bfloat16(tmp_path, dataset):
    options = {**SMALL, "epochs": 1}
    train(dataset, tmp_path / "fp32", options, progress=False)
    train(dataset, tmp_path / "bf16", {**options, "amp": "bf16"}, progress=False)
    assert json.loads((tmp_path / "bf16" / "config.json").read_text())["amp"] == "bfloat16"
    assert json.loads((tmp_path / "fp32" / "config.json").read_text())["amp"] == "off"
    full = load_file(str(tmp_path / "fp32" / "model.safetensors"))
    half = load_file(str(tmp_path / "bf16" / "model.safetensors"))
    assert all(half[k].dtype == full[k].dtype for k in full)  # weights stay float32
    difference = (full["trunk.0.weight"] - half["trunk.0.weight"]).abs().max().item()
    assert 0 < difference < 0.05  # rounded arithmetic, same training
    rows = read_history(tmp_path / "bf16" / "history.csv")
    assert math.isfinite(rows[0]["train_loss"]) and math.isfinite(rows[0]["valid_loss"])


def test_weight_average_by_hand():
    from peakcnn.ema import WeightAverage

    model = torch.nn.BatchNorm1d(1)
    model.weight.data.fill_(1.0)
    avg = WeightAverage(model, decay=0.9)
    model.weight.data.fill_(12.0)
    model.num_batches_tracked.fill_(5)
    avg.update(model)  # decay min(0.9, 2/11): 2/11 * 1 + 9/11 * 12 = 10
    assert avg.model.weight.item() == pytest.approx(10.0) and avg.model.num_batches_tracked.item() == 5
    model.weight.data.fill_(2.0)
    avg.update(model)  # decay min(0.9, 3/12): 0.25 * 10 + 0.75 * 2 = 4
    assert avg.model.weight.item() == pytest.approx(4.0) and avg.updates == 2
    assert not avg.model.weight.requires_grad and model.weight.item() == 2.0


def test_ema_run_keeps_and_validates_the_average(tmp_path, dataset):
    from peakcnn.data.store import Dataset
    from peakcnn.metrics import quick_scores, sigmoid
    from peakcnn.trainer import EMA_PREFIX, predict_logits

    train(dataset, tmp_path / "run", {**SMALL, "epochs": 2, "ema": 0.99}, progress=False)
    kept = load_file(str(tmp_path / "run" / "model.safetensors"))
    last = load_file(str(tmp_path / "run" / "last.safetensors"))
    assert json.loads((tmp_path / "run" / "last.json").read_text())["train_state"]["ema_updates"] == 2 * _n_batches(
        dataset, 16
    )
    for key, value in kept.items():
        assert torch.equal(value, last[EMA_PREFIX + key]), key
    assert not torch.equal(kept["trunk.0.weight"], last["trunk.0.weight"])  # the raw weights go on training
    model, _ = load_model(tmp_path / "run")
    with Dataset(dataset) as ds:
        codes, labels = ds.load_split("valid")
    auprc = quick_scores(labels.astype(np.float32), sigmoid(predict_logits(model, codes)))["auprc"]
    assert read_history(tmp_path / "run" / "history.csv")[-1]["valid_auprc"] == pytest.approx(auprc, rel=1e-6)
    from peakcnn.evaluate import evaluate

    doc, _ = evaluate(tmp_path / "run", baselines=False, out=tmp_path / "eval")
    html = (tmp_path / "eval" / "report.html").read_text()
    assert "epoch 2 (the moving average of the weights, decay 0.99) of 2 trained" in html
    # two tasks: an interval per task (in the per-task table), none for the macro average
    cnn = doc["models"]["CNN"]["metrics"]
    assert "auroc_interval" not in cnn["macro"] and len(cnn["tasks"]) == 2
    for m in cnn["tasks"].values():
        lo, hi = m["auprc_interval"]
        assert f"{m['auprc']:.3f} ({lo:.3f}-{hi:.3f})" in html


@pytest.mark.parametrize(
    "cpuinfo, native",
    [
        ("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_tile\n", True),
        ("processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2 fma\n", False),
        ("processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n", True),
        ("processor\t: 0\nFeatures\t: fp asimd evtstrm crc32\n", False),
        ("no flags here\n", None),
    ],
)
def test_native_bf16_reads_cpu_flags(cpuinfo, native):
    from peakcnn.runconfig import native_bf16

    assert native_bf16(cpuinfo) is native


@pytest.mark.parametrize("native", [True, False, None])
def test_bf16_on_a_cpu_without_it_warns(tmp_path, dataset, monkeypatch, caplog, native):
    monkeypatch.setattr(peakcnn.trainer, "native_bf16", lambda: native)
    with caplog.at_level("WARNING", logger="peakcnn.trainer"):
        train(dataset, tmp_path / "run", {**SMALL, "epochs": 1, "amp": "bf16"}, progress=False)
    warned = [r.getMessage() for r in caplog.records if "no native bfloat16" in r.getMessage()]
    assert len(warned) == (1 if native is False else 0)


def test_resume_of_an_ema_run_without_its_average_fails_cleanly(tmp_path, dataset, capsys):
    from peakcnn.checkpoint import load_tensors, save_tensors
    from peakcnn.trainer import EMA_PREFIX

    train(dataset, tmp_path / "run", {**SMALL, "epochs": 2, "ema": 0.9}, progress=False)
    tensors, meta = load_tensors(tmp_path / "run" / "last")
    save_tensors(tmp_path / "run" / "last", {k: v for k, v in tensors.items() if not k.startswith(EMA_PREFIX)}, meta)
    assert main(["train", str(dataset), "--out", str(tmp_path / "run"), "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "last.safetensors: holds no weight average" in err and "--ema 0.9" in err


def test_early_stopping_keeps_the_best_epoch(tmp_path, dataset):
    summary = train(dataset, tmp_path / "run", {**SMALL, "epochs": 12, "early_stop": 1, "lr": 0.05}, progress=False)
    rows = read_history(tmp_path / "run" / "history.csv")
    auprc = [r["valid_auprc"] for r in rows]
    best = int(np.argmax(auprc)) + 1
    _, meta = load_model(tmp_path / "run")
    assert meta["epoch"] == best == summary["best_epoch"] and meta["selected_by"] == "valid_auprc"
    if summary["stopped_early"]:
        assert len(rows) == best + 1  # patience 1: stops one epoch after the best
    else:
        assert len(rows) == 12


def test_early_stopping_stops_after_patience_and_keeps_the_best(tmp_path, dataset, monkeypatch):
    """Validation auPRC scripted to peak at epoch 2: patience 2 stops after epoch 4 and keeps epoch 2."""
    real, scripted = peakcnn.trainer.Trainer._validate, iter([0.5, 0.8, 0.7, 0.75, 0.9, 0.95])

    def validate(self, epoch):
        return {**real(self, epoch), "valid_auprc": next(scripted)}

    monkeypatch.setattr(peakcnn.trainer.Trainer, "_validate", validate)
    summary = train(dataset, tmp_path / "run", {**SMALL, "epochs": 6, "early_stop": 2}, progress=False)
    rows = read_history(tmp_path / "run" / "history.csv")
    assert summary["stopped_early"] and [r["valid_auprc"] for r in rows] == [0.5, 0.8, 0.7, 0.75]
    model, meta = load_model(tmp_path / "run")
    last, _ = load_model(tmp_path / "run", "last")
    assert meta["epoch"] == summary["best_epoch"] == 2 and meta["selected_by"] == "valid_auprc"
    assert not torch.equal(model.state_dict()["trunk.0.weight"], last.state_dict()["trunk.0.weight"])


@pytest.mark.parametrize(
    ("scripted", "early_stop", "expected"),
    [
        ([0.5, 0.4, 0.6, 0.55, 0.7, 0.65], 2, (False, 6, 5)),  # patience counts consecutive epochs only
        ([0.5, 0.8, 0.8], 0, (False, 3, 2)),  # a tie keeps the first epoch that reached the best
    ],
)
def test_patience_and_ties_worked_by_hand(tmp_path, dataset, monkeypatch, scripted, early_stop, expected):
    real, scores = peakcnn.trainer.Trainer._validate, iter(scripted)
    monkeypatch.setattr(
        peakcnn.trainer.Trainer, "_validate", lambda self, e: {**real(self, e), "valid_auprc": next(scores)}
    )
    options = {**SMALL, "epochs": len(scripted), "early_stop": early_stop, "select_best": True}
    summary = train(dataset, tmp_path / "run", options, progress=False)
    assert (summary["stopped_early"], summary["epochs_done"], summary["best_epoch"]) == expected
    assert load_model(tmp_path / "run")[1]["epoch"] == expected[2]


def test_resume_keeps_early_stopping_patience(tmp_path, dataset, monkeypatch):
    """Interrupted after one epoch without improvement, a resumed run counts that epoch towards the patience:
    it stops where the uninterrupted run stops, with the same history and model."""
    scripted = {1: 0.8, 2: 0.7, 3: 0.75, 4: 0.9, 5: 0.95, 6: 0.97}  # by epoch: the same in every run
    real = peakcnn.trainer.Trainer._validate

    def script(mp):
        mp.setattr(peakcnn.trainer.Trainer, "_validate", lambda self, e: {**real(self, e), "valid_auprc": scripted[e]})

    options = {**SMALL, "epochs": 6, "early_stop": 2}
    script(monkeypatch)
    full = train(dataset, tmp_path / "full", options, progress=False)
    assert full["stopped_early"] and full["epochs_done"] == 3 and full["best_epoch"] == 1
    _interrupt_in_epoch(monkeypatch, 3, _n_batches(dataset, 16), KeyboardInterrupt)
    with pytest.raises(Interrupted):
        train(dataset, tmp_path / "cut", options, progress=False)
    assert json.loads((tmp_path / "cut" / "last.json").read_text())["train_state"]["bad_epochs"] == 1
    monkeypatch.undo()
    script(monkeypatch)
    cut = train(dataset, tmp_path / "cut", {}, resume=True, progress=False)
    assert (cut["epochs_done"], cut["stopped_early"], cut["best_epoch"]) == (3, True, 1)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in read_history(tmp_path / "full" / "history.csv")]
    assert [
        {k: v for k, v in r.items() if k != "seconds"} for r in read_history(tmp_path / "cut" / "history.csv")
    ] == strip
    a, b = (load_file(str(tmp_path / run / "model.safetensors")) for run in ("full", "cut"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_learns_a_planted_motif(tmp_path):
    make_dataset(tmp_path / "ds", n=400, window=100, n_tasks=1, seed=3)
    opts = {"arch": "small", "epochs": 10, "optimizer": "adamw", "lr": 0.003, "batch_size": 32}
    train(tmp_path / "ds", tmp_path / "run", opts, progress=False)
    rows = read_history(tmp_path / "run" / "history.csv")
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert max(r["valid_auroc"] for r in rows) > 0.75


def test_non_finite_loss_keeps_last_good_checkpoint(tmp_path, dataset, monkeypatch):
    _interrupt_in_epoch(monkeypatch, 2, _n_batches(dataset, 16), "nan")
    with pytest.raises(NonFiniteLoss, match=r"epoch 2, batch \d+: the training loss is nan.*epoch 1"):
        train(dataset, tmp_path / "run", {**SMALL, "epochs": 3}, progress=False)
    assert json.loads((tmp_path / "run" / "last.json").read_text())["train_state"]["epoch"] == 1
    assert len(read_history(tmp_path / "run" / "history.csv")) == 1


@pytest.mark.parametrize("signal_name, status", [("SIGINT", 130), ("SIGTERM", 143)])
def test_ctrl_c_or_sigterm_via_cli_exits_and_resumes(tmp_path, dataset, monkeypatch, capsys, signal_name, status):
    how = KeyboardInterrupt if signal_name == "SIGINT" else "sigterm"
    _interrupt_in_epoch(monkeypatch, 2, _n_batches(dataset, 16), how)
    argv = ["train", str(dataset), "--out", str(tmp_path / "run"), "--arch", "small", "--epochs", "2"]
    assert main(argv + ["--batch-size", "16"]) == status
    err = capsys.readouterr().err
    assert "holds epoch 1" in err and "--resume" in err
    before = read_history(tmp_path / "run" / "history.csv")
    assert [r["epoch"] for r in before] == [1]
    monkeypatch.undo()
    steps = _count_steps(monkeypatch)
    assert main(["train", str(dataset), "--out", str(tmp_path / "run"), "--resume"]) == 0
    assert steps["n"] == _n_batches(dataset, 16)  # epoch 2 only, not epoch 1 again
    after = read_history(tmp_path / "run" / "history.csv")
    assert [r["epoch"] for r in after] == [1, 2]
    assert after[0] == before[0]  # every column, ``seconds`` included
    assert capsys.readouterr().out.startswith("trained 2 epochs, 1 of them now (resumed after epoch 1)\n")
    assert main(["train", str(dataset), "--out", str(tmp_path / "run"), "--resume"]) == 0
    assert steps["n"] == _n_batches(dataset, 16)
    assert capsys.readouterr().out.startswith("nothing left to train: the run already holds 2 epochs\n")


def test_the_next_command_printed_after_training_can_be_pasted():
    from peakcnn.cli.train import summary_text

    summary = {"run": "my runs/ü 1", "epochs_done": 3, "epochs_run": 3, "stopped_early": True}
    text = summary_text({**summary, "selected_by": "valid_auprc", "best_epoch": 1, "best_valid_auprc": 0.5})
    assert text.splitlines()[0] == "trained 3 epochs (stopped early)"
    assert text.splitlines()[-1] == "next: peakcnn evaluate 'my runs/ü 1'"
    assert text.splitlines()[1] == "model: my runs/ü 1/model.safetensors (epoch 1, best validation auPRC 0.500)"
    # a run that keeps its last epoch says so, although the trainer tracks its best epoch all the same
    text = summary_text({**summary, "selected_by": "last", "best_epoch": 1, "best_valid_auprc": 0.5})
    assert text.splitlines()[1] == "model: my runs/ü 1/model.safetensors (epoch 3, the last one)"


def test_resume_with_different_config_names_keys(tmp_path, dataset):
    train(dataset, tmp_path / "run", {**SMALL, "epochs": 1}, progress=False)
    with pytest.raises(InputError, match=r"different configuration: batch_size .*lr "):
        train(dataset, tmp_path / "run", {"batch_size": 8, "lr": 0.1, "arch": "small"}, resume=True)
    # a config.json written before --ema and --note existed: the run used their defaults, so a resume that
    # asks for other values is refused too, not run with the defaults in silence
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    for key in ("ema", "note"):
        del config["training"][key]
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match=r"different configuration: ema \(0.0 by default, 0.5 given\), note "):
        train(dataset, tmp_path / "run", {"ema": 0.5, "note": "hello", "epochs": 1}, resume=True)
    assert train(dataset, tmp_path / "run", {"ema": 0.0, "epochs": 1}, resume=True, progress=False)["epochs_done"] == 1


def test_resume_on_another_device_or_precision_is_warned_and_recorded(tmp_path, dataset, monkeypatch, caplog):
    run, batches = tmp_path / "run", _n_batches(dataset, 16)
    _interrupt_in_epoch(monkeypatch, 2, batches, KeyboardInterrupt)
    with pytest.raises(Interrupted):
        train(dataset, run, {**SMALL, "epochs": 3}, progress=False)
    config = json.loads((run / "config.json").read_text())
    assert (config["device"], config["amp"]) == ("cpu", "off")
    (run / "config.json").write_text(json.dumps({**config, "device": "cuda:0", "amp": "float16"}))  # begun on a GPU
    monkeypatch.undo()
    _interrupt_in_epoch(monkeypatch, 2, batches, KeyboardInterrupt)  # the second epoch of this part: epoch 3
    with caplog.at_level("WARNING"), pytest.raises(Interrupted):
        train(dataset, run, {}, resume=True, progress=False)
    monkeypatch.undo()
    said = "resumed at epoch 2 on cpu with amp off, where the epochs before ran on cuda:0 with amp float16"
    assert said in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        train(dataset, run, {}, resume=True, progress=False)  # the part before ran on this CPU: nothing to say
    assert "resumed at" not in caplog.text
    train(dataset, run, {}, resume=True, progress=False)  # a finished run: no part trained, none recorded
    resumed = json.loads((run / "config.json").read_text())["resumed"]
    assert resumed == [{"epoch": 2, "device": "cpu", "amp": "off"}, {"epoch": 3, "device": "cpu", "amp": "off"}]


def test_resume_needs_a_checkpoint_and_the_same_dataset(tmp_path, dataset):
    with pytest.raises(InputError, match="no checkpoint to resume"):
        train(dataset, tmp_path / "empty", {}, resume=True)
    train(dataset, tmp_path / "run", {**SMALL, "epochs": 1}, progress=False)
    make_dataset(tmp_path / "other", n=80, window=100, n_tasks=2, seed=9)
    with pytest.raises(InputError, match="not the data set this run was trained on"):
        train(tmp_path / "other", tmp_path / "run", {}, resume=True)


def test_resume_refuses_a_checkpoint_copied_from_another_run(tmp_path, dataset):
    """last.* of another run (another network, or another data set and tasks) is refused in one line before
    the run's history is rewritten from it."""
    import shutil

    make_dataset(tmp_path / "one_task", n=80, window=100, n_tasks=1, seed=4)
    runs = {
        "small": (dataset, {**SMALL, "epochs": 1}),
        "small64": (dataset, {**SMALL, "arch": "small64", "epochs": 1}),
        "one_task": (tmp_path / "one_task", {**SMALL, "epochs": 1}),
    }
    for name, (ds, options) in runs.items():
        train(ds, tmp_path / name, options, progress=False)
    history = (tmp_path / "small64" / "history.csv").read_text()
    for source, message in (("small", "its network differs"), ("one_task", "its network, tasks, data set differ")):
        for ext in ("json", "safetensors"):
            shutil.copy(tmp_path / source / f"last.{ext}", tmp_path / "small64" / f"last.{ext}")
        with pytest.raises(InputError, match=f"last.json: not this run's checkpoint \\({message} from config.json"):
            train(dataset, tmp_path / "small64", {}, resume=True, progress=False)
        assert (tmp_path / "small64" / "history.csv").read_text() == history


def test_resume_and_force_together_are_refused(tmp_path, dataset, capsys):
    assert main(["train", str(dataset), "--out", str(tmp_path / "run"), "--resume", "--force"]) == 2
    assert capsys.readouterr().err.strip() == (
        "peakcnn: error: --resume continues the run in --out and --force starts it over; give one of them"
    )
    assert not (tmp_path / "run").exists()


def test_resume_of_a_finished_run_rebuilds_its_history_and_needs_its_model(tmp_path, dataset):
    run = tmp_path / "run"
    train(dataset, run, {**SMALL, "epochs": 2}, progress=False)
    whole = (run / "history.csv").read_text()
    assert len(whole.splitlines()) == 3
    for damage in (lambda: (run / "history.csv").unlink(), lambda: (run / "history.csv").write_text(whole[:40])):
        damage()
        assert train(dataset, run, {}, resume=True, progress=False)["epochs_done"] == 2
        assert (run / "history.csv").read_text() == whole  # rebuilt from last.json
    (run / "model.safetensors").unlink()
    with pytest.raises(InputError, match="model.safetensors is missing although 2 epoch"):
        train(dataset, run, {}, resume=True, progress=False)


def test_existing_run_needs_force(tmp_path, dataset, caplog):
    train(dataset, tmp_path / "run", {**SMALL, "epochs": 1}, progress=False)
    with pytest.raises(InputError, match="already holds a run"):
        train(dataset, tmp_path / "run", {**SMALL, "epochs": 1})
    from peakcnn.evaluate import evaluate

    run = tmp_path / "run"
    evaluate(run, split="valid", baselines=False)
    from peakcnn.interpret.motifs import find_motifs

    db = write_motif_db(tmp_path / "db.meme", {"M_TGA": "TGACGTCA"})
    find_motifs(run, split="valid", max_windows=20, motif_db=db, progress=False)
    (run / "eval_mine").mkdir()
    (run / "eval_mine" / "metrics.json").write_text("{}")
    (run / "eval_mine" / "notes.txt").write_text("a folder evaluate did not write alone")
    with caplog.at_level("WARNING"):
        train(dataset, run, {**SMALL, "epochs": 1, "seed": 4}, force=True, progress=False)
    assert not (run / "eval_valid").exists()  # it scored the model --force replaced
    assert not (run / "motifs").exists()  # so did this
    assert sorted(p.name for p in (run / "eval_mine").iterdir()) == ["metrics.json", "notes.txt"]
    assert f"{run / 'eval_mine'}: kept, as it holds files an evaluation did not write (notes.txt)" in caplog.text


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--epochs", "0"], "--epochs 0: must be at least 1"),
        (["--lr", "-1"], "--lr -1.0: must be a positive number"),
        (["--lr", "1e39"], "--lr 1e+39: is beyond float32"),
        (["--weight-decay", "1e308"], "--weight-decay 1e+308: is beyond float32"),
        (["--device", "cuda"], "no CUDA device") if not torch.cuda.is_available() else (["--shift", "-1"], "shift"),
        (["--device", "cpu", "--amp", "fp16"], "--amp fp16 needs a CUDA device"),
        (["--ema", "1"], "--ema 1.0: must be in [0, 1)"),
        (["--max-train", "1"], "--max-train 1: must be 0 (all windows) or at least 2"),
        (["--shift", "50"], "--shift 50: must be less than half the 100 bp window"),
        (["--seed", "-1"], "--seed -1: must be an integer in [0, 2**63)"),
    ],
)
def test_bad_options_write_nothing(tmp_path, dataset, capsys, extra, message):
    assert main(["train", str(dataset), "--out", str(tmp_path / "run")] + extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("peakcnn: error: ") and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_missing_truncated_and_foreign_datasets(tmp_path, dataset, capsys):
    out = str(tmp_path / "run")
    assert main(["train", str(tmp_path / "nowhere"), "--out", out]) == 2
    assert "no data set here" in capsys.readouterr().err
    (tmp_path / "trunc").mkdir()
    data = (dataset / "dataset.h5").read_bytes()
    (tmp_path / "trunc" / "dataset.h5").write_bytes(data[: len(data) // 3])
    assert main(["train", str(tmp_path / "trunc"), "--out", out]) == 2
    assert "truncated" in capsys.readouterr().err
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "dataset.h5").write_bytes(data)
    with h5py.File(tmp_path / "old" / "dataset.h5", "r+") as f:
        f.attrs["format_version"] = 99
    assert main(["train", str(tmp_path / "old"), "--out", out]) == 2
    assert "format version 99 is not supported" in capsys.readouterr().err
    fasta = tmp_path / "genome.fa"  # a file that is not a data set at all
    fasta.write_text(">c1\nACGT\n")
    assert main(["train", str(fasta), "--out", out]) == 2
    assert capsys.readouterr().err == (
        f"peakcnn: error: {fasta}: not a peakcnn data set (not an HDF5 file); pass the folder 'peakcnn prepare' wrote\n"
    )
    assert not (tmp_path / "run").exists()


def test_a_data_set_changed_after_prepare_stops_train_and_evaluate(tmp_path, dataset, capsys):
    """A sequence code outside the alphabet made training fail with a traceback and evaluation score it."""
    run = tmp_path / "run"
    train(dataset, run, {**SMALL, "epochs": 1}, progress=False)
    (tmp_path / "bad").mkdir()
    bad = tmp_path / "bad" / "dataset.h5"
    bad.write_bytes((dataset / "dataset.h5").read_bytes())
    with h5py.File(bad, "r+") as f:
        seqs = f["seqs"][:]
        seqs[0, 0] = 9
        f["seqs"][...] = seqs
    capsys.readouterr()
    for argv in (
        ["train", str(bad.parent), "--out", str(tmp_path / "run2"), "--arch", "small", "--epochs", "1"],
        ["evaluate", str(run), "--dataset", str(bad.parent), "--no-baselines", "--out", str(tmp_path / "ev")],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err == (
            f"peakcnn: error: {bad}: content does not match its checksum (content_sha256): the file was changed or "
            "damaged after 'peakcnn prepare' wrote it; run 'peakcnn prepare' again"
        )
    assert not (tmp_path / "run2").exists() and not (tmp_path / "ev").exists()


def test_init_transfers_every_layer_that_fits(tmp_path, dataset):
    from peakcnn.checkpoint import transfer_weights
    from peakcnn.model import DNASeqClassifier, preset_config

    train(dataset, tmp_path / "source", {**SMALL, "epochs": 1}, progress=False)  # 2 tasks, 100 bp
    source, _ = load_model(tmp_path / "source")
    torch.manual_seed(1)
    target = DNASeqClassifier(preset_config("small", 100, 1))  # one task: the output layer cannot fit
    before = {k: v.clone() for k, v in target.state_dict().items()}
    info = transfer_weights(target, tmp_path / "source")
    out_layer = [k for k in before if k.startswith("head.")][-2:]  # weight and bias of the last Linear
    assert sorted(info["kept"]) == sorted(out_layer) and info["tasks"] == ["task0", "task1"]
    for k, v in target.state_dict().items():
        expected = before[k] if k in out_layer else source.state_dict()[k]
        assert torch.equal(v, expected), k
    assert any(not torch.equal(before[k], source.state_dict()[k]) for k in info["copied"])
    # two tasks, as the source has, but in the other order: output 0 is another task there, so the output
    # layer starts at random; in the same order it is copied
    for tasks, copies_output in ((["task1", "task0"], False), (["task0", "task1"], True)):
        torch.manual_seed(1)
        target = DNASeqClassifier(preset_config("small", 100, 2))
        kept = transfer_weights(target, tmp_path / "source", tasks)["kept"]
        assert kept == ([] if copies_output else out_layer)

    make_dataset(tmp_path / "one", n=80, window=100, n_tasks=1, seed=3)
    args = ["-q", "train", str(tmp_path / "one"), "--out", str(tmp_path / "run"), "--arch", "small"]
    assert main(args + ["--epochs", "1", "--batch-size", "16", "--init", str(tmp_path / "source")]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["init"]["copied"] == info["copied"] and config["training"]["init"] == str(tmp_path / "source")
    # another window: the first dense layer's weight does not fit, so the whole dense head starts fresh (its
    # bias and the layers after it were copied one tensor at a time)
    torch.manual_seed(1)
    target = DNASeqClassifier(preset_config("small", 128, 2))
    info = transfer_weights(target, tmp_path / "source", ["task0", "task1"])
    assert sorted(info["kept"]) == sorted(k for k in target.state_dict() if k.startswith("head."))
    assert info["copied"] == [k for k in target.state_dict() if not k.startswith("head.")]


def test_init_from_the_run_force_replaces_is_refused_and_the_run_kept(tmp_path, dataset, capsys):
    """--init X --out X --force loaded X's weights, then erased X: the record named a run that no longer held them."""
    run = tmp_path / "run"
    train(dataset, run, {**SMALL, "epochs": 1}, progress=False)
    kept = {p.name: p.read_bytes() for p in run.iterdir()}
    for init in (run, run / "model.json"):
        argv = ["train", str(dataset), "--out", str(run), "--arch", "small", "--init", str(init), "--force"]
        assert main(argv) == 2
        assert capsys.readouterr().err == (
            f"peakcnn: error: --init {init}: is the run --out {run} replaces, so training would erase the weights "
            "it starts from; give --out another folder\n"
        )
    assert {p.name: p.read_bytes() for p in run.iterdir()} == kept


def test_init_from_a_run_that_itself_started_from_another_says_what_is_not_checked(tmp_path, dataset, caplog):
    """Only the starting run's own data set is compared with this one; the run it started from is named."""
    train(dataset, tmp_path / "first", {**SMALL, "epochs": 1}, progress=False)
    train(dataset, tmp_path / "second", {**SMALL, "epochs": 1, "init": str(tmp_path / "first")}, progress=False)
    with caplog.at_level("WARNING"):
        train(dataset, tmp_path / "third", {**SMALL, "epochs": 1, "init": str(tmp_path / "second")}, progress=False)
    assert (
        f"--init {tmp_path / 'second'} was itself started from {tmp_path / 'first'}, whose training windows are "
        "not checked against this data set" in caplog.text
    )
    config = json.loads((tmp_path / "third" / "config.json").read_text())
    assert config["init"]["started_from"] == str(tmp_path / "first")


def test_init_is_recorded_as_one_path_however_it_is_spelt(tmp_path, dataset, monkeypatch):
    """--init runA in one folder and --init /abs/runA on resume name the same run: resume accepts it."""
    train(dataset, tmp_path / "source", {**SMALL, "epochs": 1}, progress=False)
    monkeypatch.chdir(tmp_path)
    train(dataset, tmp_path / "run", {**SMALL, "epochs": 1, "init": "source"}, progress=False)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["training"]["init"] == str(tmp_path / "source")
    done = train(dataset, tmp_path / "run", {"init": str(tmp_path / "source")}, resume=True, progress=False)
    assert done["epochs_done"] == 1
    assert train(dataset, "run", {"init": "./source"}, resume=True, progress=False)["epochs_done"] == 1


@pytest.mark.parametrize(
    "what, message",
    [
        ("missing", "not a run folder"),
        ("arch", "same --arch"),
        ("damaged", "model.safetensors: does not match model.json"),
    ],
)
def test_init_from_an_unusable_run_writes_nothing(tmp_path, dataset, capsys, what, message):
    source = tmp_path / "source"
    if what == "arch":
        train(dataset, source, {"arch": "basset", "batch_size": 16, "epochs": 1}, progress=False)
    if what == "damaged":  # the advice names the starting run, not the new --out folder
        train(dataset, source, {**SMALL, "epochs": 1}, progress=False)
        with open(source / "model.safetensors", "ab") as f:
            f.write(b"x")
        message += " (sha256 differs; the process writing them was probably killed); the checkpoint is damaged; "
        message += "restore it or train the run again"
    out = tmp_path / "run"
    assert main(["train", str(dataset), "--out", str(out), "--arch", "small", "--init", str(source)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("peakcnn: error: ") and message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_non_finite_validation_output_stops_with_the_epoch_named(tmp_path, dataset, monkeypatch):
    real = peakcnn.trainer.predict_logits
    calls = {"n": 0}

    def blown_up(*args, **kw):
        calls["n"] += 1
        out = real(*args, **kw)
        if calls["n"] == 2:  # the validation of epoch 2
            out[:3] = np.nan
        return out

    monkeypatch.setattr(peakcnn.trainer, "predict_logits", blown_up)
    with pytest.raises(NonFiniteLoss, match=r"epoch 2, validation: .*NaN or infinite for 3 of \d+ windows.*epoch 1"):
        train(dataset, tmp_path / "run", {**SMALL, "epochs": 3}, progress=False)
    assert json.loads((tmp_path / "run" / "last.json").read_text())["train_state"]["epoch"] == 1
    assert len(read_history(tmp_path / "run" / "history.csv")) == 1


def test_huge_finite_validation_logits_give_a_finite_loss_the_history_reader_accepts(tmp_path, dataset, monkeypatch):
    """Logits near float32's largest value, each on the wrong side: the mean of their float32 losses
    overflows to inf, which the history reader (rightly) refuses; the loss is summed in float64."""
    from peakcnn.data.store import Dataset

    with Dataset(dataset) as ds:
        labels = ds.load_split("valid")[1]
    wrong = np.where(labels == 1, -3e38, 3e38).astype(np.float32)
    with np.errstate(over="ignore"):
        assert np.isinf(np.mean(np.abs(wrong), dtype=np.float32))  # what a float32 mean makes of them
    monkeypatch.setattr(peakcnn.trainer, "predict_logits", lambda *args, **kw: wrong.copy())
    train(dataset, tmp_path / "run", {**SMALL, "epochs": 1}, progress=False)
    (row,) = read_history(tmp_path / "run" / "history.csv")
    assert 2.9e38 < row["valid_loss"] < 3.1e38 and row["valid_acc"] == 0


def test_non_finite_weights_stop_before_they_are_saved(tmp_path, dataset, monkeypatch):
    """An infinite batch-norm variance leaves the outputs finite (its channel is scaled to 0), so the
    validation check cannot see it; the weights are checked before they are saved."""
    real = peakcnn.trainer._train_step
    per_epoch, calls = _n_batches(dataset, 16), {"n": 0}

    def step(trainer, x, y):
        out = real(trainer, x, y)
        calls["n"] += 1
        if calls["n"] == 2 * per_epoch:  # the last step of epoch 2
            name, var = next((n, b) for n, b in trainer.model.named_buffers() if n.endswith("running_var"))
            var[0] = math.inf
            step.name = name
        return out

    monkeypatch.setattr(peakcnn.trainer, "_train_step", step)
    with pytest.raises(NonFiniteLoss) as err:
        train(dataset, tmp_path / "run", {**SMALL, "epochs": 3}, progress=False)
    assert str(err.value).startswith(
        f"epoch 2, end of the epoch: the model's weights hold NaN or infinite values ({step.name}); training "
        f"stopped ({tmp_path / 'run'}/last.* still holds epoch 1, the last good one)"
    )
    assert json.loads((tmp_path / "run" / "last.json").read_text())["train_state"]["epoch"] == 1
    assert len(read_history(tmp_path / "run" / "history.csv")) == 1


def test_history_scores_training_predictions_and_weights_both_losses_alike(tmp_path, monkeypatch):
    """train_auroc/train_auprc are the scores of the epoch's own training predictions; with --class-weights
    the validation loss is the same positive-weighted cross-entropy as the training loss."""
    import dataclasses

    from _train_helpers import synthetic_table

    from peakcnn.data.store import Dataset, write_dataset
    from peakcnn.metrics import auprc, auroc, sigmoid

    t = synthetic_table(n=400, window=100, seed=3)
    keep = (t.labels[:, 0] == 0) | (np.arange(len(t.labels)) % 4 == 0)  # about 1 positive in 5
    fields = ("seqs", "labels", "chrom", "start", "split", "source")
    write_dataset(dataclasses.replace(t, **{f: getattr(t, f)[keep] for f in fields}), tmp_path / "ds.h5")
    real, seen = peakcnn.trainer._train_step, []

    def recording(trainer, x, y):
        loss, logits = real(trainer, x, y)
        seen.append((trainer.epoch + 1, logits.detach().numpy().copy(), y.numpy().copy()))
        return loss, logits

    monkeypatch.setattr(peakcnn.trainer, "_train_step", recording)
    train(tmp_path / "ds.h5", tmp_path / "run", {**SMALL, "epochs": 2, "class_weights": True}, progress=False)
    rows = read_history(tmp_path / "run" / "history.csv")
    for row in rows:
        logits = np.concatenate([lg for e, lg, _ in seen if e == row["epoch"]])[:, 0]
        y = np.concatenate([yy for e, _, yy in seen if e == row["epoch"]])[:, 0]
        assert row["train_auroc"] == pytest.approx(auroc(y, sigmoid(logits)), abs=1e-6)  # CSV: 6 digits
        assert row["train_auprc"] == pytest.approx(auprc(y, sigmoid(logits)), abs=1e-6)
    model, _ = load_model(tmp_path / "run")
    with Dataset(tmp_path / "ds.h5") as ds:
        codes, labels = ds.load_split("valid")
        n_train, n_pos = ds.count("train"), int(ds.load_split("train")[1].sum())
    logits = torch.from_numpy(peakcnn.trainer.predict_logits(model, codes))
    y = torch.from_numpy(labels.astype(np.float32))
    pos_weight = torch.tensor([(n_train - n_pos) / n_pos], dtype=torch.float32)
    weighted = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight)
    plain = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
    assert rows[-1]["valid_loss"] == pytest.approx(float(weighted), rel=1e-5)
    assert abs(float(weighted) - float(plain)) > 0.05


def test_one_class_training_labels_are_refused_or_warned_per_task(tmp_path, capsys, caplog):
    from _train_helpers import synthetic_table

    from peakcnn.data.store import write_dataset

    table = synthetic_table(n=120, window=100, n_tasks=2)
    table.labels[:, 0] = 1  # task0: every window positive
    write_dataset(table, tmp_path / "two.h5")
    table.labels[:, 1] = 1
    write_dataset(table, tmp_path / "none.h5")
    args = ["--arch", "small", "--epochs", "1", "--batch-size", "32"]
    assert main(["train", str(tmp_path / "none.h5"), "--out", str(tmp_path / "r0"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"peakcnn: error: {tmp_path / 'none.h5'}: in the training split every task has one class only (all "
        f"{(table.split == 0).sum()} windows positive), so there is nothing to learn; prepare the data set with "
        "negatives (--negatives gc-matched, shuffled or random)"
    )
    assert not (tmp_path / "r0").exists()
    assert main(["-q", "train", str(tmp_path / "two.h5"), "--out", str(tmp_path / "r1"), *args]) == 0
    assert "warning: task task0 has one class only in the training split" in caplog.text
    assert "task1" not in caplog.text


@pytest.mark.parametrize("option", [["--early-stop", "2"], ["--select-best"]])
def test_choosing_epochs_on_a_validation_split_of_one_class_is_refused(tmp_path, capsys, option):
    """Validation auPRC is undefined when every task has one class there: selection would keep epoch 1."""
    from _train_helpers import synthetic_table

    from peakcnn.data.store import write_dataset

    table = synthetic_table(n=120, window=100, n_tasks=2)
    table.labels[table.split == 1] = 0
    (tmp_path / "ds").mkdir()
    write_dataset(table, tmp_path / "ds" / "dataset.h5")
    argv = ["train", str(tmp_path / "ds"), "--out", str(tmp_path / "run"), "--arch", "small", "--epochs", "1"]
    assert main(argv + option) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "in the validation split every task has one class only" in err
    assert not (tmp_path / "run").exists()
    assert main(["-q", *argv, "--lr-schedule", "plateau"]) == 0  # the plateau schedule falls back on the loss


def test_trainability_checks_at_their_edges(tmp_path, capsys):
    """One task of one class is refused as two are; one training window is too few; --early-stop is
    allowed when one of two tasks still has both classes in the validation split."""
    from _train_helpers import synthetic_table

    from peakcnn.data.store import write_dataset

    table = synthetic_table(n=120, window=100, n_tasks=1)
    table.labels[:] = 1
    write_dataset(table, tmp_path / "one.h5")
    argv = ["--arch", "small", "--epochs", "1", "--batch-size", "32"]
    assert main(["train", str(tmp_path / "one.h5"), "--out", str(tmp_path / "r1"), *argv]) == 2
    assert "in the training split every task has one class only" in capsys.readouterr().err
    table = synthetic_table(n=120, window=100, n_tasks=1)
    keep = (table.split != 0) | (np.arange(len(table.split)) == np.flatnonzero(table.split == 0)[0])
    for key in ("seqs", "labels", "chrom", "start", "split", "source"):
        setattr(table, key, getattr(table, key)[keep])
    write_dataset(table, tmp_path / "few.h5")
    assert main(["train", str(tmp_path / "few.h5"), "--out", str(tmp_path / "r2"), *argv]) == 2
    assert "the training split has 1 windows; at least 2 are needed" in capsys.readouterr().err
    table = synthetic_table(n=120, window=100, n_tasks=2)
    table.labels[table.split == 1, 0] = 0  # task0: one class in valid; task1 keeps both
    assert 0 < table.labels[table.split == 1, 1].sum() < (table.split == 1).sum()
    write_dataset(table, tmp_path / "half.h5")
    assert (
        main(["-q", "train", str(tmp_path / "half.h5"), "--out", str(tmp_path / "r3"), *argv, "--early-stop", "1"]) == 0
    )


def test_init_from_a_run_trained_on_held_out_windows_is_caveated(tmp_path, caplog, capsys):
    """A run started (--init) from a model trained on another split of the same genome: the held-out windows
    that overlap the starting run's train or valid windows are counted (checked here against windows.bed),
    warned about, recorded and named in evaluate's caveat; from a run of the same data set, nothing is."""
    from _prepare_helpers import read_windows_bed, tiny_dataset_inputs

    from peakcnn.data.prepare import prepare_dataset
    from peakcnn.evaluate import score

    inputs = tiny_dataset_inputs(tmp_path)
    peaks = [inputs["a"], inputs["b"]]
    prepare_dataset(inputs["genome"], peaks, tmp_path / "chrom", window=200, split="chrom", progress=False)
    prepare_dataset(inputs["genome"], peaks, tmp_path / "region", window=200, split="region", progress=False)
    opts = {**SMALL, "epochs": 1}
    train(tmp_path / "region", tmp_path / "source", opts, progress=False)
    with caplog.at_level("WARNING"):
        train(tmp_path / "chrom", tmp_path / "run", {**opts, "init": str(tmp_path / "source")}, progress=False)

    def windows(name):
        header, rows = read_windows_bed(tmp_path / name / "windows.bed")
        return [(r[0], int(r[1]), int(r[2]), r[header.index("split")]) for r in rows]

    def used_for(split):  # test: the starting run's train and valid windows; otherwise its train windows
        return [w for w in windows("region") if (w[3] != "test" if split == "test" else w[3] == "train")]

    expected = {
        split: sum(
            any(c == u[0] and s < u[2] and u[1] < e for u in used_for(split))
            for c, s, e, k in windows("chrom")
            if k == split
        )
        for split in ("train", "valid", "test")
    }
    assert expected["test"] > 0 and expected["valid"] > 0  # the two layouts differ
    overlap = json.loads((tmp_path / "run" / "model.json").read_text())["init_overlap"]
    assert overlap["checked"] and overlap["windows"] == expected
    assert json.loads((tmp_path / "run" / "config.json").read_text())["init"]["overlap"] == overlap
    assert f"{expected['valid']} valid and {expected['test']} test windows of" in caplog.text
    assert "was trained on (test windows: trained or selected on), so their scores will be" in caplog.text
    doc, _ = score(tmp_path / "run", baselines=False, n_boot=0)
    n_test = overlap["of"]["test"]
    assert doc["caveat"] == (
        f"{expected['test']} of the {n_test} test windows overlap windows that {tmp_path / 'source'} (--init) "
        "was trained or selected on, so their scores are optimistic"
    )
    # started from a run of the same data set: its train and valid windows never overlap the test split
    train(tmp_path / "chrom", tmp_path / "same", opts, progress=False)
    caplog.clear()
    with caplog.at_level("WARNING"):
        train(tmp_path / "chrom", tmp_path / "run2", {**opts, "init": str(tmp_path / "same")}, progress=False)
    held_out = json.loads((tmp_path / "run2" / "model.json").read_text())["init_overlap"]["windows"]
    assert held_out["valid"] == held_out["test"] == 0 and "overlap" not in caplog.text  # fine-tuning as advised
    assert score(tmp_path / "run2", baselines=False, n_boot=0)[0]["caveat"] is None
    # a starting run whose data set is gone, or a run trained before overlaps were recorded: said, not hidden
    import shutil

    shutil.rmtree(tmp_path / "region")
    caplog.clear()
    with caplog.at_level("WARNING"):
        train(tmp_path / "chrom", tmp_path / "run3", {**opts, "init": str(tmp_path / "source")}, progress=False)
    gone = f"{tmp_path / 'region' / 'dataset.h5'}, the data set of {tmp_path / 'source'}, is not there any more"
    assert gone in caplog.text
    assert score(tmp_path / "run3", baselines=False, n_boot=0)[0]["caveat"] == (
        f"the windows {tmp_path / 'source'} (--init) was trained on could not be checked against this split: {gone}"
    )
    meta = json.loads((tmp_path / "run" / "model.json").read_text())
    del meta["init_overlap"]
    (tmp_path / "run" / "model.json").write_text(json.dumps(meta))
    assert score(tmp_path / "run", baselines=False, n_boot=0)[0]["caveat"] == (
        f"the windows {tmp_path / 'source'} (--init) was trained on were not checked against this split"
    )


def test_a_resumed_init_run_keeps_its_recorded_overlap(tmp_path, dataset, monkeypatch):
    train(dataset, tmp_path / "source", {**SMALL, "epochs": 1}, progress=False)
    options = {**SMALL, "epochs": 2, "init": str(tmp_path / "source")}
    _interrupt_in_epoch(monkeypatch, 2, _n_batches(dataset, 16), KeyboardInterrupt)
    with pytest.raises(Interrupted):
        train(dataset, tmp_path / "run", options, progress=False)
    monkeypatch.undo()
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())["init"]["overlap"]
    assert recorded["checked"] and sum(recorded["of"].values()) == 160
    train(dataset, tmp_path / "run", {}, resume=True, progress=False)
    assert json.loads((tmp_path / "run" / "model.json").read_text())["init_overlap"] == recorded


@pytest.mark.skipif(os.name != "posix", reason="flock is a POSIX lock")
def test_a_second_training_into_a_run_folder_in_use_stops_with_one_line(tmp_path, dataset, capsys):
    """While one process trains into RUN (it holds a lock on the folder), a second --resume, --force or
    fresh run into RUN stops before writing, instead of mixing its checkpoints with the first one's."""
    import fcntl

    run = tmp_path / "run"
    train(dataset, run, {**SMALL, "epochs": 1}, progress=False)
    (tmp_path / "new").mkdir()
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    for folder, extra in ((run, ["--resume"]), (run, ["--force"]), (tmp_path / "new", [])):
        fd = os.open(folder, os.O_RDONLY)  # as the training process holds it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            argv = ["train", str(dataset), "--out", str(folder), *SMALL_ARGS, *extra]
            assert main(argv) == 2
        finally:
            os.close(fd)
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [
            f"peakcnn: error: {folder}: another 'peakcnn train' is writing to this run folder; wait for it to "
            "finish, or choose another --out folder"
        ]
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    assert not any((tmp_path / "new").iterdir())
    # the lock is released when training ends: the next command goes on
    assert main(["train", str(dataset), "--out", str(tmp_path / "new"), *SMALL_ARGS, "--epochs", "1"]) == 0
    with pytest.raises(InputError, match="another 'peakcnn train' is writing"), _RunLock(tmp_path / "new"):
        train(dataset, tmp_path / "new", resume=True, progress=False)
    assert train(dataset, tmp_path / "new", resume=True, progress=False)["epochs_done"] == 1


@pytest.mark.skipif(os.name != "posix", reason="flock is a POSIX lock")
def test_force_into_a_folder_another_training_made_meanwhile_deletes_nothing(tmp_path, dataset, monkeypatch, capsys):
    """The folder did not exist when `train --force` started; another training made it and holds it by the
    time this one would clear an old run's files: it stops on the lock, before clearing anything."""
    import fcntl

    import peakcnn.train

    finished = tmp_path / "finished"
    train(dataset, finished, {**SMALL, "epochs": 1}, progress=False)
    run, check, held = tmp_path / "run", peakcnn.train._check_trainable, []

    def meanwhile(ds, cfg):  # the other training starts and takes the folder while this one sets up
        shutil.copytree(finished, run)
        held.append(os.open(run, os.O_RDONLY))
        fcntl.flock(held[0], fcntl.LOCK_EX | fcntl.LOCK_NB)
        return check(ds, cfg)

    monkeypatch.setattr(peakcnn.train, "_check_trainable", meanwhile)
    try:
        assert main(["train", str(dataset), "--out", str(run), *SMALL_ARGS, "--force"]) == 2
    finally:
        os.close(held[0])
    assert "another 'peakcnn train' is writing to this run folder" in capsys.readouterr().err
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in finished.iterdir())


def test_a_folder_that_cannot_be_opened_for_its_lock_is_trained_into_unlocked(tmp_path, dataset, monkeypatch):
    """A folder that can be written but not read (mode 0300) cannot be opened for the lock: training goes
    on without it, as it did before the lock."""
    import peakcnn.train

    real = os.open

    def refuse_folders(path, flags, *a, **kw):
        if os.path.isdir(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, flags, *a, **kw)

    (tmp_path / "run").mkdir()
    monkeypatch.setattr(peakcnn.train.os, "open", refuse_folders)
    assert train(dataset, tmp_path / "run", {**SMALL, "epochs": 1}, progress=False)["epochs_done"] == 1


def _strict_json(path):
    """``path`` parsed as strict JSON: a bare NaN or Infinity is an error, as in jq or a browser."""
    return json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{path.name} holds a bare {c}"))


@pytest.mark.parametrize("valid", ["none", "one class"])
def test_scores_without_a_value_are_null_in_model_json(tmp_path, valid):
    """Validation scores that are NaN (no validation windows, or one class in them) go into model.json as
    null, which strict JSON parsers (jq, a browser) read; last.json, read back by --resume only, keeps
    them and a plateau schedule's infinite bounds exactly."""
    from _train_helpers import synthetic_table

    from peakcnn.data.store import write_dataset

    table = synthetic_table(n=120, window=100, n_tasks=1)
    if valid == "none":
        table.split[table.split == 1] = 0
    else:
        table.labels[table.split == 1] = 0
    (tmp_path / "ds").mkdir()
    write_dataset(table, tmp_path / "ds" / "dataset.h5")
    train(tmp_path / "ds", tmp_path / "run", {**SMALL, "epochs": 2}, progress=False)
    model = _strict_json(tmp_path / "run" / "model.json")
    assert model["valid"]["valid_auprc"] is None and model["valid"]["train_loss"] > 0
    assert math.isnan(json.loads((tmp_path / "run" / "last.json").read_text())["train_state"]["best"]["valid_auprc"])
    assert load_model(tmp_path / "run")[1]["valid"]["valid_auprc"] is None


@pytest.mark.parametrize(
    ("option", "bad", "good", "message"),
    [
        ("batch_size", 1, 2, "--batch-size 1: must be at least 2"),
        ("momentum", 1.0, 0.99, "momentum 1.0: must be in [0, 1)"),
        ("seed", 2**63, 2**63 - 1, "--seed 9223372036854775808: must be an integer in [0, 2**63)"),
        ("lr", 0.0, 1e-8, "--lr 0.0: must be a positive number"),
    ],
)
def test_option_bounds_at_the_bound(option, bad, good, message):
    TrainConfig(**{option: good}).validate()
    with pytest.raises(InputError, match=re.escape(message)):
        TrainConfig(**{option: bad}).validate()


def test_bootstrap_history_and_cuda_index_bounds(monkeypatch):
    from peakcnn.runconfig import MAX_BOOT, _history_fault, n_boot_allowed, resolve_device

    assert MAX_BOOT == 100_000 and n_boot_allowed(100_000) and not n_boot_allowed(100_001)
    assert _history_fault({"epoch": 1, "valid_auroc": 1.0}) is None  # a perfect score is a score
    assert _history_fault({"epoch": 1, "valid_auroc": 1.5}) == "valid_auroc 1.5 is not a score from 0 to 1"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(InputError, match=re.escape("--device cuda:1: this machine has 1 CUDA device(s); use cuda:0")):
        resolve_device("cuda:1")


def test_every_recipe_option_of_the_command_line_reaches_the_run(tmp_path):
    """Each recipe option given to ``peakcnn train`` is the run's recorded recipe, a value equal to an
    option's falsy form included (``--momentum 0`` is not the default 0.9)."""
    make_dataset(tmp_path / "syn", n=60, window=100)
    given = {
        "arch": "small",
        "epochs": 1,
        "batch_size": 8,
        "lr": 0.05,
        "optimizer": "sgd",
        "momentum": 0.0,
        "weight_decay": 0.01,
        "lr_schedule": "cosine",
        "rc_augment": True,
        "shift": 3,
        "early_stop": 2,
        "select_best": True,
        "class_weights": True,
        "seed": 7,
        "max_train": 40,
        "ema": 0.9,
        "amp": "off",
        "note": "a note",
    }
    argv = ["train", str(tmp_path / "syn"), "--out", str(tmp_path / "run")]
    for key, value in given.items():
        option = "--" + key.replace("_", "-")
        argv += [option] if value is True else [option, str(value)]
    assert main(argv) == 0
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())["training"]
    assert {key: recorded[key] for key in given} == given
    assert (
        main([*argv[:3], str(tmp_path / "run2"), "--arch", "small", "--epochs", "1", "--init", str(tmp_path / "run")])
        == 0
    )
    recorded = json.loads((tmp_path / "run2" / "config.json").read_text())["training"]
    assert recorded["init"] == str((tmp_path / "run").resolve())


def test_train_draws_its_epoch_bar_on_a_terminal_unless_quiet(tmp_path, capsys, monkeypatch):
    make_dataset(tmp_path / "syn", n=60, window=100)
    argv = ["train", str(tmp_path / "syn"), "--arch", "small", "--epochs", "1", "--force"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    assert "epoch 1/1" not in capsys.readouterr().err  # stderr is a file here: no bar in the log
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    assert "epoch 1/1" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "run"), "-q"]) == 0
    assert "epoch 1/1" not in capsys.readouterr().err


#: The training options every run's config.json has held since the first version.
FIRST_OPTIONS = (
    "arch", "epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay", "lr_schedule", "rc_augment",
    "shift", "early_stop", "select_best", "class_weights", "seed", "max_train",
)  # fmt: skip


def test_config_json_records_the_data_set_whole_and_resume_needs_every_part(tmp_path, monkeypatch):
    """The data set is recorded by its absolute path however it was given, with how it was made; a config.json
    that lacks the data set's path, or an option every run records, stops --resume in one line (also when the
    data set given is another one, which the message would name the recorded path for)."""
    from peakcnn.data.store import Dataset

    make_dataset(tmp_path / "ds", n=96, window=100)
    make_dataset(tmp_path / "other", n=96, window=100, seed=5)
    monkeypatch.chdir(tmp_path)
    train("ds", "run", {**SMALL, "epochs": 1}, progress=False)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    with Dataset(tmp_path / "ds") as ds:
        assert config["dataset"]["path"] == str(ds.path.resolve()) and os.path.isabs(config["dataset"]["path"])
    assert (config["dataset"]["negatives"], config["dataset"]["split_mode"]) == ("random synthetic", "random")
    for section, key in [("dataset", "path"), *(("training", k) for k in FIRST_OPTIONS)]:
        damaged = json.loads(json.dumps(config))
        del damaged[section][key]
        (tmp_path / "run" / "config.json").write_text(json.dumps(damaged))
        message = "lacks its 'dataset' section" if section == "dataset" else f"its training section lacks {key};"
        for dataset in ("ds", "other") if section == "dataset" else ("ds",):
            with pytest.raises(InputError, match=f"config.json: {message}.* the run folder is damaged"):
                train(dataset, "run", {}, resume=True, progress=False)
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    assert train("ds", "run", {}, resume=True, progress=False)["epochs_done"] == 1


def test_a_force_run_that_fails_before_its_first_checkpoint_leaves_nothing_of_either_run(tmp_path, dataset, capsys):
    """--force clears the old run's checkpoints and history before training; when the new run then fails in
    its first epoch, its own config.json goes too: no file is left that mixes the two runs."""
    run = tmp_path / "run"
    train(dataset, run, {**SMALL, "epochs": 1}, progress=False)
    (run / "notes.txt").write_text("mine\n")
    argv = ["-q", "train", str(dataset), "--out", str(run), *SMALL_ARGS, "--epochs", "1", "--force"]
    assert main([*argv, "--lr", "1e30"]) == 2
    assert "no checkpoint was written" in capsys.readouterr().err
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("option", [["--early-stop", "2"], ["--select-best"], ["--lr-schedule", "plateau"]])
def test_choosing_epochs_or_a_plateau_schedule_without_a_validation_split_is_refused(tmp_path, capsys, option):
    from _train_helpers import synthetic_table

    from peakcnn.data.store import write_dataset

    table = synthetic_table(n=120, window=100, n_tasks=1)
    table.split[table.split == 1] = 0
    write_dataset(table, tmp_path / "ds.h5")
    argv = ["train", str(tmp_path / "ds.h5"), "--out", str(tmp_path / "run"), *SMALL_ARGS, "--epochs", "1"]
    assert main(argv + option) == 2
    assert capsys.readouterr().err.strip() == (
        f"peakcnn: error: {tmp_path / 'ds.h5'}: the validation split is empty, so --early-stop/--select-best/"
        "--lr-schedule plateau cannot be used"
    )
    assert not (tmp_path / "run").exists()


def test_ctrl_c_as_an_early_stopped_run_ends_says_it_is_finished_and_resume_trains_nothing(
    tmp_path, dataset, monkeypatch, capsys
):
    """Stopped early after epoch 2 of 5 and interrupted while that epoch's history was written: the run is
    said to be finished, not to be continued, and a --resume trains no part and records none."""
    scripted, real = {1: 0.8, 2: 0.7, 3: 0.9, 4: 0.9, 5: 0.9}, peakcnn.trainer.Trainer._validate
    monkeypatch.setattr(
        peakcnn.trainer.Trainer, "_validate", lambda self, e: {**real(self, e), "valid_auprc": scripted[e]}
    )
    real_history, calls = peakcnn.trainer.write_history, {"n": 0}

    def write_history(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # epoch 2's history, the last one
            os.kill(os.getpid(), signal.SIGINT)
        return real_history(*args, **kwargs)

    monkeypatch.setattr(peakcnn.trainer, "write_history", write_history)
    run = tmp_path / "run"
    assert main(["train", str(dataset), "--out", str(run), *SMALL_ARGS, "--epochs", "5", "--early-stop", "1"]) == 130
    assert capsys.readouterr().err.strip() == (
        f"peakcnn: interrupted once training had ended: {run} holds the finished run (2 epochs); evaluate it "
        f"with: peakcnn evaluate {run}"
    )
    monkeypatch.undo()
    steps = _count_steps(monkeypatch)
    summary = train(dataset, run, {}, resume=True, progress=False)
    assert (summary["epochs_done"], summary["stopped_early"], steps["n"]) == (2, True, 0)
    assert "resumed" not in json.loads((run / "config.json").read_text())


def test_resume_with_another_precision_on_the_same_device_is_warned(tmp_path, dataset, monkeypatch, caplog):
    run = tmp_path / "run"
    _interrupt_in_epoch(monkeypatch, 2, _n_batches(dataset, 16), KeyboardInterrupt)
    with pytest.raises(Interrupted):
        train(dataset, run, {**SMALL, "epochs": 2}, progress=False)
    monkeypatch.undo()
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "amp": "bfloat16"}))  # begun with --amp bf16
    with caplog.at_level("WARNING"):
        train(dataset, run, {}, resume=True, progress=False)
    assert "resumed at epoch 2 on cpu with amp off, where the epochs before ran on cpu with amp bfloat16" in caplog.text


def test_overlap_with_the_windows_a_run_was_trained_or_selected_on_by_hand(tmp_path):
    """Windows 100 bp on one chromosome. The starting run's data set: train at 0, valid at 1000, test at 2000.
    This one: train at 0, valid at 1000, test at 1050 and 2000. For --init, train and valid count against its
    train windows, test also against its valid ones (selected on); never against its test windows. A data set
    replaced at the recorded path, or unreadable there, is said, not counted."""
    from _train_helpers import synthetic_table

    from peakcnn.data.store import Dataset, write_dataset
    from peakcnn.train import init_overlap, training_overlap

    def write(path, starts, splits):
        table = synthetic_table(n=len(starts), window=100, seed=len(starts))
        table.start, table.split = np.array(starts, np.int64), np.array(splits, np.uint8)
        return write_dataset(table, path)

    source = tmp_path / "source.h5"
    sha = write(source, [0, 1000, 2000], [0, 1, 2])
    write(tmp_path / "mine.h5", [0, 1000, 1050, 2000], [0, 1, 2, 2])
    init = {"run": "src", "dataset_path": str(source), "dataset_sha256": sha}
    of = {"train": 1, "valid": 1, "test": 2}
    with Dataset(tmp_path / "mine.h5") as ds:
        got = init_overlap(init, ds)
        assert got == {"checked": True, "windows": {"train": 1, "valid": 0, "test": 1}, "of": of}
        got = training_overlap(ds, str(source), sha, "src")  # evaluate's: train and valid, for every split
        assert got["windows"] == {"train": 1, "valid": 1, "test": 1}
        write(source, [0, 1000, 1500], [0, 1, 2])
        assert init_overlap(init, ds) == {"checked": False, "reason": f"{source} is no longer the data set src was "
                                                                      "trained on"}  # fmt: skip
        source.write_bytes(b"not a data set")
        got = init_overlap(init, ds)
        assert not got["checked"] and got["reason"].startswith(f"{source} cannot be read ({source}: ")


def test_ctrl_c_while_the_init_overlap_is_counted_leaves_no_folder(tmp_path, dataset, monkeypatch):
    import peakcnn.train

    train(dataset, tmp_path / "source", {**SMALL, "epochs": 1}, progress=False)

    def interrupted(init, ds):
        raise KeyboardInterrupt

    monkeypatch.setattr(peakcnn.train, "init_overlap", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(dataset, tmp_path / "a" / "run", {**SMALL, "epochs": 1, "init": str(tmp_path / "source")}, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source"]  # the folders it made are gone

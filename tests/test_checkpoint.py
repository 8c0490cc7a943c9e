"""Checkpoints: self-describing JSON, safetensors only, shape checks, training state round trips."""

import hashlib
import json
import re

import numpy as np
import pytest
import torch
from _train_helpers import make_dataset
from safetensors.torch import load_file

from peakcnn import trainstate
from peakcnn.checkpoint import load_model, save_model
from peakcnn.cli import main
from peakcnn.errors import InputError
from peakcnn.model import DNASeqClassifier, preset_config
from peakcnn.train import train


def test_model_round_trip(tmp_path):
    torch.manual_seed(1)
    model = DNASeqClassifier(preset_config("small", 200, 2)).eval()
    save_model(tmp_path, model, ["a", "b"], training={"lr": 0.1}, dataset_sha256="abc")
    loaded, meta = load_model(tmp_path)
    x = torch.rand(4, 4, 200)
    assert torch.equal(model(x), loaded(x))
    assert meta["tasks"] == ["a", "b"] and meta["window"] == 200 and meta["training"] == {"lr": 0.1}
    assert meta["dataset_sha256"] == "abc" and "encoding" in meta and "peakcnn_version" in meta


def test_dilated_model_round_trip(tmp_path):
    torch.manual_seed(2)
    model = DNASeqClassifier(preset_config("dilated", 300, 1)).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.weight.data.uniform_(0.5, 1.5)
    save_model(tmp_path, model, ["a"])
    loaded, meta = load_model(tmp_path)
    x = torch.rand(3, 4, 300)
    assert meta["model_config"]["residual_dilations"] == [1, 2, 4, 8]
    assert torch.equal(model(x), loaded(x))


def test_tensors_that_do_not_fit_the_config(tmp_path):
    model = DNASeqClassifier(preset_config("small", 200, 1))
    save_model(tmp_path, model, ["a"])
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["model_config"]["conv_filters"] = [16, 32, 32]
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="do not fit the model config"):
        load_model(tmp_path)


def test_damaged_or_missing_checkpoint(tmp_path):
    with pytest.raises(InputError, match="no checkpoint 'model'"):
        load_model(tmp_path)
    save_model(tmp_path, DNASeqClassifier(preset_config("small", 200, 1)), ["a"])
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(InputError, match="does not match model.json"):
        load_model(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["tensors_sha256"] = hashlib.sha256(b"\x00" * 20).hexdigest()  # the checksum of the bytes: parsed, and fail
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="cannot be read as safetensors"):
        load_model(tmp_path)


def _rewrite_tensors(run, edit) -> None:
    """Edit a run's model tensors and record the new file's checksum, as another tool would."""
    from _apply_helpers import write_tensors

    tensors = load_file(str(run / "model.safetensors"))
    edit(tensors)
    write_tensors(run, tensors)


@pytest.fixture
def small_run(tmp_path):
    make_dataset(tmp_path / "ds", n=80, window=100, n_tasks=1)
    train(tmp_path / "ds", tmp_path / "run", {"arch": "small", "epochs": 1, "batch_size": 16}, progress=False)
    return tmp_path / "run"


def _nan_at(key):
    def edit(tensors):
        tensors[key].view(-1)[0] = float("nan")

    return edit


def _negative_variance(t):
    key = next(k for k in t if k.endswith("running_var"))
    t[key][0] = -1.0


@pytest.mark.parametrize(
    "edit, message",
    [
        (_nan_at("trunk.0.weight"), "tensor trunk.0.weight holds NaN or infinite values"),
        (lambda t: t["head.2.bias"].fill_(float("inf")), "tensor head.2.bias holds NaN or infinite values"),
        (_negative_variance, "running_var holds a negative variance"),
    ],
)
def test_weights_that_make_nan_outputs_are_refused_on_loading(small_run, capsys, edit, message):
    """Training stops before it saves such tensors; a checkpoint holding them was edited, and every command
    refuses it with one line instead of writing NaN scores or failing inside the metrics."""
    _rewrite_tensors(small_run, edit)
    with pytest.raises(InputError, match=re.escape(message)):
        load_model(small_run)
    assert main(["evaluate", str(small_run), "--no-baselines", "--bootstrap", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "the checkpoint is damaged, train the run again" in err[0], err
    assert not (small_run / "eval_test").exists()


def test_finite_weights_whose_output_is_nan_stop_evaluate_with_one_line(small_run, capsys):
    """Huge finite weights: the first convolution's outputs overflow and later layers add +inf and -inf."""
    _rewrite_tensors(small_run, lambda t: t["trunk.0.weight"].fill_(3e38))
    model, _ = load_model(small_run)
    assert torch.isnan(model(torch.eye(4)[torch.randint(0, 4, (2, 100))].transpose(1, 2))).all()
    assert main(["evaluate", str(small_run), "--no-baselines", "--bootstrap", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(r"the model's output is NaN for \d+ of \d+ test windows", err[0]), err
    assert not (small_run / "eval_test").exists()


def test_a_model_json_without_its_training_recipe_is_evaluated(small_run):
    meta = json.loads((small_run / "model.json").read_text())
    meta["training"] = None  # "not recorded", which load_model accepts
    (small_run / "model.json").write_text(json.dumps(meta))
    assert main(["evaluate", str(small_run), "--no-baselines", "--bootstrap", "0"]) == 0
    assert json.loads((small_run / "eval_test" / "metrics.json").read_text())["model"]["training"] == {}
    assert (small_run / "eval_test" / "report.html").exists()


def test_pair_left_inconsistent_by_a_killed_writer(tmp_path, capsys):
    """Tensors that are not the ones their JSON was written with (a process killed between the two renames
    leaves one epoch's tensors under another epoch's JSON) are refused, by load_model and by train --resume."""
    from safetensors.torch import save_file

    make_dataset(tmp_path / "ds", n=80, window=100, n_tasks=1)
    train(tmp_path / "ds", tmp_path / "run", {"arch": "small", "epochs": 1, "batch_size": 16}, progress=False)
    for name in ("model", "last"):
        path = tmp_path / "run" / f"{name}.safetensors"
        tensors = load_file(str(path))
        tensors["trunk.0.weight"] = tensors["trunk.0.weight"] + 1  # a valid file, other weights
        save_file(tensors, str(path))
    with pytest.raises(InputError, match="model.safetensors: does not match model.json"):
        load_model(tmp_path / "run")
    assert main(["train", str(tmp_path / "ds"), "--out", str(tmp_path / "run"), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "last.safetensors: does not match last.json" in err[0]


def test_training_checkpoint_holds_full_state_without_pickle(tmp_path):
    make_dataset(tmp_path / "ds", n=80, window=100, n_tasks=1)
    opts = {"arch": "small", "epochs": 1, "batch_size": 16, "lr_schedule": "cosine"}
    train(tmp_path / "ds", tmp_path / "run", opts, progress=False)
    tensors = load_file(str(tmp_path / "run" / "last.safetensors"))
    assert any(k.endswith("momentum_buffer") for k in tensors)
    assert "train_state.rng.torch" in tensors
    meta = json.loads((tmp_path / "run" / "last.json").read_text())
    state = meta["train_state"]
    assert state["epoch"] == 1 and len(state["history"]) == 1
    assert state["optimizer"]["param_groups"][0]["momentum"] == 0.9
    assert state["scheduler"]["T_max"] == 1
    assert set(state["rng"]) == {"numpy", "python"}
    assert meta["training"]["lr_schedule"] == "cosine" and meta["dataset_sha256"]
    assert not list((tmp_path / "run").glob("*.pt")) and not list((tmp_path / "run").glob("*.tmp"))
    # the training checkpoint loads as a model too: its training state is left aside
    last, _ = load_model(tmp_path / "run" / "last.json")
    assert torch.equal(last.state_dict()["trunk.0.weight"], tensors["trunk.0.weight"])


def test_a_batch_norm_channel_of_zero_variance_is_not_damage():
    """A channel that never fired ends with running_var 0 (finite outputs); only a negative variance is
    damage."""
    from peakcnn.checkpoint import tensor_fault

    assert tensor_fault({"trunk.1.running_var": torch.tensor([0.0, 1.0])}) is None
    assert tensor_fault({"trunk.1.running_var": torch.tensor([-1.0, 1.0])}) == (
        "trunk.1.running_var",
        "a negative variance",
    )


def test_optimizer_and_rng_parts_round_trip():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    model(torch.rand(5, 3)).sum().backward()
    opt.step()
    tensors, meta = trainstate.optimizer_parts(opt)
    meta = json.loads(json.dumps(meta))
    fresh = torch.optim.AdamW(model.parameters(), lr=0.5)
    trainstate.load_optimizer_parts(fresh, tensors, meta)
    a, b = opt.state_dict(), fresh.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for idx in a["state"]:
        for key, value in a["state"][idx].items():
            assert torch.equal(value, b["state"][idx][key])
    rng_tensors, rng_meta = trainstate.rng_parts()
    expected = (torch.rand(3), np.random.rand(3))
    trainstate.load_rng_parts(rng_tensors, json.loads(json.dumps(rng_meta)))
    assert torch.equal(torch.rand(3), expected[0]) and np.array_equal(np.random.rand(3), expected[1])


def test_evaluate_run_without_checkpoint(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    assert main(["evaluate", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("peakcnn: error:") and "no checkpoint" in err and len(err.splitlines()) == 1


def _pop(key):
    return lambda m: m.pop(key)


def _set(key, value):
    return lambda m: m.update({key: value})


def _set_config(key, value):
    return lambda m: m["model_config"].update({key: value})


@pytest.mark.parametrize(
    "edit, message",
    [
        (_pop("tasks"), "model.json: 'tasks' is missing or not a list of names"),
        (_set("tasks", "a"), "'tasks' is missing or not a list of names ('a')"),
        (_set("tasks", ["p", "q"]), "'tasks' is ['p', 'q'], but the network has 1 output(s) ('model_config.n_tasks')"),
        (_set("tasks", [""]), "'tasks' is invalid: task name '' is empty or holds whitespace"),
        (_set("tasks", ["a b"]), "'tasks' is invalid: task name 'a b' is empty or holds whitespace"),
        (_set("tasks", ["a\tb"]), "'tasks' is invalid: task name 'a\\tb' is empty or holds whitespace"),
        (_set("window", None), "model.json: 'window' is missing or not a positive length"),
        (_set("window", 200.0), "'window' is missing or not a positive length (200.0)"),
        (_set("window", 300), "'window' is 300, but the network takes 200 bp ('model_config.window')"),
        (_set("center", "bogus"), "'center' is 'bogus', must be one of summit, midpoint"),
        (_set("center", 1), "'center' is 1, must be one of summit, midpoint"),
        (_pop("encoding"), "'encoding' is None, but peakcnn models read only 'uint8 codes"),
        (_set("encoding", "ACGT one-hot"), "'encoding' is 'ACGT one-hot', but peakcnn models read only"),
        (_pop("tensors_sha256"), "model.json: lacks its checksum 'tensors_sha256' (the sha256 of model.safetensors)"),
        (_set("tensors_sha256", None), "lacks its checksum 'tensors_sha256'"),
        (_set("tensors_sha256", "abc"), "'tensors_sha256' is 'abc', not a sha256 (64 lower-case hex digits)"),
        (_set("training", "lr 0.1"), "'training' is 'lr 0.1', must be a JSON object"),
        (_set("genome_chroms", "chr1"), "'genome_chroms' is 'chr1', must be a list of names"),
        (_set("epoch", "3"), "'epoch' is '3', must be a non-negative integer"),
        (_set("max_n_frac", 1.5), "'max_n_frac' is 1.5, must be a fraction from 0 to 1"),
        (_set("max_n_frac", "0.1"), "'max_n_frac' is '0.1', must be a fraction from 0 to 1"),
        (_set("model_config", [200]), "'model_config' is [200], not a JSON object describing the network"),
        (lambda m: m["model_config"].pop("dense_units"), "'model_config.dense_units' is missing"),
        (_set_config("kernel", 3), "'model_config' has unknown fields kernel (known: window, n_tasks"),
        (_set_config("n_tasks", "1"), "'model_config.n_tasks' is '1', must be a positive integer"),
        (_set_config("window", True), "'model_config.window' is True, must be a positive integer"),
        (_set_config("pool_widths", "3"), "'model_config.pool_widths' is '3', must be a list of integers"),
        (_set_config("conv_filters", [16, 16.5, 32]), "'model_config.conv_filters' is [16, 16.5, 32], must be a list"),
        (_set_config("dense_dropout", 2), "'model_config.dense_dropout' is 2, must be a number in [0, 1]"),
        (_set_config("conv_dropout", [0.1, "x", 0.1]), "'model_config.conv_dropout' is [0.1, 'x', 0.1], must be"),
        (_set_config("conv_filters", [16, 16, -5]), "model_config in its JSON does not describe a network"),
        (
            lambda m: m["model_config"].update(conv_filters=[], conv_widths=[], pool_widths=[], conv_dropout=[]),
            "conv_filters is empty",
        ),
        (_set_config("conv_widths", [15, 8, 5]), "must be odd positive integers"),
    ],
)
def test_hand_edited_model_json_gives_one_line(tmp_path, capsys, edit, message):
    """Every value of model.json a command reads is checked when the model is loaded: predict (which reads
    tasks, window and center) stops with one line naming the file and the key, and writes nothing."""
    (tmp_path / "run").mkdir()
    save_model(tmp_path / "run", DNASeqClassifier(preset_config("small", 200, 1)), ["a"], center="summit")
    meta = json.loads((tmp_path / "run" / "model.json").read_text())
    edit(meta)
    (tmp_path / "run" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=re.escape(message)):
        load_model(tmp_path / "run")
    (tmp_path / "regions.fa").write_text(">r\n" + "ACGT" * 50 + "\n")
    (tmp_path / "regions.bed").write_text("chr1\t10\t150\n")
    genome = tmp_path / "genome.fa"
    genome.write_text(">chr1\n" + "ACGT" * 100 + "\n")
    out = tmp_path / "x.tsv"
    for argv in (
        ["--fasta", str(tmp_path / "regions.fa")],
        ["--bed", str(tmp_path / "regions.bed"), "--genome", str(genome)],
    ):
        assert main(["predict", str(tmp_path / "run"), *argv, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("peakcnn: error: ") and message in err[0]
        assert str(tmp_path / "run" / "model.json") in err[0] and not out.exists()


def _edit_state(key, value, *path):
    def edit(state):
        target = state
        for p in path:
            target = target[p]
        target[key] = value

    return edit


@pytest.mark.parametrize(
    "edit, message",
    [
        (_edit_state("epoch", "x"), "epoch 'x' is not a whole number from 0 to the run's 1 epochs"),
        (_edit_state("epoch", 1.5), "epoch 1.5 is not a whole number"),
        (_edit_state("epoch", 99), "epoch 99 is not a whole number from 0 to the run's 1 epochs"),
        (_edit_state("epoch", -1), "epoch -1 is not a whole number"),
        (_edit_state("epoch", 0), "history does not hold one row for each of its 0 epoch(s)"),
        (_edit_state("epoch", "x", "history", 0), "history row 1 is not epoch 1's"),
        (_edit_state("valid_auprc", "x", "history", 0), "history row 1 holds a value that is not a number"),
        (_edit_state("best", None), "best None is not an epoch from 0 to 1"),
        (_edit_state("valid_auprc", "x", "best"), "is not an epoch from 0 to 1 with a number or null"),
        (_edit_state("epoch", 5, "best"), "is not an epoch from 0 to 1"),
        (_edit_state("bad_epochs", 3), "bad_epochs 3 is not a whole number from 0 to 1"),
        (_edit_state("stopped_early", "no"), "stopped_early 'no' is not true or false"),
        (_edit_state("param_groups", None, "optimizer"), "optimizer lacks its parameter groups"),
        (_edit_state("lr", "abc", "optimizer", "param_groups", 0), "optimizer lr 'abc' is not a non-negative number"),
        (_edit_state("momentum", -1, "optimizer", "param_groups", 0), "optimizer momentum -1 is not"),
        (_edit_state("state", "x", "optimizer"), "optimizer lacks its per-tensor state"),
        (_edit_state("state", {"0": 1}, "optimizer"), "optimizer lacks its per-tensor state"),
        (_edit_state("ema_updates", "x"), "ema_updates 'x' is not a whole number >= 0"),
        (_edit_state("ema_updates", -5), "ema_updates -5 is not a whole number >= 0"),
    ],
)
def test_a_training_state_of_wrong_types_stops_resume_with_one_line(tmp_path, capsys, edit, message):
    """Values of last.json's training state that training cannot have written (hand edits, another tool)
    stop --resume before any training, leaving the run's files as they were."""
    make_dataset(tmp_path / "ds", n=80, window=100, n_tasks=1)
    train(tmp_path / "ds", tmp_path / "run", {"arch": "small", "epochs": 1, "batch_size": 16}, progress=False)
    last = json.loads((tmp_path / "run" / "last.json").read_text())
    edit(last["train_state"])
    (tmp_path / "run" / "last.json").write_text(json.dumps(last))
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()}
    assert main(["train", str(tmp_path / "ds"), "--out", str(tmp_path / "run"), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "last.json: the training state's" in err[0], err
    assert err[0].endswith("the checkpoint is damaged, train into a new --out folder")
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()} == before


@pytest.mark.parametrize(
    "schedule, edit, message",
    [
        ("cosine", _edit_state("scheduler", None), "scheduler state is missing although the run uses a"),
        ("cosine", _edit_state("T_max", 0, "scheduler"), "scheduler T_max 0 is not what this run's schedule holds"),
        ("cosine", _edit_state("eta_min", "x", "scheduler"), "scheduler eta_min 'x' is not"),
        ("cosine", _edit_state("last_epoch", -1, "scheduler"), "scheduler last_epoch -1 is not"),
        ("cosine", _edit_state("_last_lr", [float("nan")], "scheduler"), "scheduler _last_lr [nan] is not"),
        ("plateau", _edit_state("mode", "min", "scheduler"), "scheduler mode 'min' is not"),
        ("plateau", _edit_state("num_bad_epochs", "2", "scheduler"), "scheduler num_bad_epochs '2' is not"),
    ],
)
def test_a_damaged_schedule_stops_resume_with_one_line(tmp_path, capsys, schedule, edit, message):
    """A schedule that training cannot have saved (a cosine period of 0 divided by zero an epoch later; a
    missing one restarted the schedule without a word) stops --resume before any training."""
    make_dataset(tmp_path / "ds", n=80, window=100, n_tasks=1)
    options = {"arch": "small", "epochs": 2, "batch_size": 16, "lr_schedule": schedule}
    train(tmp_path / "ds", tmp_path / "run", options, progress=False)
    last = json.loads((tmp_path / "run" / "last.json").read_text())
    last["train_state"]["epoch"] = 1  # as if stopped after epoch 1
    last["train_state"]["history"] = last["train_state"]["history"][:1]
    last["train_state"]["best"]["epoch"] = min(last["train_state"]["best"]["epoch"], 1)
    last["train_state"]["bad_epochs"] = 0
    edit(last["train_state"])
    (tmp_path / "run" / "last.json").write_text(json.dumps(last))
    assert main(["train", str(tmp_path / "ds"), "--out", str(tmp_path / "run"), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].endswith("train into a new --out folder"), err


def test_damaged_run_files_on_resume_give_one_line(tmp_path, capsys):
    make_dataset(tmp_path / "ds", n=80, window=100, n_tasks=1)
    train(tmp_path / "ds", tmp_path / "run", {"arch": "small", "epochs": 1, "batch_size": 16}, progress=False)
    resume = ["train", str(tmp_path / "ds"), "--out", str(tmp_path / "run"), "--resume"]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    (tmp_path / "run" / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != "dataset"}))
    assert main(resume) == 2
    assert "config.json: lacks its 'dataset' section" in capsys.readouterr().err
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    last = json.loads((tmp_path / "run" / "last.json").read_text())
    del last["train_state"]["optimizer"]
    (tmp_path / "run" / "last.json").write_text(json.dumps(last))
    assert main(resume) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "last.json: the training state lacks optimizer" in err[0]
    (tmp_path / "afile").write_text("x\n")
    assert main(["train", str(tmp_path / "ds"), "--out", str(tmp_path / "afile"), "--arch", "small"]) == 2
    assert "afile: is a file" in capsys.readouterr().err


def test_each_epoch_has_its_own_order_and_seed_fixed_by_seed_and_epoch():
    """Resume relies on the order and augmentation seed of an epoch depending on (seed, epoch) alone; each
    epoch needs its own, or every epoch would see the batches in the same order."""
    orders = [trainstate.epoch_order(3, e, 500) for e in (1, 2, 3)]
    assert all(sorted(o) == list(range(500)) for o in orders)
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])
    assert np.array_equal(trainstate.epoch_order(3, 2, 500), orders[1])
    assert not np.array_equal(trainstate.epoch_order(4, 2, 500), orders[1])
    seeds = {trainstate.epoch_seed(3, e) for e in range(1, 50)}
    assert len(seeds) == 49 and trainstate.epoch_seed(3, 7) == trainstate.epoch_seed(3, 7)
    assert trainstate.epoch_seed(4, 7) != trainstate.epoch_seed(3, 7) and all(0 <= s < 2**63 for s in seeds)

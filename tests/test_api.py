"""The Python API as a notebook uses it: bad arguments raise InputError, and a call leaves the caller's
session as it was (random states, matplotlib backend, grad mode, open files)."""

from __future__ import annotations

import random
import re

import h5py
import numpy as np
import pytest
import torch
from _apply_helpers import tiny_model
from _prepare_helpers import tiny_dataset_inputs
from _train_helpers import make_dataset

from peakcnn.errors import InputError
from peakcnn.inference import predict, predict_batches
from peakcnn.interpret.ism import ism
from peakcnn.sequence import codes_to_onehot


def random_codes(n: int, seed: int = 0) -> np.ndarray:
    """``n`` random windows of the tiny model's 200 bp, as codes."""
    return np.random.default_rng(seed).integers(0, 4, (n, 200)).astype(np.uint8)


@pytest.fixture(scope="module")
def model():
    return tiny_model(n_tasks=2)  # window 200


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda c: codes_to_onehot(c)[0], r"shape \(4, 200\).*X\[None\] is a batch of one"),
        (lambda c: c[0], r"shape \(200,\).*X\[None\]"),
        (lambda c: codes_to_onehot(c).transpose(0, 2, 1), r"shape \(3, 200, 4\)"),
        (lambda c: codes_to_onehot(c)[:, :, :190], "windows of 190 bp; the model takes 200 bp"),
        (lambda c: np.where(c == 0, 5, c), "holds code 5; codes are A=0 C=1 G=2 T=3 N=4"),
        (lambda c: c.astype(np.int64) - 1, "holds code -1"),
        (lambda c: ["ACGT" * 50], "X is a list; give one-hot"),
        (lambda c: "ACGT" * 50, "X is a str"),
    ],
)
def test_predict_refuses_what_the_model_cannot_take(model, make, message):
    codes = random_codes(3)
    with pytest.raises(InputError, match=message):
        predict(model, make(codes), device="cpu")


def test_predict_and_ism_refuse_a_run_folder_given_as_the_model(tmp_path):
    """A run's path in place of a loaded model is one InputError that says how to load it (it was an
    AttributeError from deep inside)."""
    x = codes_to_onehot(random_codes(1))
    for model in (str(tmp_path), tmp_path):
        for call in (predict, ism, lambda m, x: list(predict_batches(m, [x]))):
            with pytest.raises(InputError, match=r"model is a \w+; give a torch.nn.Module; load a run with"):
                call(model, x)
    with pytest.raises(InputError, match=r"model is a dict; give a torch.nn.Module$"):
        predict({}, x)


def test_predict_takes_codes_and_one_hot_alike_and_checks_batch_size(model):
    codes = random_codes(5)
    assert np.allclose(predict(model, codes, device="cpu"), predict(model, codes_to_onehot(codes), device="cpu"))
    assert predict(model, codes[:0], device="cpu").shape == (0, 2)
    for bad in (0, -1, 2.5, True, np.int64(0)):
        with pytest.raises(InputError, match=re.escape(f"batch_size {bad!r}")):
            predict(model, codes, batch_size=bad, device="cpu")
    # a numpy integer (a shape, a value read from an array) is a whole number like any other
    by_two = predict(model, codes, batch_size=np.int64(2), device="cpu")
    assert np.allclose(by_two, predict(model, codes, device="cpu"), rtol=0, atol=1e-6)  # other batches: rounding
    x = codes_to_onehot(codes[:1])
    assert np.allclose(ism(model, x, 10, 20, batch_size=np.int32(7)), ism(model, x, 10, 20), rtol=0, atol=1e-6)


def test_predict_batches_leaves_the_callers_loop_outside_inference_mode(model):
    batches = [random_codes(2, seed=s) for s in range(3)]
    seen = []
    for out in predict_batches(model, batches, device="cpu"):
        seen.append((out.shape, torch.is_inference_mode_enabled(), torch.is_grad_enabled()))
        (torch.zeros(3, requires_grad=True) * 2).sum().backward()  # the caller's own autograd works
    assert seen == [((2, 2), False, True)] * 3


def test_predict_batches_checks_each_batch_as_predict_checks_its_input(model):
    """A code outside 0-4 (-1 was scored as N, 7 raised an IndexError) or a window of the wrong length (a torch
    RuntimeError) is the one-line InputError predict gives."""
    good = random_codes(2)
    for bad, message in (
        (np.full((2, 200), -1, dtype=np.int16), "X holds code -1"),
        (np.full((2, 200), 7, dtype=np.uint8), "X holds code 7"),
        (random_codes(2)[:, :150], "X holds windows of 150 bp; the model takes 200 bp"),
    ):
        with pytest.raises(InputError, match=message):
            predict(model, bad, device="cpu")
        with pytest.raises(InputError, match=message):
            list(predict_batches(model, [good, bad], device="cpu"))


def test_ism_checks_its_arguments(model):
    x = codes_to_onehot(random_codes(1))
    assert ism(model, x, 10, 20, device="cpu").shape == (1, 2, 4, 10)
    assert ism(model, x[:0], device="cpu").shape == (0, 2, 4, 200)
    for kwargs, message in (
        ({"start": -5}, "0 <= start < end <= 200"),
        ({"end": 240}, "0 <= start < end <= 200"),
        ({"start": 20, "end": 10}, "0 <= start < end <= 200"),
        ({"batch_size": 0}, "batch_size 0"),
    ):
        with pytest.raises(InputError, match=message):
            ism(model, x, device="cpu", **kwargs)
    with pytest.raises(InputError, match=r"X\[None\] is a batch of one"):
        ism(model, x[0], device="cpu")
    with pytest.raises(InputError, match=r"one-hot \(N, 4, L\) \(peakcnn.sequence.codes_to_onehot turns codes"):
        ism(model, random_codes(1), device="cpu")  # codes: ism mutates one-hot columns


def test_a_rejected_data_set_file_is_not_left_open(tmp_path):
    from peakcnn.data.store import Dataset

    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(InputError, match="not a peakcnn data set") as err:
        Dataset(path)
    kept = err.value  # noqa: F841  (a notebook keeps the exception, and with it the frames)
    with h5py.File(path, "w") as f:  # raises "unable to truncate a file which is already open" if still open
        f["y"] = np.arange(2)


def test_train_gives_the_caller_its_random_states_back(tmp_path):
    from peakcnn.train import train

    folder = tmp_path / "ds"
    make_dataset(folder, n=96, window=100)

    def draw():
        return torch.rand(1).item(), np.random.rand(), random.random()

    def seed(k):
        torch.manual_seed(123 + k), np.random.seed(99 + k), random.seed(98 + k)

    for resume in (False, True):  # a resume also restores numpy's and Python's states as they were saved
        seed(resume)  # other states than those the run saved, so that a resume would leave those behind
        want = draw()
        seed(resume)
        options = {} if resume else {"arch": "small", "epochs": 1, "batch_size": 16}
        train(folder, tmp_path / "run", options, resume=resume, device=torch.device("cpu"), progress=False)
        assert draw() == want


@pytest.mark.parametrize(
    "mode",
    [torch.no_grad, torch.inference_mode, lambda: torch.set_grad_enabled(False)],
    ids=["no_grad", "inference_mode", "set_grad_enabled"],
)
def test_train_and_attributions_work_in_whatever_grad_mode_the_caller_is_in(tmp_path, mode):
    """Training and DeepLIFT/SHAP need gradients: inside a caller's ``torch.no_grad()`` training stopped with
    a RuntimeError, and so did the attributions inside ``torch.inference_mode()``."""
    from peakcnn.interpret.attribute import deep_lift_shap
    from peakcnn.train import train

    make_dataset(tmp_path / "ds", n=96, window=100)
    model, codes = tiny_model(1), random_codes(2)
    want = deep_lift_shap(model, codes, n_shuffles=2).contribution
    with mode():
        before = (torch.is_grad_enabled(), torch.is_inference_mode_enabled())
        summary = train(tmp_path / "ds", tmp_path / "run", {"arch": "small", "epochs": 1}, progress=False)
        got = deep_lift_shap(model, codes, n_shuffles=2).contribution
        assert (torch.is_grad_enabled(), torch.is_inference_mode_enabled()) == before
    assert summary["epochs_done"] == 1 and np.array_equal(got, want)


def test_load_model_leaves_torch_s_random_state_alone(tmp_path):
    """Building the network to load weights into drew its initial weights from torch's global generator."""
    from _apply_helpers import make_run

    from peakcnn.checkpoint import load_model

    run = make_run(tmp_path, tiny_model(1), ["a"])
    torch.manual_seed(5)
    want = torch.rand(3)
    torch.manual_seed(5)
    load_model(run)
    assert torch.equal(torch.rand(3), want)


def test_tomtom_leaves_torch_s_thread_count_alone():
    """numba's parallel loops in memelite set the OpenMP thread count torch shares the first time they run: a
    pipeline with OMP_NUM_THREADS=1 trained on every core after matching motifs. A new process, as only the
    first call does it."""
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np, torch; from peakcnn.interpret.motifs import MotifDatabase, match; "
        "ppms = [np.random.default_rng(i).dirichlet(np.ones(4), 8).T for i in range(30)]; "
        "match(ppms[:2], MotifDatabase([str(i) for i in range(30)], [str(i) for i in range(30)], ppms, 'test')); "
        "print(torch.get_num_threads())"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_train_gives_the_caller_its_mps_random_state_back(tmp_path, monkeypatch):
    """``torch.manual_seed`` reseeds the MPS generator too; on a Mac, training gives the caller's state back.
    The MPS generator is stood in for by a CPU one, reseeded and read as torch does the real one."""
    from peakcnn.train import train

    folder = tmp_path / "ds"
    make_dataset(folder, n=96, window=100)
    mps = torch.Generator()
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.mps, "manual_seed", lambda seed: mps.manual_seed(int(seed)))
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda device="mps": mps.get_state())
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda state, device="mps": mps.set_state(state))
    mps.manual_seed(7)
    want = torch.rand(3, generator=mps)
    mps.manual_seed(7)
    train(folder, tmp_path / "run", {"arch": "small", "epochs": 1, "batch_size": 16}, device="cpu", progress=False)
    assert torch.equal(torch.rand(3, generator=mps), want)


def test_train_gives_the_caller_its_cuda_random_states_back(tmp_path, monkeypatch):
    """``torch.manual_seed`` reseeds every CUDA generator too; where CUDA is there, training on the CPU gives
    the caller's states back. The CUDA generators are stood in for by a CPU one, as in the MPS test above."""
    from peakcnn.train import train

    folder = tmp_path / "ds"
    make_dataset(folder, n=96, window=100)
    cuda = torch.Generator()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: cuda.manual_seed(int(seed)))
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [cuda.get_state()])
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", lambda states: cuda.set_state(states[0]))
    cuda.manual_seed(7)
    want = torch.rand(3, generator=cuda)
    cuda.manual_seed(7)
    train(folder, tmp_path / "run", {"arch": "small", "epochs": 1, "batch_size": 16}, device="cpu", progress=False)
    assert torch.equal(torch.rand(3, generator=cuda), want)


def test_plots_leave_the_matplotlib_backend_alone(tmp_path):
    import matplotlib

    from peakcnn import plots

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # any backend other than Agg, as a notebook's inline one is
    try:
        y = np.array([[0], [1], [0], [1]])
        plots.plot_roc(y, {"CNN": np.array([[0.1], [0.8], [0.3], [0.6]])}, ["a"], tmp_path / "roc.png")
        assert (tmp_path / "roc.png").stat().st_size > 0 and matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"epochs": 1.5}, "epochs is 1.5 .float.; it takes a whole number"),
        ({"epochs": "2"}, "epochs is '2' .str.; it takes a whole number"),
        ({"lr": "0.1"}, "lr is '0.1' .str.; it takes a number"),
        ({"batch_size": 16.0}, "batch_size is 16.0"),
        ({"seed": None}, "seed is None"),
        ({"rc_augment": 1}, "rc_augment is 1 .int.; it takes True or False"),
    ],
)
def test_train_options_of_the_wrong_type_are_refused(tmp_path, options, message):
    from peakcnn.train import train

    folder = tmp_path / "ds"
    make_dataset(folder, n=32, window=100)
    with pytest.raises(InputError, match=message):
        train(folder, tmp_path / "run", options, device="cpu", progress=False)
    assert not (tmp_path / "run").exists()


def test_prepare_dataset_takes_one_name_as_a_list_of_one_and_checks_types(tmp_path):
    from peakcnn.data.prepare import prepare_dataset

    inputs = tiny_dataset_inputs(tmp_path)
    m = prepare_dataset(
        inputs["genome"], inputs["a"], tmp_path / "ds", names="root", split="chrom", valid_chroms="chr2",
        test_chroms="chr3", progress=False,
    )  # fmt: skip
    assert m["tasks"] == ["root"] and m["params"]["valid_chroms"] == ["chr2"]
    for kwargs, message in (
        ({"max_n_frac": "x"}, "max-n-frac 'x': give a number"),
        ({"neg_ratio": None}, "neg-ratio None: give a number"),
        ({"block_size": "5000"}, "block-size '5000': give a whole number"),
        ({"seed": 1.7}, "seed 1.7: give a whole number"),
        ({"merge_distance": 50.5}, "merge-distance 50.5: give a whole number"),
        ({"window": True}, "window must be a positive integer"),
    ):
        with pytest.raises(InputError, match=message):
            prepare_dataset(inputs["genome"], inputs["a"], tmp_path / "bad", progress=False, **kwargs)


def test_options_of_the_wrong_type_are_refused_as_train_refuses_them(tmp_path, model):
    """rc="no" read as True (both strands) in predict and evaluate; n_boot="100" or 100.0 raised bare
    TypeErrors and 50 gave intervals the command line refuses; prepare_dataset took valid_chroms=[1] to an
    AttributeError."""
    from peakcnn.data.prepare import prepare_dataset
    from peakcnn.evaluate import evaluate

    codes = random_codes(2)
    with pytest.raises(InputError, match=r"rc 'no' \(str\): give True or False"):
        predict(model, codes, rc="no", device="cpu")
    make_dataset(tmp_path / "ds", n=60, window=200, n_tasks=2)
    for kwargs, message in (
        ({"rc": "no"}, r"rc 'no' \(str\): give True or False"),
        ({"baselines": "no"}, r"baselines 'no' \(str\)"),
        ({"n_boot": "100"}, r"n_boot '100': give 0 \(no intervals\) or a whole number from 100 to 100,000"),
        ({"n_boot": 100.0}, r"n_boot 100.0: give 0"),
        ({"n_boot": 50}, r"n_boot 50: give 0"),
    ):
        with pytest.raises(InputError, match=message):
            evaluate(tmp_path / "nowhere", tmp_path / "ds", out=tmp_path / "ev", **kwargs)
    (tmp_path / "in").mkdir()
    inputs = tiny_dataset_inputs(tmp_path / "in")
    for kwargs, message in (
        ({"valid_chroms": [1]}, r"valid_chroms \[1\]: give a name or a list of names, as strings"),
        ({"test_chroms": 1}, r"test_chroms 1: give a name"),
        ({"names": [1, 2]}, r"names \[1, 2\]: give a name"),
    ):
        with pytest.raises(InputError, match=message):
            prepare_dataset(inputs["genome"], [inputs["a"], inputs["b"]], tmp_path / "out", window=200, **kwargs)
    with pytest.raises(InputError, match="out None: give the output folder as a path"):
        prepare_dataset(inputs["genome"], [inputs["a"], inputs["b"]], None, window=200)
    assert not (tmp_path / "ev").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-6), (torch.bfloat16, 2e-2)])
def test_predict_and_ism_take_a_model_of_another_dtype(dtype, tol):
    """'Any model': the one-hot input is given in the model's own dtype (it was always float32, and a
    float64 or bfloat16 model failed inside torch)."""
    import copy

    model = tiny_model(2).eval()
    other = copy.deepcopy(model).to(dtype)
    codes = np.random.default_rng(1).integers(0, 4, (3, 200)).astype(np.uint8)
    want = predict(model, codes)
    got = predict(other, codes)
    assert got.dtype == np.float32 and np.abs(got - want).max() < tol
    x = codes_to_onehot(codes[:1])
    assert np.abs(ism(other, x, 90, 110) - ism(model, x, 90, 110)).max() < tol * 10
    # DeepLIFT in the model's float64, or in float32 for a half-precision model; filter sites alike
    from peakcnn.interpret.attribute import deep_lift_shap
    from peakcnn.interpret.motifs import filter_motifs

    want, got = (deep_lift_shap(m, codes, n_shuffles=2).contribution for m in (model, other))
    assert np.abs(got - want).max() < tol * 10
    labels = np.array([[1], [0], [1]])
    want, got = (filter_motifs(m, codes, labels) for m in (model, other))
    assert np.abs(got.max_activation - want.max_activation).max() < tol * 10
    assert next(other.parameters()).dtype == dtype  # the caller's model is left as it was


def test_each_module_of_the_callers_model_keeps_its_mode():
    """filter_motifs ran a slice of the trunk, a new container in train mode, and left the caller's first
    layers in train mode when it restored the slice's mode (batch norm then moved the model's outputs)."""
    from peakcnn.interpret.motifs import filter_motifs

    model = tiny_model(1).eval()
    model.trunk[1].train()  # mixed modes, as a caller may have set them
    modes = [m.training for m in model.modules()]
    codes = random_codes(4)
    filter_motifs(model, codes, np.array([[1], [0], [1], [0]]))
    assert [m.training for m in model.modules()] == modes
    predict(model, codes, fold=False)
    ism(model, codes_to_onehot(codes[:1]), 95, 105)
    assert [m.training for m in model.modules()] == modes


def test_attribution_motif_and_variant_functions_check_their_inputs():
    from peakcnn.interpret.motifs import MotifDatabase, filter_motifs, match
    from peakcnn.variants import score_windows

    model, codes = tiny_model(1), random_codes(4)
    labels = np.array([[1], [0], [1], [0]])
    for args, kwargs, message in (
        ((codes + 5, labels), {}, "codes: holds code"),
        ((codes_to_onehot(codes), labels), {}, r"codes: expected uint8 sequence codes of shape \(n, W\)"),
        ((codes, labels[:, 0]), {}, r"labels: shape \(4,\); give one row of task labels per window"),
        ((codes, labels[:2]), {}, r"labels: shape \(2, 1\)"),
        ((codes, labels), {"batch_size": 0}, "batch_size 0: give a whole number"),
        ((codes, labels), {"threshold": "0.5"}, "--threshold '0.5': give a fraction"),
    ):
        with pytest.raises(InputError, match=message):
            filter_motifs(model, *args, **kwargs)
    rng = np.random.default_rng(0)
    ppms = [rng.dirichlet(np.ones(4), 6).T for _ in range(30)]
    db = MotifDatabase([str(i) for i in range(30)], [str(i) for i in range(30)], ppms, "test")
    assert np.array_equal(match([ppms[0] * 50], db)[0], match([ppms[0]], db)[0])  # counts are made probabilities
    negative, empty = ppms[0].copy(), ppms[0].copy()
    negative[:2, 0] += [-1, 1]  # the column still sums to 1
    empty[:, 3] = 0
    for queries, message in (
        (ppms[0], "queries: a ndarray; give a list"),
        ([np.full((4, 6), np.nan)], "query 0: a column holds a negative, empty or non-finite value"),
        ([ppms[0], negative], "query 1: a column holds a negative, empty or non-finite value"),
        ([empty], "query 0: a column holds a negative, empty or non-finite value"),
        ([ppms[1], ppms[0].T], r"query 1: a motif needs 4 rows \(A C G T\)"),
    ):
        with pytest.raises(InputError, match=message):
            match(queries, db)
    with pytest.raises(InputError, match=r"ref and alt: shapes \(4, 200\) and \(2, 200\)"):
        score_windows(model, codes, codes[:2])


def test_main_returns_the_status_of_usage_errors_help_and_version_and_takes_paths(tmp_path, capsys):
    """argparse's exits were SystemExit exceptions from Python, and a Path in argv a TypeError."""
    from peakcnn.cli import main

    assert main(["evaluate", "run", "--split", "val"]) == 2
    assert "invalid choice: 'val'" in capsys.readouterr().err
    assert main(["--version"]) == 0 and main(["evaluate", "--help"]) == 0
    capsys.readouterr()
    assert main([]) == 2  # no command: the help, as a usage error
    assert capsys.readouterr().out.startswith("usage: peakcnn ")
    assert main(["evaluate", tmp_path / "nowhere"]) == 2
    assert capsys.readouterr().err.startswith(f"peakcnn: error: {tmp_path / 'nowhere'}: no run folder here")


def test_force_and_resume_take_true_or_false_only(tmp_path):
    """force="no" replaced a data set and resume="yes" resumed: any non-empty string reads as True."""
    from peakcnn.data.prepare import prepare_dataset
    from peakcnn.train import train

    inputs = tiny_dataset_inputs(tmp_path)
    with pytest.raises(InputError, match=r"force 'no' \(str\): give True or False"):
        prepare_dataset(inputs["genome"], inputs["a"], tmp_path / "ds", force="no", progress=False)
    assert not (tmp_path / "ds").exists()
    make_dataset(tmp_path / "syn", n=60, window=100)
    for key in ("resume", "force"):
        with pytest.raises(InputError, match=rf"{key} 'yes' \(str\): give True or False"):
            train(tmp_path / "syn", tmp_path / "run", {"arch": "small", "epochs": 1}, progress=False, **{key: "yes"})
    assert not (tmp_path / "run").exists()
    from peakcnn.ensemble import build_ensemble

    with pytest.raises(InputError, match=r"force 'no' \(str\): give True or False"):
        build_ensemble([tmp_path / "a", tmp_path / "b"], tmp_path / "ens", force="no")


def test_numbers_from_numpy_are_taken_and_limits_out_of_range_refused(tmp_path):
    """A numpy integer as n_boot was refused with a message naming it a whole number out of range; an N limit
    of NaN marked nothing, one of 5 everything."""
    from peakcnn.apply import max_n_frac
    from peakcnn.evaluate import score
    from peakcnn.train import train

    make_dataset(tmp_path / "syn", n=96, window=100)
    train(tmp_path / "syn", tmp_path / "run", {"arch": "small", "epochs": 1}, progress=False)
    doc, _ = score(tmp_path / "run", baselines=False, n_boot=np.int64(100))
    assert doc["intervals"]["resamples"] == 100 and type(doc["intervals"]["resamples"]) is int
    assert max_n_frac({}, np.float32(0.25)) == (0.25, "--max-n-frac")
    for given in (float("nan"), -0.1, 5, "0.2", True):
        with pytest.raises(InputError, match=f"--max-n-frac {given!r}: give a fraction of the window, 0 to 1"):
            max_n_frac({}, given)


def test_python_guide_runs_as_written(tmp_path, monkeypatch):
    """docs/python.md's example, on a tiny genome: only its input files, the network (``small``) and the
    number of epochs are replaced, and each replacement must find its text once."""
    from pathlib import Path

    guide = (Path(__file__).parents[1] / "docs" / "python.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", guide, flags=re.S)
    assert len(blocks) == 1
    inputs = tiny_dataset_inputs(tmp_path)
    code = blocks[0]
    for old, new in [
        ('"genome.fa"', repr(str(inputs["genome"]))),
        ('"root_atac_1.narrowPeak"', repr(str(inputs["a"]))),
        ('"epochs": 12,', '"epochs": 1, "arch": "small",'),
    ]:
        assert code.count(old) == 1, old
        code = code.replace(old, new)
    monkeypatch.chdir(tmp_path)
    env = {}
    exec(compile(code, "docs/python.md", "exec"), env)
    assert (tmp_path / "atac" / "dataset.h5").is_file() and env["manifest"]["tasks"] == ["root_atac"]
    assert env["summary"]["epochs_done"] == 1 and (tmp_path / "run" / "model.safetensors").is_file()
    assert env["folder"] == Path("run") / "eval_test" and (tmp_path / "run" / "eval_test" / "report.html").is_file()
    assert list(env["doc"]["models"]) == ["CNN", "gc", "kmer4", "kmer6"]
    assert env["window"] == 800 and env["X"].shape == (3, 800)
    probs, delta = env["probs"], env["delta"]
    assert probs.shape == (3, 1) and ((probs > 0) & (probs < 1)).all()
    assert delta.shape == (1, 1, 4, 100)
    own = env["X"][0, 350:450]
    assert (delta[0, 0, own, np.arange(100)] == 0).all() and (delta != 0).any()

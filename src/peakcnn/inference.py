"""Fast, side-effect-free inference: device choice, batch-norm folding and batched prediction.

Every function here takes any model ``f`` mapping one-hot DNA ``(N, 4, L)`` to logits ``(N, T)``. A
:class:`~peakcnn.model.DNASeqClassifier` is additionally compiled into an inference copy with batch norm
folded into the preceding convolution and max-pooling moved before the ReLU (the two commute), which is
what makes prediction faster than calling the model directly. The caller's model is never modified: its
train/eval mode and device are restored on exit.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Callable, Iterable, Iterator
from functools import reduce

import numpy as np
import torch
from torch import nn

from peakcnn import metrics
from peakcnn.ensemble import EnsembleModel
from peakcnn.errors import InputError
from peakcnn.runconfig import is_whole_number, resolve_device

#: Windows per forward pass on a CPU. Small batches keep each convolution's working set in cache: with the
#: founding model (800 bp) batch 32 runs about 1.3x faster than 64 or 256 (``benchmarks/predict.py``).
CPU_BATCH = 32
#: Windows per forward pass on a GPU, where large batches keep the device busy.
GPU_BATCH = 256


def default_batch(device: torch.device | str) -> int:
    """Windows per forward pass for ``device``: :data:`CPU_BATCH` on a CPU, :data:`GPU_BATCH` otherwise."""
    return CPU_BATCH if torch.device(device).type == "cpu" else GPU_BATCH


def best_device(device: str | torch.device | None = None) -> torch.device:
    """The requested device, or the best available one (CUDA, then Apple MPS, then CPU) for ``None`` or
    ``"auto"``. ``cpu``, ``cuda``, ``cuda:N`` and ``mps`` are checked as ``--device`` is (an unavailable one
    is an :class:`~peakcnn.errors.InputError`); ``torch.device`` objects pass through.
    """
    if isinstance(device, torch.device):
        return device
    return resolve_device("auto" if device is None else device)


@contextlib.contextmanager
def placed(model: nn.Module, device: torch.device) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode on ``device`` for the block, then restore its device and the mode of each of
    its modules (a slice such as ``model.trunk[:3]`` is a new container whose own mode is not its layers')."""
    modes = [(m, m.training) for m in model.modules()]
    params = list(model.parameters()) + list(model.buffers())
    old_device = params[0].device if params else device
    model.eval().to(device)
    try:
        yield model
    finally:
        for m, training in modes:
            m.training = training
        model.to(old_device)


@contextlib.contextmanager
def full_float32() -> Iterator[None]:
    """Convolutions in full float32 on CUDA too (no TF32), the other cuDNN settings kept; autograd as it is."""
    cudnn = torch.backends.cudnn
    keep = {
        k: getattr(cudnn, k) for k in ("enabled", "benchmark", "benchmark_limit", "deterministic") if hasattr(cudnn, k)
    }
    with cudnn.flags(**keep, allow_tf32=False):
        yield


@contextlib.contextmanager
def exact_inference() -> Iterator[None]:
    """No autograd, and :func:`full_float32`, so that predictions, scans and their border corrections agree
    with each other and with a CPU to float32 precision."""
    with torch.inference_mode(), full_float32():
        yield


@contextlib.contextmanager
def autograd_on() -> Iterator[None]:
    """Autograd on for the block, whatever the caller set (``torch.no_grad``, ``torch.inference_mode``,
    ``torch.set_grad_enabled(False)``), and the caller's mode back after it: for training and gradients."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


@contextlib.contextmanager
def inference_mode(model: nn.Module, device: torch.device) -> Iterator[nn.Module]:
    """:func:`placed` and :func:`exact_inference` for the block."""
    with placed(model, device), exact_inference():
        yield model


def _fuse_block(modules: list[nn.Module]) -> list[nn.Module]:
    """Fold each ``Conv1d -> BatchNorm1d`` pair, drop dropout, and pool before ReLU."""
    out: list[nn.Module] = []
    for m in modules:
        if isinstance(m, nn.BatchNorm1d) and out and isinstance(out[-1], nn.Conv1d):
            out[-1] = torch.nn.utils.fusion.fuse_conv_bn_eval(out[-1], m)
        elif isinstance(m, nn.Dropout):
            continue
        elif isinstance(m, nn.MaxPool1d) and out and isinstance(out[-1], nn.ReLU):
            out.insert(len(out) - 1, m)  # max(relu(x)) == relu(max(x)), and pooling first is cheaper
        else:
            out.append(m)
    return out


def fold_model(model: nn.Module) -> nn.Module:
    """An eval-mode copy of a ``DNASeqClassifier`` with batch norm folded (of each member, for an
    :class:`~peakcnn.ensemble.EnsembleModel`); other models are copied as-is.

    Parameters
    ----------
    model
        Network mapping ``(N, 4, L)`` to ``(N, T)``. Not modified.

    Returns
    -------
    nn.Module
        Same function as ``model.eval()`` (to float rounding), with ``.trunk`` and ``.head`` when the input
        had them.
    """
    if isinstance(model, EnsembleModel):
        return EnsembleModel([fold_model(m) for m in model.members]).eval()
    folded = copy.deepcopy(model).eval()
    trunk = getattr(folded, "trunk", None)
    if isinstance(trunk, nn.Sequential):
        folded.trunk = nn.Sequential(*_fuse_block(list(trunk)))
    head = getattr(folded, "head", None)
    if isinstance(head, nn.Sequential):
        folded.head = nn.Sequential(*[m for m in head if not isinstance(m, nn.Dropout)])
    return folded


def reverse_complement(x: torch.Tensor) -> torch.Tensor:
    """Reverse complement of one-hot ``(N, 4, L)`` in ACGT order."""
    return x.flip(1).flip(2)


def shift_onehot(x: torch.Tensor, shift: int) -> torch.Tensor:
    """One-hot ``(N, 4, L)`` moved ``shift`` bases to the right (left when negative), the bases moved in
    being ``N`` (all-zero columns): what training's shift augmentation does to a window."""
    if shift == 0:
        return x
    out = torch.zeros_like(x)
    if abs(shift) < x.shape[-1]:
        if shift > 0:
            out[..., shift:] = x[..., :-shift]
        else:
            out[..., :shift] = x[..., -shift:]
    return out


def check_shifts(shifts, length: int | None = None, what: str = "shifts") -> tuple[int, ...]:
    """``shifts`` (a list, tuple, range or 1-d array) as a tuple of distinct whole numbers, at least one, each
    shorter than ``length`` when given; :class:`InputError` naming ``what`` otherwise."""
    values = None
    if isinstance(shifts, (list, tuple, range)) or (isinstance(shifts, np.ndarray) and shifts.ndim == 1):
        values = tuple(shifts)
    whole = values and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values)
    shown = " ".join(map(str, values)) if whole else repr(shifts)
    if not whole or len(set(values)) != len(values):
        raise InputError(f"{what} {shown}: give distinct whole numbers of bases, such as -5 0 5")
    if length is not None and max(abs(int(v)) for v in values) >= length:
        raise InputError(f"{what} {shown}: a window of {length} bp moved that far holds no base of its own")
    return tuple(int(v) for v in values)


def strand_logits(model: nn.Module, x: torch.Tensor, rc: bool, shifts: tuple[int, ...] = (0,)) -> torch.Tensor:
    """Logits ``(N, T)`` of the windows moved by each of ``shifts`` (:func:`shift_onehot`; ``(0,)``: as they
    are) and, with ``rc``, of their reverse complements moved by the same shifts (each strand moved along
    itself, so a window and its reverse complement score the same whatever the shifts): the mean of their
    probabilities, returned as a logit.

    The mean is taken in log space, ``logit(mean_i s(a_i)) = logsumexp_i log s(a_i) - logsumexp_i log
    s(-a_i)`` (summed pairwise with ``logaddexp``), so that it stays exact where the probabilities round to
    0 or 1.
    """
    views = [shift_onehot(x, s) for s in shifts]
    views += [shift_onehot(reverse_complement(x), s) for s in shifts] if rc else []
    logits = [model(v).float() for v in views]
    if len(logits) == 1:
        return logits[0]
    log_s = nn.functional.logsigmoid
    return reduce(torch.logaddexp, [log_s(a) for a in logits]) - reduce(torch.logaddexp, [log_s(-a) for a in logits])


def predict_batches(
    model: nn.Module,
    batches: Iterable[torch.Tensor | np.ndarray],
    device: str | torch.device | None = None,
    rc: bool = False,
    fold: bool = True,
    shifts: tuple[int, ...] = (0,),
) -> Iterator[np.ndarray]:
    """Logits for a stream of batches; yields one ``(B, T)`` float32 array per batch.

    Parameters
    ----------
    model
        Network mapping one-hot ``(B, 4, L)`` to logits ``(B, T)``.
    batches
        One-hot float ``(B, 4, L)`` tensors/arrays or uint8 code arrays ``(B, L)`` (one byte per base
        travels to the device and is one-hot encoded there).
    device
        ``None`` picks the best available device.
    rc
        Average the probabilities of each window and its reverse complement (the result is a logit).
    shifts
        Score each window moved by each of these numbers of bases (N moved in, as training's shift
        augmentation does) and average the probabilities: test-time augmentation as Basenji's ``--shifts``.
        Include 0 for the window as it is; the default ``(0,)`` is the window alone.
    fold
        Fold batch norm into convolutions (exact up to float rounding, faster).

    Raises
    ------
    InputError
        At the call for a ``model`` that is not a torch module or ``shifts`` that are not distinct whole
        numbers; at a batch the model cannot take (see :func:`check_input`: shape, window length, codes
        outside 0-4) or whose windows are no longer than the largest shift.
    """
    check_model(model)
    shifts = check_shifts(shifts)

    def checked():
        for batch in batches:
            check_input(model, batch)
            yield batch

    return _predict_batches(model, checked(), best_device(device), rc, fold, shifts)


def _predict_batches(model, batches, device, rc, fold, shifts) -> Iterator[np.ndarray]:
    from peakcnn.sequence import codes_to_onehot_torch

    net = fold_model(model) if fold else model
    dtype = input_dtype(net)
    with placed(net, device):
        for batch in batches:
            check_shifts(shifts, batch.shape[-1])
            if isinstance(batch, np.ndarray):
                batch = np.ascontiguousarray(batch)  # views such as a reverse complement have negative strides
            with exact_inference():  # per batch: the caller's loop body runs outside inference mode
                x = torch.as_tensor(batch)
                if x.is_floating_point():  # one-hot input: float32 before the copy (MPS has no float64)
                    x = x.float()
                x = x.to(device)  # blocking: a non-blocking copy to MPS could read the float32 cast once freed
                if x.dim() == 2:
                    x = codes_to_onehot_torch(x)
                out = strand_logits(net, x.to(dtype), rc, shifts).cpu().numpy()
            yield out


def input_dtype(model: nn.Module) -> torch.dtype:
    """The floating dtype of ``model``'s parameters (float32 for a model without any): one-hot input is
    given to the model in it, so that a float64 or bfloat16 model takes the same sequences."""
    return next((t.dtype for t in model.parameters() if t.is_floating_point()), torch.float32)


def model_window(model: nn.Module) -> int | None:
    """The window length a model was built for (``model.config.window``), or ``None`` when it does not say."""
    window = getattr(getattr(model, "config", None), "window", None)
    return int(window) if window else None


def check_model(model) -> None:
    """Raise :class:`InputError` unless ``model`` is a torch module (a run's path is not: load it first)."""
    if not isinstance(model, nn.Module):
        hint = (
            "; load a run with peakcnn.checkpoint.load_model(RUN)[0]" if isinstance(model, (str, os.PathLike)) else ""
        )
        raise InputError(f"model is a {type(model).__name__}; give a torch.nn.Module{hint}")


def check_codes(codes) -> np.ndarray:
    """``codes`` as a uint8 array ``(n, W)`` of sequence codes 0-4 (``A C G T N``); :class:`InputError` naming
    ``codes`` otherwise (the argument of the functions that read codes only, such as ``deep_lift_shap``)."""
    from peakcnn.sequence import N_CODE

    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.dtype != np.uint8:
        raise InputError(f"codes: expected uint8 sequence codes of shape (n, W), got {codes.dtype} {codes.shape}")
    if codes.size and int(codes.max()) > N_CODE:
        raise InputError(f"codes: holds code {int(codes.max())}; codes are A=0 C=1 G=2 T=3 N=4")
    return codes


def check_input(model: nn.Module, X, one_hot_only: bool = False) -> None:
    """Raise :class:`InputError` unless ``X`` is a batch ``model`` takes: one-hot ``(N, 4, L)`` (or, unless
    ``one_hot_only``, integer codes ``(N, L)`` in 0-4), with ``L`` the model's window when it has one."""
    check_model(model)
    forms = "one-hot (N, 4, L)" + ("" if one_hot_only else " or uint8 codes (N, L)")
    if not (isinstance(X, np.ndarray) or torch.is_tensor(X)):
        raise InputError(
            f"X is a {type(X).__name__}; give {forms} as a numpy array or torch tensor "
            "(peakcnn.sequence.str_to_codes and codes_to_onehot turn a string into either)"
        )
    shape = tuple(X.shape)
    floating = X.dtype.is_floating_point if torch.is_tensor(X) else np.issubdtype(X.dtype, np.floating)
    if len(shape) == 3 and shape[1] == 4:
        length = shape[2]
    elif len(shape) == 2 and not one_hot_only and not floating and X.dtype != bool:
        length = shape[1]
        if X.numel() if torch.is_tensor(X) else X.size:
            low, high = int(X.min()), int(X.max())
            if low < 0 or high > 4:
                raise InputError(f"X holds code {low if low < 0 else high}; codes are A=0 C=1 G=2 T=3 N=4")
    else:
        hint = ""
        if len(shape) == 1 or (len(shape) == 2 and shape[0] == 4):
            hint = " (X[None] is a batch of one)"
        elif one_hot_only and len(shape) == 2:
            hint = " (peakcnn.sequence.codes_to_onehot turns codes into one-hot)"
        raise InputError(f"X has shape {shape} and dtype {X.dtype}; give a batch: {forms}{hint}")
    window = model_window(model)
    if window and length != window and shape[0]:
        raise InputError(
            f"X holds windows of {length} bp; the model takes {window} bp "
            "(peakcnn.io.seqs.fit_to_window pads or crops a sequence to it)"
        )


def check_batch_size(batch_size, what: str = "windows") -> int | None:
    """``batch_size`` as an int (a numpy integer too), or ``None`` (the default); :class:`InputError` unless
    it is a whole number >= 1."""
    if batch_size is None:
        return None
    if not is_whole_number(batch_size) or batch_size < 1:
        raise InputError(f"batch_size {batch_size!r}: give a whole number of {what}, at least 1")
    return int(batch_size)


def predict(
    model: nn.Module,
    X: torch.Tensor | np.ndarray,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
    rc: bool = False,
    fold: bool = True,
    progress: Callable[[int], None] | None = None,
    shifts: tuple[int, ...] = (0,),
) -> np.ndarray:
    """Logits ``(N, T)`` for one-hot ``X`` ``(N, 4, L)`` or codes ``(N, L)``; see :func:`predict_batches`.

    ``batch_size`` defaults to :func:`default_batch` of the device; ``progress``, when given, is called with
    the number of windows of each batch once it is scored (``tqdm.update``, for instance). A batch the model
    cannot take (see :func:`check_input`) raises :class:`~peakcnn.errors.InputError`.
    """
    from peakcnn.runconfig import check_flag

    check_flag(rc, "rc")
    check_input(model, X)
    batch_size = check_batch_size(batch_size)
    n = len(X)
    device = best_device(device)
    batch_size = batch_size or default_batch(device)
    chunks = (X[i : i + batch_size] for i in range(0, n, batch_size))
    parts = []
    for part in predict_batches(model, chunks, device=device, rc=rc, fold=fold, shifts=shifts):
        parts.append(part)
        if progress is not None:
            progress(len(part))
    if not parts:
        return np.zeros((0, n_outputs(model)), dtype=np.float32)
    return np.concatenate(parts)


def n_outputs(model: nn.Module) -> int:
    config = getattr(model, "config", None)
    return int(getattr(config, "n_tasks", 0))


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits as float32 (:func:`peakcnn.metrics.sigmoid`, which does not overflow)."""
    return metrics.sigmoid(logits).astype(np.float32)

"""In-silico saturation mutagenesis (ISM): the effect of every single-base substitution.

For each sequence all ``3L`` substitutions (``4`` at ``N`` positions) are scored in batches, as Basset's
``basset_sat`` does, and reported as the change in logit from the unmutated sequence. The reference base
of each position has effect 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from peakcnn.errors import InputError
from peakcnn.inference import (
    best_device,
    check_batch_size,
    check_input,
    default_batch,
    fold_model,
    inference_mode,
    input_dtype,
    n_outputs,
    strand_logits,
)


def _mutants(x: torch.Tensor, pos: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    """Copies of one-hot ``x`` ``(4, L)`` with position ``pos[i]`` set to ``base[i]``: ``(M, 4, L)``."""
    out = x.expand(len(pos), -1, -1).clone()
    rows = torch.arange(len(pos), device=x.device)
    out[rows, :, pos] = 0
    out[rows, base, pos] = 1
    return out


def ism(
    model: nn.Module,
    X: torch.Tensor | np.ndarray,
    start: int = 0,
    end: int | None = None,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
    progress: Callable[[int], None] | None = None,
    rc: bool = False,
) -> np.ndarray:
    """Delta logits of every single-base substitution.

    Parameters
    ----------
    model
        Any network mapping one-hot ``(B, 4, L)`` to logits ``(B, T)``; left as found.
    X
        One-hot sequences ``(N, 4, L)``.
    start, end
        Mutate only positions ``[start, end)`` (default: all).
    batch_size
        Mutant sequences per forward pass (default: :func:`~peakcnn.inference.default_batch` of the device).
    device
        ``None`` picks the best available device.
    progress
        Called with the number of mutants of each batch once scored (:func:`n_mutants` in all).
    rc
        Score each sequence and mutant as the mean probability of its two strands (as a logit), as
        ``peakcnn variants`` does; by default the forward strand alone.

    Returns
    -------
    ndarray
        ``(N, T, 4, end - start)`` float32: ``logit(mutant) - logit(sequence)``; 0 at the reference base.

    Raises
    ------
    InputError
        ``X`` not a one-hot batch of the model's window, ``0 <= start < end <= L`` not met, or a
        ``batch_size`` below 1.
    """
    from peakcnn.runconfig import check_flag

    check_flag(rc, "rc")
    check_input(model, X, one_hot_only=True)
    length = X.shape[-1]
    end = length if end is None else end
    whole = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, end))
    if not (whole and 0 <= start < end <= length):
        raise InputError(f"start {start!r}, end {end!r}: give whole numbers with 0 <= start < end <= {length}")
    start, end = int(start), int(end)
    batch_size = check_batch_size(batch_size, "mutants")
    X = torch.as_tensor(np.ascontiguousarray(X) if not torch.is_tensor(X) else X, dtype=torch.float32)
    if len(X) == 0:
        return np.zeros((0, n_outputs(model), 4, end - start), dtype=np.float32)
    dev = best_device(device)
    net = fold_model(model)
    with inference_mode(net, dev) as net:
        batch_size = batch_size or default_batch(dev)
        dtype = input_dtype(net)
        return np.stack([_ism_one(net, x.to(dev, dtype), start, end, batch_size, progress, rc) for x in X])


def n_mutants(X: np.ndarray | torch.Tensor, start: int = 0, end: int | None = None) -> int:
    """Substitutions :func:`ism` scores for one-hot ``X`` ``(N, 4, L)``: 3 per base, 4 per ``N``."""
    return int((X[..., start:end] == 0).sum())


def _ism_one(
    net: nn.Module, x: torch.Tensor, start: int, end: int, batch_size: int, progress=None, rc: bool = False
) -> np.ndarray:
    """ISM of one sequence ``x`` ``(4, L)``; returns ``(T, 4, end - start)``."""
    ref = strand_logits(net, x[None], rc)[0]
    todo = (x[:, start:end] == 0).nonzero()  # (M, 2): base, position offset
    base, pos = todo[:, 0], todo[:, 1] + start
    out = torch.zeros(ref.shape[0], 4, end - start, device=x.device)
    for i in range(0, len(pos), batch_size):
        b, p = base[i : i + batch_size], pos[i : i + batch_size]
        delta = strand_logits(net, _mutants(x, p, b), rc) - ref  # (M, T)
        out[:, b, p - start] = delta.T
        if progress is not None:
            progress(len(p))
    return out.cpu().numpy()


def importance(delta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per-position importance of the reference base: minus the mean effect of its 3 substitutions.

    Parameters
    ----------
    delta
        ISM output of one sequence and task, ``(4, L)``.
    x
        One-hot reference ``(4, L)`` (N columns all zero).

    Returns
    -------
    ndarray
        ``(4, L)``: the importance at the reference base's row, zero elsewhere (logo input).
    """
    n_alt = np.maximum((x == 0).sum(axis=0), 1)
    score = -delta.sum(axis=0) / n_alt
    return x * score[None, :]

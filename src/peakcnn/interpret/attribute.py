"""DeepLIFT/SHAP attributions with dinucleotide-shuffled references, and their hypothetical contributions.

Each window ``x`` is compared with ``K`` dinucleotide shuffles of itself (the references; same base and
dinucleotide composition, motifs broken up). For each reference ``r``, tangermeme's DeepLIFT (the rescale
rule for ReLU, the max rule for max-pooling) gives the multipliers ``m`` of the chosen task's logit with
respect to every input channel and position. From them:

* the **contribution** of position ``j``: ``sum_c (x[c, j] - r[c, j]) * m[c, j]``; over all positions these
  add up to ``f(x) - f(r)`` (DeepLIFT's summation-to-delta), which is checked and reported per window;
* the **hypothetical contribution** of base ``b`` at ``j``: ``m[b, j] - sum_c r[c, j] * m[c, j]``, what
  base ``b`` would contribute there; at the window's own base it equals the contribution. These are the
  scores TF-MoDISco takes (``modisco motifs -s PREFIX.ohe.npz -a PREFIX.hyp.npz``).

Both are averaged over the ``K`` references (DeepSHAP). Each maximal run of bases between ``N`` is shuffled
on its own and the ``N`` stay in place, so the padding of a window that runs off a chromosome end (or of a
short sequence) and assembly gaps are ``N`` in the references too and contribute nothing. The references of
a window are drawn from a generator seeded with ``seed`` and the window's own bases, so the same window gets
the same scores wherever it stands in the input and whatever the batch size.

With ``rc`` the output explained is the mean of the logits of the window and of its reverse complement: the
reverse-complement strand is attributed against the reverse complements of the same references, its
multipliers are mapped back onto the forward strand's positions and bases, and the two strands' multipliers
are averaged. Contributions then add up to the mean of the two strands' logit differences, exactly as for
one strand.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from peakcnn.errors import InputError
from peakcnn.inference import (
    autograd_on,
    best_device,
    check_batch_size,
    check_codes,
    check_model,
    default_batch,
    exact_inference,
    full_float32,
    input_dtype,
    reverse_complement,
)
from peakcnn.runconfig import check_flag, is_whole_number
from peakcnn.sequence import N_CODE, codes_to_onehot_torch

#: References per window unless told otherwise (as chrombpnet and tangermeme use).
DEFAULT_SHUFFLES = 20


@dataclass
class Attributions:
    """Per window ``i`` of ``n``, for one task."""

    hypothetical: np.ndarray  # (n, 4, W) float32: hypothetical contribution of each base at each position
    contribution: np.ndarray  # (n, W) float32: contribution of the window's own base at each position (0 at N)
    logit: np.ndarray  # (n,) float64: the window's logit (with rc: the mean of its two strands' logits)
    reference_logit: np.ndarray  # (n,) float64: mean logit of its references (with rc: of both strands)
    # (n,) float64: over the references, the largest gap between the contributions against one reference,
    # summed, and the logit minus that reference's logit (DeepLIFT makes it 0)
    error: np.ndarray
    unshuffled: int = 0  # windows with nothing to shuffle (all N, too uniform): references = window, all 0


def window_seed(seed: int, row: np.ndarray) -> list[int]:
    """Seed of a window's references: ``seed`` and a 64-bit digest of its codes."""
    import hashlib

    digest = hashlib.blake2b(np.ascontiguousarray(row, dtype=np.uint8).tobytes(), digest_size=8).digest()
    return [seed, int.from_bytes(digest, "little")]


def shuffled_references(codes: np.ndarray, n_shuffles: int, seed: int) -> np.ndarray:
    """``n_shuffles`` references of each row of ``codes`` ``(n, W)``: ``(n, n_shuffles, W)``. Each run of
    bases between ``N`` is dinucleotide-shuffled on its own (a run of 3 bp or less cannot change: a shuffle
    keeps its first and last base), ``N`` stay in place; each row's generator is seeded by
    :func:`window_seed`."""
    from peakcnn.data.negatives import dinucleotide_shuffle

    out = np.repeat(codes[:, None, :], n_shuffles, axis=1).astype(np.uint8)
    for i, row in enumerate(codes):
        rng = np.random.default_rng(window_seed(seed, row))
        known = np.concatenate([[False], row != N_CODE, [False]])
        edges = np.flatnonzero(np.diff(known.astype(np.int8)))
        for start, end in zip(edges[::2], edges[1::2], strict=True):
            if end - start > 3:
                out[i, :, start:end] = dinucleotide_shuffle(out[i, :, start:end], rng)
    return out


def deep_lift_shap(
    model: nn.Module,
    codes: np.ndarray,
    task: int = 0,
    n_shuffles: int = DEFAULT_SHUFFLES,
    seed: int = 0,
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    rc: bool = False,
) -> Attributions:
    """DeepLIFT/SHAP attributions of output ``task`` for windows ``codes`` (uint8 ``(n, W)``, the model's
    window length).

    Parameters
    ----------
    model
        A :class:`~peakcnn.model.DNASeqClassifier` or an ensemble of them (the mean logit is attributed);
        left as found (a copy is moved to the device and put in eval mode).
    codes
        Sequences as uint8 codes (``A C G T N`` = ``0..4``); an ``N`` is all zeros in the one-hot input.
    task
        Index of the output explained.
    n_shuffles
        Dinucleotide-shuffled references per window.
    seed
        Seed of the references (see the module text).
    batch_size
        Window-reference pairs per pass (default: the device's prediction batch).
    progress
        Called with the number of windows finished after each batch.
    rc
        Explain the mean logit of both strands (see the module text); twice the work.
    """
    with autograd_on():  # gradients are the method, whatever grad mode the caller is in
        return _deep_lift_shap(model, codes, task, n_shuffles, seed, device, batch_size, progress, rc)


def _deep_lift_shap(model, codes, task, n_shuffles, seed, device, batch_size, progress, rc) -> Attributions:
    """:func:`deep_lift_shap`, with autograd on."""
    import copy

    check_model(model)
    codes = check_codes(codes)
    window, n_tasks = model.config.window, model.config.n_tasks
    if codes.shape[1] != window:
        raise InputError(f"codes: windows of {codes.shape[1]} bp, the model reads {window} bp")
    for name, value, low, want in (
        ("task", task, 0, "a whole number >= 0"),
        ("n_shuffles", n_shuffles, 1, "a whole number of references per window, at least 1"),
        ("seed", seed, 0, "a whole number >= 0"),
    ):
        if not is_whole_number(value) or value < low:
            raise InputError(f"{name} {value!r}: give {want}")
    if task >= n_tasks:
        raise InputError(f"task {task}: the model has {n_tasks} output(s), numbered 0..{n_tasks - 1}")
    batch_size = check_batch_size(batch_size, "window-reference pairs")
    check_flag(rc, "rc")
    dev = best_device(device)
    net = copy.deepcopy(model).to(dev).eval()
    if input_dtype(net) not in (torch.float32, torch.float64):  # half precision: DeepLIFT's ratios in float32
        net = net.float()
    dtype = input_dtype(net)
    for p in net.parameters():
        p.requires_grad_(False)
    pairs = batch_size or default_batch(dev)  # window-reference pairs per pass
    per = max(1, pairs // n_shuffles)
    n = len(codes)
    out = Attributions(
        hypothetical=np.zeros((n, 4, window), np.float32),
        contribution=np.zeros((n, window), np.float32),
        logit=np.zeros(n),
        reference_logit=np.zeros(n),
        error=np.zeros(n),
    )
    for lo in range(0, n, per):
        chunk = codes[lo : lo + per]
        refs = shuffled_references(chunk, n_shuffles, seed)
        out.unshuffled += int((refs == chunk[:, None]).all(axis=(1, 2)).sum())
        x = codes_to_onehot_torch(torch.as_tensor(chunk, device=dev)).to(dtype)  # (b, 4, W)
        r = codes_to_onehot_torch(torch.as_tensor(refs.reshape(-1, window), device=dev)).to(dtype)  # (b*K, 4, W)
        m = _multipliers(net, x, r, task, pairs, dev)
        if rc:  # the other strand's multipliers, mapped back onto the forward strand (a linear map)
            other = _multipliers(net, reverse_complement(x), reverse_complement(r), task, pairs, dev)
            m = (m + reverse_complement(other)) / 2
        xs = x.repeat_interleave(n_shuffles, dim=0)
        with exact_inference():
            contribution = ((xs - r) * m).sum(1).view(len(chunk), n_shuffles, window)
            hypothetical = (m - (r * m).sum(1, keepdim=True)).view(len(chunk), n_shuffles, 4, window)
            logit = _logit(net, x, task, rc)
            ref_logit = _logit(net, r, task, rc).view(len(chunk), n_shuffles)
        error = (contribution.double().sum(-1) - (logit[:, None] - ref_logit)).abs().max(1).values
        sl = slice(lo, lo + len(chunk))
        out.hypothetical[sl] = hypothetical.mean(1).cpu().numpy()
        out.contribution[sl] = contribution.mean(1).cpu().numpy()
        out.logit[sl] = logit.cpu().numpy()
        out.reference_logit[sl] = ref_logit.mean(1).cpu().numpy()
        out.error[sl] = error.cpu().numpy()
        if progress is not None:
            progress(len(chunk))
    return out


def _multipliers(
    net: nn.Module, x: torch.Tensor, r: torch.Tensor, task: int, pairs: int, dev: torch.device
) -> torch.Tensor:
    """DeepLIFT multipliers ``(b * K, 4, W)`` of windows ``x`` ``(b, 4, W)`` against their ``K`` references
    each, ``r`` ``(b * K, 4, W)`` (window by window), at most ``pairs`` window-reference pairs per pass."""
    from tangermeme.deep_lift_shap import deep_lift_shap as tangermeme_dls

    b, _, window = x.shape
    with torch.enable_grad(), full_float32(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its convergence warnings: the error is measured per window
        m = tangermeme_dls(
            net,
            x,
            target=task,
            references=r.reshape(b, -1, 4, window),
            raw_outputs=True,
            only_warn=True,  # N (all-zero columns) in a window is valid input here
            batch_size=min(pairs, len(r)),  # a window's references can span passes
            device=dev,
        )  # (b, K, 4, W)
    return m.detach().to(dev).reshape(-1, 4, window)


def _logit(net: nn.Module, x: torch.Tensor, task: int, rc: bool) -> torch.Tensor:
    """Float64 logits of ``task`` for one-hot ``x``; with ``rc`` the mean of both strands' logits."""
    logit = net(x)[:, task].double()
    return (logit + net(reverse_complement(x))[:, task].double()) / 2 if rc else logit


#: Windows drawn in the figure at the most (those with the highest logits) and the stretch shown of each.
PLOT_WINDOWS, PLOT_SPAN = 6, 100


def strongest_stretch(contribution: np.ndarray, span: int = PLOT_SPAN) -> int:
    """Start of the ``span``-bp stretch of a window with the largest sum of absolute contributions."""
    if len(contribution) <= span:
        return 0
    sums = np.convolve(np.abs(contribution), np.ones(span), mode="valid")
    return int(np.argmax(sums))


def plot_contributions(
    contribution: np.ndarray, codes: np.ndarray, labels: list[str], firsts: list[int], path, title: str = ""
) -> None:
    """A logo of the contributions (letter height = contribution of the window's base) of each window given,
    over the :data:`PLOT_SPAN`-bp stretch where they are strongest. ``firsts[i]`` is the coordinate of
    window ``i``'s first base, for the x axis."""
    import logomaker
    import pandas as pd
    from matplotlib.figure import Figure  # not pyplot: the caller's backend is left as it is

    from peakcnn.plots import literal
    from peakcnn.sequence import ALPHABET, codes_to_onehot

    n = len(contribution)
    fig = Figure(figsize=(12, 1.9 * n + 0.6), layout="constrained")
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    for ax, c, x, label, first in zip(axes, contribution, codes, labels, firsts, strict=True):
        s = strongest_stretch(c)
        e = min(len(c), s + PLOT_SPAN)
        frame = pd.DataFrame((codes_to_onehot(x[s:e]) * c[s:e]).T, columns=list(ALPHABET))
        with warnings.catch_warnings():  # an all-zero stretch: a flat logo, limits set below
            warnings.filterwarnings("ignore", "Attempting to set identical", UserWarning)
            logomaker.Logo(frame, ax=ax, color_scheme="classic")
        if not frame.to_numpy().any():
            ax.set_ylim(-1, 1)
        ax.axhline(0, color="0.6", lw=0.5)
        ticks = np.unique(np.linspace(0, e - s - 1, 6).astype(int))
        ax.set_xticks(ticks, [str(first + s + int(i)) for i in ticks])
        ax.set_ylabel("contribution")
        ax.set_title(literal(label), fontsize=9, loc="left")
    axes[-1].set_xlabel("position (1-based)")
    if title:
        fig.suptitle(literal(title))
    fig.savefig(path, dpi=100, format="png")


def track_intervals(
    starts: np.ndarray, contribution: np.ndarray, length: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1-bp intervals of the contributions of windows on one chromosome of ``length`` bp, for a track.

    ``starts`` are the windows' 0-based starts (a window may run off either end; those positions are left
    out) and ``contribution`` their ``(n, W)`` contributions. Where windows overlap, a position holds the mean
    of their contributions. Returns sorted ``starts, ends, values`` of the positions covered."""
    width = contribution.shape[1]
    order = np.argsort(starts, kind="stable")
    out_s, out_v = [], []
    i = 0
    while i < len(order):  # clusters of windows that overlap or touch, accumulated one cluster at a time
        lo, hi, j = int(starts[order[i]]), int(starts[order[i]]) + width, i + 1
        while j < len(order) and int(starts[order[j]]) <= hi:
            hi = max(hi, int(starts[order[j]]) + width)
            j += 1
        total, count = np.zeros(hi - lo), np.zeros(hi - lo)
        for k in order[i:j]:
            s = int(starts[k]) - lo
            total[s : s + width] += contribution[k]
            count[s : s + width] += 1
        pos = np.arange(lo, hi)
        keep = (count > 0) & (pos >= 0) & (pos < length)
        out_s.append(pos[keep])
        out_v.append(total[keep] / count[keep])
        i = j
    if not out_s:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0)
    s = np.concatenate(out_s).astype(np.int64)
    return s, s + 1, np.concatenate(out_v)

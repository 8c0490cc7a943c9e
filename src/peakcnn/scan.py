"""Genome scanning with a shared convolution trunk.

Windows of the model's length ``W`` are scored every ``S`` bp. Interval ``i`` of a chromosome is
``[i*S, i*S + S)`` (the last one clipped at the chromosome end) and holds the prediction of the window
centred on the interval's midpoint, ``start = i*S + S//2 - W//2``, exactly the window ``peakcnn predict``
scores for a region with that midpoint. Windows running off a chromosome end are N-padded as in training.

Overlapping windows share most of their convolution features, so the trunk is computed once over a chunk
of sequence and each window's feature map is a slice of the chunk's map, followed by the dense head per
window. Two things keep the slice from being exactly the window's own features:

* **Pooling phase.** Max-pooling keeps one output in ``p``, so windows whose starts differ by a
  non-multiple of ``p`` read different pooled values. The chunk's tables therefore branch at every pooling
  layer, one branch per phase in use (:class:`_PhaseTables`): the first convolution is computed once, the
  second once per first-layer phase, and so on. At a stride that is a multiple of the pooling product
  ``P`` (27 for ``founding``) every window has the same phases and each layer is computed once; at stride
  50 all 3, 9 and 27 branches are in use, which still costs about a quarter of window-by-window scoring.
  When even that would cost more (strides near the window length), windows are scored in batches one by one.
* **'Same' padding.** A window's convolutions see zeros past its ends where a chunk sees real neighbours,
  so the first and last few feature columns differ (2 of 29 per side for ``founding``). The exact mode
  computes only those border activations, layer by layer, for all windows at once: the chunk's values
  corrected by the convolution taps that differ (see :mod:`peakcnn.scan_edges`); everything else is read
  from the chunk. ``fast`` skips this correction; its difference is measured in ``tests/`` and
  ``benchmarks/predict.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from peakcnn.ensemble import EnsembleModel
from peakcnn.inference import best_device, default_batch, exact_inference, fold_model
from peakcnn.scan_edges import (
    TrunkLayers,
    border_features,
    borders_independent,
    channels_last_input,
    trunk_layers,
)
from peakcnn.sequence import N_CODE, codes_to_onehot_torch

#: Target length of sequence (bp) whose trunk is computed at once.
CHUNK_BP = 65536


def pool_product(model: nn.Module) -> int:
    """Product of the model's pool widths (1 when the model has no recognisable trunk); for an ensemble the
    least common multiple of its members' products, so that one stride suits them all."""
    if isinstance(model, EnsembleModel):
        return math.lcm(*(pool_product(m) for m in model.members))
    config = getattr(model, "config", None)
    return math.prod(getattr(config, "pool_widths", [1]))


def default_stride(model: nn.Module, target: int = 50) -> int:
    """The multiple of the pooling product closest to ``target`` bp (54 for ``founding``) that is at most the
    model's window; ``target`` capped at the window when no multiple fits (an ensemble whose members' pool
    products have a large least common multiple, a window shorter than the product)."""
    p, window = pool_product(model), model.config.window
    if p > window:
        return min(target, window)
    return min(max(1, round(target / p)), window // p) * p


def n_intervals(length: int, stride: int) -> int:
    """Number of ``stride``-wide track intervals covering a chromosome of ``length`` bp."""
    return -(-length // stride)


def window_starts(length: int, stride: int, window: int) -> np.ndarray:
    """Start of the window scored for each interval, shape ``(n_intervals,)`` (may be < 0 or run off)."""
    i = np.arange(n_intervals(length, stride), dtype=np.int64)
    return i * stride + stride // 2 - window // 2


def padded(codes: np.ndarray, start: int, end: int) -> np.ndarray:
    """``codes[start:end]`` with N where the range leaves the array, shape ``(end - start,)``."""
    out = np.full(end - start, N_CODE, dtype=np.uint8)
    lo, hi = max(start, 0), min(end, len(codes))
    if hi > lo:
        out[lo - start : hi - start] = codes[lo:hi]
    return out


def _gather_columns(feat: torch.Tensor, offsets: torch.Tensor, width: int) -> torch.Tensor:
    """Columns ``offsets[b] + [0, width)`` of ``feat`` ``(C, N)`` as contiguous ``(B, C, width)``.

    One gather of the sliding-window view, so the head's flatten needs no further copy.
    """
    return feat.unfold(1, width, 1).permute(1, 0, 2).index_select(0, offsets)


class _PhaseTables:
    """A chunk's trunk tables along the pooling phases in use, each computed once.

    Level ``l`` holds layer ``l``'s input (level 0: the one-hot chunk) and its 'same'-padded convolution
    over the whole chunk. A window starting at chunk column ``c_l`` of level ``l`` reads the pooled
    outputs of phase ``r_l = c_l mod p_l`` (pooling groups starting ``r_l`` columns in), which form level
    ``l + 1`` of the branch ``(r_0, ..., r_l)``; its column there is ``c_l // p_l``. Branches are visited
    in order, so only the current path is held.
    """

    def __init__(self, layers: TrunkLayers, x: torch.Tensor, exact: bool):
        self.layers, self.exact = layers, exact
        self.path: list[tuple[tuple[int, ...], dict]] = [((), self._level(0, x))]

    def _level(self, i: int, h: torch.Tensor) -> dict:
        level = {"input": h}
        if i < len(self.layers):
            layer = self.layers[i]
            level["pre"] = F.conv1d(h[None], layer.weight, layer.bias, padding=layer.padding)[0]
            if self.exact:
                level["input_cl"] = channels_last_input(layer, h)
                level["pre_cl"] = level["pre"].T.contiguous() if i else None
        return level

    def levels(self, phases: tuple[int, ...]) -> list[dict]:
        """The levels ``0..n`` of the branch ``phases`` (one phase per layer)."""
        keep = 1
        while keep < len(self.path) and self.path[keep][0] == phases[:keep]:
            keep += 1
        del self.path[keep:]
        for i in range(keep, len(phases) + 1):
            layer, pre = self.layers[i - 1], self.path[-1][1]["pre"]
            pooled = torch.relu(F.max_pool1d(pre[None, :, phases[i - 1] :], layer.pool, layer.pool))[0]
            self.path.append((phases[:i], self._level(i, pooled)))
        return [level for _, level in self.path]


def _phases(offsets: np.ndarray, layers: TrunkLayers) -> tuple[np.ndarray, np.ndarray]:
    """Per window, its phase at every layer ``(B, n)`` and its column at every level ``(B, n + 1)``."""
    cols, phases = [offsets], []
    for layer in layers:
        phases.append(cols[-1] % layer.pool)
        cols.append(cols[-1] // layer.pool)
    return np.stack(phases, 1), np.stack(cols, 1)


def _macs(layers: TrunkLayers) -> list[int]:
    """Multiply-accumulates per output position of each layer's convolution."""
    return [math.prod(layer.weight.shape) for layer in layers]


def _sharing_pays(layers: TrunkLayers, phases: np.ndarray, length: int, window: int) -> bool:
    """True when the shared tables need fewer convolution operations than scoring window by window."""
    macs, scale, shared, alone = _macs(layers), 1, 0, 0
    for i, layer in enumerate(layers):
        branches = len(np.unique(phases[:, :i], axis=0)) if i else 1
        shared += branches * (length // scale) * macs[i]
        alone += len(phases) * (window // scale) * macs[i]
        scale *= layer.pool
    return shared < alone


def _shared_logits(
    net: nn.Module,
    layers: TrunkLayers,
    seg: torch.Tensor,
    phases: np.ndarray,
    cols: np.ndarray,
    window: int,
    exact: bool,
) -> torch.Tensor:
    """Logits ``(B, T)`` for windows in the codes ``seg``, given their phases and columns (:func:`_phases`)."""
    order = np.lexsort(phases.T[::-1])
    tables = _PhaseTables(layers, codes_to_onehot_torch(seg[None])[0], exact)
    width = layers.lengths(window)[-1]
    logits = torch.empty(len(cols), net.head[-1].out_features, device=seg.device)
    bounds = np.flatnonzero(np.any(np.diff(phases[order], axis=0) != 0, axis=1)) + 1
    for g in np.split(order, bounds):
        levels = tables.levels(tuple(int(r) for r in phases[g[0]]))
        c = torch.as_tensor(cols[g], device=seg.device)
        final = _gather_columns(levels[-1]["input"], c[:, -1], width)
        if exact:
            inputs_cl = [level["input_cl"] for level in levels[:-1]]
            pre_cl = [level["pre_cl"] for level in levels[:-1]]
            for at, values in border_features(layers, inputs_cl, pre_cl, list(c.T), window):
                final[:, :, at] = values.transpose(1, 2)
        if layers.tail is not None:
            final = layers.tail(final)
        logits[torch.as_tensor(g, device=seg.device)] = net.head(final).float()
    return logits


def scan_plans(model: nn.Module, window: int, device: torch.device) -> list[tuple]:
    """``(folded network, shared trunk layers or None)`` of each member of ``model``, in eval mode on
    ``device``: what :func:`scan_codes` builds for a chromosome, built once for a whole genome (folding
    copies the model, which costs more than scanning a short scaffold). The caller's model is not touched."""
    members = list(model.members) if isinstance(model, EnsembleModel) else [model]
    plans = []
    for member in members:
        net = fold_model(member).to(device)  # an eval-mode copy
        layers = trunk_layers(net)
        if layers is not None and not borders_independent(layers, window):
            layers = None
        plans.append((net, layers.to(device) if layers is not None else None))
    return plans


def scan_codes(
    model: nn.Module,
    codes: np.ndarray,
    stride: int,
    window: int | None = None,
    exact: bool = True,
    device: str | torch.device | None = None,
    progress: Callable[[int], None] | None = None,
    plans: list[tuple] | None = None,
) -> np.ndarray:
    """Logits of every window of a chromosome at ``stride``, shape ``(n_intervals, T)``.

    Parameters
    ----------
    model
        A :class:`~peakcnn.model.DNASeqClassifier` (trunk shared between windows), an ensemble of them
        (:class:`~peakcnn.ensemble.EnsembleModel`, each member's trunk shared) or any network mapping
        ``(B, 4, W)`` to ``(B, T)`` (scored window by window).
    codes
        uint8 codes of the whole chromosome, shape ``(length,)``.
    stride
        Interval width and distance between window centres, bp.
    window
        Window length; defaults to ``model.config.window``.
    exact
        Recompute the border features each window sees with zero padding (equal to window-by-window
        prediction up to float rounding). ``False`` reads them from the chunk (faster, approximate).
    device
        ``None`` picks the best available device.
    progress
        Called with the number of bp finished after each chunk.
    plans
        :func:`scan_plans` of ``model`` for this window and device, when scanning many chromosomes.
    """
    window = window or model.config.window
    starts = window_starts(len(codes), stride, window)
    # An ensemble is scanned member by member (each shares its own trunk) and its logits averaged per chunk.
    dev = best_device(device)
    plans = plans if plans is not None else scan_plans(model, window, dev)
    with exact_inference():
        out = [
            np.mean([_scan_chunk(net, lay, codes, starts[i : i + n], window, exact, dev) for net, lay in plans], 0)
            for i, n in _chunks(len(starts), stride, window, progress, len(codes))
        ]
    if not out:
        return np.zeros((0, model.config.n_tasks), dtype=np.float32)
    return np.concatenate(out)


def _chunks(n: int, stride: int, window: int, progress, length: int):
    """Yield ``(first window, count)`` per chunk of about :data:`CHUNK_BP` and report progress."""
    per = max(1, (CHUNK_BP - window) // stride + 1)
    for i in range(0, n, per):
        yield i, min(per, n - i)
        if progress is not None:
            progress(min(length, (i + per) * stride) - min(length, i * stride))


def _scan_chunk(net, layers, codes, starts, window, exact, dev) -> np.ndarray:
    """Logits ``(len(starts), T)`` for one chunk of windows."""
    s0, end = int(starts[0]), int(starts[-1]) + window
    if layers is not None:
        phases, cols = _phases(starts - s0, layers)
        if _sharing_pays(layers, phases, end - s0, window):
            seg = torch.as_tensor(padded(codes, s0, end), device=dev)
            return _shared_logits(net, layers, seg, phases, cols, window, exact).cpu().numpy()
    out, size = [], default_batch(dev)
    for i in range(0, len(starts), size):
        batch = np.stack([padded(codes, s, s + window) for s in starts[i : i + size]])
        out.append(net(codes_to_onehot_torch(torch.as_tensor(batch, device=dev))).float())
    return torch.cat(out).cpu().numpy()

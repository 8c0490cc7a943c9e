"""Genome scanning with a shared convolution trunk.

Windows of the model's length ``W`` are scored every ``S`` bp. Interval ``i`` of a chromosome is
``[i*S, i*S + S)`` (the last one clipped at the chromosome end) and holds the prediction of the window
centred on the interval's midpoint, ``start = i*S + S//2 - W//2``, exactly the window ``peakcnn predict``
scores for a region with that midpoint. Windows running off a chromosome end are N-padded as in training.

Overlapping windows share most of their convolution features, so the trunk is computed once over a chunk
of sequence and each window's feature map is a slice of the chunk's map, followed by the dense head per
window. Two things keep the slice from being exactly the window's own features:

* **Pooling grid.** A slice is only a window's feature map when the window starts on the chunk's pooling
  grid, i.e. at a multiple of ``P`` = product of pool widths (27 for ``founding``). Windows are grouped by
  their phase ``start mod P`` and each phase gets its own chunk; when windows of one phase no longer overlap
  (e.g. stride 50 with ``P = 27``), sharing is impossible and windows are scored in batches one by one.
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

from peakcnn.inference import DEFAULT_BATCH, best_device, fold_model, inference_mode
from peakcnn.scan_edges import TrunkLayers, border_features, borders_independent, trunk_layers
from peakcnn.sequence import N_CODE, codes_to_onehot_torch

#: Target length of sequence (bp) whose trunk is computed at once.
CHUNK_BP = 65536


def pool_product(model: nn.Module) -> int:
    """Product of the model's pool widths (1 when the model has no recognisable trunk)."""
    config = getattr(model, "config", None)
    return math.prod(getattr(config, "pool_widths", [1]))


def default_stride(model: nn.Module, target: int = 50) -> int:
    """The multiple of the pooling product closest to ``target`` bp (54 for ``founding``)."""
    p = pool_product(model)
    return max(1, round(target / p)) * p


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


def _chunk_trunk(layers: TrunkLayers, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Run the trunk over one-hot ``x`` ``(4, N)``; returns layer inputs and pre-ReLU conv outputs."""
    inputs, pre = [x], []
    h = x[None]
    for layer in layers:
        z = F.conv1d(h, layer.weight, layer.bias, padding=layer.padding)
        pre.append(z[0])
        h = torch.relu(F.max_pool1d(z, layer.pool, layer.pool))
        inputs.append(h[0])
    return inputs, pre


def _shared_logits(
    net: nn.Module, layers: TrunkLayers, seg: torch.Tensor, offsets: np.ndarray, window: int, exact: bool
) -> torch.Tensor:
    """Logits ``(B, T)`` for windows at ``offsets`` (multiples of the pooling product) in codes ``seg``."""
    x = codes_to_onehot_torch(seg[None])[0]
    inputs, pre = _chunk_trunk(layers, x)
    off = torch.as_tensor(offsets, device=seg.device)
    final = _gather_columns(inputs[-1], off // layers.pool_product, layers.lengths(window)[-1])
    if exact:
        for cols, values in border_features(layers, inputs, pre, off, window):
            final[:, :, cols] = values.transpose(1, 2)
    return net.head(final)


def _phase_groups(starts: np.ndarray, p: int, window: int) -> list[np.ndarray] | None:
    """Indices of windows grouped by pooling phase, or ``None`` when windows of one phase do not overlap."""
    phases = np.mod(starts - starts[0], p)
    groups = [np.flatnonzero(phases == r) for r in np.unique(phases)]
    if any(len(g) > 1 and np.min(np.diff(starts[g])) >= window for g in groups):
        return None
    return groups


def scan_codes(
    model: nn.Module,
    codes: np.ndarray,
    stride: int,
    window: int | None = None,
    exact: bool = True,
    device: str | torch.device | None = None,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Logits of every window of a chromosome at ``stride``, shape ``(n_intervals, T)``.

    Parameters
    ----------
    model
        A :class:`~peakcnn.model.DNASeqClassifier` (trunk shared between windows) or any network mapping
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
    """
    window = window or model.config.window
    starts = window_starts(len(codes), stride, window)
    net = fold_model(model)
    layers = trunk_layers(net)
    if layers is not None and not borders_independent(layers, window):
        layers = None
    with inference_mode(net, best_device(device)) as net:
        dev = next(net.parameters()).device
        if layers is not None:
            layers = layers.to(dev)
        out = [
            _scan_chunk(net, layers, codes, starts[i : i + n], window, exact, dev)
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
    groups = None if layers is None else _phase_groups(starts, layers.pool_product, window)
    if groups is None:
        out = []
        for i in range(0, len(starts), DEFAULT_BATCH):
            batch = np.stack([padded(codes, s, s + window) for s in starts[i : i + DEFAULT_BATCH]])
            out.append(net(codes_to_onehot_torch(torch.as_tensor(batch, device=dev))).float())
        return torch.cat(out).cpu().numpy()
    logits = torch.empty(len(starts), net.head[-1].out_features, device=dev)
    for g in groups:
        s0 = int(starts[g[0]])
        seg = torch.as_tensor(padded(codes, s0, int(starts[g[-1]]) + window), device=dev)
        logits[torch.as_tensor(g, device=dev)] = _shared_logits(net, layers, seg, starts[g] - s0, window, exact)
    return logits.cpu().numpy()

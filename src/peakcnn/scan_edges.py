"""Exact border features for windows whose interior features are read from a shared chunk.

A window inside a chunk sees the same activations as the chunk everywhere except near its two ends, where
its 'same'-padded convolutions read zeros instead of the chunk's neighbouring values. For each layer the
differing ("dirty") range is a few positions: a convolution of half-width ``h`` widens it by ``h``, a
max-pool of width ``p`` shrinks it to ``ceil(d / p)``. :func:`border_features` recomputes exactly those
activations per window, batched, from the window's own values one layer down plus the chunk's clean ones,
so a window costs a few columns of each convolution instead of the whole trunk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Layer:
    """One folded block: ``relu(maxpool(conv(x)))`` with 'same' padding and pool stride = width."""

    weight: torch.Tensor  # (C_out, C_in, k)
    bias: torch.Tensor  # (C_out,)
    padding: int
    pool: int

    @property
    def kernel(self) -> int:
        return self.weight.shape[-1]


class TrunkLayers(list):
    """The trunk as a list of :class:`Layer`."""

    @property
    def pool_product(self) -> int:
        return math.prod(layer.pool for layer in self)

    def lengths(self, window: int) -> list[int]:
        """Feature length at each layer input and after the last layer: ``[W, W//p1, ...]``."""
        out = [window]
        for layer in self:
            out.append(out[-1] // layer.pool)
        return out

    def to(self, device) -> TrunkLayers:
        return TrunkLayers(
            Layer(layer.weight.to(device), layer.bias.to(device), layer.padding, layer.pool) for layer in self
        )


def trunk_layers(net: nn.Module) -> TrunkLayers | None:
    """Parse a folded trunk (``Conv1d, MaxPool1d, ReLU`` repeated); ``None`` if it has another shape."""
    mods = list(getattr(net, "trunk", []))
    if not mods or len(mods) % 3:
        return None
    layers = TrunkLayers()
    for conv, pool, relu in zip(mods[::3], mods[1::3], mods[2::3], strict=False):
        ok = (
            isinstance(conv, nn.Conv1d)
            and isinstance(pool, nn.MaxPool1d)
            and isinstance(relu, nn.ReLU)
            and conv.stride == (1,)
            and conv.dilation == (1,)
            and conv.groups == 1
            and conv.kernel_size[0] % 2 == 1
            and conv.padding == (conv.kernel_size[0] // 2,)
            and pool.stride == pool.kernel_size
            and pool.padding == 0
            and pool.dilation == 1
        )
        if not ok:
            return None
        bias = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels)
        layers.append(Layer(conv.weight.detach(), bias.detach(), conv.padding[0], int(pool.kernel_size)))
    return layers


def border_plan(layers: TrunkLayers, window: int, side: str) -> list[tuple[int, int, int, int]]:
    """Per layer ``(a, b, pa, pb)``: dirty conv outputs ``[a, b)`` and dirty pooled outputs ``[pa, pb)``."""
    lengths = layers.lengths(window)
    lo = hi = 0 if side == "left" else window
    plan = []
    for layer, n in zip(layers, lengths, strict=False):
        k, h, p, m = layer.kernel, layer.padding, layer.pool, n // layer.pool
        if side == "left":
            a, b = 0, min(n, hi + h)
            pa, pb = 0, min(m, -(-b // p))
        else:
            a, b = max(0, lo - (k - 1 - h)), n
            pa, pb = min(m, a // p), m
        plan.append((a, b, pa, pb))
        lo, hi = pa, pb
    return plan


def borders_independent(layers: TrunkLayers, window: int) -> bool:
    """True when the left border's computation never reads the right border's dirty values."""
    left, right = border_plan(layers, window, "left"), border_plan(layers, window, "right")
    right_in = [window] + [pa for _, _, pa, _ in right]
    for layer, (_, b, _, pb), (a_r, _, _, _), lo_r in zip(layers, left, right, right_in, strict=False):
        if b - layer.padding + layer.kernel - 1 > lo_r or pb * layer.pool > a_r:
            return False
    return True


def _assemble(chunk, offsets, pos, n, lo, own):
    """Window values at positions ``pos`` ``(J,)``: own ``(B, C, *)`` from ``lo``, else chunk, 0 outside.

    ``chunk`` is ``(C, N)``, ``offsets`` ``(B,)`` window offsets in chunk columns; returns ``(B, C, J)``.
    """
    valid = (pos >= 0) & (pos < n)
    idx = offsets[:, None] + pos.clamp(0, n - 1)[None, :]
    out = chunk[:, idx].permute(1, 0, 2).clone()
    out[:, :, ~valid] = 0
    mine = (pos >= lo) & (pos < lo + own.shape[-1])
    if bool(mine.any()):
        out[:, :, mine] = own[:, :, pos[mine] - lo]
    return out


def border_features(
    layers: TrunkLayers,
    inputs: list[torch.Tensor],
    pre: list[torch.Tensor],
    offsets: torch.Tensor,
    window: int,
    side: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact final feature columns on one side of each window.

    Parameters
    ----------
    layers
        Folded trunk.
    inputs
        Chunk input of each layer, ``(C_l, N_l)``, plus the final features (from the chunk pass).
    pre
        Chunk convolution outputs before pooling and ReLU, ``(C_{l+1}, N_l)``.
    offsets
        Window starts in the chunk, ``(B,)``, multiples of the pooling product.
    window
        Window length ``W``.
    side
        ``"left"`` or ``"right"``.

    Returns
    -------
    cols, values
        Final column indices ``(K,)`` and the windows' exact features there, ``(B, C_last, K)``.
    """
    lengths = layers.lengths(window)
    dev = offsets.device
    own = inputs[0].new_zeros(len(offsets), inputs[0].shape[0], 0)
    lo = 0 if side == "left" else window
    scale = 1
    for layer, n, (a, b, pa, pb), x, z_chunk in zip(
        layers, lengths, border_plan(layers, window, side), inputs, pre, strict=False
    ):
        off = offsets // scale
        k, h, p = layer.kernel, layer.padding, layer.pool
        pos = torch.arange(a - h, b - h + k - 1, device=dev)
        z = F.conv1d(_assemble(x, off, pos, n, lo, own), layer.weight, layer.bias)
        cpos = torch.arange(pa * p, pb * p, device=dev)
        z = _assemble(z_chunk, off, cpos, n, a, z)
        own = torch.relu(F.max_pool1d(z, p, p)) if pb > pa else z[:, :, :0]
        lo, scale = pa, scale * p
    return torch.arange(lo, lo + own.shape[-1], device=dev), own

"""Exact border features for windows whose interior features are read from a shared chunk.

A window inside a chunk sees the same activations as the chunk everywhere except near its two ends, where
its 'same'-padded convolutions read zeros instead of the chunk's neighbouring values. Only a few positions
per layer differ ("dirty"): a convolution of half-width ``h`` widens the range by ``h``, a max-pool of
width ``p`` shrinks it to about ``d / p``.

**Correction instead of recomputation.** Convolution is linear, so at each layer the window's
pre-activation is the chunk's plus a convolution of the *difference* between the window's input and the
chunk's::

    z_win[j] = z_chunk[o + j] + sum_t W_t @ delta[j + t - h],   delta[i] = x_win[i] - x_chunk[o + i]

``delta`` is non-zero only on the ``h`` padding positions past the window end (``-x_chunk``) and on the
``d`` dirty positions inside (the window's own values minus the chunk's), so the ``u``-th of the
``b = h + d`` dirty outputs needs only the ``min(k, b - u)`` taps that land there: 36 instead of
8 x 11 = 88 taps per window for ``founding``'s second layer. The outputs are computed for all windows at
once, :data:`GROUP` at a time, as ``delta[:, rows].flatten(1) @ M`` with ``M`` the block-Toeplitz matrix
of the kernel restricted to those rows and outputs (built once per scan; its few zero blocks, 43 taps
instead of 36 above, are the price of few, large products), then max-pool and ReLU of the pooling groups
that contain dirty outputs. The first layer has no dirty input and only 4 input channels, so its border
outputs are convolved directly from the window's sequence the same way. Pooling groups dropped at the
right end and outputs that do not differ are never computed.

**Frames.** Both ends are handled by one routine working in a *frame*: positions counted inward from that
end. The right end is the left end of the mirrored window (reversed positions, reversed kernel); its
pooling groups start ``skip = n - p * (n // p)`` positions in, because pooling drops the last ``skip``
outputs. Values are kept channels-last, ``(windows, positions, channels)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import torch
import torch.nn.functional as F
from torch import nn

from peakcnn.model import DilatedResidual

SIDES = ("left", "right")

#: Conv outputs per matrix product: fewer, larger products (with some zero blocks) run better than one per
#: output, especially on busy CPUs where every parallel operation pays a scheduling delay.
GROUP = 3


@dataclass
class Layer:
    """One folded block: ``relu(maxpool(conv(x)))`` with 'same' padding and pool stride = width."""

    weight: torch.Tensor  # (C_out, C_in, k)
    bias: torch.Tensor  # (C_out,)
    padding: int
    pool: int
    matrices: dict = field(default_factory=dict, repr=False)  # cache of :func:`_toeplitz`

    @property
    def kernel(self) -> int:
        return self.weight.shape[-1]

    def pad(self, side: str) -> int:
        """Zero positions the convolution reads past the window end on ``side``."""
        return self.padding if side == "left" else self.kernel - 1 - self.padding

    @cached_property
    def padded_weight(self) -> torch.Tensor:
        """``weight`` with a zero tap appended at index ``k`` (the tap of positions outside the kernel)."""
        return F.pad(self.weight, (0, 1))


class TrunkLayers(list):
    """The trunk as a list of :class:`Layer`, and in ``tail`` the modules after them that keep the feature
    map's shape (residual dilated blocks), applied to each window's own final map."""

    tail: nn.Module | None = None

    def lengths(self, window: int) -> list[int]:
        """Feature length at each layer input and after the last layer: ``[W, W//p1, ...]``."""
        out = [window]
        for layer in self:
            out.append(out[-1] // layer.pool)
        return out

    def to(self, device) -> TrunkLayers:
        moved = TrunkLayers(
            Layer(layer.weight.to(device), layer.bias.to(device), layer.padding, layer.pool) for layer in self
        )
        moved.tail = self.tail
        return moved


def trunk_layers(net: nn.Module) -> TrunkLayers | None:
    """Parse a folded trunk (``Conv1d, MaxPool1d, ReLU`` repeated, then any :class:`DilatedResidual`
    blocks as the ``tail``); ``None`` if it has another shape."""
    mods = list(getattr(net, "trunk", []))
    n_tail = 0
    while n_tail < len(mods) and isinstance(mods[len(mods) - 1 - n_tail], DilatedResidual):
        n_tail += 1
    mods, tail = mods[: len(mods) - n_tail], mods[len(mods) - n_tail :]
    if not mods or len(mods) % 3:
        return None
    layers = TrunkLayers()
    layers.tail = nn.Sequential(*tail) if tail else None
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


@dataclass(frozen=True)
class Edge:
    """One layer seen from one end of a window, in that end's frame (see the module docstring)."""

    n: int  # layer input length
    pad: int  # zero positions read past the end
    dirty: int  # the window's own input values at this end (pooled outputs of the layer below)
    out: int  # conv outputs that differ from the chunk's and are pooled, <= pad + dirty
    skip: int  # conv outputs at this end dropped by pooling (right end only)
    count: int  # pooled outputs that differ
    pool: int  # pool width

    @property
    def span(self) -> int:
        """Conv outputs read by the differing pooling groups."""
        return self.skip + self.count * self.pool


def edge_plan(layers: TrunkLayers, window: int, side: str) -> list[Edge]:
    """The :class:`Edge` of every layer on ``side``."""
    plan, dirty = [], 0
    for layer, n in zip(layers, layers.lengths(window), strict=False):
        p, pad = layer.pool, layer.pad(side)
        skip = 0 if side == "left" else n % p
        count = min(n // p, max(0, -(-(pad + dirty - skip) // p)))
        out = min(pad + dirty, skip + count * p) if count else 0
        plan.append(Edge(n, pad, dirty, out, skip, count, p))
        dirty = count
    return plan


def borders_independent(layers: TrunkLayers, window: int) -> bool:
    """True when neither end's pooled outputs read values the other end changes, at every layer."""
    left, right = edge_plan(layers, window, "left"), edge_plan(layers, window, "right")
    ok = all(a.span + b.pad + b.dirty <= a.n and b.span + a.pad + a.dirty <= a.n for a, b in zip(left, right))
    return ok and left[-1].count + right[-1].count <= layers.lengths(window)[-1]


def _frame_rows(table: torch.Tensor, offsets: torch.Tensor, edge: Edge, side: str, start: int, stop: int):
    """Rows of channels-last ``table`` ``(N, C)`` at frame positions ``[start, stop)`` of each window.

    Returns ``(B, stop - start, C)``; ``offsets`` are the windows' first columns in ``table``.
    """
    q = torch.arange(start, stop, device=offsets.device)
    cols = offsets[:, None] + (q if side == "left" else edge.n - 1 - q)
    return table.index_select(0, cols.flatten()).view(len(offsets), stop - start, -1)


def _toeplitz(layer: Layer, side: str, rows: tuple[int, int], outs: tuple[int, int]) -> torch.Tensor:
    """The convolution as a matrix from frame input positions ``rows`` to frame outputs ``outs``.

    ``x[:, r0:r1].flatten(1) @ M`` is ``(B, (o1 - o0) * C_out)``: conv outputs ``[o0, o1)`` counting only
    inputs in ``[r0, r1)``. Block ``(v, u)`` is tap ``v - u + pad`` (zero outside the kernel). Cached.
    """
    key = (side, rows, outs)
    if key not in layer.matrices:
        k = layer.kernel
        tap = torch.arange(*rows)[:, None] - torch.arange(*outs)[None, :] + layer.pad(side)  # (R, O)
        tap = tap if side == "left" else k - 1 - tap  # the right frame runs the kernel backwards
        tap = torch.where((tap >= 0) & (tap < k), tap, k).to(layer.weight.device)
        blocks = layer.padded_weight[:, :, tap]  # (C_out, C_in, R, O)
        layer.matrices[key] = blocks.permute(2, 1, 3, 0).reshape(tap.shape[0] * blocks.shape[1], -1)
    return layer.matrices[key]


def _subtract_conv(z: torch.Tensor, layer: Layer, edge: Edge, side: str, diff: torch.Tensor) -> None:
    """``z[:, u - skip] -= conv(diff)[u]`` for the differing frame outputs ``u`` in ``[skip, out)``, in place.

    ``diff`` ``(B, pad + dirty, C_in)`` holds frame input positions ``[-pad, dirty)``, zero elsewhere.
    One matrix product per group of :data:`GROUP` outputs, each with a view of one cached matrix.
    """
    pad, c_in, c_out = edge.pad, diff.shape[2], z.shape[-1]
    m = _toeplitz(layer, side, (-pad, edge.dirty), (edge.skip, edge.out))
    zf = z.view(len(z), -1)
    for o0 in range(edge.skip, edge.out, GROUP):
        o1 = min(o0 + GROUP, edge.out)
        r0, r1 = o0 - pad, min(edge.dirty, o1 - 1 - pad + layer.kernel)  # inputs these outputs read
        block = m[(r0 + pad) * c_in : (r1 + pad) * c_in, (o0 - edge.skip) * c_out : (o1 - edge.skip) * c_out]
        cols = slice((o0 - edge.skip) * c_out, (o1 - edge.skip) * c_out)
        zf[:, cols].addmm_(diff[:, r0 + pad : r1 + pad].reshape(len(diff), -1), block, alpha=-1)


def _pool(z: torch.Tensor, edge: Edge) -> torch.Tensor:
    """``relu(maxpool(z))`` of conv outputs ``(B, span - skip, C)`` in frame order, as ``(B, count, C)``."""
    return z.view(len(z), edge.count, edge.pool, -1).amax(2).relu_()


def _direct_layer(layer: Layer, edge: Edge, side: str, xt: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """First layer (no dirty input): the differing pooling groups convolved from the window's own input.

    The one-hot input is narrow, so one small product is cheaper than gathering the chunk's wide conv
    output; positions past the window end are left out of the product ('same' padding reads zeros there).
    """
    lo, hi = max(0, edge.skip - edge.pad), edge.span - edge.pad + layer.kernel - 1
    x = _frame_rows(xt, offsets + layer.kernel, edge, side, lo, hi)
    m = _toeplitz(layer, side, (lo, hi), (edge.skip, edge.span))
    z = torch.addmm(layer.bias.repeat(edge.span - edge.skip), x.view(len(x), -1), m)
    return _pool(z, edge)


def _corrected_layer(layer: Layer, edge: Edge, side: str, xt, zt, offsets, own: torch.Tensor) -> torch.Tensor:
    """Deeper layer: the chunk's conv outputs minus the taps on ``x_chunk - x_window`` (module docstring).

    ``xt``, ``zt`` are the chunk's layer input (zero-padded by ``kernel`` rows) and conv output,
    channels-last; ``own`` the window's ``(B, dirty, C_in)`` pooled outputs of the layer below. Returns
    ``(B, count, C_out)`` in frame order.
    """
    diff = _frame_rows(xt, offsets + layer.kernel, edge, side, -edge.pad, edge.dirty)
    diff[:, edge.pad :] -= own
    z = _frame_rows(zt, offsets, edge, side, edge.skip, edge.span)
    _subtract_conv(z, layer, edge, side, diff)
    return _pool(z, edge)


def channels_last_input(layer: Layer, x: torch.Tensor) -> torch.Tensor:
    """A layer's chunk input ``(C, N)`` as channels-last ``(N + 2k, C)`` with ``k = kernel`` zero rows each side.

    The zero rows let a window's padding positions leave the chunk.
    """
    return F.pad(x.T, (0, 0, layer.kernel, layer.kernel))


def border_features(
    layers: TrunkLayers,
    inputs_cl: list[torch.Tensor],
    pre_cl: list[torch.Tensor | None],
    offsets: list[torch.Tensor],
    window: int,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Exact final feature columns at both ends of each window.

    Parameters
    ----------
    layers
        Folded trunk.
    inputs_cl
        Chunk input of each layer, channels-last and zero-padded (:func:`channels_last_input`).
    pre_cl
        Chunk convolution output of each layer before pooling and ReLU, channels-last ``(N_l, C_{l+1})``
        (the first entry is not used and may be ``None``). ``pre_cl[l]`` must be the 'same'-padded
        convolution of exactly ``inputs_cl[l]``.
    offsets
        Per layer, each window's first column in that layer's tables, ``(B,)``.
    window
        Window length ``W``.

    Returns
    -------
    list of (cols, values)
        Per side, final column indices ``(K,)`` and the windows' exact features there, channels-last
        ``(B, K, C_last)``.
    """
    result = []
    for side in SIDES:
        own = None
        for i, (layer, edge) in enumerate(zip(layers, edge_plan(layers, window, side), strict=False)):
            if not edge.count:
                own = inputs_cl[0].new_zeros(len(offsets[0]), 0, layer.weight.shape[0])
            elif i == 0:
                own = _direct_layer(layer, edge, side, inputs_cl[0], offsets[0])
            else:
                own = _corrected_layer(layer, edge, side, inputs_cl[i], pre_cl[i], offsets[i], own)
        m = layers.lengths(window)[-1]
        cols = torch.arange(own.shape[1], device=offsets[0].device)
        result.append((cols, own) if side == "left" else (m - 1 - cols, own))
    return result

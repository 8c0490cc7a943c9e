"""Batch preparation on the device: index uint8 codes, shift, one-hot, reverse complement.

Sequences stay in memory as one byte per base; a batch is gathered, optionally shifted (with ``N``
padding), one-hot encoded on the device, and optionally reverse-complemented. With the ``A, C, G, T``
channel order the reverse complement of a one-hot tensor is ``x.flip(1).flip(2)``.

Random draws use torch's global generator, which training reseeds at the start of each epoch.
"""

from __future__ import annotations

import torch

from peakcnn.sequence import N_CODE, codes_to_onehot_torch


def random_shift(codes: torch.Tensor, max_shift: int) -> torch.Tensor:
    """Shift each row of ``codes`` ``(B, L)`` by a random offset in ``[-max_shift, max_shift]``.

    Bases moved in from outside the window are ``N``; the window length is unchanged.
    """
    if max_shift <= 0:
        return codes
    batch, length = codes.shape
    offset = torch.randint(-max_shift, max_shift + 1, (batch, 1), device=codes.device)
    pos = torch.arange(length, device=codes.device).unsqueeze(0) - offset
    inside = (pos >= 0) & (pos < length)
    moved = codes.gather(1, pos.clamp(0, length - 1))
    return torch.where(inside, moved, torch.full_like(moved, N_CODE))


def random_reverse_complement(onehot: torch.Tensor) -> torch.Tensor:
    """Reverse-complement a random half (in expectation) of the one-hot rows ``(B, 4, L)``."""
    flip = torch.randint(0, 2, (onehot.shape[0], 1, 1), device=onehot.device, dtype=torch.bool)
    return torch.where(flip, onehot.flip(1).flip(2), onehot)


def make_batch(codes: torch.Tensor, rows: torch.Tensor, shift: int = 0, rc: bool = False, dtype=None) -> torch.Tensor:
    """One-hot input ``(B, 4, L)`` for the windows ``rows`` of ``codes``, with optional augmentation."""
    batch = codes[rows]
    batch = random_shift(batch, shift)
    x = codes_to_onehot_torch(batch, dtype=dtype)
    if rc:
        x = random_reverse_complement(x)
    return x.contiguous()

"""Exponential moving average (EMA) of a model's weights, the ``--ema DECAY`` option of ``peakcnn train``.

After every optimisation step each floating-point entry of the model's state (weights, biases and the
batch-norm running statistics) moves towards the trained model's: ``avg = d * avg + (1 - d) * current``,
with ``d = min(DECAY, (1 + t) / (10 + t))`` after ``t`` steps, so that the first steps, far from where
training goes, are soon forgotten (the warm-up of TensorFlow's ``ExponentialMovingAverage``). Integer
entries (batch norm's step counter) are copied. The average is what validation scores and what the run
keeps as its model; training itself continues from the raw weights.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_weight(decay: float, updates: int) -> float:
    """The decay used at update number ``updates`` (1-based): ``min(decay, (1 + t) / (10 + t))``."""
    return min(decay, (1 + updates) / (10 + updates))


class WeightAverage:
    """A copy of ``model`` (eval mode, no gradients) that tracks the moving average of its state."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One step of the average towards ``model``'s current state."""
        self.updates += 1
        weight = 1.0 - ema_weight(self.decay, self.updates)
        current = model.state_dict()
        for name, avg in self.model.state_dict().items():
            if avg.is_floating_point():
                avg.lerp_(current[name].to(avg.dtype), weight)
            else:
                avg.copy_(current[name])

    def state(self) -> dict[str, torch.Tensor]:
        """The averaged state, by the model's state-dict names."""
        return self.model.state_dict()

    def load(self, tensors: dict[str, torch.Tensor], updates: int) -> None:
        """Restore an average saved with :meth:`state` after ``updates`` updates."""
        self.model.load_state_dict(tensors)
        self.updates = updates

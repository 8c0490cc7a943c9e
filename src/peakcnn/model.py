"""The Basset-style network, built from a dataclass config. No training code lives here.

The default configuration is the ``DNASeqClassifier`` of the founding description: three convolution blocks
(Conv1d 4->300 k19, 300->200 k11, 200->200 k7, each with batch norm, ReLU, max-pool 3 stride 3 and dropout
0.1/0.2/0.3), then dropout 0.5 before each dense layer, dense 1000 -> 1000 -> n_tasks, logits out.
Convolutions use 'same' padding (``kernel // 2``), so an 800 bp window gives 200 x 29 = 5800 dense inputs.
The dense input size is always computed from the window length.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import torch
from torch import nn

from peakcnn.errors import InputError


@dataclass
class ModelConfig:
    """Architecture of a :class:`DNASeqClassifier`; every variant is a config, not a fork."""

    window: int = 800
    n_tasks: int = 1
    conv_filters: list[int] = field(default_factory=lambda: [300, 200, 200])
    conv_widths: list[int] = field(default_factory=lambda: [19, 11, 7])
    pool_widths: list[int] = field(default_factory=lambda: [3, 3, 3])
    conv_dropout: list[float] = field(default_factory=lambda: [0.1, 0.2, 0.3])
    dense_units: list[int] = field(default_factory=lambda: [1000, 1000])
    dense_dropout: float = 0.5

    def __post_init__(self) -> None:
        n = len(self.conv_filters)
        if not (len(self.conv_widths) == len(self.pool_widths) == len(self.conv_dropout) == n):
            raise InputError("model config: conv_filters, conv_widths, pool_widths and conv_dropout differ in length")
        if self.window <= 0 or self.n_tasks <= 0:
            raise InputError(f"model config: window ({self.window}) and n_tasks ({self.n_tasks}) must be positive")
        if self.trunk_length() <= 0:
            raise InputError(f"model config: a {self.window} bp window is too short for the pooling layers")

    def trunk_length(self) -> int:
        """Length of the feature map after the last convolution block."""
        length = self.window
        for pool in self.pool_widths:
            length //= pool
        return length

    def dense_inputs(self) -> int:
        return self.conv_filters[-1] * self.trunk_length()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise InputError(f"model config has unknown fields: {', '.join(sorted(unknown))}")
        return cls(**d)


#: Named architectures. ``founding`` is the default; ``basset`` is Kelley et al. 2016 (pools 3/4/4,
#: dense dropout 0.3); ``small`` is a quick model for smoke runs and tests.
PRESETS: dict[str, dict] = {
    "founding": {},
    "basset": {"pool_widths": [3, 4, 4], "conv_dropout": [0.0, 0.0, 0.0], "dense_dropout": 0.3},
    "small": {
        "conv_filters": [32, 32, 32],
        "conv_widths": [15, 9, 5],
        "pool_widths": [4, 4, 4],
        "conv_dropout": [0.1, 0.1, 0.1],
        "dense_units": [64],
        "dense_dropout": 0.3,
    },
}


def preset_config(name: str, window: int, n_tasks: int) -> ModelConfig:
    if name not in PRESETS:
        raise InputError(f"unknown architecture {name!r}; choose one of {', '.join(PRESETS)}")
    return ModelConfig(window=window, n_tasks=n_tasks, **PRESETS[name])


class DNASeqClassifier(nn.Module):
    """Basset-style CNN mapping one-hot DNA ``(B, 4, L)`` to logits ``(B, n_tasks)``.

    The network is split into ``trunk`` (convolution blocks) and ``head`` (flatten + dense layers) so that
    genome scanning can share the trunk between overlapping windows.
    """

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config or ModelConfig()
        c = self.config
        blocks: list[nn.Module] = []
        in_ch = 4
        for out_ch, width, pool, drop in zip(c.conv_filters, c.conv_widths, c.pool_widths, c.conv_dropout):
            blocks += [
                nn.Conv1d(in_ch, out_ch, width, padding=width // 2),
                nn.BatchNorm1d(out_ch),
                nn.ReLU(),
                nn.MaxPool1d(pool, stride=pool),
                nn.Dropout(drop),
            ]
            in_ch = out_ch
        self.trunk = nn.Sequential(*blocks)
        layers: list[nn.Module] = [nn.Flatten()]
        n_in = c.dense_inputs()
        for units in c.dense_units:
            layers += [nn.Dropout(c.dense_dropout), nn.Linear(n_in, units), nn.ReLU()]
            n_in = units
        layers += [nn.Dropout(c.dense_dropout), nn.Linear(n_in, c.n_tasks)]
        self.head = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_tasks)`` for one-hot input ``x`` of shape ``(B, 4, window)``."""
        return self.head(self.trunk(x))

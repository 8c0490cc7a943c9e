"""The Basset-style network, built from a dataclass config. No training code lives here.

The default configuration is the ``DNASeqClassifier`` of the founding description: three convolution blocks
(Conv1d 4->300 k19, 300->200 k11, 200->200 k7, each with batch norm, ReLU, max-pool 3 stride 3 and dropout
0.1/0.2/0.3), then dropout 0.5 before each dense layer, dense 1000 -> 1000 -> n_tasks, logits out.
Convolutions use 'same' padding (``kernel // 2``), so an 800 bp window gives 200 x 29 = 5800 dense inputs.
The dense input size is always computed from the window length. Optional residual blocks of dilated
convolutions (``residual_dilations``) follow the convolution blocks and keep the feature map's shape.
"""

from __future__ import annotations

import torch
from torch import nn

from peakcnn.modelconfig import PRESETS, ModelConfig, preset_config

__all__ = ["PRESETS", "DNASeqClassifier", "DilatedResidual", "ModelConfig", "preset_config"]


class DilatedResidual(nn.Module):
    """``x + Dropout(BN(Conv1d(ReLU(x))))`` with a width-3 convolution of the given dilation, same length.

    The batch norm's scale starts at zero, so a new block is the identity: a model with these blocks added
    to a trained one computes the same function until training moves them.
    """

    def __init__(self, channels: int, dilation: int, dropout: float):
        super().__init__()
        self.branch = nn.Sequential(
            nn.ReLU(),
            nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation),
            nn.BatchNorm1d(channels),
            nn.Dropout(dropout),
        )
        nn.init.zeros_(self.branch[2].weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.branch(x)


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
        blocks += [DilatedResidual(in_ch, int(d), c.residual_dropout) for d in c.residual_dilations]
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

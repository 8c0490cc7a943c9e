"""Architecture configuration of the Basset-style network: a dataclass and named presets.

Kept free of torch so that the command line can list architectures without loading it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

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
    #: Dilation of each residual block after the last convolution block (none by default); see
    #: :class:`peakcnn.model.DilatedResidual`. They keep the feature map's size, so the dense input is unchanged.
    residual_dilations: list[int] = field(default_factory=list)
    residual_dropout: float = 0.3
    dense_units: list[int] = field(default_factory=lambda: [1000, 1000])
    dense_dropout: float = 0.5

    def __post_init__(self) -> None:
        n = len(self.conv_filters)
        if not (len(self.conv_widths) == len(self.pool_widths) == len(self.conv_dropout) == n):
            raise InputError("model config: conv_filters, conv_widths, pool_widths and conv_dropout differ in length")
        if n == 0:
            raise InputError("model config: conv_filters is empty; the model needs at least one convolution block")
        if any(int(w) != w or w < 1 or w % 2 == 0 for w in self.conv_widths):
            raise InputError(f"model config: conv_widths ({self.conv_widths}) must be odd positive integers")
        if any(int(v) != v or v < 1 for v in (*self.conv_filters, *self.pool_widths, *self.dense_units)):
            raise InputError("model config: conv_filters, pool_widths and dense_units must be positive integers")
        if self.window <= 0 or self.n_tasks <= 0:
            raise InputError(f"model config: window ({self.window}) and n_tasks ({self.n_tasks}) must be positive")
        if any(int(d) != d or d < 1 for d in self.residual_dilations):
            raise InputError(f"model config: residual_dilations ({self.residual_dilations}) must be positive integers")
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
#: dense dropout 0.3); ``dilated`` is ``founding`` with four residual blocks of dilation 1, 2, 4 and 8 after the
#: convolutions (Basenji's dilated tower, here over the 29 positions of an 800 bp window), whose other
#: tensors have the names and shapes of ``founding``, so that ``--init`` from a ``founding`` run copies them
#: all; ``small`` is a quick model for smoke runs and tests; ``small64`` and ``small128`` are ``small`` with 64 or
#: 128 filters per convolution and a wider dense layer: on root ATAC-seq they approach the founding network's
#: accuracy in a fraction of its training time (docs/benchmarks.md); ``small64_dilated`` is ``small64`` with
#: three residual blocks of dilation 1, 2 and 4 over the 12 positions its pools leave of an 800 bp window.
PRESETS: dict[str, dict] = {
    "founding": {},
    "basset": {"pool_widths": [3, 4, 4], "conv_dropout": [0.0, 0.0, 0.0], "dense_dropout": 0.3},
    "dilated": {"residual_dilations": [1, 2, 4, 8]},
    "small": {
        "conv_filters": [32, 32, 32],
        "conv_widths": [15, 9, 5],
        "pool_widths": [4, 4, 4],
        "conv_dropout": [0.1, 0.1, 0.1],
        "dense_units": [64],
        "dense_dropout": 0.3,
    },
}
PRESETS["small64"] = {**PRESETS["small"], "conv_filters": [64, 64, 64], "dense_units": [128]}
PRESETS["small128"] = {**PRESETS["small"], "conv_filters": [128, 128, 128], "dense_units": [256]}
PRESETS["small64_dilated"] = {**PRESETS["small64"], "residual_dilations": [1, 2, 4]}


def preset_config(name: str, window: int, n_tasks: int) -> ModelConfig:
    if name not in PRESETS:
        raise InputError(f"unknown architecture {name!r}; choose one of {', '.join(PRESETS)}")
    if window < shortest_window(name):
        fit = [arch for arch in PRESETS if window >= shortest_window(arch)]
        raise InputError(
            f"--arch {name}: a {window} bp window is too short for its pooling layers (they need at least "
            f"{shortest_window(name)} bp); prepare the data set with a longer --window"
            + (f", or choose an --arch that takes it: {', '.join(fit)}" if fit else "")
        )
    return ModelConfig(window=window, n_tasks=n_tasks, **PRESETS[name])


def shortest_window(arch: str | None = None) -> int:
    """The shortest window preset ``arch`` takes (default: the shortest any preset takes): the product of its
    pool widths, so that one position is left."""
    if arch is None:
        return min(shortest_window(name) for name in PRESETS)
    return math.prod(PRESETS[arch].get("pool_widths", ModelConfig().pool_widths))

"""The network: output shapes across windows, tasks and presets, and a hand-weighted toy model."""

import math

import pytest
import torch

from peakcnn.errors import InputError
from peakcnn.model import PRESETS, DNASeqClassifier, ModelConfig, preset_config
from peakcnn.sequence import codes_to_onehot_torch, str_to_codes


@pytest.mark.parametrize("arch", list(PRESETS))
@pytest.mark.parametrize("window, n_tasks", [(200, 1), (501, 3), (800, 2), (1000, 5)])
def test_output_shapes(arch, window, n_tasks):
    config = preset_config(arch, window, n_tasks)
    model = DNASeqClassifier(config).eval()
    x = torch.zeros(3, 4, window)
    trunk = model.trunk(x)
    expected_length = window
    for pool in config.pool_widths:
        expected_length //= pool
    assert trunk.shape == (3, config.conv_filters[-1], expected_length)
    assert config.dense_inputs() == config.conv_filters[-1] * expected_length
    assert model(x).shape == (3, n_tasks)


def test_founding_default_is_the_described_network():
    model = DNASeqClassifier()
    convs = [m for m in model.trunk if isinstance(m, torch.nn.Conv1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convs] == [
        (4, 300, 19),
        (300, 200, 11),
        (200, 200, 7),
    ]
    linears = [m for m in model.head if isinstance(m, torch.nn.Linear)]
    assert [(lin.in_features, lin.out_features) for lin in linears] == [(5800, 1000), (1000, 1000), (1000, 1)]


def test_window_too_short_for_pooling():
    with pytest.raises(InputError, match="too short"):
        preset_config("founding", 20, 1)


def _motif_detector() -> DNASeqClassifier:
    """One filter scoring matches to ACG (+1 per matching base, bias -2), BN at identity, pool = window."""
    config = ModelConfig(
        window=12,
        n_tasks=1,
        conv_filters=[1],
        conv_widths=[3],
        pool_widths=[12],
        conv_dropout=[0.0],
        dense_units=[],
        dense_dropout=0.0,
    )
    model = DNASeqClassifier(config)
    conv, bn, linear = model.trunk[0], model.trunk[1], model.head[-1]
    with torch.no_grad():
        conv.weight.zero_()
        for j, base in enumerate("ACG"):
            conv.weight[0, "ACGT".index(base), j] = 1.0
        conv.bias.fill_(-2.0)
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0)
        bn.weight.fill_(1.0)
        bn.bias.zero_()
        linear.weight.fill_(2.0)
        linear.bias.fill_(-1.0)
    return model.eval()


@pytest.mark.parametrize(
    "seq, best_matches",
    [
        ("TTTTACGTTTTT", 3),  # the motif: conv = 3 - 2 = 1 at its centre
        ("TTTTACTTTTTT", 2),  # two of three bases: conv = 0
        ("TTTTTTTTTTTT", 0),  # nothing: conv < 0, ReLU -> 0
        ("CGTTTTTTTTTT", 2),  # 'same' padding: the window start sees (pad, C, G), two matches
        ("TTTTTTTTTACG", 3),  # motif at the very end
        ("TTTTANGTTTTT", 2),  # N is all zeros: scores nothing
    ],
)
def test_hand_weighted_motif_detector(seq, best_matches):
    model = _motif_detector()
    x = codes_to_onehot_torch(torch.from_numpy(str_to_codes(seq))[None])
    relu_max = max(best_matches - 2, 0)
    bn_scale = 1 / math.sqrt(1 + model.trunk[1].eps)
    expected = 2.0 * relu_max * bn_scale - 1.0
    assert model(x).item() == pytest.approx(expected, abs=1e-6)

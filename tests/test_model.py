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
    # each convolution block: batch norm, ReLU, max-pool 3 (stride 3), dropout 0.1 / 0.2 / 0.3
    kinds = [type(m).__name__ for m in model.trunk]
    assert kinds == ["Conv1d", "BatchNorm1d", "ReLU", "MaxPool1d", "Dropout"] * 3
    pools = [m for m in model.trunk if isinstance(m, torch.nn.MaxPool1d)]
    assert [(p.kernel_size, p.stride) for p in pools] == [(3, 3)] * 3
    assert [m.p for m in model.trunk if isinstance(m, torch.nn.Dropout)] == [0.1, 0.2, 0.3]
    # dropout 0.5 before each dense layer
    kinds = [type(m).__name__ for m in model.head]
    assert kinds == ["Flatten"] + ["Dropout", "Linear", "ReLU"] * 2 + ["Dropout", "Linear"]
    assert [m.p for m in model.head if isinstance(m, torch.nn.Dropout)] == [0.5, 0.5, 0.5]


def test_window_too_short_for_pooling():
    with pytest.raises(InputError, match="too short"):
        preset_config("founding", 20, 1)
    # the shortest window of the small preset leaves one position for the dense layer: it is taken
    config = preset_config("small", 64, 1)
    assert (config.trunk_length(), config.dense_inputs()) == (1, 32)
    with pytest.raises(InputError, match="too short for the pooling layers"):
        ModelConfig(window=20)  # an empty feature map


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


def test_residual_dilated_blocks_start_as_identity_and_learn():
    plain = DNASeqClassifier(preset_config("small", 200, 2))
    dilated = DNASeqClassifier(ModelConfig(**{**plain.config.to_dict(), "residual_dilations": [1, 2, 4]}))
    assert set(plain.state_dict()) < set(dilated.state_dict())  # the founding names are kept, blocks appended
    dilated.load_state_dict(plain.state_dict(), strict=False)
    blocks = [m for m in dilated.trunk if m.__class__.__name__ == "DilatedResidual"]
    assert [b.branch[1].dilation[0] for b in blocks] == [1, 2, 4]
    x = codes_to_onehot_torch(torch.randint(0, 4, (6, 200)))
    plain.eval(), dilated.eval()
    assert torch.equal(plain(x), dilated(x))  # zero batch-norm scale: the same function at the start
    # The zero scale still receives a gradient, so the blocks do not stay the identity.
    dilated.train()
    dilated(x).sum().backward()
    assert all(b.branch[2].weight.grad.abs().sum() > 0 for b in blocks)
    with torch.no_grad():
        blocks[0].branch[2].weight.fill_(1.0)
    dilated.eval()
    assert not torch.allclose(plain(x), dilated(x))


def test_residual_dilations_keep_the_feature_map_and_are_checked():
    config = preset_config("dilated", 800, 1)
    assert config.residual_dilations == [1, 2, 4, 8] and config.dense_inputs() == 5800
    assert DNASeqClassifier(config).trunk(torch.zeros(2, 4, 800)).shape == (2, 200, 29)
    with pytest.raises(InputError, match="residual_dilations"):
        ModelConfig(residual_dilations=[2, 0])

import numpy as np
import pytest
import torch

from peakcnn import sequence as s


def test_codes_roundtrip_and_masking():
    codes = s.str_to_codes("ACGTacgtNRYkm-")
    assert codes.tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 4, 4, 4, 4, 4, 4]
    assert s.codes_to_str(codes) == "ACGTACGTNNNNNN"
    assert s.str_to_codes("ACGUu").tolist() == [0, 1, 2, 3, 3]  # RNA: U reads as T


def test_onehot_n_is_zero_and_inverse():
    codes = s.str_to_codes("ACNGT")
    oh = s.codes_to_onehot(codes)
    assert oh.shape == (4, 5)
    assert oh[:, 2].sum() == 0
    assert oh[:, [0, 1, 3, 4]].sum(axis=0).tolist() == [1, 1, 1, 1]
    assert s.codes_to_str(s.onehot_to_codes(oh)) == "ACNGT"


def test_torch_onehot_matches_numpy():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, size=(3, 17)).astype(np.uint8)
    t = s.codes_to_onehot_torch(torch.from_numpy(codes))
    np.testing.assert_array_equal(t.numpy(), s.codes_to_onehot(codes))


def test_reverse_complement_codes_and_onehot_flip_agree():
    codes = s.str_to_codes("AACGTN")
    rc = s.reverse_complement_codes(codes)
    assert s.codes_to_str(rc) == "NACGTT"
    oh = torch.from_numpy(s.codes_to_onehot(codes[None]))
    np.testing.assert_array_equal(oh.flip(1).flip(2).numpy(), s.codes_to_onehot(rc[None]))


def test_gc_and_n_fraction():
    codes = s.str_to_codes("GGCCAATTNN")
    assert s.gc_fraction(codes) == pytest.approx(0.5)
    assert s.n_fraction(codes) == pytest.approx(0.2)
    assert np.isnan(s.gc_fraction(s.str_to_codes("NNNN")))

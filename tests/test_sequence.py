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


def test_random_shift_moves_rows_and_fills_with_n():
    from peakcnn.augment import random_shift

    torch.manual_seed(0)
    codes = torch.randint(0, 4, (64, 50), dtype=torch.uint8)
    shifted = random_shift(codes, 5)
    offsets = []
    for row, out in zip(codes, shifted, strict=True):
        match = [k for k in range(-5, 6) if torch.equal(out, _shift_by(row, k))]
        assert match, "every row is its window moved by at most 5 bp, N where it moved in from outside"
        offsets.append(match[0])
    assert set(offsets) == set(range(-5, 6))  # drawn, from -5 to +5 bp both included
    assert torch.equal(random_shift(codes, 0), codes)


def _shift_by(row, k):
    out = torch.full_like(row, s.N_CODE)
    if k >= 0:
        out[k:] = row[: len(row) - k]
    else:
        out[:k] = row[-k:]
    return out


def test_random_reverse_complement_flips_about_half_the_rows():
    from peakcnn.augment import random_reverse_complement

    torch.manual_seed(1)
    x = torch.tensor(s.codes_to_onehot(np.random.default_rng(0).integers(0, 4, (200, 30)).astype(np.uint8)))
    out = random_reverse_complement(x)
    same = [torch.equal(a, b) for a, b in zip(out, x, strict=True)]
    flipped = [torch.equal(a, b.flip(0).flip(1)) for a, b in zip(out, x, strict=True)]
    assert all(a != b for a, b in zip(same, flipped, strict=True))  # each row is one or the other
    assert 70 < sum(flipped) < 130


def test_n_content_difference_between_classes_warns():
    from _train_helpers import synthetic_table

    from peakcnn.data.summary import n_warnings, table_stats

    table = synthetic_table(n=200, window=100)
    assert n_warnings(table_stats(table)) == []
    table.seqs[table.source == 0, :20] = s.N_CODE  # peak windows padded with N, negatives not
    (warning,) = n_warnings(table_stats(table))
    assert warning.startswith("N content differs between classes (peak windows vs negatives: mean N fraction")


def test_table_stats_and_n_warnings_worked_by_hand():
    """Four windows of 10 bp: a train positive, a valid positive whose first 5 bases are N, and two train
    negatives; then the N check's two thresholds and its per-task pairs, on stats written by hand."""
    from peakcnn.data.store import WindowTable
    from peakcnn.data.summary import n_warnings, table_stats

    seqs = np.zeros((4, 10), np.uint8)
    seqs[1, :5] = s.N_CODE
    table = WindowTable(
        seqs=seqs, labels=np.array([[1], [1], [0], [0]], np.uint8), chrom=np.zeros(4, np.uint16),
        start=np.arange(4) * 100, split=np.array([0, 1, 0, 0], np.uint8), source=np.array([0, 0, 1, 1], np.uint8),
        tasks=["t"], chroms=["c"],
    )  # fmt: skip
    stats = table_stats(table)
    positive, negative = stats["classes"]["positive"]["all"], stats["classes"]["negative"]["all"]
    assert (positive["with_n"], positive["n_fraction_mean"]) == (0.5, 0.25)
    assert (negative["with_n"], negative["n_fraction_mean"]) == (0.0, 0.0)
    assert stats["tasks"]["t"]["train"] == {"positive": 1, "negative": 2}
    assert stats["tasks"]["t"]["valid"] == {"positive": 1, "negative": 0}

    def group(windows, mean, with_n):
        return {"windows": windows, "n_fraction_mean": mean, "with_n": with_n}

    same = group(10, 0.0, 0.0)
    # 10% of peak windows hold some N although the mean N fraction hardly differs
    few = {"classes": {"positive": {"all": group(10, 0.0001, 0.1)}, "negative": {"all": same}}, "tasks": {"t": {}}}
    (warning,) = n_warnings(few)
    assert warning.startswith("N content differs between classes (peak windows vs negatives")
    # two tasks: each task's positives are compared with its negatives too
    tasks = {"a": {"n_fraction": {"positive": group(5, 0.1, 0.5), "negative": same}},
             "b": {"n_fraction": {"positive": same, "negative": same}}}  # fmt: skip
    (warning,) = n_warnings({"classes": {"positive": {"all": same}, "negative": {"all": same}}, "tasks": tasks})
    assert warning.startswith("N content differs between classes (task a positives vs negatives")


def test_codes_outside_0_to_4_and_one_hot_of_another_layout_are_refused():
    """Read as indices, -2 encoded T and 257 decoded as C; an (N, L, 4) array argmaxed over L."""
    from peakcnn.errors import InputError

    for bad, shown in ((np.array([0, -2]), "values -2..0"), (np.array([257, 1]), "values 1..257")):
        for f in (s.codes_to_onehot, s.codes_to_str):
            with pytest.raises(InputError, match=rf"sequence codes hold {shown}; codes are integers A=0"):
                f(bad)
    with pytest.raises(InputError, match="sequence codes hold float64"):
        s.codes_to_onehot(np.array([0.0, 1.0]))
    onehot = s.codes_to_onehot(s.str_to_codes("ACGTN" * 2))
    assert s.codes_to_str(s.onehot_to_codes(onehot)) == "ACGTN" * 2
    with pytest.raises(InputError, match=r"one-hot of shape \(1, 10, 4\): give shape \(\.\.\., 4, L\)"):
        s.onehot_to_codes(np.moveaxis(onehot, -1, -2)[None])
    assert s.codes_to_str(np.array([4, 3], dtype=np.int64)) == "NT" and s.codes_to_str(np.zeros(0, np.uint8)) == ""


def test_batches_are_reverse_complemented_and_counted_row_by_row():
    codes = np.array([[0, 0, 1], [2, 3, 4]], dtype=np.uint8)  # AAC, GTN
    assert s.reverse_complement_codes(codes).tolist() == [[2, 3, 3], [4, 0, 1]]  # GTT, NAC: rows kept in order
    assert s.n_fraction(np.array([[4, 4, 0, 1], [0, 1, 2, 3]], dtype=np.uint8)).tolist() == [0.5, 0.0]


def test_code_5_is_refused_and_a_non_ascii_letter_keeps_its_place():
    from peakcnn.errors import InputError

    for f in (s.codes_to_onehot, s.codes_to_str):
        with pytest.raises(InputError, match=r"values 0\.\.5"):
            f(np.array([0, 5]))
    assert s.str_to_codes("A\u00e9C").tolist() == [0, 4, 1]  # read as N, not dropped: C stays at position 2

"""Table -> table steps: centres, merging, labels, dedup, splits, negatives, dinucleotide shuffle."""

from __future__ import annotations

import numpy as np
import pytest
from _prepare_helpers import mosaic_seq, random_seq, write_fasta

from peakcnn.data import negatives as neg
from peakcnn.data import split as sp
from peakcnn.data.labels import label_windows
from peakcnn.data.windows import (
    clip_to_chromosomes,
    clipped_centres,
    deduplicate,
    merge_centres,
    padded,
    peak_centres,
    window_stats,
)
from peakcnn.io.fasta import Genome


def test_centres_and_clipping():
    start, end, summit = np.array([0, 100, 50]), np.array([10, 301, 70]), np.array([3, -1, 60])
    assert list(peak_centres(start, end, summit, "summit")) == [3, 200, 60]
    assert list(peak_centres(start, end, summit, "midpoint")) == [5, 200, 60]
    assert list(peak_centres(np.array([0]), np.array([10]), np.array([0]), "summit")) == [0]  # a summit on base 0
    # a window ending on the chromosome's last base is not padded; one a base further is
    assert padded(np.array([0, 0, 0]), np.array([900, 901, -1]), 100, np.array([1000])).tolist() == [False, True, True]
    keep, e, c, clipped = clip_to_chromosomes(
        np.array([0, 0, 1]),
        np.array([10, 95, 200]),
        np.array([20, 150, 300]),
        np.array([15, 120, 250]),
        np.array([100, 150]),
    )
    assert list(keep) == [True, True, False] and list(e) == [20, 100, 150]
    assert list(c) == [15, 99, 149] and list(clipped) == [False, True, False]
    # a peak starting exactly at the end of its chromosome (0-based, half-open: no base on it) is dropped; one
    # ending exactly there is whole
    keep, e, c, clipped = clip_to_chromosomes(
        np.array([0, 0, 0]), np.array([100, 99, 90]), np.array([120, 100, 100]), np.array([110, 99, 95]),
        np.array([100]),
    )  # fmt: skip
    assert list(keep) == [False, True, True] and list(e[1:]) == [100, 100] and not clipped[1:].any()


def test_clipped_centres_use_the_part_on_the_chromosome():
    # peaks on a 100 bp chromosome: inside; overhanging without a summit (midpoint of 90..100, not of
    # 90..130); overhanging with its summit past the end (last base); summit inside an overhanging peak
    start, end = np.array([10, 90, 90, 60]), np.array([30, 130, 130, 140])
    summit, length = np.array([-1, -1, 120, 70]), np.full(4, 100)
    assert list(clipped_centres(start, end, summit, length, "summit")) == [20, 95, 99, 70]
    assert list(clipped_centres(start, end, summit, length, "midpoint")) == [20, 95, 95, 80]


def test_merge_bounds_cluster_span():
    chrom = np.array([0, 0, 0, 0, 0, 1])
    centre = np.array([1000, 1150, 1300, 1450, 5000, 1000])
    wc, wx, member = merge_centres(chrom, centre, 200)
    # greedy from the first centre: {1000, 1150}, {1300, 1450}, {5000}; chromosome 1 apart
    assert list(wc) == [0, 0, 0, 1] and list(wx) == [1075, 1375, 5000, 1000]
    assert list(member) == [0, 0, 1, 1, 2, 3]
    wc, wx, member = merge_centres(chrom[::-1], centre[::-1], 0)
    assert len(wc) == 6 and list(member) == [5, 4, 3, 2, 1, 0]


@pytest.mark.parametrize("window", [400, 401])
def test_peaks_at_the_largest_distances_prepare_accepts_lie_inside_their_window(window):
    """With --merge-distance and --label-distance at the largest values prepare accepts, every peak that
    labels a window (merged into it, or within label_distance // 2 of its centre) lies inside it."""
    reach = (window - 1) // 2
    rng = np.random.default_rng(window)
    centre = np.sort(rng.integers(0, 20_000, 400))
    chrom = np.zeros(len(centre), dtype=np.int64)
    wc, wx, member = merge_centres(chrom, centre, 2 * reach)
    start = wx - window // 2
    assert ((centre >= start[member]) & (centre < start[member] + window)).all()
    assert (np.diff(np.sort(centre))[:50] <= 2 * reach).any()  # some clusters did merge
    half = (2 * reach + 1) // 2
    for c in (wx - half, wx + half):  # the farthest centres a label reaches, on both sides
        assert ((c >= start) & (c < start + window)).all()


def test_labels_use_central_region():
    win_c, win_x = np.array([0, 0, 1]), np.array([1000, 2000, 1000])
    peak_c = np.array([0, 0, 0, 1])
    peak_x = np.array([1100, 2101, 1900, 1000])
    task = np.array([0, 0, 1, 1])
    lab = label_windows(win_c, win_x, peak_c, peak_x, task, 2, 200)
    assert lab.tolist() == [[1, 0], [0, 1], [0, 1]]  # |d| = 100 positive, 101 negative

    def label(peaks, distance):  # one window centred on 1000, one task
        peaks = np.array(peaks)
        z = np.zeros(len(peaks), np.int64)
        return label_windows(np.array([0]), np.array([1000]), z, peaks, z, 1, distance)[0, 0]

    assert (label([899], 200), label([900], 200), label([1100], 200), label([1101], 200)) == (0, 1, 1, 0)
    assert (label([1100], 201), label([1101], 201), label([899], 201)) == (1, 0, 0)  # half of 201 is 100
    assert label([5000, 1050], 200) == 1  # peaks in no particular order


def test_deduplicate_keeps_lowest_priority_and_ors_labels():
    seqs = np.array([[0, 1, 2], [3, 3, 3], [0, 1, 2], [0, 1, 2]], dtype=np.uint8)
    labels = np.array([[0, 1], [1, 0], [1, 0], [0, 0]], dtype=np.uint8)
    keep, lab = deduplicate(seqs, labels, np.array([4, 0, 1, 0]))
    assert list(keep) == [1, 3] and lab.tolist() == [[1, 0], [1, 1]]


def test_window_stats_counts_gc_over_acgt():
    gc, nf = window_stats(np.array([[1, 2, 0, 3], [1, 4, 4, 4], [4, 4, 4, 4]], dtype=np.uint8))
    assert gc.tolist() == [0.5, 1.0, 0.0] and nf.tolist() == [0.0, 0.75, 1.0]


def test_region_layout_gaps_and_assignment():
    W = 100
    layout = sp.region_layout(np.array([25_000, 3_000]), 1_000, W)
    lo, hi, split = layout.blocks[0]
    assert set(split.tolist()) == {0, 1, 2} and split[0] == 0
    assert np.all(split[1:] != split[:-1])
    assert np.all(lo[1:] - hi[:-1] == W)  # a window-length gap between different splits
    starts = np.arange(-W // 2, 25_000 - W // 2, 7)
    s = sp.assign(layout, np.zeros(len(starts), np.int64), starts, W)
    ok = s != sp.DROPPED
    assert ok.mean() > 0.7
    assert sp.cross_split_overlaps(np.zeros(ok.sum(), np.int64), starts[ok], starts[ok] + W, s[ok]) == 0
    # the block counter continues on the next chromosome: chromosome 1 does not restart the pattern
    assert layout.blocks[1][2][0] == sp.PATTERN[25 % len(sp.PATTERN)]


def test_region_layout_edges_worked_by_hand():
    """Half-open blocks at their exact edges: an odd window keeps a gap of a whole window; a chromosome whose
    length is not a multiple of the block size keeps its partial last block (and the pattern's count)."""
    lo, hi, split = sp.region_layout(np.array([4_500]), 1_000, 101).blocks[0]
    # blocks 0-3 train, block 4 (4000-4500) valid; the gap 3950-4051 is centred on 4000 and 101 long
    assert lo.tolist() == [-101, 4051] and hi.tolist() == [3950, 4601] and split.tolist() == [0, 1]
    layout = sp.region_layout(np.array([4_500, 1_000]), 1_000, 100)
    assert layout.blocks[0][2].tolist() == [0, 1] and layout.blocks[1][2].tolist() == [0]  # 6th block: train
    assert layout.blocks[0][0].tolist() == [-100, 4050] and layout.blocks[0][1].tolist() == [3950, 4600]
    # a window starting on a block's first base, one ending on its last, and one a base past that
    assert sp.assign(layout, np.zeros(3, np.int64), np.array([4050, 3850, 3851]), 100).tolist() == [1, 0, sp.DROPPED]
    # negatives: the whole window inside a block of the split, its centre on the chromosome
    c, a, b = sp.start_intervals(layout, 0, np.array([4_500, 1_000]), 100)
    assert list(zip(c.tolist(), a.tolist(), b.tolist(), strict=True)) == [(0, -50, 3851), (1, -50, 950)]
    # whole chromosomes: a window padded off the chromosome's start belongs to its chromosome's split
    chrom_wise = sp.chrom_layout(np.array([1_000]), np.array([2]), 100)
    assert sp.assign(chrom_wise, np.array([0, 0]), np.array([-50, 950]), 100).tolist() == [2, 2]


def test_touching_windows_do_not_overlap():
    """Windows are half-open: [0, 100) and [100, 200) share no base, in the leak check and in the
    training-overlap check of another data set alike."""
    assert sp.cross_split_overlaps(np.array([0, 0]), np.array([0, 100]), np.array([100, 200]), np.array([0, 1])) == 0
    other = (["c"], np.array([0, 0]), np.array([0, 200]), 100)
    assert sp.overlapping(["c"], np.array([0]), np.array([100]), 100, other).tolist() == [False]
    assert sp.overlapping(["c"], np.array([0, 0]), np.array([99, 101]), 100, other).tolist() == [True, True]


def test_cross_split_overlap_detector_finds_planted_overlap():
    chrom = np.array([0, 0, 0, 1])
    start = np.array([0, 500, 1000, 550])
    split = np.array([0, 0, 1, 2])
    assert sp.cross_split_overlaps(chrom, start, start + 100, split) == 0
    start[2] = 550  # overlaps window 1 of another split
    assert sp.cross_split_overlaps(chrom, start, start + 100, split) == 1
    same = np.array([5, 5])
    assert sp.cross_split_overlaps(np.zeros(2, np.int64), same, same + 4, np.array([0, 1])) == 1


def test_default_holdout_and_mode():
    assert sp.choose_mode("auto", 1, False) == "region" and sp.choose_mode("auto", 3, False) == "chrom"
    assert sp.choose_mode("auto", 1, True) == "chrom" and sp.choose_mode("region", 5, False) == "region"
    assert sp.choose_mode("auto", 3, False, True) == "region" and sp.choose_mode("chrom", 1, False, True) == "chrom"
    valid, test = sp.default_holdout(np.array([500, 300, 100, 90, 10]))
    assert {valid, test} == {2, 3}


def test_interval_subtraction_and_sampler():
    lo, hi = neg.merge_intervals(np.array([10, 0, 50, 12]), np.array([20, 5, 60, 30]))
    assert lo.tolist() == [0, 10, 50] and hi.tolist() == [5, 30, 60]
    a_lo, a_hi = neg.subtract_intervals(np.array([0]), np.array([100]), lo, hi)
    assert list(zip(a_lo.tolist(), a_hi.tolist(), strict=True)) == [(5, 10), (30, 50), (60, 100)]
    W = 10
    sampler = neg.StartSampler(
        np.array([0]), np.array([0]), np.array([1000]), np.array([0]), np.array([100]), np.array([200]), W
    )
    c, s = sampler.sample(np.random.default_rng(0), 5000)
    assert sampler.total == 1000 - 109 and np.all((s + W <= 100) | (s >= 200)) and s.min() >= 0


def test_allocate_exact_total():
    out = neg._allocate(np.array([3, 0, 5, 1]), 10)
    # exact shares 3.33, 0, 5.56, 1.11: floors 3, 0, 5, 1 and the one left over to the largest remainder
    assert out.tolist() == [3, 0, 6, 1]


def test_gc_bins_and_nearest_gc_fill_in():
    """50 GC bins of width 0.02 (GC = 1 in the last); a bin that ran short is filled with the unused
    candidates nearest its centre, each candidate used once."""
    assert neg.GC_BINS == 50
    assert neg._gc_bin(np.array([0, 0.019, 0.02, 0.5, 0.999, 1.0])).tolist() == [0, 0, 1, 25, 49, 49]
    # two bins (centres 0.25, 0.75): bin 1 wants one; 0.9 is 0.15 from its centre, 0.55 is 0.20
    c, s = neg._nearest_gc(np.array([0, 1]), np.array([0, 0]), np.array([10, 20]), np.array([0.55, 0.9]))
    assert s.tolist() == [20]
    # two bins want one each and one candidate is left: it is used once, not twice
    c, s = neg._nearest_gc(np.array([1, 1]), np.array([0]), np.array([5]), np.array([0.2]))
    assert s.tolist() == [5]


def test_gc_matched_sampling_matches_target(tmp_path):
    rng = np.random.default_rng(5)
    seq, _ = mosaic_seq(rng, 300_000)
    g = Genome(write_fasta(tmp_path / "g.fa", {"c": seq}))
    sampler = neg.StartSampler(np.array([0]), np.array([0]), np.array([299_000]), *([np.zeros(0, np.int64)] * 3), 500)
    target = np.clip(rng.normal(0.58, 0.02, size=300), 0, 1)
    c, s, short, _ = neg.sample_genomic(rng, sampler, g, ["c"], 500, 300, 0.1, target)
    assert short == 0 and len(s) == 300 and len(np.unique(s)) == 300
    gc, _ = window_stats(g.fetch_windows("c", s, 500))
    assert abs(gc.mean() - target.mean()) < 0.01
    _, s_rand, *_ = neg.sample_genomic(np.random.default_rng(5), sampler, g, ["c"], 500, 300, 0.1, None)
    assert abs(window_stats(g.fetch_windows("c", s_rand, 500))[0].mean() - target.mean()) > 0.05


def test_asking_for_more_negatives_than_starts_draws_a_bounded_number(tmp_path, monkeypatch):
    """A --neg-ratio beyond what the genome holds: every free start is found, the shortfall is reported, and
    no round draws more than a few times the starts there are (a million-fold draw ran out of memory)."""
    rng = np.random.default_rng(2)
    g = Genome(write_fasta(tmp_path / "g.fa", {"c": random_seq(rng, 5_000)}))
    sampler = neg.StartSampler(np.array([0]), np.array([0]), np.array([4_800]), *([np.zeros(0, np.int64)] * 3), 200)
    sample = neg.StartSampler.sample

    def bounded(self, r, n):
        assert n <= 8 * self.total, f"a round draws {n:,} starts of {self.total:,}"
        return sample(self, r, n)

    monkeypatch.setattr(neg.StartSampler, "sample", bounded)
    c, s, short, refused = neg.sample_genomic(rng, sampler, g, ["c"], 200, 1_000_000, 0.1, None)
    assert len(s) == len(np.unique(s)) == 4_800 and short == 1_000_000 - 4_800 and refused == 0


def test_dinucleotide_shuffle_preserves_counts():
    rng = np.random.default_rng(0)
    seqs = rng.integers(0, 4, size=(200, 120)).astype(np.uint8)
    seqs[:5, 10:20] = 4  # N runs
    seqs[5] = 0  # homopolymer
    out = neg.dinucleotide_shuffle(seqs, rng)

    def dinucs(x):
        return np.stack([np.bincount(r[:-1] * 5 + r[1:], minlength=25) for r in x])

    assert np.array_equal(dinucs(out), dinucs(seqs))
    assert np.array_equal(out[:, 0], seqs[:, 0]) and np.array_equal(out[:, -1], seqs[:, -1])
    assert (out != seqs).any(axis=1).mean() > 0.95
    assert np.array_equal(
        neg.dinucleotide_shuffle(seqs, np.random.default_rng(1)),
        neg.dinucleotide_shuffle(seqs, np.random.default_rng(1)),
    )


@pytest.mark.parametrize("length", [2, 3])
def test_dinucleotide_shuffle_short(length):
    seqs = np.array([[0, 1, 2][:length]], dtype=np.uint8)
    assert np.array_equal(neg.dinucleotide_shuffle(seqs, np.random.default_rng(0)), seqs)

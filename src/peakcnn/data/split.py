"""Train/valid/test layout by position, so that no two windows in different splits overlap.

* ``chrom``: whole chromosomes are held out (valid and test lists). Used by default with >= 3 chromosomes
  holding peaks.
* ``region``: each chromosome is cut into blocks of ``block_size`` bp, assigned in the repeating pattern
  ``train x4, valid, train x4, test`` (80/10/10) with the block counter running on across chromosomes.
  Neighbouring blocks of the same split are joined; between blocks of different splits a gap of one
  window length is left out.

Every window (positive or negative) belongs to the block that contains it whole; a window overlapping a
gap or two blocks is dropped. The first block of a chromosome starts ``window`` bp before 0 and the last
ends ``window`` bp past the end, so N-padded windows at chromosome ends are kept like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from peakcnn.io.chromnames import name_key

SPLIT_NAMES = ("train", "valid", "test")
DROPPED = 255
PATTERN = (0, 0, 0, 0, 1, 0, 0, 0, 0, 2)


@dataclass
class SplitLayout:
    """Blocks per chromosome id: arrays ``lo``, ``hi`` (half-open) and ``split`` (0/1/2)."""

    mode: str
    blocks: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]
    details: dict = field(default_factory=dict)


def choose_mode(mode: str, n_chroms: int, has_chrom_lists: bool, has_block_size: bool = False) -> str:
    """Resolve ``auto``: whole chromosomes when lists of them were given, regions when a block size was,
    else whole chromosomes when >= 3 hold peaks and regions otherwise."""
    if mode != "auto":
        return mode
    if has_chrom_lists or has_block_size:
        return "chrom" if has_chrom_lists else "region"
    return "chrom" if n_chroms >= 3 else "region"


def default_holdout(peak_counts: np.ndarray, target: float = 0.1) -> tuple[int, int]:
    """Chromosome ids for valid and test: those whose share of windows is closest to ``target``."""
    share = peak_counts / max(1, peak_counts.sum())
    ranked = np.lexsort((-np.arange(len(share)), np.abs(share - target)))
    candidates = [int(i) for i in ranked if peak_counts[i] > 0]
    return candidates[1], candidates[0]


def chrom_layout(lengths: np.ndarray, split_of_chrom: np.ndarray, window: int) -> SplitLayout:
    """One block per chromosome holding its split."""
    blocks = {
        cid: (np.array([-window]), np.array([int(length) + window]), np.array([split_of_chrom[cid]]))
        for cid, length in enumerate(lengths)
    }
    return SplitLayout("chrom", blocks)


def region_layout(lengths: np.ndarray, block_size: int, window: int) -> SplitLayout:
    """Blocks of ``block_size`` in the :data:`PATTERN`, gaps of one window between different splits."""
    blocks, counter = {}, 0
    for cid, length in enumerate(lengths):
        n = max(1, -(-int(length) // block_size))
        edges = np.minimum(np.arange(n + 1, dtype=np.int64) * block_size, int(length))
        split = np.array([PATTERN[(counter + k) % len(PATTERN)] for k in range(n)])
        counter += n
        keep = np.r_[True, split[1:] != split[:-1]]
        lo, sp = edges[:-1][keep], split[keep]
        hi = np.r_[lo[1:], int(length)]
        gap = np.r_[False, sp[1:] != sp[:-1]]
        lo = lo + np.where(gap, window - window // 2, 0)
        hi = hi - np.where(np.r_[gap[1:], False], window // 2, 0)
        lo[0], hi[-1] = -window, int(length) + window
        blocks[cid] = (lo, hi, sp)
    return SplitLayout("region", blocks, {"block_size": block_size, "pattern": list(PATTERN)})


def assign(layout: SplitLayout, chrom: np.ndarray, start: np.ndarray, window: int) -> np.ndarray:
    """Split code of each window (0/1/2), or :data:`DROPPED` where it crosses a gap or block edge."""
    out = np.full(len(start), DROPPED, dtype=np.uint8)
    for cid in np.unique(chrom):
        rows = np.flatnonzero(chrom == cid)
        lo, hi, sp = layout.blocks[int(cid)]
        s = start[rows]
        i = np.searchsorted(lo, s, side="right") - 1
        ok = (i >= 0) & (s + window <= hi[np.maximum(i, 0)])
        out[rows[ok]] = sp[i[ok]]
    return out


def start_intervals(layout: SplitLayout, split: int, lengths: np.ndarray, window: int):
    """Window starts allowed in one split: ``(chrom, lo, hi)`` arrays of half-open start ranges.

    A start is allowed when the window lies inside a block of that split and its centre lies on the
    chromosome (the rule peak windows follow too).
    """
    chroms, los, his = [], [], []
    for cid, (lo, hi, sp) in layout.blocks.items():
        sel = sp == split
        a = np.maximum(lo[sel], -(window // 2))
        b = np.minimum(hi[sel] - window + 1, int(lengths[cid]) - window // 2)
        ok = b > a
        chroms.append(np.full(int(ok.sum()), cid, dtype=np.int64))
        los.append(a[ok])
        his.append(b[ok])
    if not chroms:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(chroms), np.concatenate(los).astype(np.int64), np.concatenate(his).astype(np.int64)


def cross_split_overlaps(chrom: np.ndarray, start: np.ndarray, end: np.ndarray, split: np.ndarray) -> int:
    """Number of windows that overlap a window of another split (0 for a leak-free layout)."""
    order = np.lexsort((start, chrom))
    c, s, e, sp = chrom[order], start[order], end[order], split[order]
    bad = np.zeros(len(order), dtype=bool)
    for cid in np.unique(c):
        rows = np.flatnonzero(c == cid)
        for k in np.unique(sp[rows]):
            ends = np.where(sp[rows] == k, e[rows], np.iinfo(np.int64).min)
            before = np.r_[np.iinfo(np.int64).min, np.maximum.accumulate(ends)[:-1]]
            bad[rows] |= (sp[rows] != k) & (before > s[rows])
    return int(bad.sum())


def overlapping(
    names: list[str],
    chrom: np.ndarray,
    start: np.ndarray,
    window: int,
    other: tuple[list[str], np.ndarray, np.ndarray, int],
) -> np.ndarray:
    """Which windows (chromosome ids into ``names``, ``start``, ``window`` long) overlap a window of
    ``other`` (``names``, chromosome ids, starts, window of another data set). Chromosomes match by name, or
    else by :func:`~peakcnn.io.chromnames.name_key` when one chromosome of ``other`` has that key (``Chr1``
    is ``chr1`` and ``1``), so one genome written with two naming styles is still compared."""
    o_names, o_chrom, o_start, o_window = other
    out = np.zeros(len(start), dtype=bool)
    o_id = {n: i for i, n in enumerate(o_names)}
    keyed: dict[str, list[int]] = {}
    for i, n in enumerate(o_names):
        keyed.setdefault(name_key(n), []).append(i)
    for cid in np.unique(chrom):
        name = names[int(cid)]
        same = keyed.get(name_key(name), [])
        j = o_id.get(name, same[0] if len(same) == 1 else None)
        if j is None:
            continue
        rows = np.flatnonzero(chrom == cid)
        theirs = np.sort(o_start[o_chrom == j])
        s = start[rows]
        # another window [t, t + o_window) overlaps [s, s + window) when s - o_window < t < s + window
        out[rows] = np.searchsorted(theirs, s + window, "left") > np.searchsorted(theirs, s - o_window, "right")
    return out

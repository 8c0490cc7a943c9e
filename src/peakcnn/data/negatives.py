"""Negative windows, seeded and reproducible.

* ``gc-matched``: genomic windows that overlap no peak and no peak window, drawn inside one split and
  selected so that their GC histogram (50 bins) matches the positives' of that split.
* ``random``: the same genomic windows without GC matching.
* ``shuffled``: dinucleotide-preserving shuffles of positive windows (Altschul-Erickson Eulerian method,
  vectorised over windows).

Genomic negatives follow the positives' rules exactly: centre on the chromosome (N-padded where the window
runs off an end) and the same N-fraction filter.
"""

from __future__ import annotations

import numpy as np

from peakcnn.data.windows import genomic_stats

GC_BINS = 50
_ROUNDS = 8


def merge_intervals(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of half-open intervals on one axis, sorted and disjoint."""
    if len(lo) == 0:
        return lo, hi
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], np.maximum.accumulate(hi[order])
    new = np.r_[True, lo[1:] > hi[:-1]]
    idx = np.flatnonzero(new)
    return lo[idx], np.maximum.reduceat(hi, idx)


def subtract_intervals(a_lo, a_hi, f_lo, f_hi) -> tuple[np.ndarray, np.ndarray]:
    """Parts of the disjoint intervals ``a`` not covered by the merged, sorted intervals ``f``."""
    out_lo, out_hi = [], []
    for lo, hi in zip(a_lo.tolist(), a_hi.tolist(), strict=True):
        i, j = np.searchsorted(f_hi, lo, side="right"), np.searchsorted(f_lo, hi, side="left")
        gaps_lo = np.r_[lo, f_hi[i:j]]
        gaps_hi = np.r_[f_lo[i:j], hi]
        gaps_lo, gaps_hi = np.maximum(gaps_lo, lo), np.minimum(gaps_hi, hi)
        ok = gaps_hi > gaps_lo
        out_lo.append(gaps_lo[ok])
        out_hi.append(gaps_hi[ok])
    if not out_lo:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_lo).astype(np.int64), np.concatenate(out_hi).astype(np.int64)


class StartSampler:
    """Uniform sampling of window starts from ``(chrom, lo, hi)`` start ranges minus forbidden intervals.

    Parameters
    ----------
    chrom, lo, hi
        Allowed half-open start ranges (one split's blocks).
    busy_chrom, busy_lo, busy_hi
        Occupied genomic intervals (peaks, peak windows); a window starting at ``s`` is forbidden when
        ``[s, s + window)`` overlaps one of them.
    window
        Window length.
    """

    def __init__(self, chrom, lo, hi, busy_chrom, busy_lo, busy_hi, window: int):
        parts = []
        for cid in np.unique(chrom):
            f_lo, f_hi = merge_intervals(
                busy_lo[busy_chrom == cid] - window + 1, busy_hi[busy_chrom == cid].astype(np.int64)
            )
            a_lo, a_hi = subtract_intervals(lo[chrom == cid], hi[chrom == cid], f_lo, f_hi)
            parts.append((np.full(len(a_lo), cid, dtype=np.int64), a_lo, a_hi))
        cat = (lambda k: np.concatenate([p[k] for p in parts])) if parts else (lambda k: np.zeros(0, np.int64))
        self.chrom, self.lo, self.hi = cat(0), cat(1), cat(2)
        self.cum = np.r_[0, np.cumsum(self.hi - self.lo)]

    @property
    def total(self) -> int:
        """Number of allowed starts."""
        return int(self.cum[-1])

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` starts drawn uniformly (with replacement) from the allowed positions."""
        if self.total == 0 or n == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        u = rng.integers(0, self.total, size=n)
        i = np.searchsorted(self.cum, u, side="right") - 1
        return self.chrom[i], self.lo[i] + (u - self.cum[i])


def _allocate(counts: np.ndarray, n: int) -> np.ndarray:
    """Split ``n`` over bins in proportion to ``counts`` (largest remainder)."""
    if counts.sum() == 0 or n == 0:
        return np.zeros_like(counts)
    exact = counts * (n / counts.sum())
    out = np.floor(exact).astype(np.int64)
    extra = n - out.sum()
    out[np.argsort(-(exact - out), kind="stable")[:extra]] += 1
    return out


def _gc_bin(gc: np.ndarray) -> np.ndarray:
    return np.minimum((gc * GC_BINS).astype(np.int64), GC_BINS - 1)


def _take_per_bin(rng, bins: np.ndarray, need: np.ndarray) -> np.ndarray:
    """Indices of a random subset with at most ``need[b]`` items of each bin ``b``."""
    perm = rng.permutation(len(bins))
    order = perm[np.argsort(bins[perm], kind="stable")]
    b_sorted = bins[order]
    first = np.searchsorted(b_sorted, np.arange(len(need)), side="left")
    rank = np.arange(len(order)) - first[b_sorted]
    return order[rank < need[b_sorted]]


def sample_genomic(
    rng, sampler: StartSampler, genome, chroms, window: int, n: int, max_n_frac: float, target_gc=None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Draw ``n`` distinct genomic negative windows passing the N filter.

    With ``target_gc`` (GC fractions of the positives), the negatives' GC histogram follows it; bins that
    run short after several rounds of drawing are filled with the remaining candidates of nearest GC.

    Returns
    -------
    chrom, start, shortfall, refused
        The windows (sorted), how many of the ``n`` could not be found at all, and how many distinct
        candidate windows the N filter (``max_n_frac``) refused.
    """
    bins_want = np.array([n]) if target_gc is None else _allocate(np.bincount(_gc_bin(target_gc), minlength=GC_BINS), n)
    need = bins_want.copy()
    taken_keys = np.zeros(0, np.int64)
    spare_c, spare_s, spare_gc = [], [], []
    chosen_c, chosen_s = [], []
    refused = np.zeros(0, np.int64)  # keys of the candidates the N filter refused (drawn again, counted once)
    for rnd in range(_ROUNDS):
        if need.sum() == 0 or len(taken_keys) >= sampler.total:  # done, or every start has been looked at
            break
        # more draws than a few times the starts there are find nothing new (a --neg-ratio beyond the genome)
        c, s = sampler.sample(rng, int(min(max(4 * need.sum(), 1000) * 2**rnd, 8 * sampler.total)))
        key = c * (1 << 40) + (s + (1 << 39))
        key, idx = np.unique(key, return_index=True)
        fresh = ~np.isin(key, taken_keys)
        c, s = c[idx][fresh], s[idx][fresh]
        gc, nf = genomic_stats(genome, chroms, c, s, window)
        ok = nf <= max_n_frac
        refused = np.union1d(refused, key[fresh][~ok])
        c, s, gc = c[ok], s[ok], gc[ok]
        bins = np.zeros(len(c), np.int64) if target_gc is None else _gc_bin(gc)
        pick = _take_per_bin(rng, bins, need)
        need -= np.bincount(bins[pick], minlength=len(need))
        rest = np.setdiff1d(np.arange(len(c)), pick)
        chosen_c.append(c[pick]), chosen_s.append(s[pick])
        spare_c.append(c[rest]), spare_s.append(s[rest]), spare_gc.append(gc[rest])
        taken_keys = np.union1d(taken_keys, c * (1 << 40) + (s + (1 << 39)))
    if need.sum() and spare_c:
        c, s = _nearest_gc(need, np.concatenate(spare_c), np.concatenate(spare_s), np.concatenate(spare_gc))
        chosen_c.append(c), chosen_s.append(s)
    c = np.concatenate(chosen_c) if chosen_c else np.zeros(0, np.int64)
    s = np.concatenate(chosen_s) if chosen_s else np.zeros(0, np.int64)
    order = np.lexsort((s, c))
    return c[order], s[order], int(n - len(c)), len(refused)


def _nearest_gc(need: np.ndarray, c, s, gc) -> tuple[np.ndarray, np.ndarray]:
    """For each unmet bin, the unused candidates closest in GC to the bin centre."""
    used = np.zeros(len(c), dtype=bool)
    picks = []
    for b in np.flatnonzero(need):
        if len(need) == 1:
            centre_dist = np.zeros(len(c))
        else:
            centre_dist = np.abs(gc - (b + 0.5) / len(need))
        order = np.argsort(np.where(used, np.inf, centre_dist), kind="stable")[: need[b]]
        order = order[~used[order]]
        used[order] = True
        picks.append(order)
    idx = np.concatenate(picks) if picks else np.zeros(0, np.int64)
    return c[idx], s[idx]


def dinucleotide_shuffle(seqs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shuffle every row keeping its exact dinucleotide counts, first and last base.

    Altschul-Erickson: the edges (consecutive base pairs) leaving each base are put in random order with
    the last exit of every base chosen so that the last exits form a tree towards the final base; walking
    the edges in that order from the first base gives a uniformly drawn Eulerian path.
    """
    seqs = np.asarray(seqs, dtype=np.uint8)
    n, length = seqs.shape
    if n == 0 or length < 3:
        return seqs.copy()
    src, dst = seqs[:, :-1].astype(np.int64), seqs[:, 1:]
    last = seqs[:, -1].astype(np.int64)
    rows = np.arange(n)
    counts = np.stack([(src == v).sum(axis=1) for v in range(5)], axis=1)
    offsets = np.c_[np.zeros(n, np.int64), np.cumsum(counts, axis=1)[:, :-1]]
    keys = rng.random(src.shape)
    order = np.empty_like(src)
    todo = rows
    while len(todo):
        order[todo] = np.argsort(src[todo] + keys[todo], axis=1)
        exits = np.take_along_axis(dst[todo], order[todo], axis=1)
        last_idx = np.clip(offsets[todo] + counts[todo] - 1, 0, length - 2)
        last_exit = np.take_along_axis(exits, last_idx, axis=1).astype(np.int64)
        bad = ~_is_tree(last_exit, counts[todo] > 0, last[todo])
        todo = todo[bad]
        keys[todo] = rng.random((len(todo), length - 1))
    exits = np.take_along_axis(dst, order, axis=1)
    out = np.empty_like(seqs)
    out[:, 0] = cur = seqs[:, 0].astype(np.int64)
    ptr = offsets.copy()
    for t in range(1, length):
        nxt = exits[rows, ptr[rows, cur]]
        ptr[rows, cur] += 1
        out[:, t] = nxt
        cur = nxt.astype(np.int64)
    return out


def _is_tree(last_exit: np.ndarray, present: np.ndarray, root: np.ndarray) -> np.ndarray:
    """True for rows where following last exits from every present base reaches ``root``."""
    node = np.broadcast_to(np.arange(5), last_exit.shape).copy()
    r = root[:, None]
    for _ in range(5):
        node = np.where(node == r, node, np.take_along_axis(last_exit, node, axis=1))
    return np.all((node == r) | ~present, axis=1)

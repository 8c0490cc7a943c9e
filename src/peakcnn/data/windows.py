"""Peaks to fixed-length windows: centres, clipping, merging, sequence fetch, N filter, deduplication.

All functions are table -> table on numpy arrays; chromosomes are integer ids into a list of genome names.
"""

from __future__ import annotations

import numpy as np

from peakcnn.sequence import N_CODE


def peak_centres(start: np.ndarray, end: np.ndarray, summit: np.ndarray, center: str = "summit") -> np.ndarray:
    """Window centre of each peak: the summit where known and ``center == "summit"``, else the midpoint."""
    mid = (start + end) // 2
    if center == "summit":
        return np.where(summit >= 0, summit, mid)
    return mid


def clipped_centres(
    start: np.ndarray, end: np.ndarray, summit: np.ndarray, length: np.ndarray, center: str = "summit"
) -> np.ndarray:
    """Window centre of each peak on the part of it that lies on its chromosome (``length`` per peak).

    A peak running past its chromosome's end is centred as if it ended there, and no centre lies past the
    chromosome's last base.
    """
    return np.minimum(peak_centres(start, np.minimum(end, length), summit, center), length - 1)


def clip_to_chromosomes(
    chrom: np.ndarray, start: np.ndarray, end: np.ndarray, centre: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Clip peaks to their chromosome.

    Returns
    -------
    keep
        False for peaks starting at or past the chromosome end (dropped).
    end, centre
        Clipped copies (end <= length, centre < length).
    clipped
        True for kept peaks whose end was past the chromosome end.
    """
    length = lengths[chrom]
    keep = start < length
    clipped = keep & (end > length)
    end = np.minimum(end, length)
    centre = np.minimum(centre, length - 1)
    return keep, end, centre, clipped


def merge_centres(
    chrom: np.ndarray, centre: np.ndarray, merge_distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pool peak centres into windows.

    Centres are scanned in order along each chromosome; a cluster grows while a centre lies within
    ``merge_distance`` of the cluster's first centre, so no cluster spans more than ``merge_distance``.
    The window centre is the middle of the cluster's span.

    Returns
    -------
    win_chrom, win_centre
        One entry per cluster, sorted by chromosome and centre.
    member
        For each input centre, the index of its cluster's window.
    """
    order = np.lexsort((centre, chrom))
    c_sorted, x_sorted = chrom[order].tolist(), centre[order].tolist()
    out_c, out_x = [], []
    member = np.empty(len(order), dtype=np.int64)
    i, n = 0, len(order)
    while i < n:
        j = i
        while j + 1 < n and c_sorted[j + 1] == c_sorted[i] and x_sorted[j + 1] - x_sorted[i] <= merge_distance:
            j += 1
        member[order[i : j + 1]] = len(out_c)
        out_c.append(c_sorted[i])
        out_x.append((x_sorted[i] + x_sorted[j]) // 2)
        i = j + 1
    return np.array(out_c, dtype=np.int64), np.array(out_x, dtype=np.int64), member


def window_starts(centre: np.ndarray, window: int) -> np.ndarray:
    """Start of the window of length ``window`` centred on ``centre``."""
    return np.asarray(centre, dtype=np.int64) - window // 2


def padded(chrom: np.ndarray, start: np.ndarray, window: int, lengths: np.ndarray) -> np.ndarray:
    """True for windows that run off a chromosome end (and are therefore N-padded)."""
    return (start < 0) | (start + window > lengths[chrom])


def fetch_sequences(genome, chroms: list[str], chrom: np.ndarray, start: np.ndarray, window: int) -> np.ndarray:
    """Sequence codes ``(n, window)`` of every window, fetched chromosome by chromosome."""
    seqs = np.full((len(start), window), N_CODE, dtype=np.uint8)
    for cid in np.unique(chrom):
        rows = np.flatnonzero(chrom == cid)
        seqs[rows] = genome.fetch_windows(chroms[int(cid)], start[rows], window)
    return seqs


def window_stats(seqs: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """GC fraction over non-N bases (0 for all-N windows) and N fraction of every row."""
    gc = np.empty(len(seqs), dtype=np.float64)
    nf = np.empty(len(seqs), dtype=np.float64)
    width = seqs.shape[1] if seqs.ndim == 2 else 1
    for lo in range(0, len(seqs), chunk):
        block = seqs[lo : lo + chunk]
        n_gc = ((block == 1) | (block == 2)).sum(axis=1)
        n_n = (block == N_CODE).sum(axis=1)
        acgt = width - n_n
        gc[lo : lo + chunk] = np.divide(n_gc, acgt, out=np.zeros(len(block)), where=acgt > 0)
        nf[lo : lo + chunk] = n_n / width
    return gc, nf


def deduplicate(seqs: np.ndarray, labels: np.ndarray, priority: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Collapse windows with identical sequence.

    Of each group of identical rows the one with the lowest ``priority`` value is kept, with the labels of
    the whole group combined (logical or).

    Returns
    -------
    keep
        Indices of the rows kept, ascending.
    labels
        Labels of the kept rows (same order as ``keep``).
    """
    if len(seqs) == 0:
        return np.arange(0), labels
    rows = np.ascontiguousarray(seqs).view(np.dtype((np.void, seqs.shape[1]))).ravel()
    _, inverse = np.unique(rows, return_inverse=True)
    inverse = inverse.ravel()
    order = np.lexsort((np.arange(len(seqs)), priority, inverse))
    first = np.ones(len(order), dtype=bool)
    first[1:] = inverse[order][1:] != inverse[order][:-1]
    keep_of_group = np.empty(inverse.max() + 1, dtype=np.int64)
    keep_of_group[inverse[order][first]] = order[first]
    combined = np.zeros((inverse.max() + 1, labels.shape[1]), dtype=labels.dtype)
    np.maximum.at(combined, inverse, labels)
    keep = np.sort(keep_of_group)
    group_of_keep = inverse[keep]
    return keep, combined[group_of_keep]


def genomic_stats(genome, chroms: list[str], chrom, start, window: int, chunk: int = 8192):
    """GC and N fraction of windows fetched from the genome a chunk at a time (sequences not kept)."""
    gc = np.empty(len(start), dtype=np.float64)
    nf = np.empty(len(start), dtype=np.float64)
    for lo in range(0, len(start), chunk):
        sl = slice(lo, lo + chunk)
        gc[sl], nf[sl] = window_stats(fetch_sequences(genome, chroms, chrom[sl], start[sl], window))
    return gc, nf

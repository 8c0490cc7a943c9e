"""Multi-task labels: positive for a task when one of its peak centres lies near the window centre."""

from __future__ import annotations

import numpy as np


def label_windows(
    win_chrom: np.ndarray,
    win_centre: np.ndarray,
    peak_chrom: np.ndarray,
    peak_centre: np.ndarray,
    peak_task: np.ndarray,
    n_tasks: int,
    label_distance: int,
) -> np.ndarray:
    """Label windows for every task.

    Parameters
    ----------
    win_chrom, win_centre
        Chromosome id and centre of each window.
    peak_chrom, peak_centre, peak_task
        Chromosome id, centre (summit or midpoint) and task index of each peak.
    n_tasks
        Number of tasks (columns of the result).
    label_distance
        Width of the central region: a window is positive for a task when a peak centre of that task
        lies within ``label_distance // 2`` bp of the window centre (inclusive).

    Returns
    -------
    ndarray
        ``uint8`` array ``(n_windows, n_tasks)``.
    """
    half = label_distance // 2
    labels = np.zeros((len(win_chrom), n_tasks), dtype=np.uint8)
    for task in range(n_tasks):
        in_task = peak_task == task
        for cid in np.unique(peak_chrom[in_task]):
            centres = np.sort(peak_centre[in_task & (peak_chrom == cid)])
            rows = np.flatnonzero(win_chrom == cid)
            if len(rows) == 0:
                continue
            w = win_centre[rows]
            i = np.searchsorted(centres, w - half, side="left")
            hit = i < len(centres)
            hit[hit] = centres[i[hit]] <= w[hit] + half
            labels[rows[hit], task] = 1
    return labels

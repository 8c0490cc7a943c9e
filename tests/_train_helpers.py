"""Synthetic data sets for the training, metrics and evaluation tests (no genome needed)."""

from __future__ import annotations

import numpy as np

from peakcnn.data.store import WindowTable, write_dataset
from peakcnn.sequence import str_to_codes

MOTIFS = ("TGACGTCA", "CACGTG")


def synthetic_table(n=240, window=200, n_tasks=1, seed=0, noise=0.0) -> WindowTable:
    """Random windows; a window is positive for task ``t`` when it carries motif ``t`` (planted at random).

    ``noise`` flips that fraction of labels, so metrics are not perfect.
    """
    rng = np.random.default_rng(seed)
    seqs = rng.integers(0, 4, (n, window)).astype(np.uint8)
    labels = np.zeros((n, n_tasks), np.uint8)
    for t in range(n_tasks):
        motif = str_to_codes(MOTIFS[t])
        pos = rng.random(n) < 0.5
        for i in np.flatnonzero(pos):
            at = rng.integers(0, window - len(motif))
            seqs[i, at : at + len(motif)] = motif
        labels[:, t] = pos
    flip = rng.random(labels.shape) < noise
    labels[flip] = 1 - labels[flip]
    split = rng.choice(3, n, p=[0.6, 0.2, 0.2]).astype(np.uint8)
    return WindowTable(
        seqs=seqs,
        labels=labels,
        chrom=np.zeros(n, np.uint16),
        start=np.arange(n, dtype=np.int64) * window,
        split=split,
        source=(labels.max(axis=1) == 0).astype(np.uint8),
        tasks=[f"task{t}" for t in range(n_tasks)],
        chroms=["chrS"],
        attrs={"negatives": "random synthetic", "split_mode": "random"},
    )


def make_dataset(folder, **kw) -> str:
    """Write a synthetic data set to ``folder/dataset.h5``; returns its sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    return write_dataset(synthetic_table(**kw), folder / "dataset.h5")

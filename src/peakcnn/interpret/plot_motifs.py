"""Sequence logos of first-layer filter motifs (information content in bits), one per row."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from peakcnn.plots import literal
from peakcnn.sequence import ALPHABET


def plot_logos(ppms: list[np.ndarray], titles: list[str], path: str | Path) -> None:
    """Draw each probability matrix ``(4, K)`` as an information logo titled by ``titles`` and save a PNG
    (written as given; callers handle atomic renaming). With no matrix, the figure says so."""
    import logomaker
    import pandas as pd
    from matplotlib.figure import Figure  # not pyplot: the caller's backend is left as it is

    from peakcnn.interpret.motifs import information

    fig = Figure(figsize=(7.5, 1.5 * max(len(ppms), 1)), layout="constrained")
    if not ppms:
        ax = fig.subplots()
        ax.axis("off")
        ax.text(0.5, 0.5, "no filter has enough sites for a motif", ha="center", va="center")
    for ax, ppm, title in zip(fig.subplots(len(ppms), 1, squeeze=False)[:, 0] if ppms else [], ppms, titles):
        heights = ppm * information(ppm)[None, :]
        logomaker.Logo(pd.DataFrame(heights.T, columns=list(ALPHABET)), ax=ax, color_scheme="classic")
        ax.set_ylim(0, 2)
        ax.set_ylabel("bits")
        ax.set_xticks([])
        ax.set_title(literal(title), fontsize=9, loc="left")
    fig.savefig(path, dpi=100)

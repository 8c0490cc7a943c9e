"""Figures of saturation mutagenesis: a logo of the reference bases' importance over a heatmap of effects."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import numpy as np

from peakcnn.interpret.ism import importance
from peakcnn.plots import literal
from peakcnn.sequence import ALPHABET

#: Figure width is capped so very long sequences stay viewable.
MAX_WIDTH_IN = 40.0
#: Task names are wrapped to lines of this many characters beside their logo.
LABEL_WIDTH = 12
#: Tasks drawn at the most (logo and heatmap each); the .npy and .tsv outputs hold every task.
MAX_TASKS = 12


def plot_ism(
    delta: np.ndarray, x: np.ndarray, tasks: list[str], path: str | Path, title: str = "", first_pos: int = 0
) -> None:
    """Draw logo + heatmap per task (the first :data:`MAX_TASKS`) and save a PNG.

    Parameters
    ----------
    delta
        ISM of one sequence, ``(T, 4, L)`` delta logits.
    x
        One-hot reference ``(4, L)``.
    tasks
        Task names, ``T`` of them.
    path
        PNG path (written as given; callers handle atomic renaming).
    title
        Figure title.
    first_pos
        Coordinate of the first column, for the x axis.
    """
    import logomaker
    import pandas as pd
    from matplotlib.figure import Figure  # not pyplot: the caller's backend is left as it is

    length = delta.shape[2]
    n_tasks = min(delta.shape[0], MAX_TASKS)
    if delta.shape[0] > MAX_TASKS:
        note = f"the first {MAX_TASKS} of {delta.shape[0]} tasks (all are in the .npy and .tsv files)"
        title = f"{title}\n{note}" if title else note
    width = min(MAX_WIDTH_IN, max(6.0, length / 12))
    fig = Figure(figsize=(width, 2.6 * n_tasks), layout="constrained")  # labels kept inside the figure
    axes = fig.subplots(2 * n_tasks, 1, squeeze=False, gridspec_kw={"height_ratios": [1, 1] * n_tasks})
    lim = float(np.abs(delta[:n_tasks]).max()) or 1.0
    for t in range(n_tasks):
        logo_ax, heat_ax = axes[2 * t, 0], axes[2 * t + 1, 0]
        frame = pd.DataFrame(importance(delta[t], x).T, columns=list(ALPHABET))
        with warnings.catch_warnings():  # an all-N sequence has no importance: a flat logo, limits set below
            warnings.filterwarnings("ignore", "Attempting to set identical", UserWarning)
            logomaker.Logo(frame, ax=logo_ax, color_scheme="classic")
        if not frame.to_numpy().any():
            logo_ax.set_ylim(-1, 1)
        logo_ax.set_xlim(-0.5, length - 0.5)
        name = textwrap.fill(tasks[t], LABEL_WIDTH)  # up the side of the logo: long names kept to its height
        logo_ax.set_ylabel(f"{literal(name)}\nimportance")
        logo_ax.set_xticks([])
        im = heat_ax.imshow(delta[t], aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        heat_ax.set_yticks(range(4), list(ALPHABET))
        digits = len(str(first_pos + length - 1))
        fits = int((width - 1.5) / (0.1 * (digits + 2)))  # labels about 0.1 in per character, with a gap
        ticks = np.unique(np.linspace(0, length - 1, max(2, min(length, 9, fits))).astype(int))
        heat_ax.set_xticks(ticks, [str(first_pos + int(i)) for i in ticks])
        heat_ax.set_xlabel("position (1-based, as in the .tsv)")
        fig.colorbar(im, ax=[logo_ax, heat_ax], fraction=0.02, pad=0.01, label="delta logit")
    if title:
        fig.suptitle(literal(title))
    fig.savefig(path, dpi=100, format="png")

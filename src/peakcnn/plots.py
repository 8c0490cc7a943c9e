"""Figures of an evaluation: ROC, precision-recall, calibration and training curves (matplotlib, Agg).

Each function takes plain arrays, writes one PNG and returns its path. Multi-task data sets get one panel
per task (the first :data:`MAX_PANELS` tasks).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

MAX_PANELS = 6


def _figure(**kwargs):
    """A figure drawn without pyplot, so the caller's matplotlib backend is left as it is (PNG files are
    written through Agg)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def literal(text: str) -> str:
    """``text`` (a task or sequence name) as matplotlib shows it, not read as mathtext between ``$`` signs
    (``root$_$`` failed to draw)."""
    return text.replace("$", r"\$")


def _panels(n_tasks: int, size: float = 3.6):
    n = min(n_tasks, MAX_PANELS)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = _figure(figsize=(size * cols, size * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return Path(path)


def _legend(ax, **kwargs) -> None:
    """A legend where the panel has labelled lines; otherwise a note that there is nothing to draw."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)
    else:
        ax.text(0.5, 0.5, "one class only: no curve", ha="center", va="center", transform=ax.transAxes)


def _curves(labels, models, tasks, curve, score, legend_title, drawstyle="default", **legend) -> tuple:
    """One panel per task with ``curve(y, p) -> (x, y)`` of every model, labelled with ``score(y, p)``;
    returns ``(fig, axes)`` for the caller to finish the panels."""
    fig, axes = _panels(len(tasks))
    for t, ax in enumerate(axes):
        y = labels[:, t]
        if len(np.unique(y)) == 2:
            for name, probs in models.items():
                x_, y_ = curve(y, probs[:, t])
                ax.plot(x_, y_, drawstyle=drawstyle, label=f"{name} ({score(y, probs[:, t]):.3f})")
        _legend(ax, fontsize=7, title=legend_title, title_fontsize=7, **legend)
    return fig, axes


def plot_roc(labels: np.ndarray, models: dict[str, np.ndarray], tasks: list[str], path: Path) -> Path:
    """ROC curves of every model (``{name: probs (n, T)}``) against ``labels (n, T)``."""
    from sklearn.metrics import roc_auc_score, roc_curve

    def curve(y, p):
        return roc_curve(y, p)[:2]

    fig, axes = _curves(labels, models, tasks, curve, roc_auc_score, "auROC", loc="lower right")
    for t, ax in enumerate(axes):
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        ax.set(
            title=f"{literal(tasks[t])} (n={len(labels)})", xlabel="false positive rate", ylabel="true positive rate"
        )
    return _save(fig, path)


def plot_pr(labels: np.ndarray, models: dict[str, np.ndarray], tasks: list[str], path: Path) -> Path:
    """Precision-recall curves; the dashed line is the positive rate (chance level of auPRC)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    def curve(y, p):
        precision, recall, _ = precision_recall_curve(y, p)
        return recall, precision

    # steps, as average precision (the auPRC in the legend) sums them; straight lines would draw above it
    fig, axes = _curves(
        labels, models, tasks, curve, average_precision_score, "auPRC", drawstyle="steps-post", loc="lower left"
    )
    for t, ax in enumerate(axes):
        y = labels[:, t]
        ax.axhline(y.mean() if len(y) else 0, color="grey", lw=0.8, ls="--")
        ax.set(title=f"{literal(tasks[t])} (n={len(y)}, {int(y.sum())} pos)", xlabel="recall", ylabel="precision")
        ax.set_ylim(0, 1.02)
    return _save(fig, path)


def plot_calibration(reliability: dict[str, list[list[dict]]], tasks: list[str], path: Path) -> Path:
    """Reliability diagrams: ``{name: [bins of task 0, bins of task 1, ...]}`` from :mod:`peakcnn.metrics`."""
    fig, axes = _panels(len(tasks))
    for t, ax in enumerate(axes):
        for name, per_task in reliability.items():
            bins = [b for b in per_task[t] if b["n"]]
            ax.plot(
                [b["mean_predicted"] for b in bins],
                [b["fraction_positive"] for b in bins],
                marker="o",
                label=name,
            )
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        ax.set(title=literal(tasks[t]), xlabel="mean predicted probability", ylabel="fraction positive")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7, loc="upper left")
    return _save(fig, path)


def plot_history(rows: list[dict], path: Path, title: str = "") -> Path | None:
    """Training curves from ``history.csv`` rows: losses, then validation auROC/auPRC and accuracies."""
    if not rows:
        return None
    fig = _figure(figsize=(9, 3.6))
    ax1, ax2 = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in rows]
    ax1.plot(epochs, [r["train_loss"] for r in rows], marker=".", label="train loss")
    ax1.plot(epochs, [r["valid_loss"] for r in rows], marker=".", label="valid loss")
    ax1.set(xlabel="epoch", ylabel="binary cross-entropy", title=literal(title) or "loss")
    ax1.legend(fontsize=8)
    for key, label in (
        ("valid_auroc", "valid auROC"),
        ("valid_auprc", "valid auPRC"),
        ("valid_acc", "valid accuracy"),
        ("train_auprc", "train auPRC"),
        ("train_acc", "train accuracy"),
    ):
        values = [r.get(key, math.nan) for r in rows]  # histories of older versions lack train auPRC
        if not all(math.isnan(v) for v in values):
            ax2.plot(epochs, values, marker=".", linestyle="--" if key.startswith("train") else "-", label=label)
    ax2.set(xlabel="epoch", ylabel="score", title="scores by epoch")
    ax2.legend(fontsize=8)
    return _save(fig, path)

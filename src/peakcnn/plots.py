"""Figures of an evaluation: ROC, precision-recall, calibration and training curves (matplotlib, Agg).

Each function takes plain arrays, writes one PNG and returns its path. Multi-task data sets get one panel
per task, for at most :data:`MAX_PANELS` tasks: those with both classes in the split first (:func:`panel_tasks`).
"""

from __future__ import annotations

import math
import textwrap
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


def _both_classes(y: np.ndarray) -> bool:
    return len(np.unique(y)) == 2


def panel_tasks(labels: np.ndarray) -> list[int]:
    """The tasks (columns of ``labels (n, T)``) drawn as panels, at most :data:`MAX_PANELS`: those with both
    classes first, in their order, then those with one class only (a panel that says so)."""
    labels = np.asarray(labels).reshape(len(labels), -1)
    both = [t for t in range(labels.shape[1]) if _both_classes(labels[:, t])]
    return (both + [t for t in range(labels.shape[1]) if t not in both])[:MAX_PANELS]


def _title(name: str, detail: str = "") -> str:
    """A panel title: a long task name wrapped to the panel's width, then ``detail`` on a line of its own."""
    lines = textwrap.wrap(literal(name), 34, break_long_words=True, break_on_hyphens=False) or [""]
    return "\n".join(lines + ([detail] if detail else []))


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
    """One panel per task of :func:`panel_tasks` with ``curve(y, p) -> (x, y)`` of every model, labelled
    with ``score(y, p)``; returns ``(fig, [(task index, axes), ...])`` for the caller to finish the panels."""
    order = panel_tasks(labels)
    fig, axes = _panels(len(order))
    for t, ax in zip(order, axes, strict=True):
        y = labels[:, t]
        if _both_classes(y):
            for name, probs in models.items():
                x_, y_ = curve(y, probs[:, t])
                ax.plot(x_, y_, drawstyle=drawstyle, label=f"{name} ({score(y, probs[:, t]):.3f})")
        _legend(ax, fontsize=7, title=legend_title, title_fontsize=7, **legend)
    return fig, list(zip(order, axes, strict=True))


def plot_roc(labels: np.ndarray, models: dict[str, np.ndarray], tasks: list[str], path: Path) -> Path:
    """ROC curves of every model (``{name: probs (n, T)}``) against ``labels (n, T)``."""
    from sklearn.metrics import roc_auc_score, roc_curve

    def curve(y, p):
        return roc_curve(y, p)[:2]

    fig, panels = _curves(labels, models, tasks, curve, roc_auc_score, "auROC", loc="lower right")
    for t, ax in panels:
        y = labels[:, t]
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        ax.set(
            title=_title(tasks[t], f"(n={len(y)}, {int(y.sum())} pos)"),
            xlabel="false positive rate",
            ylabel="true positive rate",
        )
    return _save(fig, path)


def plot_pr(labels: np.ndarray, models: dict[str, np.ndarray], tasks: list[str], path: Path) -> Path:
    """Precision-recall curves; the dashed line is the positive rate (chance level of auPRC)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    def curve(y, p):
        precision, recall, _ = precision_recall_curve(y, p)
        return recall, precision

    # steps, as average precision (the auPRC in the legend) sums them; straight lines would draw above it
    fig, panels = _curves(
        labels, models, tasks, curve, average_precision_score, "auPRC", drawstyle="steps-post", loc="best"
    )
    for t, ax in panels:
        y = labels[:, t]
        ax.axhline(y.mean() if len(y) else 0, color="grey", lw=0.8, ls="--")
        ax.set(title=_title(tasks[t], f"(n={len(y)}, {int(y.sum())} pos)"), xlabel="recall", ylabel="precision")
        ax.set_ylim(0, 1.02)
    return _save(fig, path)


def plot_calibration(reliability: dict[str, list[list[dict]]], tasks: list[str], path: Path, labels=None) -> Path:
    """Reliability diagrams: ``{name: [bins of task 0, bins of task 1, ...]}`` from :mod:`peakcnn.metrics`;
    with ``labels (n, T)``, for the tasks of :func:`panel_tasks` (one class only: a note, not a curve)."""
    if labels is not None:
        labels = np.asarray(labels).reshape(len(labels), -1)
    order = panel_tasks(labels) if labels is not None else list(range(min(len(tasks), MAX_PANELS)))
    fig, axes = _panels(len(order))
    for t, ax in zip(order, axes, strict=True):
        one_class = labels is not None and not _both_classes(labels[:, t])
        for name, per_task in reliability.items():
            bins = [b for b in per_task[t] if b["n"]] if not one_class else []
            if bins:
                ax.plot(
                    [b["mean_predicted"] for b in bins],
                    [b["fraction_positive"] for b in bins],
                    marker="o",
                    label=name,
                )
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        n = sum(b["n"] for b in next(iter(reliability.values()))[t]) if reliability else 0
        ax.set(title=_title(tasks[t], f"(n={n})"), xlabel="mean predicted probability", ylabel="fraction positive")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        _legend(ax, fontsize=7, loc="best")
    return _save(fig, path)


def plot_history(rows: list[dict], path: Path, title: str = "") -> Path | None:
    """Training curves from ``history.csv`` rows: losses, then validation auROC/auPRC and accuracies."""
    from matplotlib.ticker import MaxNLocator

    if not rows:
        return None
    fig = _figure(figsize=(9, 3.6))
    ax1, ax2 = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in rows]
    ax1.plot(epochs, [r["train_loss"] for r in rows], marker=".", label="train loss")
    ax1.plot(epochs, [r["valid_loss"] for r in rows], marker=".", label="valid loss")
    ax1.set(xlabel="epoch", ylabel="binary cross-entropy", title=literal(title) or "loss")
    ax1.legend(fontsize=8, loc="best")
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
    ax2.legend(fontsize=8, loc="best")
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    return _save(fig, path)

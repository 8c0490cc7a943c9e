"""Figures of an evaluation: ROC, precision-recall, calibration and training curves (matplotlib, Agg).

Each function takes plain arrays, writes one PNG and returns its path. Multi-task data sets get one panel
per task (the first :data:`MAX_PANELS` tasks).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

MAX_PANELS = 6


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _panels(n_tasks: int, size: float = 3.6):
    plt = _pyplot()
    n = min(n_tasks, MAX_PANELS)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return plt, fig, list(axes.flat[:n])


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_roc(labels: np.ndarray, models: dict[str, np.ndarray], tasks: list[str], path: Path) -> Path:
    """ROC curves of every model (``{name: probs (n, T)}``) against ``labels (n, T)``."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt, fig, axes = _panels(len(tasks))
    for t, ax in enumerate(axes):
        y = labels[:, t]
        for name, probs in models.items():
            if y.min() == y.max():
                continue
            fpr, tpr, _ = roc_curve(y, probs[:, t])
            ax.plot(fpr, tpr, label=f"{name} ({roc_auc_score(y, probs[:, t]):.3f})")
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        ax.set(title=f"{tasks[t]} (n={len(y)})", xlabel="false positive rate", ylabel="true positive rate")
        ax.legend(fontsize=7, loc="lower right", title="auROC", title_fontsize=7)
    return _save(plt, fig, path)


def plot_pr(labels: np.ndarray, models: dict[str, np.ndarray], tasks: list[str], path: Path) -> Path:
    """Precision-recall curves; the dashed line is the positive rate (chance level of auPRC)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    plt, fig, axes = _panels(len(tasks))
    for t, ax in enumerate(axes):
        y = labels[:, t]
        for name, probs in models.items():
            if y.min() == y.max():
                continue
            prec, rec, _ = precision_recall_curve(y, probs[:, t])
            ax.plot(rec, prec, label=f"{name} ({average_precision_score(y, probs[:, t]):.3f})")
        ax.axhline(y.mean() if len(y) else 0, color="grey", lw=0.8, ls="--")
        ax.set(title=f"{tasks[t]} (n={len(y)}, {int(y.sum())} pos)", xlabel="recall", ylabel="precision")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7, loc="lower left", title="auPRC", title_fontsize=7)
    return _save(plt, fig, path)


def plot_calibration(reliability: dict[str, list[list[dict]]], tasks: list[str], path: Path) -> Path:
    """Reliability diagrams: ``{name: [bins of task 0, bins of task 1, ...]}`` from :mod:`peakcnn.metrics`."""
    plt, fig, axes = _panels(len(tasks))
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
        ax.set(title=tasks[t], xlabel="mean predicted probability", ylabel="fraction positive")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7, loc="upper left")
    return _save(plt, fig, path)


def plot_history(rows: list[dict], path: Path, title: str = "") -> Path | None:
    """Training curves from ``history.csv`` rows: losses, then validation auROC/auPRC and accuracies."""
    if not rows:
        return None
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    epochs = [r["epoch"] for r in rows]
    ax1.plot(epochs, [r["train_loss"] for r in rows], marker=".", label="train loss")
    ax1.plot(epochs, [r["valid_loss"] for r in rows], marker=".", label="valid loss")
    ax1.set(xlabel="epoch", ylabel="binary cross-entropy", title=title or "loss")
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
    return _save(plt, fig, path)

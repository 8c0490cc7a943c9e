"""Classification metrics for peak models: per task and macro-averaged, with calibration.

Every figure comes with the number of windows it was computed on. Probabilities are compared with labels
``1`` (positive) / ``0`` (negative). auROC and auPRC are ``NaN`` where a task has only one class; macro
averages leave those tasks out of every mean. The chance level of auPRC is the positive rate, reported beside it.
"""

from __future__ import annotations

import math

import numpy as np

_EPS = 1e-7


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function, float64 out."""
    x = np.asarray(logits, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean binary cross-entropy of probabilities ``p`` against labels ``y`` (probabilities clipped)."""
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    y = np.asarray(y, dtype=np.float64)
    if y.size == 0:
        return math.nan
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def auroc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve, ``NaN`` if ``y`` holds a single class."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    if y.size == 0 or y.min() == y.max():
        return math.nan
    return float(roc_auc_score(y, p))


def rank_auroc(y: np.ndarray, p: np.ndarray) -> float:
    """:func:`auroc` as the Mann-Whitney statistic (tied scores share their mean rank), which equals
    scikit-learn's to float precision without importing it: importing scikit-learn takes about 1.5 s, half
    of what ``prepare`` takes for its GC-alone figure on a chromosome's peaks."""
    y, p = np.asarray(y).astype(bool).ravel(), np.asarray(p, dtype=np.float64).ravel()
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(p, kind="stable")
    ordered = p[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], ordered.size]
    ranks = np.empty(ordered.size)
    ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)  # 1-based mean rank of each tie group
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(y: np.ndarray, p: np.ndarray) -> float:
    """Average precision (sklearn), ``NaN`` if ``y`` has no positive or no negative."""
    from sklearn.metrics import average_precision_score

    y = np.asarray(y)
    if y.size == 0 or y.min() == y.max():
        return math.nan
    return float(average_precision_score(y, p))


def bootstrap_scores(y: np.ndarray, p: np.ndarray, n_boot: int = 1000, seed: int = 0, chunk: int = 100) -> dict:
    """auROC and auPRC of ``n_boot`` stratified bootstrap resamples of the windows.

    Positives and negatives are each drawn with replacement to their own count, so every resample keeps the
    positive rate (auPRC's chance level). Each resample is scored as :func:`auroc` and :func:`auprc` would
    score the drawn windows (ties ranked together; average precision over distinct scores), from per-window
    draw counts over the windows sorted once, ``chunk`` resamples at a time.

    Returns
    -------
    dict
        ``auroc`` and ``auprc``: arrays ``(n_boot,)`` (empty when ``y`` holds a single class).
    """
    y = np.asarray(y).astype(bool).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    if pos.size == 0 or neg.size == 0:
        return {"auroc": np.empty(0), "auprc": np.empty(0)}
    order = np.argsort(-p, kind="stable")
    rank = np.empty(p.size, dtype=np.int64)
    rank[order] = np.arange(p.size)
    # first sorted position of each run of equal scores
    starts = np.flatnonzero(np.r_[True, np.diff(p[order]) != 0])
    rng = np.random.default_rng(seed)
    n = p.size
    out = {"auroc": np.empty(n_boot), "auprc": np.empty(n_boot)}
    for lo in range(0, n_boot, chunk):
        b = min(chunk, n_boot - lo)
        rows = np.arange(b)[:, None] * n

        def counts(members, rows=rows, b=b):
            drawn = rank[rng.choice(members, (b, members.size))] + rows
            return np.bincount(drawn.ravel(), minlength=b * n).reshape(b, n)

        w_pos = np.add.reduceat(counts(pos), starts, axis=1).astype(np.float64)
        w_neg = np.add.reduceat(counts(neg), starts, axis=1).astype(np.float64)
        tp, fp = np.cumsum(w_pos, axis=1), np.cumsum(w_neg, axis=1)
        out["auroc"][lo : lo + b] = (w_neg * (tp - 0.5 * w_pos)).sum(axis=1) / (pos.size * neg.size)
        called = tp + fp
        precision = np.divide(tp, called, out=np.zeros_like(tp), where=called > 0)
        out["auprc"][lo : lo + b] = (w_pos * precision).sum(axis=1) / pos.size
    return out


def bootstrap_interval(y: np.ndarray, p: np.ndarray, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> dict:
    """Percentile intervals of auROC and auPRC over stratified bootstrap resamples (:func:`bootstrap_scores`).

    The interval says how far the figure could move on another draw of as many windows from the same kind of
    regions; it does not cover the spread between training seeds.

    Returns
    -------
    dict
        ``auroc`` and ``auprc`` as ``[low, high]`` (``NaN`` when ``y`` holds a single class), ``n_boot``,
        ``level`` and ``seed``.
    """
    draws = bootstrap_scores(y, p, n_boot, seed)
    out = {"auroc": [math.nan, math.nan], "auprc": [math.nan, math.nan], "n_boot": n_boot, "level": level, "seed": seed}
    tail = (1 - level) / 2
    for key, values in draws.items():
        if values.size:
            out[key] = [float(v) for v in np.quantile(values, [tail, 1 - tail])]
    return out


#: What an interval from :func:`add_intervals` is, for reports.
INTERVAL_METHOD = "stratified bootstrap of the windows (positives and negatives each resampled to their own count)"


def add_intervals(
    metrics: dict, labels: np.ndarray, probs: np.ndarray, tasks: list[str], n_boot: int, level: float = 0.95
) -> dict:
    """Add ``auroc_interval`` and ``auprc_interval`` (``[low, high]``, :func:`bootstrap_interval`, seed 0)
    to each task of a :func:`multitask_metrics` result, and to its macro average when that averages one
    task (a macro average over several tasks gets none). Returns ``metrics``, changed in place."""
    labels = np.asarray(labels).reshape(len(labels), -1)
    probs = np.asarray(probs).reshape(len(probs), -1)
    macro = metrics["macro"]
    for i, task in enumerate(tasks):
        ci = bootstrap_interval(labels[:, i], probs[:, i], n_boot=n_boot, level=level)
        for key in ("auroc", "auprc"):
            metrics["tasks"][task][f"{key}_interval"] = ci[key]
            if macro["n_tasks"] == 1 and task not in macro.get("tasks_left_out", []):
                macro[f"{key}_interval"] = ci[key]
    return metrics


def reliability_bins(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> list[dict]:
    """Equal-width probability bins: count, mean predicted probability and observed positive fraction."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    which = np.minimum((p * n_bins).astype(int), n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    sum_p = np.bincount(which, weights=p, minlength=n_bins)
    sum_y = np.bincount(which, weights=y, minlength=n_bins)
    bins = []
    for b in range(n_bins):
        n = int(count[b])
        bins.append(
            {
                "lo": b / n_bins,
                "hi": (b + 1) / n_bins,
                "n": n,
                "mean_predicted": float(sum_p[b] / n) if n else math.nan,
                "fraction_positive": float(sum_y[b] / n) if n else math.nan,
            }
        )
    return bins


def expected_calibration_error(bins: list[dict]) -> float:
    """ECE: window-weighted mean of ``|observed - predicted|`` over the reliability bins."""
    total = sum(b["n"] for b in bins)
    if total == 0:
        return math.nan
    return float(sum(b["n"] * abs(b["fraction_positive"] - b["mean_predicted"]) for b in bins if b["n"]) / total)


def binary_metrics(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> dict:
    """All metrics of one task.

    Parameters
    ----------
    y
        Labels ``(n,)``, 0/1.
    p
        Predicted probabilities ``(n,)``.

    Returns
    -------
    dict
        ``n``, ``n_pos``, ``n_neg``, ``positive_rate``, ``loss``, ``accuracy`` (threshold 0.5), ``auroc``,
        ``auprc``, ``brier``, ``ece`` and ``reliability`` (list of bins).
    """
    y = np.asarray(y).astype(np.float64).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    n = int(y.size)
    n_pos = int(y.sum())
    bins = reliability_bins(y, p, n_bins)
    return {
        "n": n,
        "n_pos": n_pos,
        "n_neg": n - n_pos,
        "positive_rate": n_pos / n if n else math.nan,
        "loss": log_loss(y, p),
        "accuracy": float(np.mean((p >= 0.5) == (y == 1))) if n else math.nan,
        "auroc": auroc(y, p),
        "auprc": auprc(y, p),
        "brier": float(np.mean((p - y) ** 2)) if n else math.nan,
        "ece": expected_calibration_error(bins),
        "reliability": bins,
    }


MACRO_KEYS = ("positive_rate", "loss", "accuracy", "auroc", "auprc", "brier", "ece")


def two_class_tasks(per_task: dict[str, dict]) -> list[str]:
    """The tasks with both classes in the split, where auROC and auPRC exist."""
    return [t for t, m in per_task.items() if m["n_pos"] and m["n_neg"]]


def scored_tasks(per_task: dict[str, dict]) -> list[str]:
    """The tasks a macro average is taken over: :func:`two_class_tasks`, or every task when none has both."""
    return two_class_tasks(per_task) or list(per_task)


def macro_average(per_task: dict[str, dict]) -> dict:
    """Unweighted mean of each scalar metric over the same tasks, :func:`scored_tasks`: a task with one
    class in the split (no auROC, auPRC or chance level) is left out of every mean, so the mean positive
    rate is the chance level of the mean auPRC. ``n`` is the number of windows (every task labels the same
    windows); ``n_pos`` and ``n_neg`` count the labels of the averaged tasks; ``n_tasks`` is their number
    and ``tasks_left_out`` names the others."""
    tasks = scored_tasks(per_task)
    out: dict = {}
    for key in MACRO_KEYS:
        vals = [per_task[t][key] for t in tasks if per_task[t].get(key) is not None]
        vals = [v for v in vals if not math.isnan(v)]
        out[key] = float(np.mean(vals)) if vals else math.nan
    out["n"] = int(max((m["n"] for m in per_task.values()), default=0))
    for key in ("n_pos", "n_neg"):
        out[key] = int(sum(per_task[t][key] for t in tasks))
    out["n_tasks"] = len(tasks)
    out["tasks_left_out"] = [t for t in per_task if t not in tasks]
    return out


def multitask_metrics(labels: np.ndarray, probs: np.ndarray, tasks: list[str]) -> dict:
    """Metrics of every task (columns of ``labels``/``probs``) and their macro average.

    Returns
    -------
    dict
        ``{"tasks": {name: binary_metrics}, "macro": macro_average}``.
    """
    labels = np.asarray(labels).reshape(len(labels), -1)
    probs = np.asarray(probs).reshape(len(probs), -1)
    per_task = {t: binary_metrics(labels[:, i], probs[:, i]) for i, t in enumerate(tasks)}
    return {"tasks": per_task, "macro": macro_average(per_task)}


def quick_scores(labels: np.ndarray, probs: np.ndarray) -> dict:
    """Macro accuracy, auROC and auPRC without calibration detail (used once per training epoch), over the
    same tasks as :func:`macro_average`."""
    labels = np.asarray(labels).reshape(len(labels), -1)
    probs = np.asarray(probs).reshape(len(probs), -1)
    both = [i for i in range(labels.shape[1]) if 0 < labels[:, i].sum() < len(labels)]
    acc, roc, prc = [], [], []
    for i in both or range(labels.shape[1]):
        y, p = labels[:, i], probs[:, i]
        acc.append(float(np.mean((p >= 0.5) == (y == 1))) if len(y) else math.nan)
        roc.append(auroc(y, p))
        prc.append(auprc(y, p))

    def mean(vals):
        vals = [v for v in vals if not math.isnan(v)]
        return float(np.mean(vals)) if vals else math.nan

    return {"accuracy": mean(acc), "auroc": mean(roc), "auprc": mean(prc)}


def json_safe(obj):
    """Replace ``NaN``/``inf`` floats by ``None`` recursively, so the result is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    return obj

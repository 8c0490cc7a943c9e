"""Sequence-composition baselines a CNN has to beat: GC content and k-mer logistic regressions.

Each baseline is fitted on the training split, one logistic regression per task, and scored on the split
being evaluated. k-mers are counted on both strands (each k-mer and its reverse complement are one
*canonical* feature), with numpy only: base-4 indices of all windows at once, then one ``bincount``.
k-mers overlapping an ``N`` are skipped; counts become per-window frequencies, then are standardised.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from peakcnn.metrics import auprc
from peakcnn.sequence import N_CODE, gc_fraction

log = logging.getLogger(__name__)

#: Inverse L2 strengths tried for the regularised baseline, chosen on validation auPRC.
C_GRID = (1e-3, 1e-2, 1e-1, 1.0)


@dataclass
class Baseline:
    """A baseline: its feature extractor and whether the L2 strength is chosen on the validation split."""

    name: str
    label: str
    k: int = 0  # 0 = GC content
    tune_c: bool = False
    chosen_c: list = field(default_factory=list)
    untuned: list = field(default_factory=list)  # tasks whose C could not be chosen on valid
    unfitted: list = field(default_factory=list)  # tasks with one class in train: a constant prediction


def default_baselines() -> list[Baseline]:
    return [
        Baseline("gc", "GC-content logistic regression"),
        Baseline("kmer4", "4-mer logistic regression", k=4),
        Baseline("kmer6", "6-mer logistic regression (L2 chosen on valid)", k=6, tune_c=True),
    ]


def canonical_columns(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of canonical k-mers (index <= index of reverse complement) and each k-mer's rc index."""
    idx = np.arange(4**k)
    digits = (idx[:, None] // 4 ** np.arange(k - 1, -1, -1)) % 4  # most significant first
    rc = ((3 - digits[:, ::-1]) * 4 ** np.arange(k - 1, -1, -1)).sum(axis=1)
    return np.flatnonzero(idx <= rc), rc


def kmer_counts(codes: np.ndarray, k: int, canonical: bool = True, chunk: int = 512) -> np.ndarray:
    """k-mer counts per window.

    Parameters
    ----------
    codes
        uint8 codes ``(n, L)``.
    k
        k-mer length.
    canonical
        Merge each k-mer with its reverse complement (counts both strands).

    Returns
    -------
    numpy.ndarray
        float32 ``(n, F)``: ``F = 4**k``, or the number of canonical k-mers.
    """
    codes = np.asarray(codes, dtype=np.uint8)
    n, length = codes.shape
    keep, rc_of = canonical_columns(k)
    n_out = len(keep) if canonical else 4**k
    out = np.zeros((n, n_out), np.float32)
    m = length - k + 1
    if m <= 0:
        return out
    for lo in range(0, n, chunk):
        c = codes[lo : lo + chunk].astype(np.int64)
        idx = np.zeros((len(c), m), np.int64)
        has_n = np.zeros((len(c), m), bool)
        for j in range(k):  # k vectorised passes over all windows and positions
            part = c[:, j : j + m]
            idx = idx * 4 + np.minimum(part, 3)
            has_n |= part >= N_CODE
        if canonical:
            idx = np.minimum(idx, rc_of[idx])
        rows = np.broadcast_to(np.arange(len(c))[:, None], idx.shape)
        flat = (rows * 4**k + idx)[~has_n]
        counts = np.bincount(flat, minlength=len(c) * 4**k).reshape(len(c), 4**k)
        out[lo : lo + len(c)] = counts[:, keep] if canonical else counts
    return out


def features(baseline: Baseline, codes: np.ndarray) -> np.ndarray:
    """Feature matrix of a baseline: GC fraction, or canonical k-mer frequencies."""
    if baseline.k == 0:
        gc = gc_fraction(codes)
        return np.nan_to_num(gc, nan=0.5).reshape(-1, 1).astype(np.float64)
    counts = kmer_counts(codes, baseline.k)
    total = counts.sum(axis=1, keepdims=True)
    return counts / np.maximum(total, 1)


def _fit(x: np.ndarray, y: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    return model.fit(x, y)


def _choose_c(x, y, xv, yv) -> float | None:
    """The C of :data:`C_GRID` with the highest validation auPRC, or ``None`` when the validation labels
    hold one class (nothing to choose on)."""
    if len(yv) == 0 or yv.min() == yv.max():
        return None
    scores = {c: auprc(yv, _fit(x, y, c).predict_proba(xv)[:, 1]) for c in C_GRID}
    return max(scores, key=lambda c: (scores[c], -c))


def fit_predict(baseline: Baseline, train, valid, test, tasks: list[str] | None = None, step=None) -> np.ndarray:
    """Fit one regression per task on ``train`` and return test probabilities ``(n_test, T)``.

    ``train``, ``valid`` and ``test`` are ``(codes, labels)`` pairs (uint8 arrays); ``tasks`` names the
    tasks in warnings. A baseline that chooses C on ``valid`` falls back to ``C = 1`` for a task with one
    class there, with a warning, and lists that task in ``baseline.untuned``. ``step()`` is called after
    each task (progress).
    """
    x, xv, xt = (features(baseline, s[0]) for s in (train, valid, test))
    n_tasks = train[1].shape[1]
    names = tasks or [str(t) for t in range(n_tasks)]
    probs = np.zeros((len(xt), n_tasks))
    baseline.chosen_c, baseline.untuned, baseline.unfitted = [], [], []
    for t in range(n_tasks):
        probs[:, t] = _task_probs(baseline, names[t], x, xv, xt, train[1][:, t], valid[1][:, t])
        if step is not None:
            step()
    return probs


def _task_probs(baseline: Baseline, name: str, x, xv, xt, y, yv) -> np.ndarray:
    """Test probabilities of one task; appends its C to ``baseline.chosen_c`` (``None``: not fitted)."""
    if y.min() == y.max():
        log.warning(f"warning: baseline {baseline.name}: task {name} has one class in the training split")
        baseline.chosen_c.append(None)
        baseline.unfitted.append(name)
        return np.full(len(xt), float(y.mean()) if len(y) else math.nan)
    c = _choose_c(x, y, xv, yv) if baseline.tune_c else 1.0
    if c is None:
        why = "the valid split is empty" if len(yv) == 0 else f"task {name} has one class in the valid split"
        log.warning(f"warning: baseline {baseline.name}: {why}, so its L2 strength is not chosen there: C = 1")
        baseline.untuned.append(name)
        c = 1.0
    baseline.chosen_c.append(c)
    return _fit(x, y, c).predict_proba(xt)[:, 1] if len(xt) else np.zeros(0)


def with_note(label: str, note: str) -> str:
    """``label`` with ``note`` added inside its closing bracket, or in a bracket of its own."""
    return f"{label[:-1]}; {note})" if label.endswith(")") else f"{label} ({note})"


def run_baselines(
    train, valid, test, baselines: list[Baseline] | None = None, tasks: list[str] | None = None, progress: bool = True
):
    """Fit every baseline; returns ``{name: {"label", "plain_label", "task_notes", "probs", "chosen_c",
    "fitted", "tuned"}}``: ``fitted`` and ``tuned`` say whether ``train`` fitted, and ``valid`` chose the C
    of, at least one task. The label of a baseline not fitted, or whose C could not be chosen on ``valid``,
    for some task says so; ``plain_label`` is the label without those notes and ``task_notes`` holds them
    task by task. A progress bar shows on a terminal unless ``progress`` is False."""
    from tqdm import tqdm

    out = {}
    baselines = baselines or default_baselines()
    n_tasks = train[1].shape[1]
    log.info(
        f"fitting {len(baselines)} baseline(s) for {n_tasks} task(s) on {len(train[1]):,} training windows "
        "(--no-baselines skips them)"
    )
    total = len(baselines) * n_tasks
    bar = tqdm(total=total, desc="baselines", unit="fit", leave=False, disable=None if progress else True)
    for b in baselines:
        probs = fit_predict(b, train, valid, test, tasks, step=bar.update)
        label = b.label
        task_notes = {}
        untuned = "no valid windows" if len(valid[1]) == 0 else "one class in valid"
        for tasks_of, what, why in (
            (b.unfitted, "not fitted", "one class in train, a constant"),
            (b.untuned, "C = 1", untuned),
        ):
            if tasks_of:
                label = with_note(label, f"{what} for {', '.join(tasks_of)}: {why}")
            for task in tasks_of:
                task_notes[task] = "; ".join(filter(None, (task_notes.get(task), f"{what}: {why}")))
        out[b.name] = {
            "label": label,
            "plain_label": b.label,
            "task_notes": task_notes,
            "probs": probs,
            "chosen_c": b.chosen_c,
            "fitted": len(b.unfitted) < n_tasks,  # on the train split, for some task
            "tuned": b.tune_c and len(b.unfitted) + len(b.untuned) < n_tasks,  # C chosen on valid for some task
        }
    bar.close()
    return out

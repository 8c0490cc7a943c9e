"""Data set statistics for the manifest and the diagnostics printed after ``peakcnn prepare``.

Classes are ``positive`` (peak windows, ``source == 0``) and ``negative`` (generated, ``source == 1``).
The N-content comparison between classes is the leak check: when one class holds more ``N`` (padding,
assembly gaps) than the other, a model can separate the classes by ``N`` alone.
"""

from __future__ import annotations

import math

import numpy as np

from peakcnn.data.split import SPLIT_NAMES
from peakcnn.data.store import WindowTable
from peakcnn.data.windows import window_stats

#: Largest tolerated difference between classes in mean N fraction and in the share of windows with any N.
N_MEAN_TOLERANCE = 0.002
N_ANY_TOLERANCE = 0.02
#: GC-matched negatives whose GC separates them from the peak windows of a split with an auROC further
#: than this from 0.5 (either way) are warned about: the genome outside the peaks lacked windows of their GC.
GC_AUROC_TOLERANCE = 0.1


def _group(gc: np.ndarray, nf: np.ndarray, mask: np.ndarray) -> dict:
    n = int(mask.sum())
    if n == 0:
        return {"windows": 0, "gc_mean": None, "n_fraction_mean": None, "with_n": None}
    return {
        "windows": n,
        "gc_mean": round(float(gc[mask].mean()), 4),
        "n_fraction_mean": round(float(nf[mask].mean()), 6),
        "with_n": round(float((nf[mask] > 0).mean()), 4),
    }


def table_stats(table: WindowTable) -> dict:
    """Counts, GC and N per split and class, and positives per task and split."""
    gc, nf = window_stats(table.seqs)
    classes = {"positive": table.source == 0, "negative": table.source == 1}
    out = {"classes": {}, "tasks": {}}
    for cls, cmask in classes.items():
        out["classes"][cls] = {"all": _group(gc, nf, cmask)}
        for k, name in enumerate(SPLIT_NAMES):
            out["classes"][cls][name] = _group(gc, nf, cmask & (table.split == k))
    for t, task in enumerate(table.tasks):
        lab = table.labels[:, t] == 1
        out["tasks"][task] = {
            name: {
                "positive": int((lab & (table.split == k)).sum()),
                "negative": int((~lab & (table.split == k)).sum()),
            }
            for k, name in enumerate(SPLIT_NAMES)
        }
        out["tasks"][task]["n_fraction"] = {"positive": _group(gc, nf, lab), "negative": _group(gc, nf, ~lab)}
    out["windows"] = {name: int((table.split == k).sum()) for k, name in enumerate(SPLIT_NAMES)}
    out["gc_auroc"] = {name: _gc_auroc(gc, table.source, table.split == k) for k, name in enumerate(SPLIT_NAMES)}
    return out


def _gc_auroc(gc: np.ndarray, source: np.ndarray, in_split: np.ndarray) -> float | None:
    """How well GC content alone tells the split's peak windows (``source == 0``) from its negatives:
    auROC with GC as the score (0.5: not at all), ``None`` without both classes."""
    from peakcnn.metrics import rank_auroc

    value = rank_auroc(source[in_split] == 0, gc[in_split])
    return None if np.isnan(value) else round(value, 4)


def gc_warnings(stats: dict, negatives: str) -> list[str]:
    """A warning when GC-matched negatives do not match the peak windows' GC in some split: GC alone separates
    the classes with an auROC further from 0.5 than :data:`GC_AUROC_TOLERANCE` and than three standard
    errors of an auROC of no difference (small splits)."""
    if negatives != "gc-matched":
        return []
    off = []
    for name in SPLIT_NAMES:
        value = stats["gc_auroc"][name]
        if value is None:
            continue
        pos, neg = (stats["classes"][cls][name] for cls in ("positive", "negative"))
        n1, n2 = pos["windows"], neg["windows"]
        noise = 3 * math.sqrt((n1 + n2 + 1) / (12 * n1 * n2))  # Hanley-McNeil standard error at auROC 0.5
        if abs(value - 0.5) > max(GC_AUROC_TOLERANCE, noise):
            off.append(f"{name} {value:.3f}, mean GC {pos['gc_mean']:.3f} vs {neg['gc_mean']:.3f}")
    if not off:
        return []
    return [
        f"GC-matched negatives do not match the peak windows' GC (GC alone separates the classes with auROC: "
        f"{'; '.join(off)}): the genome outside the peaks holds too few windows of the peaks' GC, so a model can "
        "tell the classes apart by GC alone - consider --negatives shuffled"
    ]


def n_warnings(stats: dict) -> list[str]:
    """Warnings where N content differs between classes (peak vs negative windows, and per task)."""
    pairs = [
        (
            "peak windows vs negatives",
            stats["classes"]["positive"]["all"],
            stats["classes"]["negative"]["all"],
        )
    ]
    for task, d in stats["tasks"].items():
        if len(stats["tasks"]) > 1 or stats["classes"]["negative"]["all"]["windows"] == 0:
            pairs.append(
                (
                    f"task {task} positives vs negatives",
                    d["n_fraction"]["positive"],
                    d["n_fraction"]["negative"],
                )
            )
    out = []
    for what, a, b in pairs:
        if not a["windows"] or not b["windows"]:
            continue
        d_mean = abs(a["n_fraction_mean"] - b["n_fraction_mean"])
        d_any = abs(a["with_n"] - b["with_n"])
        if d_mean > N_MEAN_TOLERANCE or d_any > N_ANY_TOLERANCE:
            out.append(
                f"N content differs between classes ({what}: mean N fraction {a['n_fraction_mean']:.4f} vs "
                f"{b['n_fraction_mean']:.4f}, windows with any N {a['with_n']:.1%} vs {b['with_n']:.1%}); "
                "a model can tell the classes apart by N alone - lower --max-n-frac"
            )
    return out


def _fmt(x, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _centring(report: dict, task: str) -> str:
    """`` (narrowPeak, 95 kept peaks centred on their summit)``: the format read and how many of the peaks kept
    (on the genome's chromosomes, starting before their ends) are centred on a summit rather than a midpoint;
    peaks merged into one window share the middle of their centres."""
    if task not in report.get("peaks_format", {}):
        return ""
    kind = report["peaks_format"][task]
    if "peaks_kept_centred_on_summit" in report:
        return f" ({kind}, {report['peaks_kept_centred_on_summit'][task]} kept peaks centred on their summit)"
    # a data set of an earlier version, reused: it counted the peaks read with a summit, dropped ones too
    return f" ({kind}, {report['peaks_centred_on_summit'][task]} read with a summit)"


def format_diagnostics(manifest: dict) -> str:
    """Human-readable summary of a prepare manifest: balance, GC and N per class and split, drops."""
    st, rep = manifest["stats"], manifest["report"]
    lines = [
        f"data set: {manifest['output']} ({st['windows']['train']} train, {st['windows']['valid']} valid, "
        f"{st['windows']['test']} test windows; split by {rep['split_layout']['mode']})"
    ]
    # The label column fits the longest task name, which is never cut.
    w = max([26, *(len("positives " + task) + 1 for task in st["tasks"])])
    header = f"  {'':<{w}}" + "".join(f"{s:>10}" for s in SPLIT_NAMES)
    lines.append(header)
    for cls in ("positive", "negative"):
        row = st["classes"][cls]
        lines.append(f"  {cls + ' windows':<{w}}" + "".join(f"{row[s]['windows']:>10}" for s in SPLIT_NAMES))
    for cls in ("positive", "negative"):
        row = st["classes"][cls]
        lines.append(
            f"  {'GC mean ' + cls:<{w}}" + "".join(f"{_fmt(row[s]['gc_mean'], '.3f'):>10}" for s in SPLIT_NAMES)
        )
    if "gc_auroc" in st:  # manifests of older versions lack it
        lines.append(
            f"  {'GC alone, auROC':<{w}}" + "".join(f"{_fmt(st['gc_auroc'][s], '.3f'):>10}" for s in SPLIT_NAMES)
        )
    for cls in ("positive", "negative"):
        row = st["classes"][cls]
        lines.append(
            f"  {'N fraction ' + cls:<{w}}"
            + "".join(f"{_fmt(row[s]['n_fraction_mean'], '.4f'):>10}" for s in SPLIT_NAMES)
        )
    for task, d in st["tasks"].items():
        lines.append(f"  {'positives ' + task:<{w}}" + "".join(f"{d[s]['positive']:>10}" for s in SPLIT_NAMES))
    dropped = rep["windows_dropped"]
    lines.append(
        f"  duplicates removed: {dropped.get('identical sequence (duplicate)', 0)}; windows dropped: "
        + ", ".join(f"{k} {v}" for k, v in dropped.items() if not k.startswith("identical"))
        + f"; N-padded windows: {rep['windows_padded']['positive']} positive, "
        + f"{rep['windows_padded']['negative']} negative"
    )
    for task, reasons in rep["peaks_dropped"].items():
        off = sum(reasons["chromosome not in genome"].values())
        lines.append(
            f"  peaks {task}: {rep['peaks_read'][task]} read{_centring(rep, task)}, {off} on chromosomes not in "
            "the genome, "
            f"{reasons['start at or past chromosome end']} past a chromosome end, "
            f"{rep['peaks_clipped_at_chromosome_end'][task]} clipped at a chromosome end"
        )
    lines.append(f"  cross-split overlapping windows: {rep['cross_split_overlaps']}")
    lines += [f"WARNING: {w}" for w in manifest.get("warnings", [])]
    return "\n".join(lines)

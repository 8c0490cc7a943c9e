"""The evaluation report: one self-contained HTML page (figures embedded as base64 PNG).

The page states what every number was computed on: the split and its window counts, the type of
negatives, the split mode and the data set attributes, and shows the CNN next to the baselines.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

from peakcnn.baselines import with_note
from peakcnn.metrics import two_class_tasks
from peakcnn.plots import MAX_PANELS

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:0.6em 0 1.2em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f0f0f0}td.l,th.l{text-align:left}tr.cnn{font-weight:bold}.note{background:#fff8e0;padding:6px}
img{max-width:100%}code{background:#f4f4f4;padding:0 3px}.small{font-size:0.85em;color:#555}
"""

_MACRO_COLUMNS = (
    ("auroc", "auROC"),
    ("auprc", "auPRC"),
    ("positive_rate", "auPRC chance (positive rate)"),
    ("accuracy", "accuracy @0.5"),
    ("loss", "log loss"),
    ("brier", "Brier"),
    ("ece", "ECE"),
)


def fmt(value, digits: int = 3) -> str:
    """A number for a table cell (``n/a`` for missing or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def has_interval(m: dict, key: str) -> bool:
    """Whether ``m[key + "_interval"]`` is an interval to show (two numbers, neither NaN)."""
    ci = m.get(f"{key}_interval")
    return bool(ci) and not any(v is None or math.isnan(v) for v in ci)


def fmt_interval(m: dict, key: str, digits: int = 3) -> str:
    """``m[key]`` with its interval ``m[key + "_interval"]`` in brackets when there is one."""
    if not has_interval(m, key):
        return fmt(m[key], digits)
    ci = m[f"{key}_interval"]
    return f"{fmt(m[key], digits)} ({ci[0]:.{digits}f}-{ci[1]:.{digits}f})"


def interval_note(doc: dict, macro_only: bool = False) -> str:
    """What the bracketed intervals are, or nothing when no table shows one: the evaluation computed none,
    or every auROC and auPRC is undefined (one class). ``macro_only``: only the macro rows are shown."""
    ci = doc.get("intervals")
    shown = [model["metrics"]["macro"] for model in doc["models"].values()]
    if not macro_only:
        shown += [m for model in doc["models"].values() for m in model["metrics"]["tasks"].values()]
    if not ci or not any(has_interval(m, key) for m in shown for key in ("auroc", "auprc")):
        return ""
    return (
        f"In brackets: {ci['level']:.0%} intervals of auROC and auPRC, {ci['method']}, {ci['resamples']:,} "
        "resamples: how far a figure could move on as many other windows of the same kind; the spread between "
        "training seeds is not in them."
    )


def negatives_text(ds: dict) -> str:
    """The kind of negatives, and how many of each task's negatives are other tasks' peak windows."""
    shared = {t: d for t, d in ds.get("negatives_by_task", {}).items() if d["peaks_of_other_tasks"]}
    if not shared:
        return ds["negatives"]
    counts = ", ".join(
        f"{t} {d['peaks_of_other_tasks']:,} of {d['peaks_of_other_tasks'] + d['generated']:,}"
        for t, d in shared.items()
    )
    return f"{ds['negatives']}, and the peak windows of other tasks ({counts} negatives)"


def _esc(value) -> str:
    return html.escape(str(value))


def window_counts(m: dict) -> str:
    """Windows and labels: ``n (pos / neg)`` for one task; windows x tasks and the labels of the averaged
    tasks for a macro average over several, naming the tasks left out for having one class only."""
    left_out = m.get("tasks_left_out") or []
    if m.get("n_tasks", 1) > 1 or left_out:
        of = f" of {m['n_tasks'] + len(left_out)}" if left_out else ""
        out = f"; left out, one class: {', '.join(left_out)}" if left_out else ""
        return f"{m['n']:,} windows x {m['n_tasks']}{of} tasks ({m['n_pos']:,} pos / {m['n_neg']:,} neg labels{out})"
    return f"{m['n']:,} ({m['n_pos']:,} pos / {m['n_neg']:,} neg)"


def _table(header: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th class='l'>{h}</th>" if i == 0 else f"<th>{h}</th>" for i, h in enumerate(header))
    body = []
    for r, row in enumerate(rows):
        cls = f" class='{classes[r]}'" if classes and classes[r] else ""
        cells = "".join(f"<td class='l'>{c}</td>" if i == 0 else f"<td>{c}</td>" for i, c in enumerate(row))
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def comparison_table(doc: dict) -> str:
    """Macro metrics of every model, with the windows they were computed on."""
    header = ["model", "windows"] + [label for _, label in _MACRO_COLUMNS]
    rows, classes = [], []
    for name, model in doc["models"].items():
        m = model["metrics"]["macro"]
        rows.append([_esc(model["label"]), _esc(window_counts(m))] + [fmt_interval(m, k) for k, _ in _MACRO_COLUMNS])
        classes.append("cnn" if name == "CNN" else "")
    return _table(header, rows, classes)


def task_label(model: dict, task: str) -> str:
    """A model's label on one task's row: a baseline's notes (not fitted, C not chosen) only where they
    concern that task."""
    label, note = model.get("plain_label", model["label"]), model.get("task_notes", {}).get(task)
    return with_note(label, note) if note else label


def per_task_table(doc: dict) -> str:
    header = ["task", "model", "windows", "auROC", "auPRC", "positive rate", "accuracy @0.5", "ECE"]
    rows = []
    for task in doc["dataset"]["tasks"]:
        for model in doc["models"].values():
            m = model["metrics"]["tasks"][task]
            rows.append(
                [_esc(task), _esc(task_label(model, task)), _esc(window_counts(m))]
                + [fmt_interval(m, k) for k in ("auroc", "auprc", "positive_rate", "accuracy", "ece")]
            )
    return _table(header, rows)


def calibrated_task(doc: dict) -> str:
    """The task whose reliability bins the report tabulates: the first with both classes in the split."""
    return (two_class_tasks(doc["models"]["CNN"]["metrics"]["tasks"]) or doc["dataset"]["tasks"])[0]


def reliability_table(doc: dict, task: str) -> str:
    """Reliability bins of the CNN for ``task`` (the report's :func:`calibrated_task`)."""
    bins = doc["models"]["CNN"]["metrics"]["tasks"][task]["reliability"]
    rows = [
        [f"{b['lo']:.1f}-{b['hi']:.1f}", fmt(b["n"]), fmt(b["mean_predicted"]), fmt(b["fraction_positive"])]
        for b in bins
    ]
    return _table(["predicted probability", "windows", "mean predicted", "fraction positive"], rows)


def members_table(members: list[dict]) -> str:
    """One row per member of an ensemble: its run folder, architecture, selected epoch and recipe note."""
    rows = [
        [
            f"<code>{_esc(m['run'])}</code>",
            _esc(m["arch"]),
            f"{fmt(m['epoch'])} ({_esc(m['selected_by'])})",
            _esc(m["note"]),
            f"<code>{_esc((m['training_dataset_sha256'] or '')[:12])}</code>",
        ]
        for m in members
    ]
    return _table(["member run", "arch", "epoch (selected by)", "note", "data set sha256"], rows)


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    img = f"<img alt='{_esc(alt)}' src='data:image/png;base64,{data}'>"
    return f"<figure>{img}<figcaption>{_esc(alt)}</figcaption></figure>"


def _kv_table(items: dict) -> str:
    rows = []
    for k, v in items.items():
        text = v if isinstance(v, str) else json.dumps(v)
        rows.append([_esc(k), f"<code>{_esc(text[:400] + ('...' if len(text) > 400 else ''))}</code>"])
    return _table(["key", "value"], rows)


def _summary(doc: dict) -> str:
    ds, split = doc["dataset"], doc["split"]
    cnn = doc["models"]["CNN"]["metrics"]["macro"]
    parts = [
        f"<p>Split <b>{_esc(split)}</b> of <code>{_esc(ds['path'])}</code>: <b>{_esc(window_counts(cnn))}</b>"
        f"{'' if len(ds['tasks']) > 1 else ' windows'}, {len(ds['tasks'])} task(s), {ds['window']} bp.</p>",
        f"<p>Negatives: <b>{_esc(negatives_text(ds))}</b>. Split mode: <b>{_esc(ds['split_mode'])}</b> "
        f"(windows per split: {', '.join(f'{k} {v:,}' for k, v in ds['counts'].items())}). "
        f"The CNN is scored on the <b>{_esc(doc['model']['strands'])}</b>.</p>",
    ]
    held = ds["chromosomes_by_split"].get(split, {})
    parts.append(
        f"<p>Task(s): <b>{_esc(', '.join(ds['tasks']))}</b>. Chromosomes in the {_esc(split)} split (windows): "
        f"{_esc(', '.join(f'{c} ({n:,})' for c, n in held.items()) or 'none')}. Regions of the {_esc(split)} "
        f"split (1-based, inclusive): {_esc('; '.join(ds.get('regions_by_split', {}).get(split, [])) or 'n/a')}.</p>"
    )
    if doc.get("caveat"):
        parts.append(f"<p class='note'>Split {_esc(split)}: {_esc(doc['caveat'])}.</p>")
    if not ds["matches_training"]:
        overlap = (
            "the caveat above counts its windows that overlap windows the model was trained or selected on"
            if ds.get("training_overlap") != "none"
            else f"none of its {split} windows overlaps a window the model was trained or selected on"
        )
        parts.append(
            "<p class='note'>This data set is <b>not</b> the one the model was trained on (sha256 differs); "
            f"{_esc(overlap)}. Similar sequence at other coordinates (repeats, a related genome) is not checked.</p>"
        )
    note = doc["model"]["training"].get("note")
    if note:
        parts.append(f"<p class='note'>Training note: {_esc(note)}</p>")
    return "\n".join(parts)


def render(doc: dict, images: dict[str, Path], history: list[dict]) -> str:
    """The report page as an HTML string."""
    model = doc["model"]
    sections = [
        f"<h1>peakcnn evaluation: {_esc(Path(doc['run']).name)}</h1>",
        f"<p class='small'>run <code>{_esc(doc['run'])}</code>, evaluated {_esc(doc['created'])}</p>",
        _summary(doc),
    ]
    tasks = doc["dataset"]["tasks"]
    baselines = len(doc["models"]) > 1  # none with evaluate --no-baselines, or without training windows
    sections += [
        f"<h2>{'CNN and baselines' if baselines else 'CNN'} (macro over tasks)</h2>",
        comparison_table(doc),
        "<p class='small'>"
        + (
            "Baselines are fitted on the training split of the same data set, one logistic regression per task; "
            "k-mers are counted on both strands. "
            if baselines
            else "No baselines were fitted for this evaluation. "
        )
        + "auPRC's chance level is the positive rate. ECE: expected calibration error over 10 equal-width bins. "
        f"{_esc(interval_note(doc))}</p>",
    ]
    if len(tasks) > 1:
        sections += ["<h2>Per task</h2>", per_task_table(doc)]
    shown = (
        f" ({MAX_PANELS} of {len(tasks)} tasks, those with both classes in the split first)"
        if len(tasks) > MAX_PANELS
        else ""
    )
    figures = (
        ("roc", f"ROC curves{shown}"),
        ("pr", f"precision-recall curves{shown}"),
        ("calibration", f"reliability diagram{shown}"),
    )
    sections.append("<h2>Curves</h2>")
    sections += [_image(images[k], alt) for k, alt in figures if k in images]
    task = calibrated_task(doc)
    sections += [f"<h2>Calibration of the CNN ({'task ' if len(tasks) > 1 else ''}{_esc(task)})</h2>"]
    sections.append(reliability_table(doc, task))
    sections.append("<h2>Training</h2>")
    if model.get("members"):
        sections += [
            f"<p>Model: an ensemble of {len(model['members'])} runs; its logits are the "
            f"<b>{_esc(model['combine'])}</b>.</p>",
            members_table(model["members"]),
        ]
    else:
        ema = (model.get("training") or {}).get("ema")
        averaged = f" (the moving average of the weights, decay {ema})" if ema else ""
        trained = f" of {len(history)} trained" if history else ""  # no history.csv: not known here
        sections.append(
            f"<p>Model: epoch {fmt(model['epoch'])}{averaged}{trained}, selected by "
            f"<b>{_esc(model['selected_by'])}</b>.</p>"
        )
    if "training" in images:
        sections.append(_image(images["training"], "training curves (history.csv)"))
    sections += ["<h3>Recipe</h3>", _kv_table(model["training"])]
    sections += [
        "<h2>Data set</h2>",
        _kv_table({"sha256": doc["dataset"]["sha256"], **doc["dataset"]["attrs"]}),
    ]
    body = "\n".join(sections)
    title = f"peakcnn evaluation {_esc(Path(doc['run']).name)}"
    head = f"<meta charset='utf-8'><title>{title}</title><style>{_CSS}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>\n"


def write_report(doc: dict, images: dict[str, Path], history: list[dict], path: Path) -> Path:
    """Write the self-contained report to ``path``."""
    Path(path).write_text(render(doc, images, history), encoding="utf-8")
    return Path(path)

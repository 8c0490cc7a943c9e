"""``peakcnn evaluate``: score a trained run on one split, next to the composition baselines.

Output folder (default ``RUN/eval_<split>/``, replaced as a whole, written through a temporary folder):

``metrics.json``
    Per task and macro metrics of the CNN and of every baseline, with window counts, the data set
    (path, sha256, negatives, split mode, attributes), the training recipe, and for the train and valid
    splits a ``caveat`` naming what used the split, so that its scores overstate accuracy on new regions
    (also in the report; none when nothing did).
``roc.png``, ``pr.png``, ``calibration.png``, ``training.png``
    Figures (training curves come from ``RUN/history.csv``).
``report.html``
    A self-contained report (figures embedded as base64).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from peakcnn.baselines import run_baselines
from peakcnn.checkpoint import MODEL_NAME, load_model
from peakcnn.data.store import SPLITS, Dataset
from peakcnn.ensemble import is_ensemble
from peakcnn.errors import InputError
from peakcnn.inference import best_device, check_shifts
from peakcnn.io.output import (
    built_aside,
    check_not_current_folder,
    check_own_folder,
    folder_destination,
    remove_own_folder,
)
from peakcnn.metrics import INTERVAL_METHOD, add_intervals, json_safe, multitask_metrics, sigmoid, two_class_tasks
from peakcnn.runconfig import (
    CONFIG_FILE,
    HISTORY_FILE,
    N_BOOT,
    N_BOOT_MAX_TASKS,
    check_flag,
    check_n_boot,
    read_history,
    read_run_config,
    recorded_dataset,
)
from peakcnn.train import predict_logits

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"
#: Every file an evaluation folder holds; an existing ``--out`` folder is replaced only if it holds no other.
OUTPUT_FILES = frozenset({METRICS_FILE, REPORT_FILE, "roc.png", "pr.png", "calibration.png", "training.png"})


def _run_folder(run) -> Path:
    """``run`` as a path, or :class:`InputError` when it is not a folder (a model file, a missing path)."""
    run = Path(run)
    if not run.is_dir():
        raise InputError(f"{run}: no run folder here; give the --out folder of 'peakcnn train'")
    return run


def split_caveat(split: str, meta: dict, baselines: bool, sha256: str) -> str | None:
    """Why scores on the train or valid split of the data set with checksum ``sha256`` overstate accuracy on
    new regions (``caveat`` in metrics.json), from what the run (or the ensemble members trained on that data
    set) and the baselines actually did with it; ``None`` when nothing did. ``baselines``: whether the
    baselines used the split (were fitted on it as train, or chose the 6-mer's L2 strength on it as valid)."""
    if split == "test":
        return None
    members = (meta.get("ensemble") or {}).get("members") or [meta]
    recipes = [m.get("training") or {} for m in members if m.get("dataset_sha256") == sha256]
    if split == "train":
        fitted = (["the CNN"] if recipes else []) + (["the baselines"] if baselines else [])
        if not fitted:
            return None
        plural = len(fitted) > 1 or fitted == ["the baselines"]
        return (
            f"{' and '.join(fitted)} {'were' if plural else 'was'} fitted on this split: these are "
            "training scores, not an estimate of accuracy on new regions (use --split test)"
        )
    uses = []
    if any(r.get("early_stop") for r in recipes):
        uses.append("decided when to stop training")
    if any(r.get("early_stop") or r.get("select_best") for r in recipes):
        uses.append("chose the kept epoch")
    if any(r.get("lr_schedule") == "plateau" for r in recipes):
        uses.append("drove the plateau schedule")
    if baselines:
        uses.append("chose the 6-mer baseline's L2 strength")
    if not uses:
        return None
    listed = ", ".join(uses[:-1]) + " and " + uses[-1] if len(uses) > 1 else uses[0]
    return f"this split {listed}, so its scores are optimistic (use --split test)"


def init_caveat(split: str, meta: dict, sha256: str) -> str | None:
    """Why scores on ``split`` of the data set with checksum ``sha256`` are not those of unseen regions
    because a run (or ensemble member) started (``--init``) from a model that was trained or selected on
    windows overlapping them; ``None`` when nothing did, or the split is the train split."""
    if split == "train":
        return None
    members = (meta.get("ensemble") or {}).get("members") or [meta]
    notes = []
    for m in members:
        init = (m.get("training") or {}).get("init")
        if not init or m.get("dataset_sha256") != sha256:
            continue
        overlap = m.get("init_overlap")
        if not isinstance(overlap, dict):
            notes.append(f"the windows {init} (--init) was trained on were not checked against this split")
        elif not overlap.get("checked"):
            notes.append(_unchecked(f"{init} (--init)", overlap.get("reason")))
        else:
            n, of = (overlap.get(k, {}).get(split) for k in ("windows", "of"))
            if n:
                used = "trained or selected" if split == "test" else "trained"
                notes.append(_overlap_note(n, of, split, f"{init} (--init) was {used} on"))
    return "; ".join(dict.fromkeys(notes)) or None


def training_caveat(split: str, meta: dict, ds: Dataset, run: Path) -> str | None:
    """Why scores on ``split`` of ``ds``, a data set the run (or an ensemble member) was not trained on, are
    not those of unseen regions: how many of its windows overlap windows that run was trained or selected on
    (its data set's train and valid splits), or that the run it started from (``--init``, as its
    ``config.json`` records) was; ``None`` when none do, or every model was trained on ``ds``."""
    from peakcnn.train import training_overlap

    single = {**meta, "run": str(run), "dataset_path": recorded_dataset(run, meta)}
    notes, counted = [], {}  # counted: overlaps by data set (ensemble members often share one), read once
    for m in (meta.get("ensemble") or {}).get("members") or [single]:
        if m.get("dataset_sha256") == ds.sha256:
            continue  # its own splits: split_caveat and init_caveat say what it and its --init run did
        who = m.get("run") or str(run)
        sources = [(who, m.get("dataset_path"), m.get("dataset_sha256"))]
        started_from = (m.get("training") or {}).get("init")
        if started_from:
            init = _init_record(Path(who))
            label = f"{started_from} (--init of {who})"
            if init is None:
                notes.append(_unchecked(label, f"{who}/{CONFIG_FILE} does not record its data set"))
            else:
                sources.append((label, init.get("dataset_path"), init.get("dataset_sha256")))
        for name, path, sha256 in sources:
            overlap = counted.get((path, sha256)) or training_overlap(ds, path, sha256, name)
            if not overlap["checked"]:  # its reason names this run, so it is not kept for another
                notes.append(_unchecked(name, overlap["reason"]))
                continue
            counted[path, sha256] = overlap
            if overlap["windows"][split]:
                n, of = overlap["windows"][split], overlap["of"][split]
                notes.append(_overlap_note(n, of, split, f"{name} was trained or selected on"))
    return "; ".join(notes) or None


def _init_record(run: Path) -> dict | None:
    """The ``--init`` record (its run, data set path and checksum) in ``run``'s ``config.json``, if readable."""
    try:
        init = read_run_config(run).get("init")
    except InputError:
        return None
    return init if isinstance(init, dict) and init.get("dataset_sha256") else None


def _unchecked(who: str, reason) -> str:
    """That the windows the run ``who`` was trained on could not be compared with the split's, and why."""
    return f"the windows {who} was trained on could not be checked against this split: {reason}"


def _overlap_note(n: int, of: int, split: str, what: str) -> str:
    """``n of the OF SPLIT windows overlap windows that WHAT``, and that their scores are optimistic."""
    one = n == 1
    return (
        f"{n:,} of the {of:,} {split} windows overlap{'s' if one else ''} windows that {what}, so "
        f"{'its score is' if one else 'their scores are'} optimistic"
    )


#: Data set attributes that are bookkeeping, not a description of the data, and are left out of reports.
_HIDDEN_ATTRS = {
    "format", "format_version", "tasks", "chroms", "chrom_descriptions", "content_sha256", "encoding", "window",
}  # fmt: skip


STRANDS_FORWARD = "forward strand"
STRANDS_BOTH = "mean of both strands (forward and reverse complement)"


def scoring_text(rc: bool, shifts=(0,)) -> str:
    """How the CNN scores a window, for the report: its strands and, when averaged over several, its shifts."""
    text = STRANDS_BOTH if rc else STRANDS_FORWARD
    if tuple(shifts) == (0,):
        return text
    moved = ", ".join(f"{s:+d}" if s else "0" for s in sorted(shifts))
    # each strand moves along itself: in genome coordinates the reverse strand's moves are the opposite ones
    along = " along its own strand" if rc and any(shifts) else ""
    if len(shifts) == 1:
        return f"{text}, each window moved by {moved} bp{along} (N moved in)"
    return f"{text}, each window moved by {moved} bp{along} (N moved in), probabilities averaged"


def dataset_path(run: Path, meta: dict, dataset) -> Path:
    """``dataset`` as given, or else the data set recorded in the run (one line when it is not recorded or gone)."""
    if dataset is not None:
        return Path(dataset)
    recorded = recorded_dataset(run, meta)
    if not recorded:
        raise InputError(f"{run}: the run does not record its data set; give --dataset DIR")
    if not Path(recorded).exists():
        where = CONFIG_FILE if (run / CONFIG_FILE).exists() else f"{MODEL_NAME}.json"
        raise InputError(f"{recorded}: the data set recorded in {run}/{where} is gone; give --dataset DIR")
    return Path(recorded)


def _check_compatible(ds: Dataset, meta: dict, run: Path, explicit: bool) -> bool:
    """Tasks and window must match the model; a different checksum is a warning (or an error if implicit).

    An ensemble whose outputs were named with ``--tasks`` also takes a data set with the task names of one
    of its members (matched by position, as the ensemble matched its members)."""
    if list(meta["tasks"]) != ds.tasks:
        member_tasks = [list(m.get("tasks") or []) for m in (meta.get("ensemble") or {}).get("members", [])]
        if ds.tasks not in member_tasks:
            raise InputError(
                f"{ds.path}: tasks {ds.tasks} differ from the model's {meta['tasks']} ({run}); "
                "evaluate on a data set prepared with the same peak files and names"
            )
        log.info(f"{ds.path}: tasks {ds.tasks} are those of a member of {run}; its outputs {meta['tasks']} "
                 "are matched to them by position")  # fmt: skip
    if int(meta["window"]) != ds.window:
        raise InputError(
            f"{ds.path}: {ds.window} bp windows, but the model in {run} takes {meta['window']} bp; "
            f"prepare the data set with --window {meta['window']}"
        )
    trained_on = meta.get("dataset_sha256")
    if trained_on == ds.sha256:
        return True
    if not explicit:
        raise InputError(
            f"{ds.path}: changed since {run} was trained (sha256 differs), so its test split may overlap the "
            "training data; pass it with --dataset to evaluate anyway"
        )
    members = (meta.get("ensemble") or {}).get("members", [])
    on_this = sum(m.get("dataset_sha256") == ds.sha256 for m in members)
    if members and trained_on is None:  # members of several data sets
        which = f"{on_this} of the {len(members)} members of {run} were" if on_this else f"no member of {run} was"
        what = f"{ds.path}: {which} trained on it"
    else:
        what = f"{ds.path} is not the data set {run} was trained on (sha256 differs)"
    log.warning(
        f"warning: {what}; windows at the coordinates of its training windows are counted, similar sequence "
        "elsewhere (repeats, a related genome) is not"
    )
    return False


def _negatives_by_task(ds: Dataset, split: str) -> dict[str, dict[str, int]]:
    """Per task, its negative windows in ``split``: generated background, and peak windows of other tasks
    (Basset's multi-task layout: a window is a negative of every task with no peak centre in its central
    ``--label-distance``)."""
    rows = ds.split_slice(split)
    labels, generated = ds.read("labels", rows), ds.read("source", rows) == 1
    return {
        task: {
            "generated": int((generated & (labels[:, t] == 0)).sum()),
            "peaks_of_other_tasks": int((~generated & (labels[:, t] == 0)).sum()),
        }
        for t, task in enumerate(ds.tasks)
    }


def _dataset_doc(ds: Dataset, matches: bool, split: str) -> dict:
    attrs = {k: v for k, v in ds.attrs.items() if k not in _HIDDEN_ATTRS}
    attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in attrs.items()}
    return {
        "path": str(ds.path.resolve()),
        "sha256": ds.sha256,
        "matches_training": matches,
        "negatives": ds.attrs.get("negatives", "not recorded"),
        "negatives_by_task": _negatives_by_task(ds, split),
        "split_mode": ds.attrs.get("split_mode", "not recorded"),
        "tasks": ds.tasks,
        "window": ds.window,
        "counts": {s: ds.count(s) for s in SPLITS},
        "chromosomes_by_split": _chroms_by_split(ds),
        "regions_by_split": {split: _split_regions(ds, split) for split in SPLITS},
        "attrs": attrs,
    }


def _chroms_by_split(ds: Dataset) -> dict[str, dict[str, int]]:
    """Window counts per chromosome in each split."""
    out = {}
    for split in SPLITS:
        chrom = ds.read("chrom", ds.split_slice(split))
        ids, counts = np.unique(chrom, return_counts=True)
        out[split] = {ds.chroms[int(i)]: int(c) for i, c in zip(ids, counts, strict=True)}
    return out


def _split_regions(ds: Dataset, split: str, limit: int = 50) -> list[str]:
    """Genomic spans covered by one split: maximal runs of its windows, in genome order, that no window
    of another split interrupts (``chrom:start-end``, 1-based and inclusive as genome browsers write them,
    at most ``limit`` spans)."""
    chrom, start, which = ds.read("chrom"), ds.read("start"), ds.read("split")
    order = np.lexsort((start, chrom))
    chrom, start, which = chrom[order], start[order], which[order]
    mine = which == SPLITS.index(split)
    breaks = np.flatnonzero(np.diff(np.r_[False, mine, False].astype(np.int8)))
    spans = []
    for lo, hi in zip(breaks[0::2], breaks[1::2], strict=True):
        for c in np.unique(chrom[lo:hi]):
            rows = np.arange(lo, hi)[chrom[lo:hi] == c]
            first, last = max(int(start[rows[0]]), 0) + 1, int(start[rows[-1]]) + ds.window
            spans.append(f"{ds.chroms[int(c)]}:{first:,}-{last:,}")
    return spans[:limit] + ([f"... {len(spans) - limit} more"] if len(spans) > limit else [])


def _selection_doc(meta: dict) -> dict:
    """Architecture, kept epoch, how it was selected and training data checksum, from a model's metadata."""
    training = meta.get("training") or {}
    return {
        "arch": training.get("arch", "unknown"),
        "epoch": meta.get("epoch"),
        "selected_by": meta.get("selected_by", "unknown"),
        "training_dataset_sha256": meta.get("dataset_sha256"),
    }


def _model_doc(meta: dict) -> dict:
    doc = {**_selection_doc(meta), "training": meta.get("training") or {}, "model_config": meta.get("model_config")}
    if is_ensemble(meta):
        doc["combine"] = meta["ensemble"].get("combine")
        doc["members"] = [
            {"run": m.get("run"), **_selection_doc(m), "note": (m.get("training") or {}).get("note", "")}
            for m in meta["ensemble"]["members"]
        ]
    return doc


def score(
    run,
    dataset=None,
    split: str = "test",
    baselines: bool = True,
    rc: bool = False,
    device=None,
    n_boot: int | None = None,
    shifts=(0,),
    shifts_name: str = "shifts",
    progress: bool = True,
) -> tuple[dict, dict]:
    """Score the run's model (and the baselines) on ``split``; ``rc`` averages the CNN over both strands,
    ``shifts`` over windows moved by those bases (:func:`peakcnn.inference.strand_logits`); the CNN runs
    on ``device`` (default: the best available, as ``--device auto``). With ``n_boot`` > 0,
    every model's auROC and auPRC per task get 95% intervals (:func:`peakcnn.metrics.add_intervals`);
    ``None`` means :data:`~peakcnn.runconfig.N_BOOT` resamples for at most
    :data:`~peakcnn.runconfig.N_BOOT_MAX_TASKS` tasks, none for more. The baselines' fitting shows a
    progress bar on a terminal unless ``progress`` is False.

    Returns
    -------
    tuple
        ``(doc, arrays)``: the JSON-able metrics document and ``{"labels", "probs": {model: (n, T)}}``.
    """
    check_flag(baselines, "baselines")
    check_flag(rc, "rc")
    check_flag(progress, "progress")
    check_n_boot(n_boot)
    n_boot = None if n_boot is None else int(n_boot)  # a numpy integer too, as JSON writes a plain int
    run = _run_folder(run)
    model, meta = load_model(run)
    shifts = check_shifts(shifts, int(meta["window"]), shifts_name)
    with Dataset(dataset_path(run, meta, dataset)) as ds:
        matches = _check_compatible(ds, meta, run, explicit=dataset is not None)
        codes, labels = ds.load_split(split)
        if len(codes) == 0:
            raise InputError(f"{ds.path}: the {split} split has no windows; choose another --split")
        if baselines and ds.count("train") == 0:
            log.warning(f"warning: {ds.path}: the train split has no windows to fit the baselines on; none are scored")
            baselines = False
        probs = {"CNN": sigmoid(predict_logits(model, codes, device=best_device(device), rc=rc, shifts=shifts))}
        bad = int((~np.isfinite(probs["CNN"])).any(axis=1).sum())
        if bad:
            raise InputError(
                f"{run}: the model's output is NaN for {bad:,} of {len(codes):,} {split} windows; its weights are "
                "damaged, train the run again"
            )
        model_doc = {**_model_doc(meta), "strands": scoring_text(rc, shifts), "shifts": list(shifts)}
        doc = {
            "run": str(run.resolve()),
            "split": split,
            "caveat": None,
            "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            "dataset": _dataset_doc(ds, matches, split),
            "model": model_doc,
            "models": {"CNN": {"label": f"CNN ({model_doc['arch']})", "metrics": None}},
        }
        fitted = {}
        if baselines:
            fitted = run_baselines(
                ds.load_split("train"), ds.load_split("valid"), (codes, labels), tasks=ds.tasks, progress=progress
            )
            for name, b in fitted.items():
                probs[name] = b["probs"]
                doc["models"][name] = {k: b[k] for k in ("label", "plain_label", "task_notes", "chosen_c")}
        used = any(b["fitted" if split == "train" else "tuned"] for b in fitted.values())  # this split, by baselines
        overlap = training_caveat(split, meta, ds, run)
        caveats = (split_caveat(split, meta, used, ds.sha256), init_caveat(split, meta, ds.sha256), overlap)
        doc["caveat"] = "; ".join(c for c in caveats if c) or None
        if not matches:  # what training_caveat found: its text, or "none"
            doc["dataset"]["training_overlap"] = overlap or "none"
            if not overlap:
                log.info(f"none of the {len(codes):,} {split} windows of {ds.path} overlaps a window the model was "
                         "trained or selected on")  # fmt: skip
    tasks = doc["dataset"]["tasks"]
    if n_boot is None:
        n_boot = N_BOOT if len(tasks) <= N_BOOT_MAX_TASKS else 0
        if not n_boot:
            log.info(f"no intervals for {len(tasks)} tasks by default; --bootstrap {N_BOOT} computes them")
    for name, p in probs.items():
        doc["models"][name]["metrics"] = multitask_metrics(labels, p, tasks)
        if n_boot:
            add_intervals(doc["models"][name]["metrics"], labels, p, tasks, n_boot)
    cnn = doc["models"]["CNN"]["metrics"]
    left_out = cnn["macro"]["tasks_left_out"]
    if not two_class_tasks(cnn["tasks"]):
        log.warning(
            f"warning: the {split} split has one class only for every task: no auROC or auPRC, and the macro "
            "accuracy, loss and calibration are those of one class; evaluate on a split with peaks and negatives"
        )
    elif left_out:
        log.warning(
            f"warning: the {split} split has one class only for task(s) {', '.join(left_out)}: no auROC or "
            "auPRC there, and the macro figures average the other tasks"
        )
    doc["intervals"] = {"level": 0.95, "resamples": n_boot, "seed": 0, "method": INTERVAL_METHOD} if n_boot else None
    return doc, {"labels": labels, "probs": probs}


def _write_outputs(folder: Path, doc: dict, arrays: dict, history: list[dict]) -> None:
    from peakcnn import plots
    from peakcnn.report import write_report

    tasks = doc["dataset"]["tasks"]
    images = {
        "roc": plots.plot_roc(arrays["labels"], arrays["probs"], tasks, folder / "roc.png"),
        "pr": plots.plot_pr(arrays["labels"], arrays["probs"], tasks, folder / "pr.png"),
        "calibration": plots.plot_calibration(
            {n: [m["metrics"]["tasks"][t]["reliability"] for t in tasks] for n, m in doc["models"].items()},
            tasks,
            folder / "calibration.png",
            labels=arrays["labels"],
        ),
        "training": plots.plot_history(history, folder / "training.png"),
    }
    (folder / METRICS_FILE).write_text(json.dumps(json_safe(doc), indent=2) + "\n")
    write_report(doc, {k: v for k, v in images.items() if v}, history, folder / REPORT_FILE)


def check_evaluation_folder(folder: Path) -> None:
    """Refuse an output folder that is a file, or a folder holding anything an evaluation did not write
    (it is replaced as a whole)."""
    check_own_folder(folder, OUTPUT_FILES, "an evaluation")


def remove_evaluations(run: Path) -> list[Path]:
    """Delete the ``eval_*`` folders of ``run`` that hold only what an evaluation writes (their figures
    describe a model that ``--force`` is replacing); returns them."""
    return [
        folder
        for folder in sorted(Path(run).glob("eval_*"))
        if remove_own_folder(folder, OUTPUT_FILES, METRICS_FILE, "an evaluation", "'peakcnn evaluate'")
    ]


def evaluate(
    run,
    dataset=None,
    split: str = "test",
    out=None,
    baselines: bool = True,
    rc: bool = False,
    device=None,
    n_boot: int | None = None,
    shifts=(0,),
    shifts_name: str = "shifts",
    progress: bool = True,
) -> tuple[dict, Path]:
    """Score, plot and report; returns ``(metrics document, output folder)``.

    Parameters
    ----------
    run
        Run folder written by ``peakcnn train``.
    dataset
        Data set to evaluate on; default the one recorded in ``RUN/config.json`` (its checksum must
        still match). Another data set needs the same tasks and window; a checksum mismatch is a warning.
    split
        ``train``, ``valid`` or ``test``.
    out
        Output folder; default ``RUN/eval_<split>``.
    baselines
        Also fit and score the GC and k-mer baselines.
    rc
        Score each window as the mean probability of both strands (forward and reverse complement).
    device
        Where the CNN runs: ``auto`` (default), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
    n_boot
        Bootstrap resamples behind the 95% intervals of auROC and auPRC; 0 computes none; ``None``: as
        :func:`score`.
    shifts
        Score each window moved by each of these numbers of bases and average (include 0 for the window
        as it is; the default ``(0,)`` is the window alone).
    shifts_name
        How an error names ``shifts`` (the command line passes ``--shifts``).
    progress
        Show the baselines' progress bar on a terminal (``False``: never).
    """
    if split not in SPLITS:
        raise InputError(f"--split {split!r}: choose one of {', '.join(SPLITS)}")
    folder = Path(out) if out else _run_folder(run) / f"eval_{split}"
    check_evaluation_folder(folder)
    check_not_current_folder(folder)
    folder = folder_destination(folder)
    doc, arrays = score(run, dataset, split, baselines, rc, device, n_boot, shifts, shifts_name, progress)
    with built_aside(folder) as tmp:
        _write_outputs(tmp, doc, arrays, read_history(Path(run) / HISTORY_FILE))
    return doc, folder

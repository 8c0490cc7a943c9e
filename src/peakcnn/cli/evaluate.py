"""``peakcnn evaluate RUN``: metrics, baselines, figures and an HTML report (over peakcnn.evaluate)."""

from __future__ import annotations

import argparse

from peakcnn.cli.prepare import number_argument
from peakcnn.runconfig import (
    MAX_BOOT,
    MIN_BOOT,
    N_BOOT,
    N_BOOT_MAX_TASKS,
    add_device_option,
    add_shifts_option,
    n_boot_allowed,
)

HELP = "score a trained run on a split, next to GC and k-mer baselines"

DESCRIPTION = """Score the model of RUN on one split of its data set (default: the data set recorded in
RUN/config.json, test split), fit GC-content and k-mer (k=4, k=6 with L2 chosen on valid) logistic
regressions on the training split of the same data set, and write metrics.json, ROC/PR/calibration/training
PNGs and a self-contained report.html to RUN/eval_<split>/ (or --out)."""


def register(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help=HELP, description=DESCRIPTION)
    p.add_argument("run", metavar="RUN", help="run folder written by 'peakcnn train' or 'peakcnn ensemble'")
    p.add_argument("--dataset", metavar="DIR", help="data set to evaluate on (default: the run's own)")
    p.add_argument("--split", default="test", choices=["train", "valid", "test"], help="default test")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="output folder (default RUN/eval_<split>); an earlier evaluation there is replaced, other folders refused",
    )
    p.add_argument(
        "--rc",
        action="store_true",
        help="score each window as the mean probability of its two strands (useful after RC augmentation)",
    )
    add_shifts_option(p)
    p.add_argument("--no-baselines", action="store_true", help="skip the GC and k-mer baselines")
    p.add_argument(
        "--bootstrap",
        type=number_argument(
            int,
            "whole number",
            n_boot_allowed,
            f"must be 0 (no intervals) or lie between {MIN_BOOT} and {MAX_BOOT:,}",
        ),
        metavar="N",
        help=f"resamples behind the 95%% intervals of auROC and auPRC (stratified bootstrap of the windows; "
        f"default {N_BOOT} for up to {N_BOOT_MAX_TASKS} tasks, none for more; 0 for none)",
    )
    add_device_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from peakcnn.evaluate import REPORT_FILE, evaluate
    from peakcnn.inference import check_shifts

    check_shifts(args.shifts, what="--shifts")

    doc, folder = evaluate(
        args.run,
        args.dataset,
        args.split,
        args.out,
        baselines=not args.no_baselines,
        rc=args.rc,
        device=args.device,
        n_boot=args.bootstrap,
        shifts=args.shifts,
        shifts_name="--shifts",
        progress=not args.quiet,
    )
    print(summary_table(doc))
    print(f"report: {folder / REPORT_FILE}")
    return 0


def summary_table(doc: dict) -> str:
    """A markdown table of the macro metrics of every model, with window counts and auPRC's chance level
    (the positive rate)."""
    from peakcnn.report import fmt, fmt_interval, interval_note, negatives_text, window_counts

    ds = doc["dataset"]
    lines = [
        f"split {doc['split']} ({ds['split_mode']} split), negatives: {negatives_text(ds)}, "
        f"CNN scored on the {doc['model']['strands']}",
        *([f"caveat: {doc['caveat']}"] if doc.get("caveat") else []),
        "",
        "| model | windows (pos/neg) | auROC | auPRC | auPRC chance | accuracy @0.5 |",
        "|---|---|---|---|---|---|",
    ]
    for model in doc["models"].values():
        m = model["metrics"]["macro"]
        lines.append(
            f"| {model['label']} | {window_counts(m)} | {fmt_interval(m, 'auroc')} | {fmt_interval(m, 'auprc')} "
            f"| {fmt(m['positive_rate'])} | {fmt(m['accuracy'])} |"
        )
    note = interval_note(doc, macro_only=True)
    if note:  # brackets were shown
        lines += ["", note]
    return "\n".join(lines)

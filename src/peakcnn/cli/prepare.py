"""``peakcnn prepare``: build a leak-free training data set of windows from a genome and peak files."""

from __future__ import annotations

import argparse
import math


def number_argument(cast, kind: str, ok, rule: str):
    """An argparse type: ``cast(text)``, refused with one line unless ``ok(value)`` holds."""

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{text!r} {rule}")
        return value

    return parse


#: argparse type: an integer > 0.
positive_int = number_argument(int, "whole number", lambda v: v > 0, "must be a positive integer")
#: argparse type: an integer >= 0.
non_negative_int = number_argument(int, "whole number", lambda v: v >= 0, "must be >= 0")
#: argparse type: a number in [0, 1].
fraction = number_argument(float, "number", lambda v: 0 <= v <= 1, "must lie between 0 and 1")
#: argparse type: a finite number > 0.
positive_float = number_argument(float, "number", lambda v: 0 < v < math.inf, "must be a finite number > 0")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="build a training data set (windows, labels, negatives, split) from a genome and peak files",
        description=(
            "Cut fixed-length windows centred on peak summits, label them per peak file (one task per file), "
            "add negatives, split train/valid/test by position so no window overlaps another split, and "
            "write DIR/dataset.h5, DIR/windows.bed and DIR/manifest.json."
        ),
    )
    p.add_argument("--genome", required=True, metavar="FASTA", help="genome FASTA (plain, gzip or bgzip)")
    p.add_argument(
        "--peaks", required=True, nargs="+", metavar="BED", help="peak files (BED/narrowPeak); one task each"
    )
    p.add_argument("--names", nargs="+", metavar="N", help="task names, one per peak file (default: file names)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--window", type=positive_int, default=800, help="window length in bp (default 800)")
    p.add_argument(
        "--center",
        choices=("summit", "midpoint"),
        default="summit",
        help="centre windows on the summit (narrowPeak col 10; default) or the peak midpoint",
    )
    p.add_argument(
        "--max-n-frac",
        type=fraction,
        default=0.1,
        help="drop windows (positives and negatives alike) with more N than this (default 0.1)",
    )
    p.add_argument(
        "--merge-distance",
        type=non_negative_int,
        default=None,
        help="peak centres within this many bp of a cluster's first one share one window (default: "
        "--label-distance, or the widest a window under 201 bp allows)",
    )
    p.add_argument(
        "--label-distance",
        type=positive_int,
        default=None,
        help="central region in bp: positive for a task when its peak centre lies within half of it "
        "of the window centre (default 200, or the widest a window under 201 bp allows)",
    )
    p.add_argument(
        "--negatives",
        choices=("gc-matched", "shuffled", "random", "none"),
        default="gc-matched",
        help="negative windows (default gc-matched genomic windows outside peaks)",
    )
    p.add_argument("--neg-ratio", type=positive_float, default=1.0, help="negatives per positive (default 1)")
    p.add_argument(
        "--split",
        choices=("auto", "chrom", "region"),
        default="auto",
        help="hold out whole chromosomes or blocks along chromosomes (auto: chrom with >= 3 chromosomes holding peaks)",
    )
    p.add_argument("--valid-chroms", nargs="+", metavar="CHROM", help="validation chromosomes (--split chrom)")
    p.add_argument("--test-chroms", nargs="+", metavar="CHROM", help="test chromosomes (--split chrom)")
    p.add_argument(
        "--block-size",
        type=positive_int,
        default=None,
        help=(
            "block length for --split region (default: the summed length of the chromosomes holding peaks / 30, "
            "at least 10 windows, at most 1 Mb)"
        ),
    )
    p.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    p.add_argument("--chrom-alias", metavar="TSV", help="chromAlias-style TSV of equivalent chromosome names")
    p.add_argument(
        "--exclude",
        nargs="+",
        metavar="BED",
        help="regions genomic negatives must not overlap, besides the peaks: e.g. the peaks of other "
        "replicates (a region accessible there is no negative here) or a blacklist",
    )
    p.add_argument("--force", action="store_true", help="replace an existing, different data set in DIR")
    p.set_defaults(func=run)


def run(args) -> int:
    from peakcnn.data.prepare import prepare_dataset
    from peakcnn.data.summary import format_diagnostics

    manifest = prepare_dataset(
        args.genome,
        args.peaks,
        args.out,
        names=args.names,
        window=args.window,
        center=args.center,
        max_n_frac=args.max_n_frac,
        merge_distance=args.merge_distance,
        label_distance=args.label_distance,
        negatives=args.negatives,
        neg_ratio=args.neg_ratio,
        split=args.split,
        valid_chroms=args.valid_chroms,
        test_chroms=args.test_chroms,
        block_size=args.block_size,
        seed=args.seed,
        chrom_alias=args.chrom_alias,
        exclude=args.exclude,
        force=args.force,
        progress=not getattr(args, "quiet", False),
    )
    print(format_diagnostics(manifest))
    return 0

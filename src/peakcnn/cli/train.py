"""``peakcnn train DATASET --out RUN``: train a CNN on a prepared data set (thin layer over peakcnn.train)."""

from __future__ import annotations

import argparse
import shlex
import sys

from peakcnn.runconfig import add_device_option

HELP = "train a CNN on a data set made by 'peakcnn prepare'"

DESCRIPTION = """Train a Basset-style CNN on DATASET and write the run folder RUN: config.json (resolved
configuration), history.csv (one row per epoch), model.* (the selected model: best validation auPRC with
--early-stop/--select-best, else the last epoch) and last.* (latest epoch with optimizer, scheduler and
RNG states, for --resume). Defaults are the founding recipe: --arch founding, SGD lr 0.02 momentum 0.9,
BCEWithLogits, 20 epochs, batch size 64."""

#: Command-line options that map one-to-one onto TrainConfig fields (dest -> field).
CONFIG_OPTIONS = (
    "init",
    "arch",
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "momentum",
    "weight_decay",
    "lr_schedule",
    "rc_augment",
    "shift",
    "early_stop",
    "select_best",
    "class_weights",
    "seed",
    "max_train",
    "ema",
    "amp",
    "note",
)


def add_recipe_options(p: argparse.ArgumentParser) -> None:
    """Options of the training recipe. Defaults are ``None`` so that only options given are applied."""
    from peakcnn.modelconfig import PRESETS
    from peakcnn.runconfig import AMP_MODES, OPTIMIZERS, SCHEDULES

    g = p.add_argument_group("recipe (defaults: the founding recipe)")
    g.add_argument("--arch", choices=list(PRESETS), help="architecture (default founding)")
    g.add_argument("--epochs", type=int, metavar="N", help="epochs (default 20)")
    g.add_argument("--batch-size", type=int, metavar="N", help="windows per batch (default 64)")
    g.add_argument("--lr", type=float, metavar="LR", help="learning rate (default 0.02)")
    g.add_argument("--optimizer", choices=OPTIMIZERS, help="optimizer (default sgd, momentum 0.9)")
    g.add_argument("--momentum", type=float, metavar="M", help="SGD momentum (default 0.9)")
    g.add_argument("--weight-decay", type=float, metavar="WD", help="weight decay (default 0)")
    g.add_argument("--lr-schedule", choices=SCHEDULES, help="per-epoch learning-rate schedule (default none)")
    g.add_argument("--rc-augment", action="store_true", default=None, help="random reverse complements")
    g.add_argument("--shift", type=int, metavar="BP", help="random shifts of up to BP bases, N-padded")
    g.add_argument(
        "--early-stop",
        type=int,
        metavar="PATIENCE",
        help="stop after PATIENCE epochs without a better valid auPRC",
    )
    g.add_argument("--select-best", action="store_true", default=None, help="keep the epoch with the best valid auPRC")
    g.add_argument("--class-weights", action="store_true", default=None, help="weight positives by negatives/positives")
    g.add_argument("--seed", type=int, help="random seed (default 0)")
    g.add_argument("--max-train", type=int, metavar="N", help="train on a random subset of N windows")
    g.add_argument(
        "--ema",
        type=float,
        metavar="DECAY",
        help="validate and keep an exponential moving average of the weights, updated every step with this "
        "decay (e.g. 0.999; default 0 = off)",
    )
    g.add_argument(
        "--amp",
        choices=AMP_MODES,
        help="mixed precision of the training steps: auto (default) = float16 on CUDA, off elsewhere; bf16 "
        "is about 2x faster on CPUs with native bfloat16 (AVX512-BF16, AMX) and far slower on CPUs without",
    )
    g.add_argument(
        "--init",
        metavar="RUN",
        help="start from the weights of a trained run (transfer learning): layers of the same shape are "
        "copied, the rest (e.g. the output layer when the tasks differ) start at random",
    )
    g.add_argument("--note", metavar="TEXT", help="free text kept in config.json and shown in reports")


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help=HELP, description=DESCRIPTION)
    p.add_argument("dataset", metavar="DATASET", help="data set folder (or dataset.h5) from 'peakcnn prepare'")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder to write")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from RUN/last.*")
    p.add_argument("--force", action="store_true", help="overwrite an existing run in RUN")
    add_device_option(p)
    add_recipe_options(p)
    p.set_defaults(func=run)


def recipe_options(args: argparse.Namespace) -> dict:
    """The recipe options given on the command line, as TrainConfig fields."""
    return {k: getattr(args, k) for k in CONFIG_OPTIONS if getattr(args, k, None) is not None}


def run(args: argparse.Namespace) -> int:
    from peakcnn.errors import interrupt_status
    from peakcnn.train import Interrupted, train

    try:
        summary = train(
            args.dataset,
            args.out,
            recipe_options(args),
            resume=args.resume,
            force=args.force,
            device=args.device,
            progress=not args.quiet and sys.stderr.isatty(),
        )
    except Interrupted as e:
        print(f"peakcnn: {e.message}", file=sys.stderr)
        return interrupt_status()
    print(summary_text(summary))
    return 0


def summary_text(summary: dict) -> str:
    """What was trained and where it is, for the terminal."""
    run = summary["run"]
    if summary["selected_by"] == "valid_auprc":
        which = f"epoch {summary['best_epoch']}, best validation auPRC {summary['best_valid_auprc']:.3f}"
    else:
        which = f"epoch {summary['epochs_done']}, the last one"
    done, ran = summary["epochs_done"], summary.get("epochs_run")
    early = " (stopped early)" if summary["stopped_early"] else ""
    if ran == 0:
        head = f"nothing left to train: the run already holds {done} epochs{early}"
    elif ran is not None and ran < done:
        head = f"trained {done} epochs{early}, {ran} of them now (resumed after epoch {done - ran})"
    else:
        head = f"trained {done} epochs{early}"
    lines = [head, f"model: {run}/model.safetensors ({which})", f"history: {run}/history.csv"]
    lines.append(f"next: peakcnn evaluate {shlex.quote(run)}")
    return "\n".join(lines)

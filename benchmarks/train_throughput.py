"""Training throughput: ``peakcnn train``'s real code path against a bare training loop.

Both train the same model (same seed, SGD lr 0.02 momentum 0.9, batch 64) on the same random windows.
The bare loop runs forward / backward / step over one-hot batches made before timing starts; the real
path is :func:`peakcnn.train.train` with the ``best`` recipe's augmentation (uint8 codes in memory, batch
indexing, +-20 bp shifts, one-hot on the device, random reverse complements, loss checks, the running
loss, and the scores of the epoch's training predictions for ``history.csv``; the progress bar is off, as
it is with ``-q``). The data set has no
validation split, so an epoch's time in ``history.csv`` is that training loop; checkpoint writing and
start-up are reported separately. One untimed epoch of each side comes first.

Usage::

    python benchmarks/train_throughput.py [--n 384] [--epochs 3] [--arch founding] [--window 800] [--amp bf16]

``--amp bf16`` runs both sides in bfloat16 autocast (``peakcnn train --amp bf16``).

Target: the real epoch within 10% of the bare loop.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from peakcnn.data.store import WindowTable, write_dataset
from peakcnn.model import DNASeqClassifier, preset_config
from peakcnn.runconfig import read_history
from peakcnn.sequence import codes_to_onehot_torch
from peakcnn.train import train
from peakcnn.trainstate import epoch_order


def make_dataset(folder: Path, n: int, window: int) -> None:
    rng = np.random.default_rng(0)
    table = WindowTable(
        seqs=rng.integers(0, 4, (n, window)).astype(np.uint8),
        labels=rng.integers(0, 2, (n, 1)).astype(np.uint8),
        chrom=np.zeros(n, np.uint16),
        start=np.arange(n, dtype=np.int64) * window,
        split=np.zeros(n, np.uint8),  # all training windows
        source=np.zeros(n, np.uint8),
        tasks=["t"],
        chroms=["c"],
        attrs={"negatives": "random", "split_mode": "none"},
    )
    folder.mkdir(parents=True, exist_ok=True)
    write_dataset(table, folder / "dataset.h5")


def bare_loop(codes: np.ndarray, labels: np.ndarray, arch: str, epochs: int, batch: int, amp: str) -> list[float]:
    """Seconds per epoch of forward/backward/step over pre-made one-hot batches."""
    bf16 = amp == "bf16"
    torch.manual_seed(0)
    n, window = codes.shape
    model = DNASeqClassifier(preset_config(arch, window, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    times = []
    for epoch in range(1, epochs + 1):
        order = epoch_order(0, epoch, n)
        batches = [
            (codes_to_onehot_torch(torch.from_numpy(codes[order[lo : lo + batch]])).contiguous(),
             torch.from_numpy(labels[order[lo : lo + batch]].astype(np.float32)))
            for lo in range(0, n, batch)
        ]  # fmt: skip
        model.train()
        t0 = time.perf_counter()
        for x, y in batches:
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(x)
            loss = loss_fn(logits.float(), y)
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    return times


#: The augmentation of the timed ``peakcnn train`` runs (that of the ``best`` recipe): the bare loop's
#: batches are made before timing, so its cost counts against the pipeline.
AUGMENT = {"shift": 20, "rc_augment": True}


def pipeline_only(codes: np.ndarray, epochs: int, batch: int) -> float:
    """Seconds per epoch spent preparing batches as the timed training does (index, shift 20, one-hot, RC),
    no model."""
    from peakcnn.augment import make_batch

    tensor = torch.from_numpy(codes)
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = torch.from_numpy(epoch_order(0, epoch, len(codes)))
        for lo in range(0, len(codes), batch):
            make_batch(tensor, order[lo : lo + batch], shift=AUGMENT["shift"], rc=AUGMENT["rc_augment"])
    return (time.perf_counter() - t0) / epochs


def real_path(folder: Path, arch: str, epochs: int, batch: int, amp: str) -> tuple[list[float], float]:
    """Seconds per epoch (history.csv) and total wall time of ``peakcnn train``."""
    t0 = time.perf_counter()
    options = {"arch": arch, "epochs": epochs, "batch_size": batch, "amp": amp, **AUGMENT}
    train(folder, folder / "run", options, force=True, device="cpu", progress=False)
    total = time.perf_counter() - t0
    return [r["seconds"] for r in read_history(folder / "run" / "history.csv")], total


def _fmt(times: list[float]) -> str:
    return "epochs [" + ", ".join(f"{t:.2f}" for t in times) + "] s"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="peakcnn train throughput vs a bare training loop")
    p.add_argument("--n", type=int, default=384, help="training windows (default 384)")
    p.add_argument("--window", type=int, default=800)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--arch", default="founding")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds of both measurements (default 2)")
    p.add_argument("--amp", choices=("off", "bf16"), default="off", help="autocast of both sides (default off)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ds"
        make_dataset(folder, args.n, args.window)
        from peakcnn.data.store import Dataset

        with Dataset(folder) as ds:
            codes, labels = ds.load_split("train")
        # Warm-up of both sides, so that both measurements start with allocated buffers and neither pays a
        # one-off cost (the real path imports scikit-learn's metrics when it first scores an epoch).
        bare_loop(codes[: args.batch_size * 2], labels[: args.batch_size * 2], args.arch, 1, args.batch_size, args.amp)
        real_path(folder, args.arch, 1, args.batch_size, args.amp)
        real, bare, totals = [], [], []
        for rnd in range(args.rounds):  # alternate the order so that drifting machine load affects both alike
            for which in ("real", "bare") if rnd % 2 == 0 else ("bare", "real"):
                if which == "real":
                    times, total = real_path(folder, args.arch, args.epochs, args.batch_size, args.amp)
                    real += times
                    totals.append(total)
                else:
                    bare += bare_loop(codes, labels, args.arch, args.epochs, args.batch_size, args.amp)
        prep = pipeline_only(codes, args.epochs, args.batch_size)
    total = statistics.median(totals)
    real_med, bare_med = statistics.median(real), statistics.median(bare)
    overhead = real_med / bare_med - 1
    print(f"{args.n} windows x {args.window} bp, arch {args.arch}, batch {args.batch_size}, amp {args.amp}, "
          f"{torch.get_num_threads()} torch threads, {args.rounds} rounds x {args.epochs} epochs")  # fmt: skip
    print(f"bare loop      : {bare_med:.2f} s/epoch  ({args.n / bare_med:.0f} windows/s)  {_fmt(bare)}")
    print(f"peakcnn train  : {real_med:.2f} s/epoch  ({args.n / real_med:.0f} windows/s)  {_fmt(real)}")
    print(f"pipeline overhead: {overhead * 100:+.1f}% (target within 10%; medians, noisy on a shared machine)")
    print(f"batch preparation alone (index, shift, one-hot, RC): {prep * 1000:.1f} ms/epoch = "
          f"{prep / bare_med * 100:.2f}% of a bare epoch")  # fmt: skip
    print(f"train() wall time incl. start-up and checkpoints: {total:.1f} s for {args.epochs} epochs (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

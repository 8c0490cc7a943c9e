"""Concurrent jobs on one CPU: PyTorch's default threads against one share of the cores per job.

Runs a bare training loop (forward / backward / AdamW step on random one-hot batches of 64) for
``--seconds``: once alone, then ``--jobs`` copies at the same time with PyTorch's default thread count
(one per core), then the same copies with ``OMP_NUM_THREADS`` = cores / jobs. Prints windows/s of each loop.
The copies start together: each imports torch, builds its model and runs one untimed warm-up step, then
waits for a common start time (``--lead`` seconds after launch), and all count steps over the same
wall-clock interval. A copy not ready by then would count fewer steps over that interval; the script then
stops with an error that says so, and a longer ``--lead`` is the remedy.

Usage::

    python benchmarks/threads.py [--jobs 2] [--seconds 20] [--lead 10] [--arch small] [--window 800]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def loop(arch: str, window: int, seconds: float, start_at: float) -> tuple[float, float]:
    """Windows/s of a bare training loop of ``arch`` run for ``seconds`` from wall-clock time ``start_at``
    (after one warm-up step), and how many seconds after ``start_at`` the loop was ready (0 when it was
    waiting)."""
    import torch

    from peakcnn.model import DNASeqClassifier, preset_config
    from peakcnn.sequence import codes_to_onehot_torch

    torch.manual_seed(0)
    model = DNASeqClassifier(preset_config(arch, window, 1))
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    x = codes_to_onehot_torch(torch.randint(0, 4, (64, window), dtype=torch.uint8))
    y = torch.randint(0, 2, (64, 1)).float()

    def step() -> None:
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(model(x), y).backward()
        opt.step()

    step()  # warm-up, untimed
    late = max(0.0, time.time() - start_at)
    time.sleep(max(0.0, start_at - time.time()))
    n, end = 0, start_at + seconds
    while time.time() < end:
        step()
        n += len(x)
    return n / (time.time() - start_at), late


def run_jobs(jobs: int, threads: int | None, args) -> list[float]:
    """Start ``jobs`` copies of :func:`loop` at once (``threads`` per copy, or PyTorch's default)."""
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    start_at = time.time() + args.lead  # time for every copy to import torch and warm up
    cmd = [sys.executable, __file__, "--child", "--arch", args.arch, "--window", str(args.window)]
    cmd += ["--start-at", repr(start_at)]
    procs = [
        subprocess.Popen([*cmd, "--seconds", str(args.seconds)], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(jobs)
    ]
    results = [p.communicate()[0].split() for p in procs]
    late = max(float(r[1]) for r in results)
    if late > 0.0:
        raise SystemExit(
            f"threads.py: a copy was ready {late:.1f} s after the common start and would be scored over time it "
            f"did not run; rerun with --lead longer than {args.lead:g} s"
        )
    return [float(r[0]) for r in results]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--lead", type=float, default=10.0, help="seconds from launch to the common start (import, warm-up)"
    )
    parser.add_argument("--arch", default="small")
    parser.add_argument("--window", type=int, default=800)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(*loop(args.arch, args.window, args.seconds, args.start_at))
        return 0
    cores = os.cpu_count() or 1
    share = max(1, cores // args.jobs)
    print(f"{cores} cores, {args.jobs} jobs, model {args.arch}, window {args.window}, {args.seconds:g} s each")
    for label, jobs, threads in (
        ("alone, default threads", 1, None),
        (f"{args.jobs} at once, default threads", args.jobs, None),
        (f"{args.jobs} at once, OMP_NUM_THREADS={share}", args.jobs, share),
    ):
        rates = run_jobs(jobs, threads, args)
        print(f"{label}: " + " + ".join(f"{r:.0f}" for r in rates) + f" = {sum(rates):.0f} windows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

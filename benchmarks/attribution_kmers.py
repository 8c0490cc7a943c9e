"""Which k-mers carry the contributions of a ``peakcnn attribute`` output.

Reads ``PREFIX.hyp.npz`` and ``PREFIX.ohe.npz`` and ranks the k-mers (a k-mer and its reverse complement
together, none with N) by their mean contribution per occurrence, summed over their k positions, among those
seen at least ``--min-count`` times; then says which share of the positive contribution lies on the
positions inside any of the ``--motif`` words (either strand) and which share of the positions they are.

    python benchmarks/attribution_kmers.py top40 --k 6 --motif GGGCC
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

_RC = str.maketrans("ACGT", "TGCA")


def revcomp(word: str) -> str:
    return word.translate(_RC)[::-1]


def sequences(ohe: np.ndarray) -> list[str]:
    """The windows ``(n, 4, W)`` as strings, N where a column is all zeros."""
    letters = np.array(list("ACGTN"))
    idx = np.where(ohe.sum(1) > 0, ohe.argmax(1), 4)
    return ["".join(letters[row]) for row in idx]


def kmer_means(seqs: list[str], contribution: np.ndarray, k: int, min_count: int) -> list[tuple[float, int, str]]:
    """``(mean summed contribution, occurrences, canonical k-mer)``, highest mean first."""
    found: dict[str, list[float]] = defaultdict(list)
    for s, c in zip(seqs, contribution, strict=True):
        sums = np.convolve(c, np.ones(k), mode="valid")  # contribution summed over each k-mer's positions
        for j in range(len(s) - k + 1):
            word = s[j : j + k]
            if "N" not in word:
                found[min(word, revcomp(word))].append(float(sums[j]))
    rows = [(float(np.mean(v)), len(v), w) for w, v in found.items() if len(v) >= min_count]
    return sorted(rows, reverse=True)


def motif_share(seqs: list[str], contribution: np.ndarray, motifs: list[str]) -> tuple[float, float]:
    """Share of the positive contribution on positions inside a motif word (either strand), and the share
    of positions those are."""
    inside = np.zeros(contribution.shape, dtype=bool)
    words = {w for m in motifs for w in (m, revcomp(m))}
    for i, s in enumerate(seqs):
        for w in words:
            j = s.find(w)
            while j >= 0:
                inside[i, j : j + len(w)] = True
                j = s.find(w, j + 1)
    positive = np.clip(contribution, 0, None)
    return float(positive[inside].sum() / positive.sum()), float(inside.mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prefix", help="the --out PREFIX of 'peakcnn attribute'")
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--min-count", type=int, default=10)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--motif", nargs="*", default=[], help="words whose positions' share is reported")
    args = ap.parse_args()
    hyp = np.load(f"{args.prefix}.hyp.npz")["arr_0"]
    ohe = np.load(f"{args.prefix}.ohe.npz")["arr_0"]
    contribution = (hyp * ohe).sum(1)
    seqs = sequences(ohe)
    everything = kmer_means(seqs, contribution, args.k, 1)  # counted once; the table keeps the frequent ones
    rows = [r for r in everything if r[1] >= args.min_count]
    overall = sum(m * n for m, n, _ in everything) / sum(n for _, n, _ in everything)
    print(f"{len(seqs)} windows; {args.k}-mers seen at least {args.min_count} times, by mean contribution:")
    print("| k-mer / reverse complement | mean contribution | occurrences |\n|---|---:|---:|")
    for m, n, w in rows[: args.top]:
        print(f"| {w} / {revcomp(w)} | {m:.3f} | {n} |")
    print(f"mean over all {args.k}-mer occurrences: {overall:.4f}")
    if args.motif:
        share, positions = motif_share(seqs, contribution, args.motif)
        print(
            f"positions inside {', '.join(args.motif)} (either strand): {positions:.2%} of positions, "
            f"{share:.1%} of the positive contribution"
        )


if __name__ == "__main__":
    main()

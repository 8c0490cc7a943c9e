"""The patterns TF-MoDISco found in the contributions of a ``peakcnn attribute`` output, matched to JASPAR.

TF-MoDISco (the ``modisco-lite`` package, installed apart) clusters the stretches of high contribution
(seqlets) into patterns. This script reads its results file and, for each pattern (positive contribution
first, then negative), gives its number of seqlets, its probability matrix trimmed as ``modisco report``
trims it (the columns from the first to the last whose summed absolute contribution reaches ``--trim`` of
the pattern's largest), the consensus, and its best JASPAR CORE matches by Tomtom, as ``peakcnn motifs``
matches filters (``peakcnn.interpret.motifs.match``: memelite's Tomtom, both strands, q-values over the
database).

    modisco motifs -s PREFIX.ohe.npz -a PREFIX.hyp.npz -n 2000 -w 800 -o modisco.h5
    python benchmarks/modisco_matches.py modisco.h5 [--jaspar-group plants] [--top 3] [--trim 0.3]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

GROUPS = (("pos_patterns", "+"), ("neg_patterns", "-"))


@dataclass
class Pattern:
    name: str  # e.g. "pos_patterns/pattern_0"
    sign: str  # "+" or "-": the sign of its contributions
    seqlets: int
    ppm: np.ndarray  # (4, K) trimmed probability matrix, rows A C G T


def trimmed(sequence: np.ndarray, contrib: np.ndarray, trim: float) -> np.ndarray:
    """The ``(4, K)`` probability matrix of a pattern (``sequence`` and ``contrib`` as TF-MoDISco stores
    them, ``(L, 4)``) over the columns from the first to the last whose summed absolute contribution is at
    least ``trim`` times the largest."""
    score = np.abs(contrib).sum(axis=1)
    keep = np.flatnonzero(score >= trim * score.max())
    return np.asarray(sequence[keep[0] : keep[-1] + 1], dtype=np.float64).T


def read_patterns(path: str, trim: float) -> list[Pattern]:
    """Every pattern of a TF-MoDISco results file, positive ones first, each in the file's order."""
    import h5py

    out = []
    with h5py.File(path, "r") as f:
        for group, sign in GROUPS:
            if group not in f:
                continue
            names = sorted(f[group], key=lambda n: int(n.rsplit("_", 1)[1]))  # pattern_10 after pattern_9
            for name in names:
                p = f[group][name]
                out.append(
                    Pattern(
                        name=f"{group}/{name}",
                        sign=sign,
                        seqlets=int(p["seqlets"]["n_seqlets"][0]),
                        ppm=trimmed(p["sequence"][:], p["contrib_scores"][:], trim),
                    )
                )
    return out


def best_matches(patterns: list[Pattern], db, top: int) -> list[list[tuple[str, str, float]]]:
    """Per pattern, its ``top`` database motifs by Tomtom p-value as ``(id, name, q-value)``."""
    from peakcnn.interpret.motifs import match

    p, q, _ = match([pat.ppm for pat in patterns], db)
    return [
        [(db.ids[j], db.names[j], float(q[i, j])) for j in np.argsort(p[i], kind="stable")[:top]]
        for i in range(len(patterns))
    ]


def main() -> None:
    from peakcnn.interpret.motifs import consensus, jaspar_motifs

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="the HDF5 file written by 'modisco motifs'")
    ap.add_argument("--jaspar-group", default="plants", help="JASPAR CORE taxonomic group (default plants)")
    ap.add_argument("--top", type=int, default=3, help="matches shown per pattern (default 3)")
    ap.add_argument("--trim", type=float, default=0.3, help="trimming threshold, as modisco report (default 0.3)")
    args = ap.parse_args()
    patterns = read_patterns(args.results, args.trim)
    db = jaspar_motifs(args.jaspar_group)
    print(f"{len(patterns)} patterns in {args.results}; matched against {db.source}")
    print("| pattern | sign | seqlets | consensus | best matches (q-value) |\n|---|---|---:|---|---|")
    for pat, found in zip(patterns, best_matches(patterns, db, args.top), strict=True):
        shown = "; ".join(f"{name} {mid} ({q:.2g})" for mid, name, q in found)
        print(f"| {pat.name} | {pat.sign} | {pat.seqlets} | {consensus(pat.ppm)} | {shown} |")


if __name__ == "__main__":
    main()

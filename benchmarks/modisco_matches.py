"""The patterns TF-MoDISco found in the contributions of a ``peakcnn attribute`` output, matched to JASPAR.

TF-MoDISco (the ``modisco-lite`` package, installed apart) clusters the stretches of high contribution
(seqlets) into patterns. This script reads its results file and, for each pattern (positive contribution
first, then negative), gives its number of seqlets and its probability matrix, trimmed first as ``modisco
report`` trims the matrices it gives Tomtom (the columns from the first to the last whose summed absolute
contribution reaches ``--trim`` of the pattern's largest; its logos add 4 columns a side), then of flanking
columns under 0.2 bits as ``peakcnn motifs`` trims filters (a column of no information can make Tomtom
call a match). Each is matched to the JASPAR CORE motifs of a group as ``peakcnn motifs`` matches filters
(``peakcnn.interpret.motifs.match``: memelite's Tomtom, both strands, q-values over the database); the
``--top`` best are listed with their q-values, those above ``--max-q`` in brackets, and a pattern under 4
columns is not matched.

    modisco motifs -s PREFIX.ohe.npz -a PREFIX.hyp.npz -n 2000 -o modisco.h5
    python benchmarks/modisco_matches.py modisco.h5 [--jaspar-group plants] [--top 3] [--max-q 0.05] [--trim 0.3]
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
    least ``trim`` times the largest, less its flanking columns of under ``TRIM_BITS`` bits."""
    from peakcnn.interpret.motifs import trim as trim_bits

    score = np.abs(contrib).sum(axis=1)
    keep = np.flatnonzero(score >= trim * score.max())
    return trim_bits(np.asarray(sequence[keep[0] : keep[-1] + 1], dtype=np.float64).T)


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
    """Per pattern, its ``top`` database motifs by Tomtom p-value as ``(id, name, q-value)``; none for a
    pattern under ``MIN_WIDTH`` columns."""
    from peakcnn.interpret.motifs import MIN_WIDTH, match

    wide = [i for i, pat in enumerate(patterns) if pat.ppm.shape[1] >= MIN_WIDTH]
    p, q, _ = match([patterns[i].ppm for i in wide], db)
    out: list[list[tuple[str, str, float]]] = [[] for _ in patterns]
    for row, i in enumerate(wide):
        out[i] = [(db.ids[j], db.names[j], float(q[row, j])) for j in np.argsort(p[row], kind="stable")[:top]]
    return out


def shown_matches(found: list[tuple[str, str, float]], max_q: float) -> str:
    """The matches as a table cell: ``NAME ID (q)``, in brackets when q is above ``max_q``."""
    if not found:
        return "(too narrow to match)"
    cells = [f"{name} {mid} ({q:.2g})" for mid, name, q in found]
    return "; ".join(c if q <= max_q else f"[{c}]" for c, (_, _, q) in zip(cells, found, strict=True))


def main() -> None:
    from peakcnn.interpret.motifs import consensus, jaspar_motifs

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="the HDF5 file written by 'modisco motifs'")
    ap.add_argument("--jaspar-group", default="plants", help="JASPAR CORE taxonomic group (default plants)")
    ap.add_argument("--top", type=int, default=3, help="matches shown per pattern (default 3)")
    ap.add_argument("--max-q", type=float, default=0.05, help="matches above this q-value are bracketed (0.05)")
    ap.add_argument("--trim", type=float, default=0.3, help="trimming threshold, as modisco report (default 0.3)")
    args = ap.parse_args()
    if args.top < 1 or not 0 < args.trim <= 1:
        ap.error("--top must be at least 1 and --trim in (0, 1]")
    patterns = read_patterns(args.results, args.trim)
    db = jaspar_motifs(args.jaspar_group)
    print(f"{len(patterns)} patterns in {args.results}; matched against {db.source}")
    print(f"matches with q above {args.max_q:g} in brackets")
    print("| pattern | sign | seqlets | width | consensus | best matches (q-value) |\n|---|---|---:|---:|---|---|")
    for pat, found in zip(patterns, best_matches(patterns, db, args.top), strict=True):
        cell = shown_matches(found, args.max_q)
        print(f"| {pat.name} | {pat.sign} | {pat.seqlets} | {pat.ppm.shape[1]} | {consensus(pat.ppm)} | {cell} |")


if __name__ == "__main__":
    main()

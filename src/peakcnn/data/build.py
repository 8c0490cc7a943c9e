"""Peak tables + genome -> a labelled, split :class:`~peakcnn.data.store.WindowTable` (no file output).

The steps, each a table -> table function of :mod:`windows`, :mod:`labels`, :mod:`split` and
:mod:`negatives`: match chromosome names, clip peaks, merge centres into windows, label tasks, assign
splits by position, fetch sequence, filter N, draw negatives per split, deduplicate identical windows.
Counts of everything dropped are collected in a report dictionary.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from peakcnn.data import negatives as neg
from peakcnn.data import split as sp
from peakcnn.data.labels import label_windows
from peakcnn.data.store import WindowTable
from peakcnn.data.windows import (
    clip_to_chromosomes,
    clipped_centres,
    deduplicate,
    fetch_sequences,
    merge_centres,
    padded,
    window_starts,
    window_stats,
)
from peakcnn.errors import InputError, PeakcnnError
from peakcnn.io.chromnames import format_names
from peakcnn.io.fasta import resolve_chroms


@dataclass
class Pooled:
    """Peaks of all tasks on genome chromosomes (ids into ``chroms``)."""

    chroms: list[str]
    lengths: np.ndarray
    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray
    centre: np.ndarray
    task: np.ndarray
    report: dict = field(default_factory=dict)


def pool_peaks(genome, tables, tasks: list[str], center: str, warn) -> Pooled:
    """Match chromosome names, clip to chromosome ends and pool every task's peaks."""
    per_task, used = [], set()
    report = {
        "peaks_read": {},
        "peaks_format": {},
        "peaks_kept_centred_on_summit": {},
        "peaks_dropped": {},
        "peaks_clipped_at_chromosome_end": {},
        "chrom_map": {},
    }
    for t, table in enumerate(tables):
        mapping, unmatched = resolve_chroms(table.chrom.tolist(), genome, str(table.path), warn)
        gname = np.array([mapping.get(c) for c in table.chrom.tolist()], dtype=object)
        used.update(mapping.values())
        per_task.append(gname)
        report["peaks_read"][tasks[t]] = len(table)
        report["peaks_format"][tasks[t]] = table.format
        report["chrom_map"][tasks[t]] = dict(sorted(mapping.items()))
        report["peaks_dropped"][tasks[t]] = {"chromosome not in genome": dict(unmatched.most_common())}
    chroms = [n for n in genome.names if n in used]
    if len(chroms) > np.iinfo(np.uint16).max:
        raise InputError(f"peaks lie on {len(chroms)} sequences; at most 65535 are supported")
    cid = {n: i for i, n in enumerate(chroms)}
    lengths = np.array([genome.lengths[n] for n in chroms], dtype=np.int64)
    cols = {k: [] for k in ("chrom", "start", "end", "centre", "task")}
    for t, (table, gname) in enumerate(zip(tables, per_task, strict=True)):
        ok = np.array([g is not None for g in gname], dtype=bool)
        chrom = np.array([cid[g] for g in gname[ok]], dtype=np.int64)
        start, end = table.start[ok], table.end[ok]
        centre = clipped_centres(start, end, table.summit[ok], lengths[chrom], center)
        keep, end, centre, clipped = clip_to_chromosomes(chrom, start, end, centre, lengths)
        report["peaks_dropped"][tasks[t]]["start at or past chromosome end"] = int((~keep).sum())
        if not keep.all():
            warn(_past_end_message(table, np.flatnonzero(ok)[~keep], lengths[chrom[~keep]]))
        report["peaks_clipped_at_chromosome_end"][tasks[t]] = int(clipped.sum())
        on_summit = (table.summit[ok][keep] >= 0).sum() if center == "summit" else 0
        report["peaks_kept_centred_on_summit"][tasks[t]] = int(on_summit)  # before merging
        for k, v in zip(cols, (chrom, start, end, centre, np.full(len(chrom), t)), strict=True):
            cols[k].append(v[keep])
    cat = {k: np.concatenate(v).astype(np.int64) for k, v in cols.items()}
    return Pooled(chroms, lengths, **cat, report=report)


def _past_end_message(table, rows: np.ndarray, lengths: np.ndarray) -> str:
    """Warning for the peaks at ``rows`` of ``table``, which start at or past the ``lengths`` of their chromosomes."""
    i = int(rows[0])
    return (
        f"{table.path}: peaks starting at or past the end of their chromosome: {len(rows)}, dropped (first: "
        f"{table.chrom[i]} {int(table.start[i]):,} on a chromosome of {int(lengths[0]):,} bp); "
        "were the peaks called on another assembly of this genome?"
    )


def make_layout(pooled: Pooled, window_counts: np.ndarray, genome, p: dict) -> sp.SplitLayout:
    """Split layout from the parameters (``split``, ``valid_chroms``, ``test_chroms``, ``block_size``)."""
    lists, blocks = bool(p["valid_chroms"] or p["test_chroms"]), p["block_size"] is not None
    if lists and blocks:
        raise InputError(
            "--block-size splits chromosomes into blocks, --valid-chroms/--test-chroms hold out whole "
            "chromosomes: pass one or the other"
        )
    mode = sp.choose_mode(p["split"], int((window_counts > 0).sum()), lists, blocks)
    if mode == "chrom" and blocks:
        raise InputError("--block-size needs --split region (or auto); --split chrom holds out whole chromosomes")
    if mode == "region":
        if lists:
            raise InputError("--valid-chroms/--test-chroms need --split chrom (or auto)")
        size = p["block_size"] or int(max(10 * p["window"], min(1_000_000, pooled.lengths.sum() // 30)))
        return sp.region_layout(pooled.lengths, size, p["window"])
    ids = {n: i for i, n in enumerate(pooled.chroms)}

    def lookup(names):
        out = []
        for n in names or []:
            g = genome.resolve(n)
            if g not in ids:
                why = "holds no peaks in" if g is not None else "is not a chromosome of"
                raise InputError(
                    f"held-out chromosome {n!r} {why} genome {genome.path.name}; "
                    f"choose among {format_names(pooled.chroms)}"
                )
            out.append(ids[g])
        return out

    valid, test = lookup(p["valid_chroms"]), lookup(p["test_chroms"])
    if set(valid) & set(test):
        raise InputError("a chromosome is in both --valid-chroms and --test-chroms; give disjoint lists")
    if not lists:
        if (window_counts > 0).sum() < 3:
            raise InputError(
                f"--split chrom needs >= 3 chromosomes with peaks (found {int((window_counts > 0).sum())}); "
                "use --split region"
            )
        v, t = sp.default_holdout(window_counts)
        valid, test = [v], [t]
    elif not valid or not test:  # one list given: the other split gets the default choice among the rest
        rest = window_counts.copy()
        rest[valid + test] = 0
        if (rest > 0).sum() < 2:
            raise InputError(
                "--split chrom: no chromosome with peaks is left for both the other held-out split and training; "
                "give both --valid-chroms and --test-chroms, or use --split region"
            )
        chosen = [sp.default_holdout(rest)[1]]
        valid, test = (chosen, test) if not valid else (valid, chosen)
    split_of = np.zeros(len(pooled.chroms), dtype=np.int64)
    split_of[valid], split_of[test] = 1, 2
    layout = sp.chrom_layout(pooled.lengths, split_of, p["window"])
    layout.details = {
        "valid_chroms": [pooled.chroms[i] for i in valid],
        "test_chroms": [pooled.chroms[i] for i in test],
    }
    return layout


def build_windows(genome, tables, tasks: list[str], p: dict, rng: np.random.Generator, warn, step=None, exclude=()):
    """Build the window table.

    Parameters
    ----------
    genome : Genome
    tables : list of PeakTable
        One per task.
    tasks : list of str
    p : dict
        Parameters as validated by :func:`peakcnn.data.prepare.prepare_dataset`.
    rng : numpy Generator
    warn : callable
        Called with each warning message.
    step : callable, optional
        Called with a stage name as work progresses.
    exclude : list of PeakTable, optional
        Regions that genomic negatives must not overlap (besides every peak), e.g. the peaks of other
        replicates or a blacklist.

    Returns
    -------
    table : WindowTable
    report : dict
        Counts of dropped peaks and windows, chromosome map, split layout.
    """
    step = step or (lambda name: None)
    W = p["window"]
    step("windows")
    pooled = pool_peaks(genome, tables, tasks, p["center"], warn)
    report = pooled.report
    wc, wx, member = merge_centres(pooled.chrom, pooled.centre, p["merge_distance"])
    ws = window_starts(wx, W)
    labels = label_windows(wc, wx, pooled.chrom, pooled.centre, pooled.task, len(tasks), p["label_distance"])
    # Every peak is positive in its own cluster's window, even when merging put the window centre more than
    # label_distance // 2 from it (an odd --label-distance, or --merge-distance above it).
    labels[member, pooled.task] = 1
    layout = make_layout(pooled, np.bincount(wc, minlength=len(pooled.chroms)), genome, p)
    split = sp.assign(layout, wc, ws, W)
    dropped = Counter({"crosses a split boundary": int((split == sp.DROPPED).sum())})
    keep = split != sp.DROPPED
    seqs = fetch_sequences(genome, pooled.chroms, wc[keep], ws[keep], W)
    _, nf = window_stats(seqs)
    ok = nf <= p["max_n_frac"]
    dropped["N fraction above max_n_frac"] = int((~ok).sum())
    pos = dict(chrom=wc[keep][ok], start=ws[keep][ok], split=split[keep][ok], labels=labels[keep][ok], seqs=seqs[ok])
    first, pos_labels = deduplicate(pos["seqs"], pos["labels"], pos["split"].astype(np.int64))
    dropped["identical sequence (duplicate)"] = len(pos["seqs"]) - len(first)
    pos = {k: v[first] for k, v in pos.items()} | {"labels": pos_labels}
    report["peaks_pooled"] = int(len(pooled.chrom))
    report["windows_from_peaks"] = int(len(wc))
    report["windows_padded"] = {"positive": int(padded(pos["chrom"], pos["start"], W, pooled.lengths).sum())}
    step("negatives")
    avoid, used = excluded_intervals(genome, pooled, exclude, warn)
    report["exclude_intervals"] = {str(t.path): n for t, n in zip(exclude, used, strict=True)}
    negs, shortfall = draw_negatives(genome, pooled, pos, (wc, ws), layout, p, rng, warn, avoid)
    report.update(shortfall)
    report["windows_padded"]["negative"] = int(padded(negs["chrom"], negs["start"], W, pooled.lengths).sum())
    step("deduplicate")
    table, n_dup = _combine(pos, negs, tasks, pooled.chroms)
    dropped["identical sequence (duplicate)"] += n_dup
    report["windows_dropped"] = dict(dropped)
    report["split_layout"] = {"mode": layout.mode, **layout.details}
    overlaps = sp.cross_split_overlaps(table.chrom, table.start, table.start + W, table.split)
    if overlaps:
        raise PeakcnnError(f"internal error: {overlaps} windows overlap a window of another split")
    report["cross_split_overlaps"] = overlaps
    return table, report


def excluded_intervals(genome, pooled: Pooled, tables, warn) -> tuple[tuple[np.ndarray, ...], list[int]]:
    """``(chrom, start, end)`` of the exclusion files' regions on the chromosomes holding peaks, and the
    number of regions used from each file.

    Chromosome names are matched through aliases like peak files: a file none of whose names is in the
    genome is an error listing what was found; names of some other chromosomes draw a warning.
    """
    cid = {n: i for i, n in enumerate(pooled.chroms)}
    parts, used = [(np.zeros(0, np.int64),) * 3], []
    for table in tables:
        source = f"{table.path} (--exclude)"
        mapping, _ = resolve_chroms(table.chrom.tolist(), genome, source, warn, what="regions", holder="file")
        ids = np.array([cid.get(mapping.get(c), -1) for c in table.chrom.tolist()], dtype=np.int64)
        ok = ids >= 0
        parts.append((ids[ok], table.start[ok], table.end[ok]))
        used.append(int(ok.sum()))
    return tuple(np.concatenate([part[i] for part in parts]).astype(np.int64) for i in range(3)), used


def draw_negatives(
    genome, pooled: Pooled, pos: dict, all_windows, layout, p: dict, rng, warn, avoid
) -> tuple[dict, dict[str, int]]:
    """Negative windows for every split, ``neg_ratio`` per positive window of that split, and the shortfall:
    ``negatives_not_found``, how many of them the genome had no room for, and ``negatives_refused_for_n``,
    how many windows the N filter refused in the splits that fell short.

    Genomic negatives overlap no peak, no window of the data set and no ``avoid`` interval
    (``(chrom, start, end)`` arrays, see :func:`excluded_intervals`).
    """
    W, kind = p["window"], p["negatives"]
    out = {k: [] for k in ("chrom", "start", "split", "seqs")}
    not_found = refused_n = 0
    busy_c = np.r_[pooled.chrom, all_windows[0], avoid[0]]
    busy_lo = np.r_[pooled.start, all_windows[1], avoid[1]]
    busy_hi = np.r_[pooled.end, all_windows[1] + W, avoid[2]]
    for k, name in enumerate(sp.SPLIT_NAMES):
        in_k = pos["split"] == k
        n = int(round(p["neg_ratio"] * in_k.sum())) if kind != "none" else 0
        if n == 0:
            continue
        if kind == "shuffled":
            src = np.flatnonzero(in_k)[_cyclic_choice(rng, int(in_k.sum()), n)]
            c, s = pos["chrom"][src], pos["start"][src]
            seqs = neg.dinucleotide_shuffle(pos["seqs"][src], rng)
        else:
            sampler = neg.StartSampler(*sp.start_intervals(layout, k, pooled.lengths, W), busy_c, busy_lo, busy_hi, W)
            target = window_stats(pos["seqs"][in_k])[0] if kind == "gc-matched" else None
            c, s, short, refused = neg.sample_genomic(
                rng, sampler, genome, pooled.chroms, W, n, p["max_n_frac"], target
            )
            not_found += short
            refused_n += refused if short else 0
            if short:
                also = f" ({refused:,} more refused for N above --max-n-frac {p['max_n_frac']:g})" if refused else ""
                found = f"only {n - short} of {n} negative windows found outside peaks{also}"
                warn(f"{name}: {found}; class balance is off")
            seqs = fetch_sequences(genome, pooled.chroms, c, s, W)
        for key, v in zip(out, (c, s, np.full(len(c), k, dtype=np.uint8), seqs), strict=True):
            out[key].append(v)
    shortfall = {"negatives_not_found": not_found, "negatives_refused_for_n": refused_n}
    if not out["chrom"]:
        empty = {
            "chrom": np.zeros(0, np.int64),
            "start": np.zeros(0, np.int64),
            "split": np.zeros(0, np.uint8),
            "seqs": np.zeros((0, W), np.uint8),
        }
        return empty, shortfall
    return {k: np.concatenate(v) for k, v in out.items()}, shortfall


def _cyclic_choice(rng, n_items: int, n: int) -> np.ndarray:
    """``n`` indices into ``n_items``: whole random permutations, then a random part of one more."""
    reps = [rng.permutation(n_items) for _ in range(-(-n // n_items))]
    return np.concatenate(reps)[:n]


def _combine(pos: dict, negs: dict, tasks: list[str], chroms: list[str]) -> tuple[WindowTable, int]:
    n_pos, n_neg = len(pos["chrom"]), len(negs["chrom"])
    seqs = np.concatenate([pos["seqs"], negs["seqs"]])
    labels = np.concatenate([pos["labels"], np.zeros((n_neg, len(tasks)), np.uint8)])
    source = np.r_[np.zeros(n_pos, np.uint8), np.ones(n_neg, np.uint8)]
    split = np.r_[pos["split"], negs["split"]].astype(np.uint8)
    keep, labels = deduplicate(seqs, labels, source.astype(np.int64) * 4 + split)
    table = WindowTable(
        seqs=seqs[keep],
        labels=labels,
        chrom=np.r_[pos["chrom"], negs["chrom"]][keep].astype(np.uint16),
        start=np.r_[pos["start"], negs["start"]][keep].astype(np.int64),
        split=split[keep],
        source=source[keep],
        tasks=list(tasks),
        chroms=list(chroms),
    )
    return table.sorted(), int(len(seqs) - len(keep))

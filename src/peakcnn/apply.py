"""Applying a trained model to regions, sequences and whole genomes (the library behind predict and scan)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from peakcnn.errors import InputError
from peakcnn.runconfig import is_real_number

log = logging.getLogger(__name__)


def check_genome(meta: dict, genome) -> None:
    """Warn when chromosomes recorded in the checkpoint are absent from ``genome`` (another assembly?). A
    chromosome is found by its name or by what its FASTA description said (``NC_003070.9`` described as
    "chromosome 1" is ``chr1`` of another assembly's naming)."""
    from peakcnn.io.chromnames import description_key

    names = meta.get("genome_chroms") or (meta.get("training") or {}).get("genome_chroms")
    if not names:
        return
    descriptions = meta.get("genome_chrom_descriptions") or {}

    def found(name: str) -> bool:
        key = description_key(descriptions.get(name, ""))
        return genome.resolve(name) is not None or (key is not None and genome.resolve(key) is not None)

    missing = [c for c in names if not found(c)]
    if missing:
        shown = ", ".join(missing[:5]) + (f", ... {len(missing) - 5} more" if len(missing) > 5 else "")
        log.warning(
            "warning: %d of the %d chromosomes the model was trained on are not in genome %s (%s); "
            "is this the training genome assembly?",
            len(missing),
            len(names),
            genome.path.name,
            shown,
        )


#: The most N a window may hold and still be scored, when the model does not record its training data
#: set's limit: ``peakcnn prepare --max-n-frac``'s default.
DEFAULT_MAX_N_FRAC = 0.1


def max_n_frac(meta: dict, given: float | None = None) -> tuple[float, str]:
    """The N limit of predict/scan/variants and where it comes from: ``given`` (``--max-n-frac``) when set,
    else the one the training data set was built with (``max_n_frac`` in the model's JSON), else
    :data:`DEFAULT_MAX_N_FRAC`."""
    if given is not None:
        if not is_real_number(given) or not 0 <= given <= 1:
            raise InputError(f"--max-n-frac {given!r}: give a fraction of the window, 0 to 1")
        return float(given), "--max-n-frac"
    recorded = meta.get("max_n_frac")
    if recorded is not None:
        return float(recorded), "the most the model's training windows held, 'prepare --max-n-frac'"
    return DEFAULT_MAX_N_FRAC, "prepare's default --max-n-frac, as the model does not record its data set's"


def n_fractions(codes: np.ndarray, shifts=(0,), rc: bool = False) -> np.ndarray:
    """Fraction of ``N`` in each window of ``codes`` ``(n, W)``, shape ``(n,)``: what prepare's filter reads.
    With ``shifts``, the most of the windows moved by them (``N`` moved in), and with ``rc`` of their reverse
    complements moved along their own strand too: the windows ``predict --shifts S... [--rc]`` scores."""
    from peakcnn.data.windows import window_stats
    from peakcnn.sequence import N_CODE

    width, fractions = codes.shape[1], np.zeros(len(codes))
    # the reverse strand moved by s keeps the bases the forward strand moved by -s keeps
    for shift in {*shifts, *(-s for s in shifts)} if rc else set(shifts):
        if shift == 0:
            moved = window_stats(codes)[1]
        else:
            kept = codes[:, : width - shift] if shift > 0 else codes[:, -shift:]
            moved = ((kept == N_CODE).sum(axis=1) + abs(shift)) / width
        fractions = np.maximum(fractions, moved)
    return fractions


def window_n_fractions(codes: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """Fraction of ``N`` in the windows ``[starts, starts + window)`` of one chromosome's ``codes``, shape
    ``(len(starts),)``; the part of a window off either chromosome end counts as N (it is N-padded)."""
    from peakcnn.sequence import N_CODE

    where_n = np.flatnonzero(codes == N_CODE)  # memory grows with the N, not with the chromosome
    lo = np.clip(starts, 0, len(codes))
    hi = np.clip(starts + window, 0, len(codes))
    inside = np.searchsorted(where_n, hi) - np.searchsorted(where_n, lo)
    return (inside + (window - (hi - lo))) / window


def warn_too_many_n(
    what: str, count: int, total: int, first: str, limit: tuple[float, str], scores: str, things: str = "windows"
) -> None:
    """A warning counting the ``count`` of ``total`` windows with more N than ``limit`` (:func:`max_n_frac`),
    whose ``scores`` are left out; ``first`` names the first one (a line, a record)."""
    if count:
        log.warning(
            "warning: %s: %d of %d %s hold more than %g%% N (%s; first: %s): assembly gaps, chromosome ends "
            "or N-padding; their %s (--max-n-frac 1 scores every window)",
            what,
            count,
            total,
            things,
            100 * limit[0],
            limit[1],
            first,
            scores,
        )


def warn_explained_n(command: str, codes: np.ndarray, labels: list[str], meta: dict) -> None:
    """A warning counting the windows of ``codes`` (``labels`` naming them) that ``ism`` or ``attribute``
    (``command``) explains although they hold more N than the model's training windows could
    (:func:`max_n_frac`): those explain what the network makes of the N as much as of sequence."""
    limit = max_n_frac(meta)
    over = n_fractions(codes) > limit[0]
    if over.any():
        log.warning(
            "warning: %s: %d of %d windows hold more than %g%% N (%s; first: %s), more than the model was "
            "trained on: what it says there reads the N as well as the sequence",
            command,
            int(over.sum()),
            len(over),
            100 * limit[0],
            limit[1],
            labels[int(over.argmax())],
        )


@dataclass
class Regions:
    """Regions resolved against a genome, one window each."""

    chrom: np.ndarray  # genome chromosome names (object)
    label: np.ndarray  # chromosome names as the BED gives them (object), for output rows
    start: np.ndarray  # int64 region start
    end: np.ndarray  # int64 region end
    name: np.ndarray  # object
    window_start: np.ndarray  # int64
    line: np.ndarray  # int64 line number of each region in its file


def bed_regions(path: str | Path, genome, window: int, center: str = "summit") -> Regions:
    """Read a BED/narrowPeak file and place a window on each region.

    With ``center="summit"`` the window is centred on the summit (narrowPeak column 10) when given, else on
    the midpoint; with ``"midpoint"`` always on the midpoint: exactly as ``peakcnn prepare --center`` does.
    Regions on chromosomes absent from the genome are dropped with a warning counting them; a region
    running past its chromosome's end is centred on the part that exists, as ``prepare`` does (a warning
    counts them); one starting at or past the end is an error (wrong genome).
    """
    from peakcnn.data.windows import clipped_centres, window_starts
    from peakcnn.io.bed import read_peaks
    from peakcnn.io.fasta import resolve_chroms

    peaks = read_peaks(path, "--bed")
    mapping, _ = resolve_chroms(peaks.chrom, genome, str(path), what="regions", holder="BED")
    keep = np.array([c in mapping for c in peaks.chrom], dtype=bool)
    peaks = peaks.subset(keep)
    chrom = np.array([mapping[c] for c in peaks.chrom], dtype=object)
    length = np.array([genome.lengths[c] for c in chrom], dtype=np.int64)
    past = np.flatnonzero(peaks.start >= length)
    if len(past):
        i = past[0]
        raise InputError(
            f"{path}:{peaks.line[i]}: region {peaks.chrom[i]}:{peaks.start[i]}-{peaks.end[i]} starts past "
            f"the end of {chrom[i]} ({length[i]} bp) in {genome.path.name} ({len(past)} such regions); "
            "is the BED for this genome assembly?"
        )
    over = np.flatnonzero(peaks.end > length)
    if len(over):
        i = over[0]
        log.warning(
            "warning: %s: %d region(s) run past their chromosome's end (first: line %d, %s:%d-%d); each is "
            "scored on the window centred on the part that exists, as prepare does",
            path,
            len(over),
            peaks.line[i],
            peaks.chrom[i],
            peaks.start[i],
            peaks.end[i],
        )
    centre = clipped_centres(peaks.start, peaks.end, peaks.summit, length, center)
    return Regions(chrom, peaks.chrom, peaks.start, peaks.end, peaks.name, window_starts(centre, window), peaks.line)


def region_codes(regions: Regions, genome, window: int) -> np.ndarray:
    """Window codes ``(n, window)`` in region order, fetched one chromosome at a time."""
    out = np.empty((len(regions.start), window), dtype=np.uint8)
    names, which = np.unique(regions.chrom.astype(str), return_inverse=True)
    order = np.argsort(which, kind="stable")  # the regions of each chromosome together, found once
    bounds = np.searchsorted(which[order], np.arange(len(names) + 1))
    for i, c in enumerate(names):
        idx = order[bounds[i] : bounds[i + 1]]
        out[idx] = genome.fetch_windows(str(c), regions.window_start[idx], window)
    return out


def fasta_codes(path: str | Path, window: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Query sequences fitted to ``window``: names, lengths ``(n,)`` and codes ``(n, window)``.

    Shorter sequences are N-padded symmetrically, longer ones centre-cropped; a warning counts both.
    """
    from peakcnn.io.seqs import fit_to_window, read_sequences

    names, lengths, rows = [], [], []
    for name, codes in read_sequences(path):
        names.append(name)
        lengths.append(len(codes))
        rows.append(fit_to_window(codes, window)[0])
    lengths = np.array(lengths, dtype=np.int64)
    warn_fitted(path, lengths, window)
    return names, lengths, np.stack(rows)


def warn_fitted(path, lengths: np.ndarray, window: int) -> None:
    """A warning counting the sequences of ``path`` N-padded or centre-cropped to ``window``."""
    short, long = int((lengths < window).sum()), int((lengths > window).sum())
    if short or long:
        log.warning(
            "warning: %s: %d of %d sequences are shorter than the %d bp window (N-padded on both sides) and "
            "%d longer (centre-cropped)",
            path,
            short,
            len(lengths),
            window,
            long,
        )


def output_kind(path: str | Path) -> str:
    """``"bed"`` for ``.bed`` (or ``.bed.gz``) outputs, else ``"tsv"``."""
    name = Path(path).name.lower().removesuffix(".gz")
    return "bed" if name.endswith(".bed") else "tsv"


def call_peaks(
    starts: np.ndarray,
    ends: np.ndarray,
    values: np.ndarray,
    threshold: float,
    merge_gap: int,
    min_length: int,
) -> list[tuple[int, int, float, int]]:
    """Runs of intervals with ``value >= threshold``, merged across gaps <= ``merge_gap`` bp.

    Parameters
    ----------
    starts, ends, values
        Track intervals of one chromosome in order, shape ``(n,)`` each.

    Returns
    -------
    list of (start, end, max value, summit)
        Peaks at least ``min_length`` bp long; the summit is the midpoint of the highest interval.
    """
    above = np.flatnonzero(values >= threshold)
    if not len(above):
        return []
    gaps = starts[above[1:]] - ends[above[:-1]]
    breaks = np.flatnonzero(gaps > merge_gap)
    firsts = np.concatenate([[0], breaks + 1])
    lasts = np.concatenate([breaks, [len(above) - 1]])
    peaks = []
    for f, la in zip(firsts, lasts, strict=False):
        members = above[f : la + 1]
        s, e = int(starts[members[0]]), int(ends[members[-1]])
        if e - s < min_length:
            continue
        top = members[np.argmax(values[members])]
        peaks.append((s, e, float(values[top]), int((starts[top] + ends[top]) // 2)))
    return peaks


def peak_rows(chrom: str, task: str, peaks: list[tuple[int, int, float, int]], first: int = 0):
    """narrowPeak rows for :func:`call_peaks` output (score = 1000 x max probability)."""
    for i, (s, e, v, summit) in enumerate(peaks, start=first):
        yield (
            chrom,
            s,
            e,
            f"{task}_peak{i}",
            min(1000, int(round(1000 * v))),
            ".",
            f"{v:.6g}",
            -1,
            -1,
            summit - s,
        )


PEAK_HEADER = [
    "chrom",
    "start",
    "end",
    "name",
    "score",
    "strand",
    "max_prob",
    "pValue",
    "qValue",
    "summit_offset",
]

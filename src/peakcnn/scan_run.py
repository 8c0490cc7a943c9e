"""Scanning a genome to prediction tracks and called peaks (the library behind ``peakcnn scan``)."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
from torch import nn

from peakcnn.apply import PEAK_HEADER, call_peaks, max_n_frac, peak_rows, window_n_fractions
from peakcnn.errors import InputError
from peakcnn.inference import best_device, sigmoid
from peakcnn.scan import default_stride, n_intervals, pool_product, scan_codes, scan_plans, window_starts

log = logging.getLogger(__name__)


def _explain_stride(model: nn.Module, stride: int) -> None:
    """Warn when a multiple of the pooling product would scan much faster than ``stride``; say only why the
    scan shares less of the trunk when no such stride fits the window (an ensemble of mixed pools)."""
    p = pool_product(model)
    if stride % p:
        faster = default_stride(model, stride)
        why = f"stride {stride} is not a multiple of the model's pooling product {p}, so windows share less of the "
        if faster % p == 0:
            log.warning("warning: %sconvolution trunk and the scan is slower; --stride %d is much faster", why, faster)
        else:
            log.info("scan: %strunk (no multiple of %d fits the %d bp window)", why, p, model.config.window)


def scan_genome(
    model: nn.Module,
    tasks: list[str],
    genome,
    chroms: list[str],
    stride: int | None,
    exact: bool,
    out: str | Path,
    peaks_out: str | Path | None = None,
    peak_options: tuple[float, int, int] = (0.5, 0, 0),
    max_n: tuple[float, str] | None = None,
    device=None,
    progress: bool = True,
) -> list[Path]:
    """Scan ``chroms`` of ``genome``; write one track per task and optionally a peak file. Chromosomes are
    scanned and written in the genome's order, so tracks and peaks are sorted by coordinate.

    Parameters
    ----------
    stride
        Interval width; ``None`` = :func:`~peakcnn.scan.default_stride`.
    peak_options
        ``(threshold, merge_gap, min_length)`` for :func:`~peakcnn.apply.call_peaks`.
    max_n
        ``(limit, where it comes from)`` as :func:`~peakcnn.apply.max_n_frac` gives it (default: its
        default). An interval whose window holds more N than the limit (an assembly gap, a chromosome end)
        gets no value in the tracks and is never part of a called peak.

    Returns
    -------
    list of Path
        Track files written. Nothing is left behind if an error occurs.
    """
    from tqdm import tqdm

    from peakcnn.io.output import write_table
    from peakcnn.io.tracks import TrackWriter, track_paths

    if stride is not None and stride < 1:
        raise InputError(f"--stride {stride}: must be a positive number of bp")
    window = model.config.window
    if stride is not None and stride > window:
        raise InputError(
            f"--stride {stride}: above the model's {window} bp window, so an interval's score would come from a "
            f"window that does not cover all of it; use at most {window}"
        )
    stride = stride or default_stride(model)
    _explain_stride(model, stride)
    if isinstance(chroms, (str, bytes)):  # one name would be read letter by letter
        raise InputError(f"chroms {chroms!r}: give a list of chromosome names")
    unknown = [c for c in chroms if c not in genome.lengths]
    if unknown:
        from peakcnn.io.fasta import describe_genome_names

        raise InputError(
            f"chroms: {unknown[0]!r} is not in genome {genome.path.name} ({describe_genome_names(genome)})"
        )
    max_n = max_n or max_n_frac({})
    n_all = n_out = bp_out = 0  # intervals; those without a value, and their bp
    chosen = set(chroms)
    chroms = [c for c in genome.names if c in chosen]
    sizes = [(c, genome.lengths[c]) for c in chroms]
    rank = {c: i for i, c in enumerate(chroms)}  # genome order of the called peaks
    writers = []
    peaks: list[tuple] = []
    bar = tqdm(total=sum(n for _, n in sizes), unit="bp", unit_scale=True, disable=not progress, desc="scan")
    try:
        for path in track_paths(out, tasks):
            writers.append(TrackWriter(path, sizes))
        dev = best_device(device)
        plans = scan_plans(model, window, dev)  # once for the genome, not per chromosome
        for chrom, length in sizes:
            codes = genome.codes(chrom)
            probs = sigmoid(scan_codes(model, codes, stride, exact=exact, device=dev, progress=bar.update, plans=plans))
            starts = np.arange(n_intervals(length, stride), dtype=np.int64) * stride
            ends = np.minimum(starts + stride, length)
            keep = window_n_fractions(codes, window_starts(length, stride, window), window) <= max_n[0]
            n_all += len(keep)
            n_out += int((~keep).sum())
            bp_out += int((ends - starts)[~keep].sum())
            for t, w in enumerate(writers):
                w.add(chrom, starts[keep], ends[keep], probs[keep, t])
                if peaks_out:
                    found = _call_between_gaps(starts, ends, probs[:, t], keep, peak_options)
                    peaks.extend(peak_rows(chrom, tasks[t], found, first=len(peaks)))
        for w in writers:  # every track complete under its temporary name before anything is put in place
            w.finish()
        if peaks_out:
            n = write_table(
                peaks_out,
                PEAK_HEADER,
                sorted(peaks, key=lambda r: (rank[r[0]], r[1])),
                comment_header=True,
            )
            log.info("scan: %d peak(s) -> %s", n, peaks_out)
        paths = []
        try:
            for w in writers:
                paths.append(w.commit())
        except BaseException:  # a rename failed: take back what is in place, so that nothing is left
            for path in paths + ([Path(peaks_out)] if peaks_out else []):
                path.unlink(missing_ok=True)
            raise
    except BaseException:
        for w in writers:  # every one, even if closing another fails again (a full disk) or is interrupted
            with contextlib.suppress(OSError, KeyboardInterrupt):
                w.abort()
        raise
    finally:
        bar.close()
    if n_out:
        log.info(
            "scan: %d of %d intervals (%d bp) have no value in the track%s: their windows hold more than %g%% N "
            "(%s): assembly gaps or chromosome ends",
            n_out,
            n_all,
            bp_out,
            " and no peak" if peaks_out else "",
            100 * max_n[0],
            max_n[1],
        )
    log.info(
        "scan: %s at stride %d (%s) -> %s",
        ", ".join(c for c, _ in sizes[:5]),
        stride,
        "exact" if exact else "fast",
        ", ".join(map(str, paths)),
    )
    return paths


def _call_between_gaps(starts, ends, values, keep, peak_options) -> list[tuple[int, int, float, int]]:
    """:func:`~peakcnn.apply.call_peaks` on each run of intervals kept (``keep``) on its own, so that no peak
    covers or is merged across an interval left out (an assembly gap), whatever ``--merge-gap``."""
    found = []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], keep.astype(np.int8), [0]])))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        found += call_peaks(starts[a:b], ends[a:b], values[a:b], *peak_options)
    return found

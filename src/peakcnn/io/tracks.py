"""Prediction tracks: bigWig (pyBigWig) or bedGraph, chosen by the file extension.

A :class:`TrackWriter` receives one chromosome at a time, in the order declared up front, and renames its
file into place only on :meth:`TrackWriter.close`; :meth:`TrackWriter.abort` removes it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from peakcnn.errors import InputError, OutputError
from peakcnn.io.output import check_output

BIGWIG_EXT = (".bw", ".bigwig")
BEDGRAPH_EXT = (".bedgraph", ".bg", ".bdg")


def track_format(path: str | Path) -> str:
    """``"bigwig"`` or ``"bedgraph"`` from the extension (``.gz`` not supported for either)."""
    suffix = Path(path).suffix.lower()
    if suffix in BIGWIG_EXT:
        return "bigwig"
    if suffix in BEDGRAPH_EXT:
        return "bedgraph"
    raise InputError(f"{path}: unknown track extension {suffix or '(none)'!r}; use .bw/.bigWig or .bedGraph/.bg")


def safe_name(text: str) -> str:
    """``text`` with characters unsafe in file names replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", text) or "task"


def track_paths(path: str | Path, tasks: list[str]) -> list[Path]:
    """One path per task: ``path`` itself for one task, else ``STEM.TASK.EXT`` next to it; task names that
    give the same file name (``a:b`` and ``a_b``) are an error."""
    path = Path(path)
    track_format(path)
    if len(tasks) == 1:
        return [path]
    paths = [path.with_name(f"{path.stem}.{safe_name(t)}{path.suffix}") for t in tasks]
    seen: dict[Path, str] = {}
    for task, p in zip(tasks, paths, strict=True):
        if p in seen:
            raise InputError(
                f"tasks {seen[p]!r} and {task!r} would both write {p.name}; rename one (peakcnn ensemble --tasks)"
            )
        seen[p] = task
    return paths


class TrackWriter:
    """Write ``chrom, start, end, value`` intervals of one track.

    Parameters
    ----------
    path
        Destination; the format follows the extension.
    chroms
        ``(name, length)`` of every chromosome that will be added, in order.
    """

    def __init__(self, path: str | Path, chroms: list[tuple[str, int]]):
        self.path = check_output(path, "track")
        self.format = track_format(path)
        self.tmp = self.path.with_name(f".{self.path.stem}.tmp{os.getpid()}{self.path.suffix}")
        self._aborted = False
        if self.format == "bigwig":
            import pyBigWig

            self._fh = pyBigWig.open(str(self.tmp), "w")
            self._fh.addHeader([(c, int(n)) for c, n in chroms], maxZooms=10)
            self._last: dict[str, tuple[int, int]] = {}  # each chromosome's last interval, read back at the end
        else:
            self._fh = open(self.tmp, "w", encoding="utf-8", newline="\n")

    def add(self, chrom: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> None:
        """Append intervals ``[starts, ends)`` with ``values`` (all shape ``(n,)``) on ``chrom``."""
        if len(starts) == 0:
            return
        if self.format == "bigwig":
            try:
                self._fh.addEntries(
                    [chrom] * len(starts),
                    np.asarray(starts, dtype=np.int64).tolist(),
                    ends=np.asarray(ends, dtype=np.int64).tolist(),
                    values=np.asarray(values, dtype=np.float64).tolist(),
                )
            except SystemError:  # how pyBigWig reports a failed write (a full disk)
                raise self._failed() from None
            self._last[chrom] = (int(starts[-1]), int(ends[-1]))
        else:
            lines = (
                f"{chrom}\t{s}\t{e}\t{v:.6g}\n"
                for s, e, v in zip(starts.tolist(), ends.tolist(), values.tolist(), strict=False)
            )
            self._fh.writelines(lines)

    def finish(self) -> None:
        """Complete the temporary file (a bigWig writes its zoom levels and index here); nothing is in place
        until :meth:`commit`. A bigWig is read back (unless aborted): pyBigWig only prints when its last
        writes fail, and leaves a file without data."""
        if self._fh is not None:
            fh, self._fh = self._fh, None
            fh.close()
            if self.format == "bigwig" and not self._aborted:
                self._check_bigwig()

    def _failed(self) -> OutputError:
        return OutputError(
            f"{self.path}: the bigWig could not be written completely; free space or choose another --out"
        )

    def _check_bigwig(self) -> None:
        import pyBigWig

        try:
            bw = pyBigWig.open(str(self.tmp))
        except RuntimeError:
            bw = None
        if bw is None:
            raise self._failed()
        try:
            for chrom, (start, end) in self._last.items():
                if not bw.intervals(chrom, start, end):
                    raise self._failed()
        finally:
            bw.close()

    def commit(self) -> Path:
        """Move the finished file into place."""
        self.finish()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file (deleted even when closing it fails)."""
        self._aborted = True
        try:
            self.finish()
        finally:
            self.tmp.unlink(missing_ok=True)

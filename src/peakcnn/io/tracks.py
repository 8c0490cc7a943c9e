"""Prediction tracks: bigWig (pyBigWig) or bedGraph, chosen by the file extension.

A :class:`TrackWriter` receives one chromosome at a time, in the order declared up front, and renames its
file into place only on :meth:`TrackWriter.commit`; :meth:`TrackWriter.abort` removes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from peakcnn.errors import InputError, OutputError
from peakcnn.io.bigwig import REASON, spool_part
from peakcnn.io.output import check_output, user_path

BIGWIG_EXT = (".bw", ".bigwig")
#: The longest chromosome a bigWig holds: lengths are 32-bit.
BIGWIG_MAX_LENGTH = 2**32 - 1
BEDGRAPH_EXT = (".bedgraph", ".bg", ".bdg")


def track_format(path: str | Path) -> str:
    """``"bigwig"`` or ``"bedgraph"`` from the extension (``.gz`` not supported for either)."""
    suffix = Path(path).suffix.lower()
    if suffix in BIGWIG_EXT:
        return "bigwig"
    if suffix in BEDGRAPH_EXT:
        return "bedgraph"
    raise InputError(f"{path}: unknown track extension {suffix or '(none)'!r}; use .bw/.bigWig or .bedGraph/.bg/.bdg")


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

    def __init__(self, path: str | Path, chroms: list[tuple[str, int]], option: str = "--out"):
        self.path = check_output(path, "track")
        self.option = option  # named in the message when the track cannot be written
        self.format = track_format(path)
        self.tmp = self.path.with_name(f".{self.path.stem}.tmp{os.getpid()}{self.path.suffix}")
        self._aborted = False
        self.chroms = [(str(c), int(n)) for c, n in chroms]
        if self.format == "bigwig":  # intervals spooled here, written by peakcnn.io.bigwig in its own process
            _check_bigwig_writable(self.tmp, self.chroms)
            self.spool = self.tmp.with_name(f"{self.tmp.name}.spool")
            self._parts: list[dict] = []
            with self._naming_the_track():
                self._fh = open(self.spool, "wb")
        else:
            self._fh = open(self.tmp, "w", encoding="utf-8", newline="\n")

    def add(self, chrom: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> None:
        """Append intervals ``[starts, ends)`` with ``values`` (all shape ``(n,)``) on ``chrom``."""
        if len(starts) == 0:
            return
        if self.format == "bigwig":
            part, data = spool_part(chrom, starts, ends, values, offset=self._fh.tell())
            with self._naming_the_track():
                self._fh.write(data)
            self._parts.append(part)
        else:
            lines = (
                f"{chrom}\t{s}\t{e}\t{v:.6g}\n"
                for s, e, v in zip(starts.tolist(), ends.tolist(), values.tolist(), strict=False)
            )
            self._fh.writelines(lines)

    def finish(self) -> None:
        """Complete the temporary file; nothing is in place until :meth:`commit`. A bigWig is written here
        from the spooled intervals, in a process of its own (see :mod:`peakcnn.io.bigwig`): pyBigWig does not
        report every failed write, and can crash on one."""
        if self._fh is None:
            return
        fh, self._fh = self._fh, None
        try:
            with self._naming_the_track():
                fh.close()
            if self.format == "bigwig" and not self._aborted:
                self._write_bigwig()
        finally:
            if self.format == "bigwig":
                self.spool.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _naming_the_track(self):
        """A failed write of the temporary file or spool (a full disk) names the track it is for."""
        try:
            yield
        except OSError as e:
            raise OSError(e.errno, e.strerror or str(e), str(self.path)) from None

    def _write_bigwig(self) -> None:
        job = {"spool": str(self.spool), "out": str(self.tmp), "chroms": self.chroms, "parts": self._parts}
        # The writer searches this process's module path and nothing else: -I leaves out the current folder,
        # PYTHONPATH and the user's site-packages, which this process may not have searched. -B: it writes
        # no bytecode, which a full disk would leave cut short for every later run to fail on.
        path = [p for p in sys.path if isinstance(p, str)]
        code = f"import sys; sys.path[:] = {path!r}; from peakcnn.io.bigwig import main; sys.exit(main())"
        with self._naming_the_track():  # the interpreter cannot be started
            done = subprocess.run(
                [sys.executable, "-I", "-B", "-c", code], input=json.dumps(job).encode(), capture_output=True
            )
        if done.returncode != 0:
            raise OutputError(
                f"{self.path}: the bigWig could not be written completely ({_writer_failure(done)}); free space "
                f"or choose another {self.option}"
            )

    def commit(self) -> Path:
        """Move the finished file into place."""
        self.finish()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file and spool (deleted even when closing fails)."""
        self._aborted = True
        try:
            self.finish()
        finally:
            self.tmp.unlink(missing_ok=True)
            if self.format == "bigwig":
                self.spool.unlink(missing_ok=True)


def _check_bigwig_writable(tmp: Path, chroms: list[tuple[str, int]]) -> None:
    """Fail before a scan, not after it, where the bigWig writer could not run or write: no Python to run it
    with, pyBigWig missing, a path it cannot open (UTF-8 names only; it crashes on others), or a chromosome
    longer than a bigWig holds."""
    if not sys.executable:
        raise OutputError(
            "no Python interpreter to run the bigWig writer with (sys.executable is empty); write a .bedGraph track"
        )
    try:
        import pyBigWig  # noqa: F401  (imported by the writer process, from the same module path)
    except ImportError as e:
        raise OutputError(f"pyBigWig cannot be imported ({e}); reinstall it or write a .bedGraph track") from None
    try:
        str(tmp).encode("utf-8")  # the name the writer process is given
    except UnicodeEncodeError:
        raise InputError(
            f"{os.fsdecode(user_path(tmp))!r}: a bigWig path must be valid UTF-8 (pyBigWig opens no other); "
            "rename the folder or write a .bedGraph track"
        ) from None
    for chrom, length in chroms:
        if length > BIGWIG_MAX_LENGTH:
            raise InputError(
                f"{chrom}: {length:,} bp, longer than a bigWig holds ({BIGWIG_MAX_LENGTH:,} bp); write a .bedGraph "
                "track"
            )


def _writer_failure(done: subprocess.CompletedProcess) -> str:
    """What ended the bigWig writer process: the signal that killed it, or the last line it wrote."""
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        hint = "; out of memory?" if -done.returncode == signal.SIGKILL else ""
        return f"its writer process was ended by {name}{hint}"
    lines = [ln.strip() for ln in done.stderr.decode("utf-8", errors="replace").splitlines() if ln.strip()]
    said = [ln.removeprefix(REASON) for ln in lines if ln.startswith(REASON)] or lines[-1:]
    return said[-1][:300] if said else f"its writer process exited with status {done.returncode}"

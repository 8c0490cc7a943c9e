"""Write one bigWig from a spool of intervals, in a process of its own.

pyBigWig (libBigWig) does not report every failed write: when the header, the zoom levels or the index
cannot be written (a full disk) it prints a line and goes on, leaves a truncated file, or corrupts its memory
and crashes the process. :class:`peakcnn.io.tracks.TrackWriter` therefore spools the intervals to a file
(:func:`spool_part`) and runs :func:`main` in a new Python process with a JSON job on standard input::

    {"spool": PATH, "out": PATH, "chroms": [[name, length], ...], "parts": [PART, ...]}

A part is one chromosome's intervals at a byte ``offset`` of the spool: intervals in steps of one size (as
a scan writes them: ``start``, ``step``, ``last_end``) spool their float32 values only, 4 bytes each; others
spool :data:`SPOOL_DTYPE` records. The exit status is 0 only when the bigWig was closed and reads back with
the last interval of every part; anything else (a Python error, said on a line starting with
:data:`REASON`, or a crash) is a failed track.
"""

from __future__ import annotations

import json
import sys

import numpy as np

#: One interval of the spool: ``[start, end)`` and its value (a bigWig stores values as float32).
SPOOL_DTYPE = np.dtype([("start", "<i8"), ("end", "<i8"), ("value", "<f4")])


def spool_part(chrom: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray, offset: int) -> tuple[dict, bytes]:
    """The job's description of intervals ``[starts, ends)`` on ``chrom`` spooled at ``offset``, and their bytes."""
    starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    n = len(starts)
    if not len(ends) == len(values) == n:
        raise ValueError(
            f"{len(starts)} starts, {len(ends)} ends and {len(values)} values: give one of each per interval"
        )
    part = {"chrom": str(chrom), "n": n, "offset": offset}
    step = int(starts[1] - starts[0]) if n > 1 else int(ends[0] - starts[0])
    stepped = (
        step > 0
        and np.array_equal(np.diff(starts), np.full(n - 1, step))
        and np.array_equal(ends[:-1], starts[:-1] + step)
        and starts[-1] < ends[-1] <= starts[-1] + step
    )
    if stepped:
        part.update(start=int(starts[0]), step=step, last_end=int(ends[-1]))
        return part, np.asarray(values, dtype="<f4").tobytes()
    records = np.empty(n, dtype=SPOOL_DTYPE)
    records["start"], records["end"], records["value"] = starts, ends, values
    return part, records.tobytes()


def read_part(spool: str, part: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``starts, ends, values`` of a part written by :func:`spool_part`."""
    n, offset = int(part["n"]), int(part["offset"])
    if "step" in part:
        values = np.memmap(spool, dtype="<f4", mode="r", offset=offset, shape=(n,))
        starts = int(part["start"]) + int(part["step"]) * np.arange(n, dtype=np.int64)
        ends = starts + int(part["step"])
        ends[-1] = int(part["last_end"])
        return starts, ends, values
    records = np.memmap(spool, dtype=SPOOL_DTYPE, mode="r", offset=offset, shape=(n,))
    return records["start"], records["end"], records["value"]


#: Intervals given to pyBigWig at a time (the same file as all at once: libBigWig buffers its own blocks).
CHUNK = 65_536

#: The first and last four bytes of a complete bigWig file (little-endian).
BIGWIG_MAGIC = (0x888FFC26).to_bytes(4, "little")


#: The start of the line in which the writer process says why it failed (pyBigWig prints its own lines too).
REASON = "peakcnn-bigwig: "


def write_bigwig(job: dict) -> None:
    """Write ``job["out"]`` from ``job["spool"]`` and read it back; raise ``RuntimeError`` saying what fell short."""
    import pyBigWig

    failed, last = "pyBigWig could not open the file", {}
    try:
        bw = pyBigWig.open(job["out"], "w")
        if bw is None:
            raise RuntimeError
        failed = "pyBigWig could not write the header"
        bw.addHeader([(str(c), int(n)) for c, n in job["chroms"]], maxZooms=10)
        for part in job["parts"]:
            chrom = part["chrom"]
            failed = f"the spooled intervals of {chrom} could not be read"
            starts, ends, values = read_part(job["spool"], part)
            failed = f"pyBigWig could not write the intervals of {chrom}"
            for lo in range(0, len(starts), CHUNK):  # bounded memory: Python lists of a chunk at a time
                hi = lo + CHUNK
                bw.addEntries(
                    [chrom] * len(starts[lo:hi]),
                    starts[lo:hi].tolist(),
                    ends=ends[lo:hi].tolist(),
                    values=np.asarray(values[lo:hi], dtype=np.float64).tolist(),
                )
            last[chrom] = (int(starts[-1]), int(ends[-1]))
        failed = "pyBigWig could not finish the file (zoom levels and index)"
        bw.close()
    except Exception:  # pyBigWig's own errors say little (SystemError: ... returned NULL)
        raise RuntimeError(failed) from None
    with open(job["out"], "rb") as fh:
        head = fh.read(4)
        fh.seek(-4, 2)
        tail = fh.read(4)
    if head != BIGWIG_MAGIC or tail != BIGWIG_MAGIC:
        raise RuntimeError("the file does not end as a complete bigWig")
    bw = pyBigWig.open(job["out"])
    try:
        for chrom, (start, end) in last.items():
            if not bw.intervals(chrom, start, end):
                raise RuntimeError(f"the last interval of {chrom} does not read back")
    finally:
        bw.close()


def main() -> int:
    try:
        write_bigwig(json.loads(sys.stdin.read()))
    except Exception as e:  # the parent reports this line; it knows the file by the name the user gave
        print(REASON + (str(e) if isinstance(e, RuntimeError) else f"{type(e).__name__}: {e}"), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

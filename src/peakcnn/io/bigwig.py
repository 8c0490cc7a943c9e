"""Write one bigWig from a spool of intervals, in a process of its own.

pyBigWig (libBigWig) does not report every failed write: when the header, the zoom levels or the index
cannot be written (a full disk) it prints a line and goes on, leaves a truncated file, or corrupts its memory
and crashes the process. :class:`peakcnn.io.tracks.TrackWriter` therefore spools the intervals to a file and
runs :func:`main` in a new Python process with a JSON job on standard input::

    {"spool": PATH, "out": PATH, "chroms": [[name, length], ...], "parts": [[name, n_intervals], ...]}

The spool holds :data:`SPOOL_DTYPE` records, the parts' intervals one after another. The exit status is 0
only when the bigWig was closed and reads back with the last interval of every part; anything else
(a Python error, said on a line starting with :data:`REASON`, or a crash) is a failed track.
"""

from __future__ import annotations

import json
import sys

import numpy as np

#: One interval of the spool: ``[start, end)`` and its value (a bigWig stores values as float32).
SPOOL_DTYPE = np.dtype([("start", "<i8"), ("end", "<i8"), ("value", "<f4")])

#: The first and last four bytes of a complete bigWig file (little-endian).
BIGWIG_MAGIC = (0x888FFC26).to_bytes(4, "little")


#: The start of the line in which the writer process says why it failed (pyBigWig prints its own lines too).
REASON = "peakcnn-bigwig: "


def write_bigwig(job: dict) -> None:
    """Write ``job["out"]`` from ``job["spool"]`` and read it back; raise ``RuntimeError`` saying what fell short."""
    import pyBigWig

    parts = [(str(c), int(n)) for c, n in job["parts"]]
    total = sum(n for _, n in parts)
    records = np.memmap(job["spool"], dtype=SPOOL_DTYPE, mode="r") if total else np.empty(0, SPOOL_DTYPE)
    if len(records) != total:
        raise RuntimeError(f"the spool holds {len(records)} intervals, not {total}")
    stage, last = "open the file", {}
    try:
        bw = pyBigWig.open(job["out"], "w")
        if bw is None:
            raise RuntimeError
        stage = "write the header"
        bw.addHeader([(str(c), int(n)) for c, n in job["chroms"]], maxZooms=10)
        at = 0
        for chrom, n in parts:
            stage = f"write the intervals of {chrom}"
            part = records[at : at + n]
            at += n
            bw.addEntries(
                [chrom] * n,
                part["start"].tolist(),
                ends=part["end"].tolist(),
                values=part["value"].astype(np.float64).tolist(),
            )
            last[chrom] = (int(part["start"][-1]), int(part["end"][-1]))
        stage = "finish the file (zoom levels and index)"
        bw.close()
    except Exception:  # pyBigWig's own errors say little (SystemError: ... returned NULL)
        raise RuntimeError(f"pyBigWig failed to {stage}") from None
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

"""Query sequences: a streaming reader for multi-record FASTA files of arbitrary sequences (not a genome).

Each record is returned as ``uint8`` codes. Letters must be IUPAC nucleotide codes (see
:data:`peakcnn.sequence.IUPAC`); anything else raises :class:`~peakcnn.errors.InputError` naming
``file:line``. Plain and gzip files are accepted.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from peakcnn.errors import InputError
from peakcnn.io.compressed import open_text
from peakcnn.io.output import check_input_file
from peakcnn.sequence import IUPAC, N_CODE, str_to_codes


def _bad_letter(path: Path, lineno: int, line: str, name: str) -> None:
    bad = next(c for c in line if c not in IUPAC)
    col = line.index(bad) + 1
    raise InputError(
        f"{path}:{lineno}:{col}: record {name!r}: character {bad!r} is not a DNA/IUPAC letter; "
        "sequence lines may hold only A C G T U N and IUPAC ambiguity codes"
    )


def read_sequences(path: str | Path) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(name, codes)`` for each FASTA record; codes have shape ``(length,)``.

    Raises
    ------
    InputError
        Missing file, sequence before the first header, a non-IUPAC character, an empty record.
    """
    path = Path(path)
    check_input_file(path, "FASTA file", "--fasta")
    name, parts, head_line, lineno = None, [], 0, 0
    try:
        with open_text(path, "FASTA file") as fh:
            for lineno, raw in enumerate(fh, start=1):
                line = raw.strip()
                if not line or line.startswith(";"):
                    continue
                if line.startswith(">"):
                    if name is not None:
                        yield _record(path, head_line, name, parts)
                    name, parts, head_line = (
                        line[1:].split()[0] if line[1:].split() else f"seq{lineno}",
                        [],
                        lineno,
                    )
                    continue
                if name is None:
                    raise InputError(f"{path}:{lineno}: sequence before the first '>' header; is this FASTA?")
                if not IUPAC.issuperset(line):
                    _bad_letter(path, lineno, line, name)
                parts.append(line)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"{path}: cannot read ({e}); check the file is intact") from None
    if name is None:
        raise InputError(f"{path}: no FASTA records (no '>' header line)")
    yield _record(path, head_line, name, parts)


def _record(path: Path, lineno: int, name: str, parts: list[str]) -> tuple[str, np.ndarray]:
    if not parts:
        raise InputError(f"{path}:{lineno}: record {name!r} has no sequence; remove it or add its bases")
    return name, str_to_codes("".join(parts))


def fit_to_window(codes: np.ndarray, window: int) -> tuple[np.ndarray, int]:
    """Pad (N on both sides) or crop codes to ``window``, centred as ``predict --bed`` centres a region: the
    window starts ``window // 2`` before base ``len(codes) // 2``, so that the sequence of a BED region gets
    the window of that region whatever the parity of either length.

    Returns
    -------
    codes
        ``(window,)`` uint8.
    offset
        Position of the first input base in the window (negative when cropped).
    """
    n = len(codes)
    start = n // 2 - window // 2
    if n >= window:
        return codes[start : start + window], -start
    out = np.full(window, N_CODE, dtype=np.uint8)
    out[-start : -start + n] = codes
    return out, -start

"""Peak files: BED3, BED6, BED6+, narrowPeak and broadPeak, plain or gzip.

``track``, ``browser`` and ``#`` lines are skipped; CRLF line ends are accepted; columns are tab separated
(whitespace when a line holds no tab). Coordinates are 0-based half-open. Every malformed line raises
:class:`~peakcnn.errors.InputError` naming ``file:line``.

Checks against the genome (unknown chromosomes, peaks past a chromosome end) happen later, in
:mod:`peakcnn.data.windows`, once the genome is known.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from peakcnn.errors import InputError
from peakcnn.io.compressed import read_input
from peakcnn.io.output import atomic_output, check_input_file

#: First words of UCSC header lines, skipped like ``#`` comments (``trackA`` is a chromosome name).
_HEADER_WORDS = ("track", "browser")


def _is_header(line: str) -> bool:
    return line.startswith("#") or line.split(None, 1)[0] in _HEADER_WORDS


@dataclass
class PeakTable:
    """Peaks of one file, one entry per data line.

    Attributes
    ----------
    chrom : ndarray of str
    start, end : ndarray of int64
        0-based half-open interval.
    summit : ndarray of int64
        Absolute summit position, or -1 where the file gives none.
    name : ndarray of str
    score : ndarray of float64
    line : ndarray of int64
        1-based line number in the file (for messages).
    format : str
        ``bed3``, ``bed6``, ``bedN``, ``narrowPeak`` or ``broadPeak``.
    path : Path
    """

    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray
    summit: np.ndarray
    name: np.ndarray
    score: np.ndarray
    line: np.ndarray
    format: str
    path: Path = field(default_factory=Path)

    def __len__(self) -> int:
        return len(self.start)

    def subset(self, mask: np.ndarray) -> PeakTable:
        """Rows selected by a boolean mask or index array."""
        cols = ("chrom", "start", "end", "summit", "name", "score", "line")
        return PeakTable(**{c: getattr(self, c)[mask] for c in cols}, format=self.format, path=self.path)


def _read_text(path: Path, option: str) -> str:
    check_input_file(path, "BED/narrowPeak file", option)
    try:
        raw = read_input(path, "BED peak file", "pass a text BED/narrowPeak file")
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"{path}: cannot read the peak file ({e}); check it is intact") from None
    try:
        return raw.decode("utf-8-sig")  # a byte-order mark from Windows editors is not part of line 1
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text at byte {e.start}; pass a text BED/narrowPeak file") from None


def _not_bed(path: Path, lineno: int, line: str, option: str) -> None:
    """Refuse a VCF or FASTA given where a BED file belongs, saying where it goes instead."""
    regions = option == "--bed"  # predict's regions; peaks and excluded regions otherwise
    if line.startswith("##fileformat=VCF") or line.startswith("#CHROM\tPOS"):
        advice = (
            "score variants with 'peakcnn variants --vcf'" if regions else f"pass a BED/narrowPeak file with {option}"
        )
        raise InputError(f"{path}:{lineno}: this is a VCF file, not {'regions' if regions else 'peaks'}; {advice}")
    if line.startswith(">"):
        advice = "score sequences with --fasta" if regions else "the genome goes to --genome"
        raise InputError(f"{path}:{lineno}: this is a FASTA file, not {'regions' if regions else 'peaks'}; {advice}")


def detect_format(path: Path, fields: list[str]) -> str:
    """Format name from the column count of the first data line and the file name.

    Ten columns with an integer tenth are narrowPeak; so is a file named ``.narrowPeak`` with more columns
    (IDR output adds ten to narrowPeak's), whose column 10 is then the summit offset."""
    n, lower = len(fields), path.name.lower()
    if n == 3:
        return "bed3"
    if (n == 10 and (".narrowpeak" in lower or _is_int(fields[9]))) or (n > 10 and ".narrowpeak" in lower):
        return "narrowPeak"
    if n == 9 and ".broadpeak" in lower:
        return "broadPeak"
    return f"bed{n}" if n != 6 else "bed6"


#: Largest coordinate accepted (2**62: far beyond any chromosome, and safe in int64 arithmetic).
MAX_COORD = 1 << 62


def _is_int(text: str) -> bool:
    digits = text[1:] if text.startswith("-") else text
    return digits.isascii() and digits.isdigit()


def _parse_int(path: Path, lineno: int, text: str, what: str) -> int:
    if not _is_int(text):
        raise InputError(f"{path}:{lineno}: {what} {text!r} is not an integer; BED coordinates are whole numbers")
    value = int(text)
    if abs(value) > MAX_COORD:
        raise InputError(f"{path}:{lineno}: {what} {text} is larger than any chromosome; check the column order")
    if value < 0 and what != "summit offset":
        raise InputError(f"{path}:{lineno}: negative {what} {value}; BED coordinates start at 0")
    return value


def _parse_line(path: Path, lineno: int, fields: list[str], fmt: str) -> tuple:
    if len(fields) < 3:
        raise InputError(
            f"{path}:{lineno}: {len(fields)} column(s); a BED line needs chrom, start and end separated by tabs"
        )
    start = _parse_int(path, lineno, fields[1], "start")
    end = _parse_int(path, lineno, fields[2], "end")
    if start >= end:
        raise InputError(f"{path}:{lineno}: start {start} >= end {end}; a peak needs start < end")
    summit = -1
    if fmt == "narrowPeak" and len(fields) >= 10:
        offset = _parse_int(path, lineno, fields[9], "summit offset")
        if offset >= end - start or offset < -1:
            raise InputError(f"{path}:{lineno}: summit offset {offset} lies outside the peak (length {end - start})")
        summit = start + offset if offset >= 0 else -1
    name = fields[3] if len(fields) > 3 else "."
    score = _float(fields[4]) if len(fields) > 4 else 0.0
    return fields[0], start, end, summit, name, score, lineno


def read_peaks(path: str | Path, option: str = "--peaks") -> PeakTable:
    """Read a peak file.

    Parameters
    ----------
    path
        BED3/BED6/BED6+/narrowPeak/broadPeak file, plain or gzip.
    option
        The command-line option that gave ``path``, for messages.

    Returns
    -------
    PeakTable
        Summits come from narrowPeak column 10 (absolute position; -1 where absent).
    """
    path = Path(path)
    linenos, rows, fmt = [], [], None
    for lineno, line in enumerate(_read_text(path, option).splitlines(), start=1):
        if not line.strip():
            continue
        _not_bed(path, lineno, line, option)
        if _is_header(line):
            continue
        fields = [f.strip() for f in (line.split("\t") if "\t" in line else line.split())]
        if fmt is None:
            fmt = detect_format(path, fields)
        if len(fields) < 3:
            _parse_line(path, lineno, fields, fmt)  # raises with the line's problem
        if not fields[0]:
            raise InputError(
                f"{path}:{lineno}: empty chromosome name (the line starts with a tab); every line begins with "
                "its chromosome"
            )
        if fmt == "narrowPeak" and len(fields) < 10:
            raise InputError(f"{path}:{lineno}: {len(fields)} columns; narrowPeak lines have 10 (tab separated)")
        linenos.append(lineno)
        rows.append(fields)
    if not rows:
        raise InputError(f"{path}: no peaks (the file is empty or holds only comment/track lines)")
    try:
        return _fast_table(path, rows, linenos, fmt)
    except (ValueError, OverflowError):
        parsed = [_parse_line(path, n, f, fmt) for n, f in zip(linenos, rows, strict=True)]
        return _table(path, fmt, *zip(*parsed, strict=True))


def _fast_table(path: Path, rows: list[list[str]], linenos: list[int], fmt: str) -> PeakTable:
    """Convert all rows at once; raises ValueError when a line needs the per-line checks for its message."""
    start = _int_column([r[1] for r in rows])
    end = _int_column([r[2] for r in rows])
    summit = np.full(len(rows), -1, dtype=np.int64)
    if fmt == "narrowPeak":
        offset = _int_column([r[9] for r in rows], signed=True)
        if ((offset < -1) | (offset >= end - start)).any():
            raise ValueError
        summit = np.where(offset >= 0, start + offset, -1)
    if (start < 0).any() or (start >= end).any():
        raise ValueError
    names = [r[3] if len(r) > 3 else "." for r in rows]
    try:
        score = np.array([r[4] if len(r) > 4 else 0 for r in rows]).astype(np.float64)
    except ValueError:
        score = np.array([_float(r[4]) if len(r) > 4 else 0.0 for r in rows])
    return _table(path, fmt, [r[0] for r in rows], start, end, summit, names, score, linenos)


def _int_column(texts: list[str], signed: bool = False) -> np.ndarray:
    """Whole numbers written in ASCII digits (``int()`` alone would also take ``1_000`` and other scripts'
    digits); ValueError otherwise."""
    digits = "".join(t[1:] if signed and t.startswith("-") else t for t in texts)
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError
    return np.array(texts).astype(np.int64)


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def _table(path: Path, fmt: str, chrom, start, end, summit, name, score, line) -> PeakTable:
    return PeakTable(
        chrom=np.array(chrom, dtype=object),
        start=np.asarray(start, dtype=np.int64),
        end=np.asarray(end, dtype=np.int64),
        summit=np.asarray(summit, dtype=np.int64),
        name=np.array(name, dtype=object),
        score=np.asarray(score, dtype=np.float64),
        line=np.asarray(line, dtype=np.int64),
        format=fmt,
        path=path,
    )


def task_name(path: str | Path) -> str:
    """Task name from a peak file name: the name without ``.gz``/``.bed``/``.narrowPeak``-like extensions."""
    name = Path(path).name
    for ext in (".gz", ".bgz", ".bed", ".narrowpeak", ".broadpeak", ".txt", ".tsv"):
        if name.lower().endswith(ext) and len(name) > len(ext):
            name = name[: -len(ext)]
    return name


def task_name_problem(names: list[str]) -> str | None:
    """Why ``names`` cannot name a model's tasks, or ``None``: each must be non-empty and free of whitespace
    (it heads an output column) and used once."""
    bad = [t for t in names if not t or any(c.isspace() for c in t)]
    if bad:
        return f"task name {bad[0]!r} is empty or holds whitespace"
    dup = sorted({t for t in names if names.count(t) > 1})
    if dup:
        return f"task name {dup[0]!r} is used twice"
    return None


#: The columns before the task columns in ``predict``'s tables, which a new task may not be named as.
TABLE_COLUMNS = ("chrom", "start", "end", "name", "score", "strand", "length")


def task_column_clash(names: list[str]) -> str | None:
    """Why ``names`` cannot name new tasks beyond :func:`task_name_problem`, or ``None``: a task named as one
    of :data:`TABLE_COLUMNS` would head a second column of that name in ``predict``'s output."""
    clash = [t for t in names if t in TABLE_COLUMNS]
    if clash:
        return f"task name {clash[0]!r} is also the name of a column of predict's tables"
    return None


def write_bed(path: str | Path, columns: list, header: list[str] | None = None) -> int:
    """Write columns (equal-length sequences) as tab-separated lines; optional ``#`` header. Returns rows."""
    n = len(columns[0]) if columns else 0
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        if header:
            fh.write("#" + "\t".join(header) + "\n")
        for row in zip(*columns, strict=True):
            fh.write("\t".join(map(str, row)) + "\n")
    return n

"""Output files that appear whole or not at all.

Every result file is written to a temporary name in the destination folder and renamed into place only when
complete, so an error or interruption never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
from collections.abc import Iterator
from pathlib import Path

from peakcnn.errors import InputError


def check_output(path: str | Path, what: str = "output") -> Path:
    """Fail early, in one line, when ``path`` cannot be written (missing folder, path is a folder)."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{path}: folder {parent} does not exist; create it or choose another {what} path")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file name for the {what}")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{path}: folder {parent} is not writable; choose another {what} path")
    return path


def check_input_file(path: str | Path, what: str, option: str) -> Path:
    """Fail in one line unless ``path`` is an existing regular file (``what`` names it, ``option`` is the
    command-line option that gave it)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: {what} not found; pass an existing file with {option}")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; pass a {what} with {option}")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file (a pipe or device); write the {what} to a file for {option}")
    return path


def check_output_folder(path: str | Path) -> Path:
    """Fail in one line when ``path``, an ``--out`` that names a folder, is an existing file."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: is a file; give --out a folder name")
    return path


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` if the block succeeds, else delete it.

    The temporary name keeps the extension (``.x.tmp12.bw``) for writers that look at it.
    """
    path = check_output(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a synced temporary file and a rename (checkpoints, configs)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_table(path: str | Path, header: list[str], rows, comment_header: bool = False) -> int:
    """Write a tab-separated table atomically; ``rows`` is an iterable of sequences. Returns the row count.

    With ``comment_header`` the header line starts with ``#`` (BED convention). A name ending in ``.gz``
    is written gzip-compressed.
    """
    n = 0
    gz = str(path).lower().endswith(".gz")
    with atomic_output(path) as tmp, _text_out(tmp, gz) as fh:
        fh.write(("#" if comment_header else "") + "\t".join(header) + "\n")
        for row in rows:
            fh.write("\t".join(map(str, row)) + "\n")
            n += 1
    return n


def _text_out(path, gz: bool):
    if gz:
        raw = gzip.GzipFile(path, "wb", mtime=0)  # no timestamp: the same rows give the same bytes
        return io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
    return open(path, "w", encoding="utf-8", newline="\n")


def format_float(x: float) -> str:
    """Compact float formatting for tables (6 significant digits)."""
    return f"{x:.6g}"

"""Compressed inputs: which kind a file is (plain, gzip or bgzip) and whether a bgzip file is complete.

A bgzip (BGZF) file is a series of gzip members and ends with a fixed 28-byte empty member, the end-of-file
block. A file cut short at a member boundary still decompresses without error, only shorter; the missing
end-of-file block is the one sign of it (htslib checks it too).
"""

from __future__ import annotations

import gzip
from pathlib import Path

from peakcnn.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
#: The end-of-file block every BGZF file ends with (SAM/BAM specification, section 4.1.2).
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def compression_of(head: bytes) -> str:
    """``"plain"``, ``"gzip"`` or ``"bgzip"`` from a file's first 18 bytes."""
    if head[:2] != GZIP_MAGIC:
        return "plain"
    # BGZF: gzip with FLG.FEXTRA and an extra subfield "BC".
    if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC":
        return "bgzip"
    return "gzip"


def sniff_compression(path: Path) -> str:
    """``"plain"``, ``"gzip"`` or ``"bgzip"`` from the file's first bytes."""
    with open(path, "rb") as fh:
        return compression_of(fh.read(18))


def truncation_message(path: Path) -> str:
    return (
        f"{path}: bgzip file without its end-of-file block, so it was cut short (at a block boundary, which "
        "still decompresses); download or copy it again, or compress it again with bgzip"
    )


def check_complete(path: Path, compression: str | None = None) -> None:
    """Raise :class:`InputError` when ``path`` is bgzip and does not end with the end-of-file block."""
    if (compression or sniff_compression(path)) != "bgzip":
        return
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - len(BGZF_EOF)))
        if fh.read() != BGZF_EOF:
            raise InputError(truncation_message(path))


def check_complete_bytes(path: Path, raw: bytes) -> None:
    """:func:`check_complete` for a file already read into ``raw``."""
    if compression_of(raw[:18]) == "bgzip" and not raw.endswith(BGZF_EOF):
        raise InputError(truncation_message(path))


def read_input(path: Path, what: str, fix: str) -> bytes:
    """The whole content of a plain, gzip or bgzip text file, decompressed, after :func:`check_complete`
    and :func:`refuse_binary` (``what`` the file should be, ``fix`` what to pass instead)."""
    raw = Path(path).read_bytes()
    compressed = raw[:2] == GZIP_MAGIC
    if compressed:
        check_complete_bytes(path, raw)
        raw = gzip.decompress(raw)
    refuse_binary(path, raw[:65536], what, fix, compressed)
    return raw


def refuse_binary(path: Path, head: bytes, what: str, fix: str, compressed: bool) -> None:
    """Refuse ``path`` when ``head``, its first decompressed bytes, holds a NUL byte: UTF-16 text (a Windows
    "Unicode" export) or UTF-32 text with a byte-order mark is named as such with the conversion that fixes
    it (unzipping first when the file is ``compressed``, gzip or bgzip), anything else is binary data, not
    ``what``; ``fix`` says what to pass instead."""
    if b"\x00" not in head:
        return
    encoding = None
    if head[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        encoding = "UTF-32"
    elif head[:2] in (b"\xff\xfe", b"\xfe\xff") or _ascii_as_utf16(head[:4096]):
        encoding = "UTF-16"
    if encoding is None:
        raise InputError(f"{path}: binary data, not a {what}; {fix}")
    unzip = "zcat it, then " if compressed else ""
    raise InputError(f"{path}: {encoding} text, not UTF-8; convert it ({unzip}iconv -f {encoding} -t UTF-8)")


def _ascii_as_utf16(sample: bytes) -> bool:
    """Whether ``sample`` looks like ASCII text written as UTF-16: a NUL in nearly every even byte and in
    almost no odd one (big-endian), or the other way round (little-endian)."""
    pairs = len(sample) // 2
    if pairs < 4:
        return False
    even, odd = sample[0 : 2 * pairs : 2].count(0) / pairs, sample[1 : 2 * pairs : 2].count(0) / pairs
    return (even > 0.9 and odd < 0.1) or (odd > 0.9 and even < 0.1)


def open_text(path: Path, what: str):
    """A plain, gzip or bgzip text file opened for reading: UTF-8 (a byte-order mark dropped), any line
    ending; binary data is refused naming ``what`` the file should be."""
    compressed = sniff_compression(path) != "plain"
    with open_input(path) as fh:
        refuse_binary(path, fh.read(65536), what, f"pass a text {what} (plain, gzip or bgzip)", compressed)
    return open_input(path, "rt", encoding="utf-8-sig", errors="replace", newline=None)


def open_input(path: Path, mode: str = "rb", **kw):
    """Open a plain, gzip or bgzip file for reading (``rb`` or ``rt``), after :func:`check_complete`."""
    compression = sniff_compression(path)
    check_complete(path, compression)
    return (gzip.open if compression != "plain" else open)(path, mode, **kw)

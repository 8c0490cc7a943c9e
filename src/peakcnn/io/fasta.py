"""Genome access: plain, gzip and bgzip FASTA read into ``uint8`` codes (see :mod:`peakcnn.sequence`).

Access strategy, chosen per file:

* **plain FASTA** and **bgzip FASTA** are indexed (``.fai``, plus ``.gzi`` for bgzip, built with pyfaidx
  next to the file and renamed into place atomically). Sequence is read straight from the file through the
  index: one chromosome at a time, one byte per base, never the whole genome at once.
* **plain gzip** (not block-compressed) and any file that cannot be indexed (read-only folder, irregular
  line lengths) is streamed once into one ``uint8`` code array per chromosome (1 byte/bp).

Lowercase (soft-masked) bases read as uppercase; IUPAC ambiguity codes, other letters and gaps (``- . *``)
read as ``N``. Blanks inside sequence lines are dropped (as Biopython does); a digit, other punctuation or a
control character in a sequence line is an error naming the record and base.
Chromosome names resolve through :mod:`peakcnn.io.chromnames` (``chr`` prefixes, FASTA descriptions,
chromAlias files).
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from peakcnn.errors import InputError
from peakcnn.io.chromnames import AliasMap, format_names
from peakcnn.io.compressed import check_complete, refuse_binary, sniff_compression
from peakcnn.io.output import check_input_file
from peakcnn.sequence import N_CODE, bytes_to_codes

log = logging.getLogger(__name__)

_CHUNK = 1 << 24
_IS_SPACE = np.zeros(256, dtype=bool)
_IS_SPACE[[9, 10, 11, 12, 13, 32]] = True


#: Bytes a genome's sequence lines may hold besides blanks: letters (read as bases or ``N``) and gaps.
_IS_SEQUENCE = np.zeros(256, dtype=bool)
_IS_SEQUENCE[[*range(ord("A"), ord("Z") + 1), *range(ord("a"), ord("z") + 1), ord("-"), ord("."), ord("*")]] = True


class _NotSequence(Exception):
    """A byte in a sequence line that no FASTA sequence holds: ``at`` counts the bases before it."""

    def __init__(self, at: int, byte: int):
        super().__init__(at, byte)
        self.at, self.char = at, chr(byte)


def _strip_to_codes(raw: bytes | bytearray | np.ndarray) -> np.ndarray:
    """Codes of sequence bytes, blanks and line ends dropped; raises :class:`_NotSequence` at a digit,
    punctuation or a control character."""
    arr = np.frombuffer(raw, dtype=np.uint8) if not isinstance(raw, np.ndarray) else raw
    kept = arr[~_IS_SPACE[arr]]
    bad = ~_IS_SEQUENCE[kept]
    if bad.any():
        at = int(np.argmax(bad))
        raise _NotSequence(at, int(kept[at]))
    return bytes_to_codes(kept)


def _not_sequence(path: Path, where: str, char: str) -> InputError:
    return InputError(
        f"{path}: {where} holds {char!r}, which is not a nucleotide letter; a genome's sequence lines hold only "
        "letters (IUPAC codes; others read as N) and gaps (- . *): is this a FASTA genome?"
    )


def _stream_records(path: Path, compression: str):
    """Yield ``(header, codes)`` per FASTA record, reading the file once in large chunks."""
    header, parts = None, []

    def strip(raw) -> np.ndarray:
        try:
            return _strip_to_codes(raw)
        except _NotSequence as e:
            if header is None:
                raise InputError(f"{path}: sequence before the first '>' header; is this a FASTA file?") from None
            base = sum(len(p) for p in parts) + e.at + 1
            raise _not_sequence(path, f"record {header.split()[0]!r} at base {base:,}", e.char) from None

    def header_at(data: bytes, pos: int, line_start: bool) -> int:
        """The next '>' that starts a line (``line_start``: ``data`` begins a line); one inside a sequence
        line is left to :func:`strip`, which names it."""
        h = data.find(b">", pos)
        while h >= 0 and not (data[h - 1] == 0x0A if h else line_start):
            h = data.find(b">", h + 1)
        return h

    opener = gzip.open if compression != "plain" else open
    with opener(path, "rb") as fh:
        carry, line_start = b"", True
        while True:
            chunk = fh.read(_CHUNK)
            eof = not chunk
            data, carry, pos = carry + chunk, b"", 0
            while True:
                h = header_at(data, pos, line_start)
                if h < 0:
                    parts.append(strip(data[pos:]))
                    break
                parts.append(strip(data[pos:h]))
                nl = data.find(b"\n", h)
                if nl < 0 and not eof:
                    carry = data[h:]
                    break
                if header is not None:
                    yield header, np.concatenate(parts)
                elif sum(len(p) for p in parts):
                    raise InputError(f"{path}: sequence before the first '>' header; is this a FASTA file?")
                header = data[h + 1 : nl if nl >= 0 else len(data)].decode("utf-8", "replace").strip()
                parts, pos = [], (nl + 1 if nl >= 0 else len(data))
            line_start = bool(carry) or data.endswith(b"\n")
            if eof:
                break
    if header is not None:
        yield header, np.concatenate(parts)


def _first_line(path: Path, compression: str) -> bytes:
    opener = gzip.open if compression != "plain" else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(1 << 16)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"{path}: cannot read the genome ({e}); check the file is intact") from None
    refuse_binary(path, head, "FASTA genome", "pass a FASTA file (plain, gzip or bgzip)", compression != "plain")
    if not head.strip():
        raise InputError(f"{path}: the genome FASTA is empty; pass the genome sequence in FASTA format")
    if head.startswith(b"\xef\xbb\xbf"):
        raise InputError(
            f"{path}: starts with a UTF-8 byte-order mark, which the FASTA index cannot address; remove it "
            "(sed -i '1s/^\\xEF\\xBB\\xBF//' FILE)"
        )
    if b"\r" in head and b"\n" not in head:
        raise InputError(
            f"{path}: its lines end in CR alone (old Mac line ends); convert them to LF (tr '\\r' '\\n' < IN > OUT)"
        )
    return head.lstrip().split(b"\n", 1)[0]


class _Index:
    """A ``.fai`` (and ``.gzi`` for bgzip) index and raw byte reads through it."""

    def __init__(self, path: Path, compression: str, fai: Path, gzi: Path | None):
        self.path, self.compression = path, compression
        self.records: dict[str, tuple[int, int, int, int]] = {}
        for line in fai.read_text().splitlines():
            f = line.split("\t")
            self.records[f[0]] = (int(f[1]), int(f[2]), int(f[3]), int(f[4]))
        if gzi is not None:
            raw = np.fromfile(gzi, dtype="<u8")
            pairs = raw[1:].reshape(-1, 2)
            self.coff = np.r_[0, pairs[:, 0]].astype(np.int64)
            self.uoff = np.r_[0, pairs[:, 1]].astype(np.int64)

    def byte_offset(self, chrom: str, pos: int) -> int:
        _, offset, linebases, linewidth = self.records[chrom]
        return offset + (pos // linebases) * linewidth + pos % linebases

    def iter_raw(self, uoffset: int, nbytes: int, piece: int = 1 << 22):
        """Uncompressed bytes ``[uoffset, uoffset + nbytes)`` of the file, as ``uint8`` arrays in pieces."""
        with open(self.path, "rb") as fh:
            if self.compression == "plain":
                fh.seek(uoffset)
                while nbytes > 0:
                    chunk = fh.read(min(piece, nbytes))
                    if not chunk:
                        return
                    nbytes -= len(chunk)
                    yield np.frombuffer(chunk, dtype=np.uint8)
                return
            i = int(np.searchsorted(self.uoff, uoffset, side="right")) - 1
            fh.seek(int(self.coff[i]))
            skip, d = uoffset - int(self.uoff[i]), zlib.decompressobj(31)
            while nbytes > 0:
                chunk = fh.read(1 << 20)
                if not chunk:
                    return
                while chunk and nbytes > 0:
                    data = np.frombuffer(d.decompress(chunk), dtype=np.uint8)
                    chunk, d = (d.unused_data, zlib.decompressobj(31)) if d.eof else (b"", d)
                    drop = min(skip, len(data))
                    data, skip = data[drop : drop + nbytes], skip - drop
                    nbytes -= len(data)
                    yield data

    def read_raw(self, uoffset: int, nbytes: int) -> np.ndarray:
        """Uncompressed bytes ``[uoffset, uoffset + nbytes)`` as one array."""
        parts = list(self.iter_raw(uoffset, nbytes))
        return np.concatenate(parts) if parts else np.zeros(0, np.uint8)

    def read_codes(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Codes of ``[start, end)``, decoded piece by piece into one array (1 byte per base)."""
        lo, hi = self.byte_offset(chrom, start), self.byte_offset(chrom, end)
        out, pos = np.empty(end - start, dtype=np.uint8), 0
        for piece in self.iter_raw(lo, hi - lo):
            try:
                codes = _strip_to_codes(piece)[: len(out) - pos]
            except _NotSequence as e:
                raise _not_sequence(self.path, f"{chrom} at base {start + pos + e.at + 1:,}", e.char) from None
            out[pos : pos + len(codes)] = codes
            pos += len(codes)
        if pos < len(out):
            raise InputError(
                f"{self.path}: {chrom}:{start + 1}-{end} holds {pos:,} bases where its index (.fai) places "
                f"{len(out):,}: spaces or tabs inside sequence lines, or a file cut short; remove blanks from "
                "the sequence lines (sed '/^>/!s/[[:blank:]]//g') or check the file"
            )
        return out

    def matches_file(self) -> bool:
        """Whether the index still describes the file: each record's sequence is preceded by its own ``>``
        header and a line end and followed by the next header, and the last record by the end of the file (a
        file rewritten with other names, order, line widths, records or lengths fails this even when its
        time stamp is older than the index's). For bgzip the names of the first and last records and the
        layout of the last are checked, which every change of length or layout before it moves."""
        named = sorted(self.records.items(), key=lambda r: r[1][1])
        if not named:
            return False
        with self.reader() as read:
            if self.compression != "plain":
                named = named[:1] + named[-1:] if len(named) > 1 else named
            if not all(_header_name(read, record[1]) == name for name, record in named):
                return False
            return _records_fit([r for _, r in named] if self.compression == "plain" else [named[-1][1]], read)

    @contextlib.contextmanager
    def reader(self) -> Iterator[Callable[[int, int], bytes]]:
        """``read(offset, n) -> bytes`` of the uncompressed file, for many small reads: one open file handle
        for a plain file, block decompression through the ``.gzi`` for bgzip."""
        if self.compression != "plain":
            yield lambda at, n: self.read_raw(at, n).tobytes()
            return
        with open(self.path, "rb") as fh:

            def read(at: int, n: int) -> bytes:
                fh.seek(at)
                return fh.read(n)

            yield read

    def header(self, chrom: str) -> str:
        with self.reader() as read:
            line = _header_line(read, self.records[chrom][1])
        return line[1:].decode("utf-8", "replace").strip()


def _header_line(read, offset: int) -> bytes:
    """The line before byte ``offset`` (a record's ``>`` header when ``offset`` starts its sequence), read
    back through ``read(offset, n) -> bytes`` however long it is."""
    back = 4096
    while True:
        lo = max(0, offset - back)
        body = read(lo, offset - lo).rstrip(b"\r\n")
        cut = body.rfind(b"\n")
        if cut >= 0 or lo == 0:
            return body[cut + 1 :].rstrip(b"\r")
        back *= 4


_TAIL = 1 << 16


def _header_name(read, offset: int) -> str | None:
    """The record name (first word of the ``>`` header) before the sequence at ``offset``, else ``None``."""
    line = _header_line(read, offset) if offset > 0 else b""
    words = line[1:].split() if line.startswith(b">") else []
    return words[0].decode("utf-8", "replace") if words else None


def _records_fit(records, read) -> bool:
    """``.fai`` records ``(length, offset, line bases, line width)``, sorted by offset, agree with
    ``read(offset, n) -> bytes``: each record's last base is in the file, and the last record is followed by
    nothing but line ends (a record appended to the file, or a last record cut shorter, fails this)."""
    for i, (length, offset, linebases, linewidth) in enumerate(records):
        if linebases <= 0 or offset <= 0:
            continue
        end = offset + (length // linebases) * linewidth + length % linebases
        last = offset + ((length - 1) // linebases) * linewidth + (length - 1) % linebases
        if read(offset - 1, 1) != b"\n" or (length > 0 and read(last, 1) in (b"", b"\n", b"\r")):
            return False
        if i == len(records) - 1:
            tail = read(end, _TAIL)
            if len(tail) == _TAIL or tail.strip():
                return False
        elif (after := read(end, 3).lstrip(b"\r\n")) and not after.startswith(b">"):
            return False
    return True


def _blank_lines(index: _Index) -> bool:
    """Whether the first or last sequence line of a record holds a space or tab, which a ``.fai`` index
    counts as bases (all records of a plain file; the first and last of a compressed one, where each read
    decompresses a block). Such a file is read by streaming, which drops them; a blank elsewhere is caught
    when its bases are read."""
    records = sorted(index.records.values(), key=lambda r: r[1])
    if index.compression != "plain":
        records = records[:1] + records[-1:]
    with index.reader() as read:
        for length, offset, linebases, linewidth in records:
            if length > 0 and linebases > 0:
                for at in (offset, offset + ((length - 1) // linebases) * linewidth):
                    line = read(at, linebases).split(b"\n", 1)[0]
                    if b" " in line or b"\t" in line:
                        return True
    return False


def _build_index(path: Path, compression: str) -> _Index | None:
    """Open (building if needed) the pyfaidx index; ``None`` when indexing is impossible here."""
    fai = Path(str(path) + ".fai")
    gzi = Path(str(path) + ".gzi") if compression == "bgzip" else None
    mtime = path.stat().st_mtime
    if fai.exists() and fai.stat().st_mtime >= mtime and (gzi is None or gzi.exists()):
        index = _open_index(path, compression, fai, gzi)
        try:
            if index is not None and index.matches_file():
                return index
        except (OSError, EOFError, zlib.error):  # a stale .gzi points into the middle of a block
            pass
        log.info("%s does not describe %s as it is now; indexing it again", fai, path)
    tag = f".tmp{os.getpid()}"
    tmp_fai, tmp_gzi = Path(str(fai) + tag), (Path(str(gzi) + tag) if gzi else None)
    try:
        import pyfaidx

        kw = {"gzi_indexname": str(tmp_gzi)} if tmp_gzi else {}
        pyfaidx.Faidx(str(path), indexname=str(tmp_fai), **kw).close()
        if tmp_gzi:
            os.replace(tmp_gzi, gzi)
        os.replace(tmp_fai, fai)
    except Exception as e:  # read-only folder, irregular lines, duplicate names: stream instead
        log.debug("indexing %s failed (%s); streaming it", path, e)
        return None
    finally:
        for t in (tmp_fai, tmp_gzi):
            if t is not None and t.exists():
                t.unlink()
    return _open_index(path, compression, fai, gzi)


def _open_index(path: Path, compression: str, fai: Path, gzi: Path | None) -> _Index | None:
    try:
        return _Index(path, compression, fai, gzi)
    except (OSError, ValueError, IndexError):
        return None


class Genome:
    """A reference genome read as ``uint8`` codes.

    Parameters
    ----------
    path
        FASTA file: plain, gzip or bgzip.
    alias_file
        Optional UCSC chromAlias-style TSV: each line lists names of one chromosome.
    cache_bp
        Whole-chromosome code arrays kept in memory for indexed files (least recently used dropped first).

    Attributes
    ----------
    path : Path
    names : list of str
        Chromosome names (first word of each header), in file order.
    lengths : dict
        Name -> length in bp.
    descriptions : dict
        Name -> rest of the header line.
    compression : str
        ``plain``, ``gzip`` or ``bgzip``.
    indexed : bool
        True when sequence is read through a ``.fai`` index, False when streamed into memory.
    """

    def __init__(self, path, alias_file=None, cache_bp: int = 1_000_000_000):
        self.path = Path(path)
        check_input_file(self.path, "genome FASTA", "--genome")
        if not os.access(self.path, os.R_OK):
            raise InputError(f"{self.path}: genome FASTA is not readable; check its permissions")
        self.compression = sniff_compression(self.path)
        check_complete(self.path, self.compression)
        first = _first_line(self.path, self.compression)
        if not first.startswith(b">"):
            raise InputError(
                f"{self.path}: not a FASTA file (first line {first[:40]!r} is not a '>' header); "
                "pass the genome sequence in FASTA format"
            )
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_bp = cache_bp
        self._cached_bp = 0  # bases held in the cache, kept as it changes (summing it again is quadratic)
        self._index = _build_index(self.path, self.compression) if self.compression != "gzip" else None
        if self._index is not None and _blank_lines(self._index):
            log.info("%s has spaces or tabs in sequence lines, which an index counts as bases; reading it whole", path)
            self._index = None
        self.indexed = self._index is not None
        if self.indexed:
            self.names = list(self._index.records)
            self.lengths = {n: r[0] for n, r in self._index.records.items()}
            self.descriptions = {n: _description(self._index.header(n)) for n in self.names}
        else:
            self._load_streaming()
        empty = [n for n in self.names if self.lengths[n] == 0]
        if not self.names or empty:
            raise InputError(
                f"{self.path}: empty sequence for {format_names(empty) or 'every record'}; "
                "remove empty records from the FASTA"
            )
        self.aliases = AliasMap(self.names, self.descriptions, alias_file)

    def _load_streaming(self) -> None:
        self.names, self.lengths, self.descriptions = [], {}, {}
        try:
            for header, codes in _stream_records(self.path, self.compression):
                name = header.split()[0] if header.split() else ""
                if not name or name in self.lengths:
                    what = "a header without a name" if not name else f"duplicate record name {name!r}"
                    raise InputError(f"{self.path}: {what}; every '>' header needs a unique name")
                self.names.append(name)
                self.lengths[name] = len(codes)
                self.descriptions[name] = _description(header)
                self._cache[name] = codes
                self._cached_bp += len(codes)
        except (OSError, EOFError, zlib.error) as e:
            raise InputError(f"{self.path}: cannot read the genome ({e}); check the file is intact") from None

    def __repr__(self) -> str:
        return f"Genome({str(self.path)!r}, {len(self.names)} sequences, {sum(self.lengths.values())} bp)"

    def resolve(self, name: str) -> str | None:
        """The genome's own name for chromosome ``name`` (alias match), or ``None``."""
        return self.aliases.resolve(name)

    def _check(self, chrom: str) -> None:
        if chrom not in self.lengths:
            raise InputError(f"chromosome {chrom!r} is not in genome {self.path.name}")

    def codes(self, chrom: str) -> np.ndarray:
        """The whole chromosome as ``uint8`` codes (cached, 1 byte per base)."""
        self._check(chrom)
        if chrom in self._cache:
            self._cache.move_to_end(chrom)
            return self._cache[chrom]
        codes = self._index.read_codes(chrom, 0, self.lengths[chrom])
        while self._cache and self._cached_bp + len(codes) > self._cache_bp:
            self._cached_bp -= len(self._cache.popitem(last=False)[1])
        self._cache[chrom] = codes
        self._cached_bp += len(codes)
        return codes

    def fetch(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Codes of ``[start, end)``; positions outside the chromosome are ``N``."""
        self._check(chrom)
        start, end = int(start), int(end)
        out = np.full(max(0, end - start), N_CODE, dtype=np.uint8)
        lo, hi = max(start, 0), min(end, self.lengths[chrom])
        if hi > lo:
            if chrom in self._cache or not self.indexed:
                out[lo - start : hi - start] = self.codes(chrom)[lo:hi]
            else:
                out[lo - start : hi - start] = self._index.read_codes(chrom, lo, hi)
        return out

    def fetch_windows(self, chrom: str, starts: np.ndarray, window: int) -> np.ndarray:
        """Windows ``[s, s + window)`` for every start, shape ``(n, window)``; ``N`` off the ends."""
        seq = self.codes(chrom)
        starts = np.asarray(starts, dtype=np.int64)
        out = np.full((len(starts), window), N_CODE, dtype=np.uint8)
        inside = (starts >= 0) & (starts + window <= len(seq))
        if len(seq) >= window and inside.any():
            view = np.lib.stride_tricks.sliding_window_view(seq, window)
            out[inside] = view[starts[inside]]
        for i in np.flatnonzero(~inside):
            s = int(starts[i])
            lo, hi = max(s, 0), min(s + window, len(seq))
            if hi > lo:
                out[i, lo - s : hi - s] = seq[lo:hi]
        return out


def _description(header: str) -> str:
    parts = header.split(None, 1)
    return parts[1] if len(parts) > 1 else ""


def match_chroms(names: Iterable[str], genome: Genome) -> tuple[dict[str, str], Counter]:
    """Map peak chromosome names to genome names; also return a count per unmatched name."""
    counts = Counter(names)
    mapping, unmatched = {}, Counter()
    for name, n in counts.items():
        g = genome.resolve(name)
        if g is None:
            unmatched[name] = n
        else:
            mapping[name] = g
    return mapping, unmatched


def describe_genome_names(genome: Genome, limit: int = 8) -> str:
    """Genome names with the chromosome they describe, for error messages."""
    shown = []
    for n in genome.names[:limit]:
        key = genome.aliases.description_key(n)
        shown.append(f"{n} (= {key})" if key and key != n else n)
    more = f", ... {len(genome.names) - limit} more" if len(genome.names) > limit else ""
    return ", ".join(shown) + more


def ambiguity_note(names: Iterable[str], genome: Genome) -> str:
    """``; NAME fits both A and B ...`` for the first unmatched names that fit two genome records loosely
    (``CHR1`` where the genome holds ``chr1`` and ``Chr1``), else ``""``."""
    notes = []
    for name in names:
        fits = genome.aliases.candidates(name)
        if len(fits) > 1:
            notes.append(f"{name} fits {format_names(fits)} alike")
        if len(notes) == 3:
            break
    if not notes:
        return ""
    return f"; {'; '.join(notes)}: use the genome's exact name or a --chrom-alias file"


def unmatched_message(source: str, unmatched: Counter, genome: Genome, what: str = "peaks") -> str:
    listed = ", ".join(f"{n} ({c})" for n, c in unmatched.most_common(10))
    more = f", ... {len(unmatched) - 10} more" if len(unmatched) > 10 else ""
    return (
        f"{source}: {sum(unmatched.values())} {what} on {len(unmatched)} chromosome(s) absent from genome "
        f"{genome.path.name} are dropped: {listed}{more}{ambiguity_note(unmatched, genome)}"
    )


def resolve_chroms(
    names: Iterable[str], genome: Genome, source: str, warn=None, what: str = "peaks", holder: str = "peak file"
) -> tuple[dict[str, str], Counter]:
    """Map the chromosome names of a file to genome names; also return a count per unmatched name.

    Unmatched names are reported through ``warn`` (by default a logged warning) counting the ``what`` on
    them. Raises :class:`InputError` listing names on both sides when no name matches at all.
    """
    mapping, unmatched = match_chroms(names, genome)
    if not mapping:
        raise InputError(
            f"{source}: no chromosome name matches genome {genome.path.name} ({holder} has "
            f"{format_names(sorted(unmatched))}; genome has {describe_genome_names(genome)})"
            f"{ambiguity_note(sorted(unmatched), genome) or '; pass --chrom-alias with a TSV of equivalent names'}"
        )
    messages = [unmatched_message(source, unmatched, genome, what)] if unmatched else []
    messages += _merged_names_messages(source, mapping, what)
    for message in messages:
        if warn:
            warn(message)
        else:
            log.warning("warning: %s", message)
    return mapping, unmatched


def _merged_names_messages(source: str, mapping: dict[str, str], what: str) -> list[str]:
    """A warning per genome chromosome that two or more names of one file are read as: the file may hold
    two chromosomes that an alias file or loose matching (``1`` / ``chr1``) makes one."""
    by_target: dict[str, list[str]] = {}
    for name, target in mapping.items():
        by_target.setdefault(target, []).append(name)
    return [
        f"{source}: {what} on {format_names(sorted(names))} are all placed on genome chromosome {target} "
        "(through --chrom-alias or loose name matching); if these are different chromosomes, correct the names "
        "or the alias file"
        for target, names in by_target.items()
        if len(names) > 1
    ]

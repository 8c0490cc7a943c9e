"""Chromosome-name matching between peak files and a genome.

A peak file's chromosome name matches a genome record when, in this order:

1. it is the record's name, or a name given for it in a chromAlias TSV (exact, then case-insensitive);
2. both reduce to the same key: lowercase, without a ``chr``/``chrom``/``chromosome`` prefix, without
   leading zeros (``Chr01`` -> ``1``), organelles unified (``C``/``Pt``/``chloroplast`` -> ``pt``,
   ``M``/``Mt``/``mitochondrion`` -> ``mt``);
3. the key of the record's FASTA description (``NC_003070.9 Arabidopsis thaliana chromosome 1 sequence``
   and ``... chromosome: 1`` both give ``1``; unlocalized or unplaced scaffolds, alternate loci and patches
   give none).

A key shared by two genome records is ambiguous and matches neither.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

from peakcnn.errors import InputError
from peakcnn.io.compressed import read_input

_ORGANELLES = {
    "c": "pt",
    "cp": "pt",
    "pt": "pt",
    "chloroplast": "pt",
    "plastid": "pt",
    "m": "mt",
    "mt": "mt",
    "mito": "mt",
    "mitochondrion": "mt",
    "mitochondria": "mt",
}
_DESC_CHROM = re.compile(r"\bchromosome(?:\s*:\s*|\s+)([A-Za-z0-9]+)\b", re.IGNORECASE)


def name_key(name: str) -> str:
    """Normalised form of a chromosome name used for loose matching."""
    key = name.strip().lower()
    for prefix in ("chromosome", "chrom", "chr"):
        if key.startswith(prefix) and len(key) > len(prefix):
            key = key[len(prefix) :].lstrip("_- ")
            break
    if key.isascii() and key.isdigit():  # '01' is '1'; '²' or an Arabic-Indic digit is no number here
        key = str(int(key))
    return _ORGANELLES.get(key, key)


_NOT_A_CHROMOSOME = re.compile(r"\b(unlocali[sz]ed|unplaced|scaffold|alternate locus|alt[_ ]ref|patch)\b")


def description_key(description: str) -> str | None:
    """The chromosome a FASTA description names (``chromosome 1`` -> ``1``), or ``None``.

    Pieces that only belong to a chromosome (RefSeq's "chromosome 1 unlocalized genomic scaffold",
    unplaced scaffolds, alternate loci, patches) give ``None``, so they do not make the chromosome's own
    key ambiguous.
    """
    low = description.lower()
    if _NOT_A_CHROMOSOME.search(low):
        return None
    m = _DESC_CHROM.search(description)
    if m and (m.group(1).isdigit() or len(m.group(1)) <= 4):
        return name_key(m.group(1))
    if "chloroplast" in low or "plastid" in low:
        return "pt"
    if "mitochondri" in low:
        return "mt"
    return None


def format_names(names: list[str], limit: int = 8) -> str:
    """``a, b, c, ... N more`` for messages."""
    shown = ", ".join(map(str, names[:limit]))
    return shown + (f", ... {len(names) - limit} more" if len(names) > limit else "")


def read_alias_file(path: str | Path) -> list[tuple[int, list[str]]]:
    """``(line number, names)`` of a chromAlias-style TSV (``#`` lines skipped); each row names one chromosome."""
    path = Path(path)
    try:
        raw = read_input(path, "chromosome alias file", "pass a text (TSV) file to --chrom-alias")
        text = raw.decode("utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: chromosome alias file not found; check --chrom-alias") from None
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
        raise InputError(f"{path}: chromosome alias file cannot be read as text ({e})") from None
    # A line with one name (its other columns empty) adds no alias.
    rows = [
        (lineno, names)
        for lineno, line in enumerate(text.splitlines(), start=1)
        if not line.startswith("#") and len(names := line.split()) > 1
    ]
    if not rows:
        raise InputError(
            f"{path}: no line of the chromosome alias file lists two or more names; each line lists the "
            "names of one chromosome, separated by tabs"
        )
    return rows


class AliasMap:
    """Resolves chromosome names to a genome's record names (see the module docstring for the rules)."""

    def __init__(self, names: list[str], descriptions: dict[str, str], alias_file=None):
        self.names = list(names)
        self._exact: dict[str, str] = {n: n for n in names}
        self._lower: dict[str, str | None] = {}
        self._keys: dict[str, str | None] = {}
        self._desc_keys: dict[str, str] = {}
        for n in names:
            self._add(self._lower, n.lower(), n)
            self._add(self._keys, name_key(n), n)
        for n in names:
            k = description_key(descriptions.get(n, ""))
            if k:
                self._desc_keys[n] = k
                self._add(self._keys, k, n)
        if alias_file is not None:
            self._add_alias_rows(alias_file, read_alias_file(alias_file))

    @staticmethod
    def _add(table: dict, key: str, name: str) -> None:
        table[key] = name if table.get(key, name) == name else None

    def _add_alias_rows(self, path, rows: list[tuple[int, list[str]]]) -> None:
        """Add each row's names as aliases of the one genome record the row names; a row whose names
        resolve to two records (through the genome's names or an earlier row) is refused."""
        for lineno, row in rows:
            hits = {n: t for n in row if (t := self.resolve(n)) is not None}
            targets = list(dict.fromkeys(hits.values()))
            if len(targets) > 1:
                named = ", ".join(f"{n} = {t}" for n, t in hits.items())
                raise InputError(
                    f"{path}:{lineno}: this line names {len(targets)} chromosomes of the genome ({named}, "
                    "counting the aliases of earlier lines); give each chromosome one line and each name one "
                    "chromosome"
                )
            for n in row if targets else ():
                self._exact.setdefault(n, targets[0])
                self._lower.setdefault(n.lower(), targets[0])

    def _loose(self, name: str) -> str | None:
        return self._lower.get(name.lower()) or self._keys.get(name_key(name))

    def description_key(self, name: str) -> str | None:
        return self._desc_keys.get(name)

    def candidates(self, name: str) -> list[str]:
        """The genome records that ``name`` fits loosely (by case, ``chr`` prefix, number or description):
        two or more where :meth:`resolve` gives ``None`` because the name is ambiguous."""
        low, key = name.lower(), name_key(name)
        return [n for n in self.names if n.lower() == low or name_key(n) == key or self._desc_keys.get(n) == key]

    def resolve(self, name: str) -> str | None:
        """The genome record name for ``name``, or ``None`` when nothing (or more than one) matches."""
        if name in self._exact:
            return self._exact[name]
        return self._loose(name)

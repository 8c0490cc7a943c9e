"""VCF reading for variant scoring: a small parser for plain, gzip and bgzip files.

Only the first five columns are used (``CHROM POS ID REF ALT``). Positions are 1-based as in the file;
each ALT allele of a multi-allelic record becomes its own :class:`Variant`. Symbolic alleles (``<DEL>``,
``*``, ``.``, breakends such as ``A[chr2:10[`` or ``.A``) cannot be scored from sequence and are counted in
:attr:`VcfReport.symbolic` instead. Structural problems raise :class:`~peakcnn.errors.InputError` naming
``file:line``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from peakcnn.errors import InputError
from peakcnn.io.compressed import open_text
from peakcnn.io.output import check_input_file

_BASES = re.compile(r"^[ACGTNacgtn]+$")


@dataclass(frozen=True)
class Variant:
    """One REF>ALT allele; ``pos`` is 1-based, ``line`` the VCF line it came from."""

    chrom: str
    pos: int
    id: str
    ref: str
    alt: str
    line: int

    @property
    def is_snv(self) -> bool:
        return len(self.ref) == 1 and len(self.alt) == 1


@dataclass
class VcfReport:
    """What the parser skipped: symbolic alleles (with an example), records without an ALT allele, ALT
    alleles equal to their REF (no change to score; the first one's line), and records seen."""

    records: int = 0
    symbolic: int = 0
    symbolic_examples: list[str] = field(default_factory=list)
    no_alt: int = 0
    same_as_ref: int = 0
    same_as_ref_example: str = ""


def _is_symbolic(alt: str) -> bool:
    """Symbolic alleles, ``*``, and breakends: mates (``A[chr2:10[``) and single breakends (``.A``, ``A.``)."""
    single_breakend = len(alt) > 1 and (alt.startswith(".") or alt.endswith("."))
    return alt == "*" or alt.startswith("<") or "[" in alt or "]" in alt or single_breakend


def _parse_record(path: Path, lineno: int, line: str, report: VcfReport) -> Iterator[Variant]:
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) < 5:
        raise InputError(
            f"{path}:{lineno}: {len(fields)} tab-separated column(s), a VCF record needs at least CHROM POS ID REF ALT"
        )
    chrom, pos, vid, ref, alts = fields[:5]
    if not chrom.strip():
        raise InputError(
            f"{path}:{lineno}: empty CHROM (the line starts with a tab); every record names its chromosome"
        )
    if not (pos.isascii() and pos.isdigit()) or int(pos) < 1:
        raise InputError(f"{path}:{lineno}: POS {pos!r} is not a positive integer (VCF positions are 1-based)")
    if not _BASES.match(ref):
        raise InputError(f"{path}:{lineno}: REF {ref!r} is not a sequence of A, C, G, T or N")
    report.records += 1
    for alt in alts.split(","):
        if alt == ".":  # a reference-only record: no alternative allele to score
            report.no_alt += 1
            continue
        if _is_symbolic(alt):
            report.symbolic += 1
            if len(report.symbolic_examples) < 3:
                report.symbolic_examples.append(f"{path.name}:{lineno} {alt}")
            continue
        if not _BASES.match(alt):
            raise InputError(f"{path}:{lineno}: ALT allele {alt!r} is not a sequence of A, C, G, T or N")
        if alt.upper() == ref.upper():
            report.same_as_ref += 1
            report.same_as_ref_example = report.same_as_ref_example or f"{path.name}:{lineno} {ref}>{alt}"
            continue
        yield Variant(chrom, int(pos), vid, ref.upper(), alt.upper(), lineno)


def read_vcf(path: str | Path) -> tuple[list[Variant], VcfReport]:
    """Read every scoreable allele of a VCF into a list (:func:`iter_vcf` reads them one at a time).

    Parameters
    ----------
    path
        VCF, plain or gzip/bgzip (the gzip module reads BGZF as concatenated gzip members).

    Returns
    -------
    variants, report
        One :class:`Variant` per non-symbolic ALT allele in file order; counts of what was skipped.

    Raises
    ------
    InputError
        Missing file, no ``#CHROM`` header line before the first record, a header line after the records,
        malformed record.
    """
    report = VcfReport()
    return list(iter_vcf(path, report)), report


def iter_vcf(path: str | Path, report: VcfReport) -> Iterator[Variant]:
    """The scoreable alleles of a VCF one at a time, in file order, counting what is skipped in ``report``
    (filled in as the file is read, complete when the iterator is exhausted). A missing file is refused at
    once; the other :class:`~peakcnn.errors.InputError` cases of :func:`read_vcf` are raised at the line at
    fault, as the reading reaches it."""
    path = Path(path)
    check_input_file(path, "VCF file", "--vcf")
    return _records(path, report)


def _records(path: Path, report: VcfReport) -> Iterator[Variant]:
    header = records = False
    try:
        with open_text(path, "VCF") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                if line.startswith("#") and records:
                    raise InputError(
                        f"{path}:{lineno}: header line after the records; a VCF's header comes before them "
                        "(join VCF files with bcftools concat, not cat)"
                    )
                if line.startswith("##"):
                    continue
                if line.startswith("#"):
                    header = line.upper().startswith("#CHROM")
                    if not header:
                        raise InputError(f"{path}:{lineno}: header line does not start with #CHROM; is this a VCF?")
                    continue
                if not header:
                    raise InputError(
                        f"{path}:{lineno}: record before the '#CHROM POS ID REF ALT ...' header line; "
                        "is this a VCF? add the header"
                    )
                records = True
                yield from _parse_record(path, lineno, line, report)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"{path}: cannot read ({e}); check the file is intact") from None
    if not header:
        raise InputError(f"{path}: no '#CHROM' header line; is this a VCF?")

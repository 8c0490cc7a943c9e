"""Tiny genomes and peak files for the data-preparation tests."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
ATAC1 = SHARED / "peaks" / "atac_root_tannenbaum2018" / "GSM3484757_Root_ATAC_1_peaks.narrowPeak.gz"


def random_seq(rng: np.random.Generator, n: int, gc: float = 0.4) -> str:
    p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    return "".join(np.array(list("ACGT"))[rng.choice(4, size=n, p=p)])


def mosaic_seq(rng: np.random.Generator, n: int, segment: int = 2000) -> tuple[str, np.ndarray]:
    """Sequence of segments with GC drawn from [0.3, 0.65]; returns it and the GC of each segment."""
    gcs = rng.uniform(0.3, 0.65, size=-(-n // segment))
    return "".join(random_seq(rng, segment, g) for g in gcs)[:n], gcs


def write_fasta(path: Path, records: dict[str, str], width: int = 60, descriptions=None, gz: bool = False) -> Path:
    lines = []
    for name, seq in records.items():
        desc = (descriptions or {}).get(name)
        lines.append(f">{name}" + (f" {desc}" if desc else ""))
        lines += [seq[i : i + width] for i in range(0, len(seq), width)]
    text = "\n".join(lines) + "\n"
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def write_bgzip(path: Path, records: dict[str, str], width: int = 60) -> Path:
    from Bio import bgzf

    with bgzf.BgzfWriter(str(path), "wb") as fh:
        for name, seq in records.items():
            fh.write(f">{name}\n".encode())
            for i in range(0, len(seq), width):
                fh.write((seq[i : i + width] + "\n").encode())
    return path


def tiny_dataset_inputs(tmp: Path, seed: int = 0) -> dict:
    """A 4-chromosome mosaic genome (``chr1``..``chr4``) and two peak files naming chromosomes ``1``..``4``.

    Peaks sit in GC-rich segments. Task ``a`` is a narrowPeak file with summits, plus peaks on ``chrUn``
    (absent from the genome), one running past the end of ``4`` and one starting past it; task ``b`` is
    BED3 sharing some of ``a``'s peaks.
    """
    rng = np.random.default_rng(seed)
    lengths = {"chr1": 200_000, "chr2": 150_000, "chr3": 120_000, "chr4": 100_000}
    records, a_lines, b_lines = {}, [], []
    for name, n in lengths.items():
        seq, gcs = mosaic_seq(rng, n)
        records[name] = seq
        rich = np.flatnonzero(gcs > 0.5)
        for seg in rng.choice(rich, size=min(len(rich), 25), replace=False):
            start = int(seg) * 2000 + int(rng.integers(200, 1500))
            if start + 300 >= n:
                continue
            summit = int(rng.integers(20, 280))
            a_lines.append(f"{name[3:]}\t{start}\t{start + 300}\tp\t100\t.\t5.0\t10.0\t8.0\t{summit}")
            if rng.random() < 0.5:
                b_lines.append(f"{name[3:]}\t{start + summit - 50}\t{start + summit + 50}")
    a_lines += ["chrUn\t100\t400\tx\t1\t.\t1\t1\t1\t50", "chrUn\t900\t1200\tx\t1\t.\t1\t1\t1\t50"]
    a_lines += ["4\t99900\t100100\tend\t1\t.\t1\t1\t1\t50", "4\t100500\t100700\tout\t1\t.\t1\t1\t1\t50"]
    genome = write_fasta(tmp / "genome.fa", records)
    a = tmp / "a.narrowPeak"
    a.write_text("track name=a\n" + "\n".join(a_lines) + "\n")
    b = tmp / "b.bed.gz"
    b.write_bytes(gzip.compress(("\n".join(b_lines) + "\n").encode()))
    return {"genome": genome, "a": a, "b": b, "records": records, "lengths": lengths}


def read_windows_bed(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text().splitlines()
    assert lines[0].startswith("#")
    return lines[0][1:].split("\t"), [line.split("\t") for line in lines[1:]]

"""Compressed inputs: every reader takes bgzip, and refuses a bgzip file cut short at a block boundary
(which still decompresses, only shorter) instead of reading fewer records."""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np
import pytest

from peakcnn.errors import InputError
from peakcnn.io.bed import read_peaks
from peakcnn.io.chromnames import read_alias_file
from peakcnn.io.fasta import Genome
from peakcnn.io.seqs import read_sequences
from peakcnn.io.vcf import read_vcf


def _bgzip(path, text: str, block: int = 2000):
    """``text`` as BGZF with small blocks (each write of ``block`` bytes flushed as its own block)."""
    from Bio import bgzf

    data = text.encode()
    with bgzf.BgzfWriter(str(path), "wb") as fh:
        for i in range(0, len(data), block):
            fh.write(data[i : i + block])
            fh.flush()
    return path


def _cut_after_first_block(path, out):
    raw = path.read_bytes()
    size = struct.unpack("<H", raw[16:18])[0] + 1
    assert size < len(raw) - 28  # more than one block before the end-of-file block
    out.write_bytes(raw[:size])
    return out


def _texts():
    rng = np.random.default_rng(0)
    bed = "".join(f"chr1\t{s}\t{s + 100}\n" for s in sorted(rng.integers(0, 10**6, 400)))
    vcf = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n" + "".join(
        f"chr1\t{p}\t.\tA\tC\n" for p in sorted(rng.integers(1, 10**6, 400))
    )
    fasta = "".join(f">s{i}\n{'ACGT' * 30}\n" for i in range(200))
    alias = "".join(f"chr{i}\t{i}\tNC_{i:06d}.1\n" for i in range(1, 400))
    return {
        "bed": (bed, lambda p: len(read_peaks(p))),
        "vcf": (vcf, lambda p: len(read_vcf(p)[0])),
        "fasta": (fasta, lambda p: len(list(read_sequences(p)))),
        "alias": (alias, lambda p: len(read_alias_file(p))),
    }


@pytest.mark.parametrize("kind", ["bed", "vcf", "fasta", "alias"])
def test_bgzip_inputs_are_read_whole_or_refused_when_cut(tmp_path, kind):
    text, count = _texts()[kind]
    plain = tmp_path / f"x.{kind}"
    plain.write_text(text)
    whole = _bgzip(tmp_path / f"x.{kind}.gz", text)
    assert count(whole) == count(plain) > 100
    cut = _cut_after_first_block(whole, tmp_path / f"cut.{kind}.gz")
    with pytest.raises(InputError, match=r"cut\.\w+\.gz: bgzip file without its end-of-file block") as err:
        count(cut)
    assert "\n" not in str(err.value)


def test_query_fasta_keeps_utf8_names_and_drops_a_byte_order_mark(tmp_path):
    path = tmp_path / "q.fa"
    path.write_bytes("\ufeff>gène_α first\nACGTAC\n>b\nACGTTT\n".encode())
    assert [name for name, _ in read_sequences(path)] == ["gène_α", "b"]


@pytest.mark.parametrize("kind", ["bed", "vcf", "fasta", "alias", "genome"])
def test_utf16_text_is_named_as_such_and_binary_data_as_binary(tmp_path, kind):
    """A Windows "Unicode" export (UTF-16, with or without a byte-order mark) is told apart from binary
    data, with the conversion that fixes it; a file of mostly NUL bytes stays binary data."""
    texts = _texts() | {"genome": (_texts()["fasta"][0], Genome)}
    text, read = texts[kind]
    for encoding in ("utf-16", "utf-16-be", "utf-16-le", "utf-32"):
        path = tmp_path / f"{kind}.{encoding}"
        path.write_bytes(text.encode(encoding))
        name = encoding[:6].upper()
        with pytest.raises(InputError) as err:
            read(path)
        assert str(err.value) == f"{path}: {name} text, not UTF-8; convert it (iconv -f {name} -t UTF-8)"
    path = tmp_path / f"{kind}.gz"  # iconv cannot read the compressed file itself
    path.write_bytes(gzip.compress(text.encode("utf-16")))
    with pytest.raises(InputError) as err:
        read(path)
    assert str(err.value) == f"{path}: UTF-16 text, not UTF-8; convert it (zcat it, then iconv -f UTF-16 -t UTF-8)"
    path = tmp_path / f"{kind}.bin"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(4000) + b"\x01\x02")  # zeros in every byte, not every other
    with pytest.raises(InputError, match=f"{kind}.bin: binary data, not a "):
        read(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("compress", [False, True])
def test_utf16_alias_file_through_a_pipe_is_named_without_reading_it_twice(tmp_path, compress):
    """--chrom-alias reads pipes (process substitution); the advice comes from the bytes read once, so a
    pipe whose writer is done neither hangs nor loses the gzip step of the advice."""
    import subprocess
    import sys
    import threading

    data = "chr1\t1\n".encode("utf-16")
    data = gzip.compress(data) if compress else data
    fifo = tmp_path / "alias"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(data), daemon=True)
    writer.start()
    code = f"from peakcnn.io.chromnames import read_alias_file\nread_alias_file({str(fifo)!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    unzip = "zcat it, then " if compress else ""
    assert f"InputError: {fifo}: UTF-16 text, not UTF-8; convert it ({unzip}iconv -f UTF-16 -t UTF-8)" in done.stderr


def test_query_fasta_that_is_binary_says_so(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}\x00\x00")
    with pytest.raises(InputError, match="binary data, not a FASTA file"):
        list(read_sequences(path))

"""Peak files: formats, summits, compression, line ends, and one-line errors naming file:line."""

from __future__ import annotations

import gzip
import os
import re

import numpy as np
import pytest

from peakcnn.errors import InputError
from peakcnn.io.bed import read_peaks, task_name, write_bed


def _write(path, text, gz=False, crlf=False):
    if crlf:
        text = text.replace("\n", "\r\n")
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("crlf", [False, True])
def test_narrowpeak_summits(tmp_path, gz, crlf):
    text = (
        "track name=x\nbrowser position chr1\n# comment\n\n"
        "1\t100\t400\tp1\t50\t.\t3.4\t7.0\t5.0\t120\n"
        "2\t1000\t1200\tp2\t60\t.\t3.4\t7.0\t5.0\t-1\n"
        "3\t50\t90\tp3\t70\t.\t3.4\t7.0\t5.0\t0\n"
    )
    p = read_peaks(_write(tmp_path / "x.narrowPeak", text, gz, crlf))
    assert p.format == "narrowPeak" and len(p) == 3
    assert list(p.chrom) == ["1", "2", "3"] and list(p.start) == [100, 1000, 50] and list(p.end) == [400, 1200, 90]
    assert list(p.summit) == [220, -1, 50]  # offset 0: the summit is the peak's first base
    assert list(p.name) == ["p1", "p2", "p3"] and list(p.score) == [50.0, 60.0, 70.0] and list(p.line) == [5, 6, 7]


def test_narrowpeak_with_extra_columns_keeps_its_summits(tmp_path):
    """IDR output: narrowPeak's ten columns and ten more; named .narrowPeak, column 10 is still the summit."""
    idr = "\t1.5\t1.2\t-1\t-1\t0.8\t0.9\t100\t400\t3.4\t120"
    text = f"1\t100\t400\tp1\t50\t.\t3.4\t7.0\t5.0\t120{idr}\n2\t1000\t1200\tp2\t60\t.\t3.4\t7.0\t5.0\t-1{idr}\n"
    p = read_peaks(_write(tmp_path / "idr.narrowPeak.gz", text, True, False))
    assert p.format == "narrowPeak" and list(p.summit) == [220, -1]
    # without the name, twenty columns are read as BED (midpoints): column 10 of BED12 is blockCount
    assert read_peaks(_write(tmp_path / "idr.txt", text, False, False)).format == "bed20"


def test_only_track_and_browser_lines_are_skipped_not_chromosomes_named_so(tmp_path):
    text = "track name=x\nbrowser position chr1:1-100\ntrack\ntrackA\t10\t20\nbrowser2\t5\t9\nchr1\t1\t4\nTrack\t2\t3\n"
    p = read_peaks(_write(tmp_path / "t.bed", text))
    assert list(p.chrom) == ["trackA", "browser2", "chr1", "Track"] and list(p.line) == [4, 5, 6, 7]


def test_bed3_bed6_broadpeak_and_spaces(tmp_path):
    p3 = read_peaks(_write(tmp_path / "a.bed", "chr1 10 20\nchr1 30 40\n"))
    assert p3.format == "bed3" and list(p3.summit) == [-1, -1] and list(p3.name) == [".", "."]
    p6 = read_peaks(_write(tmp_path / "b.bed", "chr1\t10\t20\tn\t.\t+\n"))
    assert p6.format == "bed6" and p6.score[0] == 0.0
    pb = read_peaks(_write(tmp_path / "c.broadPeak", "chr1\t10\t20\tn\t5\t.\t1\t2\t3\n"))
    assert pb.format == "broadPeak" and pb.summit[0] == -1
    assert read_peaks(_write(tmp_path / "c9.bed", "chr1\t10\t20\tn\t5\t.\t1\t2\t3\n")).format == "bed9"
    p8 = read_peaks(_write(tmp_path / "d.bed", "chr1\t10\t20\tn\t5\t+\t12\t18\n"))
    assert p8.format == "bed8"


def test_real_narrowpeak_and_dapseq_files():
    from _prepare_helpers import ATAC1, SHARED

    if not ATAC1.exists():
        pytest.skip(f"shared data not found at {SHARED}")
    atac = read_peaks(ATAC1)
    assert atac.format == "narrowPeak" and len(atac) == 26404
    assert (atac.summit >= atac.start).all() and (atac.summit < atac.end).all()
    dap = read_peaks(SHARED / "peaks" / "dapseq_omalley2016" / "bZIP.HY5.colamp.bed.gz")
    assert dap.format == "bed3" and np.all(dap.end - dap.start == 101)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no peaks"),
        ("# only a comment\ntrack x\n", "no peaks"),
        (">chr1 genome\nACGT\n", ":1: this is a FASTA file"),
        ("##fileformat=VCFv4.2\n#CHROM\tPOS\n1\t5\t.\tA\tT\n", ":1: this is a VCF file"),
        ("chr1\t10\t20\nchr1\t1.5\t30\n", ":2: start '1.5' is not an integer"),
        ("chr1\t10\t20\nchr1\tabc\t30\n", ":2: start 'abc' is not an integer"),
        ("chr1\t-5\t20\n", ":1: negative start -5"),
        ("chr1\t10\t20\nchr1\t30\t30\n", ":2: start 30 >= end 30"),
        ("chr1\t40\t30\n", ":1: start 40 >= end 30"),
        ("chr1\t10\n", ":1: 2 column"),
        ("chrom\tstart\tend\nchr1\t1\t2\n", ":1: start 'start' is not an integer"),
        ("1\t100\t400\tp\t5\t.\t1\t1\t1\t300\n", ":1: summit offset 300 lies outside"),
        ("1\t100\t400\tp\t5\t.\t1\t1\t1\t30\n1\t5\t9\n", ":2: 3 columns; narrowPeak"),
        ("chr1\t100\t99999999999999999999\n", ":1: end 99999999999999999999 is larger than any chromosome"),
        ("chr1\t10\t20\nchr1\t--5\t20\n", ":2: start '--5' is not an integer"),
        ("chr1\t10\t20\nchr1\t1\u00b2\t20\n", ":2: start '1\u00b2' is not an integer"),
        ("chr1\t1_000\t2_000\n", ":1: start '1_000' is not an integer"),
        ("chr1\t10\t20\n\t5000\t5100\n", ":2: empty chromosome name"),
        ("chr1\t10\t20\n \t5000\t5100\n", ":2: empty chromosome name"),
        ("chr1\t\u0661\u0660\u0660\u0660\t2000\n", ":1: start '\u0661\u0660\u0660\u0660' is not an integer"),
    ],
)
def test_bad_peak_files(tmp_path, text, message):
    path = _write(tmp_path / "bad.bed", text)
    with pytest.raises(InputError, match=message) as err:
        read_peaks(path)
    assert "\n" not in str(err.value) and "bad.bed" in str(err.value)


@pytest.mark.parametrize(
    "option, text, message",
    [
        ("--peaks", ">chr1 genome\nACGT\n", "this is a FASTA file, not peaks; the genome goes to --genome"),
        ("--peaks", "##fileformat=VCFv4.2\n", "this is a VCF file, not peaks; pass a BED/narrowPeak file with --peaks"),
        ("--exclude", "##fileformat=VCFv4.2\n", "not peaks; pass a BED/narrowPeak file with --exclude"),
        ("--bed", ">q1\nACGT\n", "this is a FASTA file, not regions; score sequences with --fasta"),
        ("--bed", "##fileformat=VCFv4.2\n", "this is a VCF file, not regions; score variants with 'peakcnn variants"),
    ],
)
def test_a_vcf_or_fasta_given_for_a_bed_says_where_it_goes(tmp_path, option, text, message):
    with pytest.raises(InputError, match=re.escape(message)):
        read_peaks(_write(tmp_path / "x.txt", text), option)


def test_summit_offsets_are_ascii_digits(tmp_path):
    path = _write(tmp_path / "bad.narrowPeak", "chr1\t100\t200\tp\t5\t.\t1\t1\t1\t1_0\n")
    with pytest.raises(InputError, match=":1: summit offset '1_0' is not an integer"):
        read_peaks(path)


def test_binary_and_missing(tmp_path):
    path = tmp_path / "x.bed"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match="binary"):
        read_peaks(path)
    with pytest.raises(
        InputError, match="missing.bed: BED/narrowPeak file not found; pass an existing file with --bed"
    ):
        read_peaks(tmp_path / "missing.bed", "--bed")
    with pytest.raises(InputError, match="is a folder; pass a BED/narrowPeak file with --peaks"):
        read_peaks(tmp_path)
    os.mkfifo(tmp_path / "pipe.bed")
    with pytest.raises(InputError, match=r"pipe.bed: not a regular file \(a pipe or device\).* for --exclude"):
        read_peaks(tmp_path / "pipe.bed", "--exclude")
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(InputError, match="cannot read"):
        read_peaks(tmp_path / "bad.gz")


def test_task_names_and_write_bed(tmp_path):
    assert task_name("x/GSM3484757_Root_ATAC_1_peaks.narrowPeak.gz") == "GSM3484757_Root_ATAC_1_peaks"
    assert task_name("bZIP.HY5.colamp.bed.gz") == "bZIP.HY5.colamp"
    assert task_name("peaks.bed") == "peaks"
    n = write_bed(tmp_path / "o.bed", [["c1", "c2"], [1, 2], [5, 6]], header=["chrom", "start", "end"])
    assert n == 2 and (tmp_path / "o.bed").read_text() == "#chrom\tstart\tend\nc1\t1\t5\nc2\t2\t6\n"
    p = read_peaks(tmp_path / "o.bed")
    assert list(p.start) == [1, 2]
    with pytest.raises(ValueError):  # columns of unequal length: nothing is left behind
        write_bed(tmp_path / "short.bed", [["c1", "c2"], [1]])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.bed"]


def test_byte_order_mark_is_not_part_of_the_first_line(tmp_path):
    path = tmp_path / "bom.bed"
    path.write_bytes(b"\xef\xbb\xbftrack name=x\nchr1\t100\t200\n")
    p = read_peaks(path)
    assert list(p.chrom) == ["chr1"] and list(p.line) == [2]
    path.write_bytes(b"\xef\xbb\xbfchr1\t100\t200\n")
    assert list(read_peaks(path).chrom) == ["chr1"]

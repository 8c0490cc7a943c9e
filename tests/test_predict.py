"""peakcnn predict and the inference helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _apply_helpers import make_run, random_genome, tiny_model, write_fasta

from peakcnn.cli import main
from peakcnn.inference import fold_model, predict, sigmoid
from peakcnn.io.seqs import fit_to_window
from peakcnn.sequence import codes_to_onehot, codes_to_str, str_to_codes


def _table(path):
    lines = path.read_text().splitlines()
    return lines[0].lstrip("#").split("\t"), [ln.split("\t") for ln in lines[1:]]


def test_folded_model_equals_model():
    model = tiny_model()
    x = torch.tensor(codes_to_onehot(np.random.default_rng(0).integers(0, 5, (16, 200)).astype(np.uint8)))
    with torch.no_grad():
        assert torch.allclose(model(x), fold_model(model)(x), atol=1e-5)


def test_predict_leaves_model_as_found_and_rc_averages():
    model = tiny_model().train()
    codes = np.random.default_rng(1).integers(0, 4, (5, 200)).astype(np.uint8)
    fwd = sigmoid(predict(model, codes))
    assert model.training
    rc_codes = (3 - codes)[:, ::-1]  # a view with a negative stride, as a reverse complement often is
    both = sigmoid(predict(model, codes, rc=True))
    np.testing.assert_allclose(both, (fwd + sigmoid(predict(model, rc_codes))) / 2, atol=1e-6)


@pytest.mark.parametrize("center", [None, "summit", "midpoint"])
def test_predict_bed_centres_windows_as_the_training_data_set(tmp_path, center):
    """Summit (or midpoint where there is none) unless the model records 'prepare --center midpoint'; a
    '.bed' output is BED6 (score 0, strand '.') followed by the task columns."""
    model = tiny_model()
    run = make_run(tmp_path, model, ["a", "b"], **({"center": center} if center else {}))
    recs = random_genome(tmp_path / "g.fa", {"chr1": 3000, "chr2": 500})
    bed = tmp_path / "r.narrowPeak"
    bed.write_text("chr1\t1000\t1400\tp1\t0\t.\t1\t1\t1\t50\nchr2\t0\t80\tp2\t0\t.\t1\t1\t1\t-1\n")
    argv = ["predict", str(run), "--genome", str(tmp_path / "g.fa"), "--bed", str(bed), "--max-n-frac", "1"]
    assert main(argv + ["--out", str(tmp_path / "p.bed")]) == 0
    header, rows = _table(tmp_path / "p.bed")
    assert header == ["chrom", "start", "end", "name", "score", "strand", "a", "b"]
    assert (tmp_path / "p.bed").read_text().startswith("#chrom")
    assert [r[4:6] for r in rows] == [["0", "."], ["0", "."]]
    centre1 = 1200 if center == "midpoint" else 1050  # summit 1000 + 50, or the midpoint
    seq1 = recs["chr1"][centre1 - 100 : centre1 + 100]
    seq2 = "N" * 60 + recs["chr2"][0:140]  # midpoint 40 (no summit), window starts at -60
    expect = sigmoid(predict(model, np.stack([str_to_codes(seq1), str_to_codes(seq2)])))
    got = np.array([[float(v) for v in r[6:]] for r in rows])
    np.testing.assert_allclose(got, expect, atol=1e-5)
    assert main(argv + ["--out", str(tmp_path / "p.tsv")]) == 0
    header, rows = _table(tmp_path / "p.tsv")
    assert header == ["chrom", "start", "end", "name", "a", "b"]
    np.testing.assert_allclose(np.array([[float(v) for v in r[4:]] for r in rows]), expect, atol=1e-5)


def test_predict_keeps_the_bed_chromosome_names_and_centres_overhanging_regions_as_prepare(tmp_path, caplog):
    model = tiny_model()
    run = make_run(tmp_path, model, ["a", "b"])
    recs = random_genome(tmp_path / "g.fa", {"chr1": 3000})
    # "1" names chr1; the second region runs 100 bp past the end of chr1 and is centred on 2900-3000
    (tmp_path / "r.bed").write_text("1\t1000\t1400\tp1\nchr1\t2900\t3100\tp2\n")
    argv = ["predict", str(run), "--genome", str(tmp_path / "g.fa"), "--bed", str(tmp_path / "r.bed")]
    argv += ["--max-n-frac", "1"]  # the second window is a quarter N
    with caplog.at_level("WARNING"):
        assert main(argv + ["--out", str(tmp_path / "p.tsv")]) == 0
    assert "1 region(s) run past their chromosome's end (first: line 2, chr1:2900-3100)" in caplog.text
    _, rows = _table(tmp_path / "p.tsv")
    assert [r[:4] for r in rows] == [["1", "1000", "1400", "p1"], ["chr1", "2900", "3100", "p2"]]
    seqs = [recs["chr1"][1100:1300], recs["chr1"][2850:3000] + "N" * 50]  # centres 1200 and 2950
    expect = sigmoid(predict(model, np.stack([str_to_codes(x) for x in seqs])))
    np.testing.assert_allclose(np.array([[float(v) for v in r[4:]] for r in rows]), expect, atol=1e-5)


def test_training_records_centre_and_chromosomes(tmp_path):
    from _prepare_helpers import tiny_dataset_inputs

    from peakcnn.checkpoint import load_model
    from peakcnn.data.prepare import prepare_dataset
    from peakcnn.train import train

    inputs = tiny_dataset_inputs(tmp_path)
    prepare_dataset(inputs["genome"], [inputs["a"]], tmp_path / "ds", window=200, center="midpoint")
    train(tmp_path / "ds", tmp_path / "run", {"arch": "small", "epochs": 1, "batch_size": 16}, progress=False)
    _, meta = load_model(tmp_path / "run")
    assert meta["center"] == "midpoint" and meta["genome_chroms"] == ["chr1", "chr2", "chr3", "chr4"]


def test_inference_runs_convolutions_in_full_float32_and_restores_the_flags():
    from peakcnn.inference import inference_mode

    cudnn, model = torch.backends.cudnn, tiny_model()
    before = (cudnn.allow_tf32, cudnn.enabled, cudnn.benchmark, cudnn.deterministic)
    with inference_mode(model, torch.device("cpu")):
        assert cudnn.allow_tf32 is False and (cudnn.enabled, cudnn.benchmark, cudnn.deterministic) == before[1:]
    assert (cudnn.allow_tf32, cudnn.enabled, cudnn.benchmark, cudnn.deterministic) == before


def test_strand_average_stays_exact_where_probabilities_saturate():
    """logit((s(a) + s(b)) / 2) for strands that disagree, against float64 references: "AC" scores a on the
    forward strand (A first) and b on the reverse ("GT", G first)."""
    from peakcnn.inference import strand_logits

    def reference(a, b):
        p = (1 / (1 + np.exp(-a)) + 1 / (1 + np.exp(-b))) / 2
        return np.log(p) - np.log1p(-p)

    x = torch.tensor(codes_to_onehot(str_to_codes("AC")[None]))
    for a, b, want in [(20.0, 16.0, 16.674997), (-80.0, -79.0, -79.37988), (30.0, -30.0, 0.0), (2.0, -1.0, None)]:
        model = lambda t, a=a, b=b: (a * t[:, 0, :1] + b * t[:, 2, :1]).double()  # noqa: E731
        got = strand_logits(model, x, rc=True).item()
        assert got == pytest.approx(want if want is not None else reference(a, b), abs=1e-4), (a, b)
        assert strand_logits(model, x, rc=False).item() == a


def test_predict_fasta_pads_and_crops(tmp_path, caplog):
    model = tiny_model(n_tasks=1)
    run = make_run(tmp_path, model, ["t"])
    seqs = {"short": "ACGTTGCA" * 5, "exact": "G" * 200, "long": "ACGT" * 80 + "T"}
    write_fasta(tmp_path / "q.fa", seqs)
    argv = ["predict", str(run), "--fasta", str(tmp_path / "q.fa"), "--out", str(tmp_path / "p.tsv")]
    with caplog.at_level("WARNING"):
        assert main(argv) == 0
    assert "1 of 3 sequences are shorter" in caplog.text and "1 longer" in caplog.text
    # the short record's window is 80% N padding: NA unless --max-n-frac lets it through
    assert "1 of 3 windows hold more than 10% N" in caplog.text and "first: record 'short'" in caplog.text
    assert [r[2] == "NA" for r in _table(tmp_path / "p.tsv")[1]] == [True, False, False]
    assert main(argv + ["--max-n-frac", "0.8"]) == 0
    header, rows = _table(tmp_path / "p.tsv")
    assert header == ["name", "length", "t"] and [r[0] for r in rows] == list(seqs)
    fitted = [fit_to_window(str_to_codes(s), 200)[0] for s in seqs.values()]
    assert "".join("ACGTN"[c] for c in fitted[0]).strip("N") == seqs["short"]
    assert fitted[0][:80].tolist() == [4] * 80
    long_codes = str_to_codes(seqs["long"])
    assert fitted[2].tolist() == long_codes[60:260].tolist()
    np.testing.assert_allclose([float(r[2]) for r in rows], sigmoid(predict(model, np.stack(fitted)))[:, 0], atol=1e-5)


def test_predict_rc_scores_a_record_and_its_reverse_complement_the_same_with_any_shifts(tmp_path):
    """With --rc a record whose length differs from the window by an even number scores as its reverse
    complement does, with and without shifts (the shifts applied to each strand along itself), and the
    bases of a region at least a window long score as the BED region, whatever the parity of its length."""
    model = tiny_model(n_tasks=2)
    run = make_run(tmp_path, model, ["a", "b"])
    genome = tmp_path / "g.fa"
    seq = random_genome(genome, {"chr1": 3000})["chr1"]
    spans = {f"len{n}": (1000, 1000 + n) for n in (50, 200, 201, 333, 400)}
    seqs = {k: seq[a:b] for k, (a, b) in spans.items()}
    flip = str.maketrans("ACGT", "TGCA")
    write_fasta(tmp_path / "f.fa", seqs)
    write_fasta(tmp_path / "r.fa", {k: v.translate(flip)[::-1] for k, v in seqs.items()})
    (tmp_path / "r.bed").write_text("".join(f"chr1\t{a}\t{b}\t{k}\n" for k, (a, b) in spans.items()))
    even = [k for k in seqs if (len(seqs[k]) - 200) % 2 == 0]
    for extra in ([], ["--shifts", "0", "3"]):
        scores = {}
        for what, src in (("f", "--fasta"), ("r", "--fasta"), ("bed", "--bed")):
            out, inp = tmp_path / f"{what}.tsv", tmp_path / ("r.bed" if what == "bed" else f"{what}.fa")
            argv = ["predict", str(run), "--genome", str(genome), src, str(inp), "--out", str(out), "--rc", *extra]
            argv += ["--max-n-frac", "1"]  # the 50 bp record is padded to a window three quarters N
            assert main(argv) == 0
            header, rows = _table(out)
            scores[what] = {row[header.index("name")]: [float(x) for x in row[-2:]] for row in rows}
        for k in (k for k in seqs if len(seqs[k]) >= 200):  # a shorter region gets the genome around it
            np.testing.assert_allclose(scores["f"][k], scores["bed"][k], atol=2e-6)
        for k in even:
            np.testing.assert_allclose(scores["f"][k], scores["r"][k], atol=2e-6)


def test_predict_and_ism_say_that_fasta_records_are_scored_rather_than_the_genome(tmp_path, caplog):
    """An information line, not a warning: the command line's stable form of predict passes --genome always."""
    run = make_run(tmp_path, tiny_model(n_tasks=1), ["t"])
    random_genome(tmp_path / "g.fa", {"chr1": 400})
    write_fasta(tmp_path / "q.fa", {"s": "ACGT" * 50})
    (tmp_path / "alias.tsv").write_text("chr1\t1\n")
    fasta = ["--fasta", str(tmp_path / "q.fa")]
    for argv, unused in (
        (["predict", *fasta, "--out", str(tmp_path / "p.tsv")], None),
        (["predict", *fasta, "--genome", str(tmp_path / "g.fa"), "--out", str(tmp_path / "p.tsv")], "--genome"),
        (
            ["ism", *fasta, "--genome", str(tmp_path / "g.fa"), "--chrom-alias", str(tmp_path / "alias.tsv"),
             "--out", str(tmp_path / "i"), "--no-plot"],
            "--genome and --chrom-alias",
        ),
    ):  # fmt: skip
        caplog.clear()
        with caplog.at_level("INFO"):
            assert main([argv[0], str(run), *argv[1:]]) == 0
        said = "not read with --fasta: its records are the sequences scored" in caplog.text
        assert said == (unused is not None) and (unused is None or f"{argv[0]}: {unused} not read" in caplog.text)
        assert "warning" not in caplog.text  # the stable form of predict gives --genome with --fasta too


@pytest.mark.parametrize("window", [200, 201])
def test_the_sequence_of_a_bed_region_is_placed_as_the_region(tmp_path, window):
    """predict --fasta puts the bases of a BED region where predict --bed puts the region (midpoint
    centring) for every parity of region and window: N around a shorter one, the same crop of a longer one,
    so a region at least a window long scores the same either way."""
    model = tiny_model(n_tasks=1, window=window)
    run = make_run(tmp_path, model, ["t"], center="midpoint")
    genome = random_genome(tmp_path / "g.fa", {"chr1": 3000})["chr1"]
    regions = [(1000, 1000 + n) for n in (1, 2, 99, 100, 101, 200, 201, 202, 299, 300)]
    for s, e in regions:
        lo = (s + e) // 2 - window // 2  # the window predict --bed scores
        want = "".join(genome[j] if s <= j < e else "N" for j in range(lo, lo + window))
        assert codes_to_str(fit_to_window(str_to_codes(genome[s:e]), window)[0]) == want, e - s
    long = [(s, e) for s, e in regions if e - s >= window]
    (tmp_path / "r.bed").write_text("".join(f"chr1\t{s}\t{e}\tr{e - s}\n" for s, e in long))
    write_fasta(tmp_path / "q.fa", {f"r{e - s}": genome[s:e] for s, e in long})
    out_bed, out_fa = tmp_path / "b.tsv", tmp_path / "f.tsv"
    assert main(["-q", "predict", str(run), "--genome", str(tmp_path / "g.fa"), "--bed", str(tmp_path / "r.bed"),
                 "--out", str(out_bed)]) == 0  # fmt: skip
    assert main(["-q", "predict", str(run), "--fasta", str(tmp_path / "q.fa"), "--out", str(out_fa)]) == 0
    by_bed = {r[3]: float(r[4]) for r in _table(out_bed)[1]}
    by_fasta = {r[0]: float(r[2]) for r in _table(out_fa)[1]}
    assert by_bed.keys() == by_fasta.keys() and len(by_bed) == len(long) >= 4
    for name, p in by_bed.items():
        assert by_fasta[name] == pytest.approx(p, abs=1e-6), name


@pytest.mark.parametrize(
    "bed_text, message",
    [
        ("chr1\t3000\t3100\tx\n", "starts past the end of chr1"),
        ("chrQ\t1\t10\tx\n", "no chromosome name matches genome g.fa (BED has chrQ; genome has chr1)"),
    ],
)
def test_predict_bad_regions(tmp_path, capsys, bed_text, message):
    run = make_run(tmp_path, tiny_model(), ["a", "b"])
    random_genome(tmp_path / "g.fa", {"chr1": 3000})
    (tmp_path / "r.bed").write_text(bed_text)
    out = tmp_path / "p.tsv"
    assert (
        main(
            [
                "predict",
                str(run),
                "--genome",
                str(tmp_path / "g.fa"),
                "--bed",
                str(tmp_path / "r.bed"),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("peakcnn: error:") and message in err[-1]
    assert not out.exists()


def test_predict_bad_fasta_letter_and_missing_folder(tmp_path, capsys):
    run = make_run(tmp_path, tiny_model(), ["a", "b"])
    (tmp_path / "q.fa").write_text(">s1\nACGT\nACXT\n")
    assert main(["predict", str(run), "--fasta", str(tmp_path / "q.fa"), "--out", str(tmp_path / "p.tsv")]) == 2
    assert "q.fa:3:3: record 's1': character 'X'" in capsys.readouterr().err
    assert not (tmp_path / "p.tsv").exists()
    (tmp_path / "q.fa").write_text(">s1\nACGT\n")
    assert main(["predict", str(run), "--fasta", str(tmp_path / "q.fa"), "--out", str(tmp_path / "no/p.tsv")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["predict", "ism"])
def test_unknown_or_missing_device_is_one_line(tmp_path, capsys, command):
    run = make_run(tmp_path, tiny_model(), ["a", "b"])
    (tmp_path / "q.fa").write_text(">s1\nACGT\n")
    argv = [command, str(run), "--fasta", str(tmp_path / "q.fa"), "--out", str(tmp_path / "p.tsv")]
    assert main(argv + ["--device", "foo"]) == 2
    assert "'foo': choose auto, cpu, cuda, cuda:N or mps" in capsys.readouterr().err
    for odd in ("cuda:01", "cuda:", "CUDA", "cuda:\u0661"):  # leading zero, no index, upper case, Arabic digit
        assert main(argv + ["--device", odd]) == 2
        assert f"{odd!r}: choose auto, cpu, cuda, cuda:N or mps" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(argv + ["--device", "cuda"]) == 2
        err = capsys.readouterr().err.strip()
        assert err == "peakcnn: error: --device cuda: no CUDA device is available here; use --device cpu or auto"
        assert main(argv + ["--device", "cuda:1"]) == 2
        assert "--device cuda:1: no CUDA device is available here; use --device cpu or auto" in capsys.readouterr().err
    assert list(tmp_path.glob("p.tsv*")) == []


def test_genome_mismatch_warns(tmp_path, caplog):
    run = make_run(tmp_path, tiny_model(), ["a", "b"], genome_chroms=["Chr1", "Chr5"])
    random_genome(tmp_path / "g.fa", {"chr1": 1000})
    write_fasta(tmp_path / "q.fa", {"s": "ACGT" * 10})
    (tmp_path / "r.bed").write_text("chr1\t10\t20\tx\n")
    with caplog.at_level("WARNING"):
        assert (
            main(
                [
                    "predict",
                    str(run),
                    "--genome",
                    str(tmp_path / "g.fa"),
                    "--bed",
                    str(tmp_path / "r.bed"),
                    "--out",
                    str(tmp_path / "p.tsv"),
                ]
            )
            == 0
        )
    assert "1 of the 2 chromosomes the model was trained on are not in genome" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):  # ism --region reads the same genome and warns the same way
        argv = ["ism", str(run), "--genome", str(tmp_path / "g.fa"), "--region", "chr1:401-410", "--no-plot"]
        assert main(argv + ["--out", str(tmp_path / "r")]) == 0
    assert "1 of the 2 chromosomes the model was trained on are not in genome" in caplog.text


def test_a_chromosome_is_found_by_what_its_description_said(tmp_path, caplog):
    """A model trained on a genome named by accessions ("NC_000001.1 ... chromosome 1") is not reported as
    trained on another assembly when given the same chromosomes named chr1, chr2."""
    from peakcnn.apply import check_genome
    from peakcnn.io.fasta import Genome

    random_genome(tmp_path / "g.fa", {"chr1": 1000, "chr2": 1000})
    genome = Genome(tmp_path / "g.fa")
    meta = {
        "genome_chroms": ["NC_000001.1", "NC_000002.1", "NC_000009.1"],
        "genome_chrom_descriptions": {
            "NC_000001.1": "Testus chromosome 1",
            "NC_000002.1": "Testus chromosome 2, complete sequence",
            "NC_000009.1": "Testus chromosome 9",
        },
    }
    with caplog.at_level("WARNING"):
        check_genome(meta, genome)
    assert "1 of the 3 chromosomes the model was trained on are not in genome g.fa (NC_000009.1)" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        check_genome({"genome_chroms": meta["genome_chroms"]}, genome)  # without descriptions: by name only
    assert "3 of the 3 chromosomes" in caplog.text


def test_gz_output_is_gzip_and_bed_gz_is_bed(tmp_path):
    import gzip

    run = make_run(tmp_path, tiny_model(), ["a", "b"])
    random_genome(tmp_path / "g.fa", {"chr1": 3000})
    (tmp_path / "r.bed").write_text("chr1\t1000\t1400\tp1\n")
    argv = ["predict", str(run), "--genome", str(tmp_path / "g.fa"), "--bed", str(tmp_path / "r.bed"), "--out"]
    assert main(argv + [str(tmp_path / "p.bed")]) == 0
    assert main(argv + [str(tmp_path / "p.bed.gz")]) == 0
    plain = (tmp_path / "p.bed").read_text()
    assert plain.startswith("#chrom\tstart\tend\tname\tscore\tstrand\ta\tb\n")
    assert gzip.decompress((tmp_path / "p.bed.gz").read_bytes()).decode() == plain
    # no file name in the gzip header (it would be the temporary one) and no time: same rows, same bytes
    packed = (tmp_path / "p.bed.gz").read_bytes()
    assert packed[3] & 0x08 == 0 and packed[4:8] == bytes(4)
    assert main(argv + [str(tmp_path / "q.bed.gz")]) == 0
    assert (tmp_path / "q.bed.gz").read_bytes() == packed


def _shifted_codes(codes: np.ndarray, shift: int) -> np.ndarray:
    """Codes moved ``shift`` bases to the right, N moved in (written out by hand)."""
    out = np.full_like(codes, 4)
    for i in range(codes.shape[1]):
        if 0 <= i - shift < codes.shape[1]:
            out[:, i] = codes[:, i - shift]
    return out


def test_shifts_average_the_probabilities_of_shifted_windows_and_both_strands():
    from peakcnn.augment import random_shift

    model = tiny_model()
    codes = np.random.default_rng(2).integers(0, 5, (6, 200)).astype(np.uint8)
    torch.manual_seed(0)  # random_shift with max 3 on 6 rows draws these offsets; the same bases as by hand
    offsets = torch.randint(-3, 4, (6, 1))
    torch.manual_seed(0)
    moved = random_shift(torch.tensor(codes), 3).numpy()
    for row, s in enumerate(offsets[:, 0].tolist()):
        assert moved[row].tolist() == _shifted_codes(codes[row : row + 1], s)[0].tolist()
    shifts = (-7, 0, 3)
    probs = [sigmoid(predict(model, _shifted_codes(codes, s))) for s in shifts]
    other = np.where(codes == 4, 4, 3 - codes)[:, ::-1].copy()  # the other strand, moved by the same shifts
    probs += [sigmoid(predict(model, _shifted_codes(other, s))) for s in shifts]
    np.testing.assert_allclose(sigmoid(predict(model, codes, shifts=shifts)), np.mean(probs[:3], 0), atol=1e-6)
    np.testing.assert_allclose(sigmoid(predict(model, codes, rc=True, shifts=shifts)), np.mean(probs, 0), atol=1e-6)
    # so a sequence and its reverse complement score the same, even with shifts that are not symmetric
    both = predict(model, codes, rc=True, shifts=shifts), predict(model, other, rc=True, shifts=shifts)
    np.testing.assert_allclose(*both, atol=1e-6)
    assert np.array_equal(predict(model, codes, shifts=[0]), predict(model, codes))


@pytest.mark.parametrize("shifts", [(), (0, 0), (0.5,), (True,), "0", 5, None])
def test_shifts_must_be_distinct_whole_numbers(shifts):
    from peakcnn.errors import InputError

    with pytest.raises(InputError, match="distinct whole numbers"):
        predict(tiny_model(), np.zeros((1, 200), dtype=np.uint8), shifts=shifts)


def test_predict_cli_shifts(tmp_path, capsys):
    model = tiny_model(n_tasks=1)
    run = make_run(tmp_path, model, ["t"])
    codes = np.random.default_rng(3).integers(0, 4, (3, 200)).astype(np.uint8)
    write_fasta(tmp_path / "q.fa", {f"s{i}": "".join("ACGT"[c] for c in row) for i, row in enumerate(codes)})
    out = tmp_path / "p.tsv"
    assert main(["predict", str(run), "--fasta", str(tmp_path / "q.fa"), "--shifts", "-3", "0", "3", "--rc",
                 "--out", str(out)]) == 0  # fmt: skip
    got = [float(r[2]) for r in _table(out)[1]]
    want = sigmoid(predict(model, codes, rc=True, shifts=(-3, 0, 3)))[:, 0]
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.abs(want - sigmoid(predict(model, codes, rc=True))[:, 0]).max() > 1e-4  # the shifts count


def test_shift_average_stays_exact_where_probabilities_saturate():
    class Confident(torch.nn.Module):  # logit 30 + 0.05 x (bases in the window): 40 unshifted, less when moved
        def forward(self, x):
            return 30 + 0.05 * x.sum(dim=(1, 2))[:, None]

    codes = np.zeros((2, 200), dtype=np.uint8)
    shifts = (-20, 0, 20, 60)
    got = predict(Confident(), codes, shifts=shifts)[:, 0]
    a = np.array([30 + 0.05 * (200 - abs(s)) for s in shifts])
    log_s = lambda v: -np.logaddexp(0, -v)  # noqa: E731
    want = np.logaddexp.reduce(log_s(a)) - np.logaddexp.reduce(log_s(-a))  # float64 logit of the mean
    assert np.isfinite(got).all() and np.allclose(got, want, atol=1e-3) and abs(want - a.mean()) > 0.1
    from peakcnn.errors import InputError
    from peakcnn.inference import predict_batches

    with pytest.raises(InputError, match="a window of 200 bp moved that far"):
        next(predict_batches(Confident(), [codes], shifts=(200,)))


def test_shifts_are_checked_when_predict_batches_is_called():
    from peakcnn.errors import InputError
    from peakcnn.inference import predict_batches

    with pytest.raises(InputError, match="distinct"):
        predict_batches(tiny_model(), [], shifts=(1, 1))  # at the call, before any batch is drawn
    got = predict(tiny_model(), np.zeros((2, 200), dtype=np.uint8), shifts=np.array([-1, 0, 1]))
    assert np.allclose(got, predict(tiny_model(), np.zeros((2, 200), dtype=np.uint8), shifts=range(-1, 2)))


def test_input_reaches_the_model_device_by_a_blocking_copy(monkeypatch):
    """A non-blocking copy to MPS reads its source after the call returns, and a one-hot batch cast to float32
    here is freed by then (pytorch/pytorch#189690): every copy of a batch to the model's device blocks."""
    model = tiny_model()
    calls = []
    to = torch.Tensor.to

    def recording_to(self, *args, **kwargs):
        calls.append(kwargs.get("non_blocking", False) or any(a is True for a in args[1:]))
        return to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", recording_to)
    codes = np.random.default_rng(0).integers(0, 4, (3, 200), dtype=np.uint8)
    for batch in (codes, codes_to_onehot(codes).astype(np.float64)):
        predict(model, batch, device="cpu")
    assert calls and not any(calls)


def test_predict_writes_na_for_windows_of_mostly_n(tmp_path, caplog):
    """A region in an assembly gap gets NA in every task column, with a warning naming its line; the limit
    is the training data set's when the model records it, else prepare's default, else --max-n-frac."""
    model = tiny_model()
    seq = list(random_genome(tmp_path / "g.fa", {"chr1": 3000})["chr1"])
    seq[1000:1400] = "N" * 400
    (tmp_path / "g.fa").write_text(">chr1\n" + "".join(seq) + "\n")
    # windows of 200 centred on 700 (no N), 980 (80 N: 40%), 950 (50 N: 25%), 920 (20 N: 10%, at the limit)
    regions = ["600\t800\tclear", "960\t1000\tgap", "900\t1000\tedge", "900\t940\tat"]
    (tmp_path / "r.bed").write_text("".join(f"chr1\t{r}\n" for r in regions))
    cases = [
        ({}, [], 0.1, "prepare's default --max-n-frac, as the model does not"),
        ({"max_n_frac": 0.3}, [], 0.3, "the most the model's"),
    ]
    cases += [({"max_n_frac": 0.3}, ["--max-n-frac", "0.5"], 0.5, "--max-n-frac")]
    for i, (meta, extra, limit, source) in enumerate(cases):
        run = make_run(tmp_path, model, ["a", "b"], f"run{i}", **meta)
        argv = ["predict", str(run), "--genome", str(tmp_path / "g.fa"), "--bed", str(tmp_path / "r.bed"), *extra]
        caplog.clear()
        with caplog.at_level("WARNING"):
            assert main(argv + ["--out", str(tmp_path / "p.tsv")]) == 0
        rows = _table(tmp_path / "p.tsv")[1]
        na = {r[3]: r[4:] == ["NA", "NA"] for r in rows}
        assert na == {"clear": False, "gap": limit < 0.4, "edge": limit < 0.25, "at": False}, limit
        if limit < 0.4:
            n = int(na["gap"]) + int(na["edge"])
            assert f"r.bed: {n} of 4 windows hold more than {limit * 100:g}% N ({source}" in caplog.text
            assert "first: line 2" in caplog.text and "probabilities are written as NA" in caplog.text
        else:
            assert "N (" not in caplog.text
        assert all(float(x) > 0 for r in rows for x in r[4:] if x != "NA")


def test_predict_holds_every_shifted_window_to_the_n_limit(tmp_path, caplog):
    """``--shifts`` moves N into the windows it scores: a shift of most of the window was averaged in
    silently, however much N it brought. Every window scored, each strand moved along itself, is held to the
    limit."""
    model = tiny_model()
    seq = list(random_genome(tmp_path / "g.fa", {"chr1": 3000})["chr1"])
    seq[1000:1400] = "N" * 400
    (tmp_path / "g.fa").write_text(">chr1\n" + "".join(seq) + "\n")
    # 200 bp windows: 500-700 without N; 820-1020 with 20 N on its right end (10%, at the limit)
    (tmp_path / "r.bed").write_text("chr1\t550\t650\tclear\nchr1\t900\t940\tat\n")
    run = make_run(tmp_path, model, ["a", "b"], "run")
    argv = ["predict", str(run), "--genome", str(tmp_path / "g.fa"), "--bed", str(tmp_path / "r.bed")]
    # moved right by 5, the window keeps 15 of its N and takes 5 in (10%); moved left by 5, it keeps 20 and
    # takes 5 in (12.5%); on the reverse strand, moved by 5 along it, the window is the forward one moved by -5
    cases = [([], False), (["--shifts", "0", "5"], False), (["--shifts", "-5", "0", "5"], True)]
    cases += [(["--shifts", "0", "5", "--rc"], True), (["--shifts", "0", "150"], True)]
    for extra, at_is_na in cases:
        caplog.clear()
        with caplog.at_level("WARNING"):
            assert main([*argv, *extra, "--out", str(tmp_path / "p.tsv")]) == 0
        na = {r[3]: r[4] == "NA" for r in _table(tmp_path / "p.tsv")[1]}
        assert na == {"clear": extra[-1:] == ["150"], "at": at_is_na}, extra
        assert ("hold more than 10% N" in caplog.text) == at_is_na, extra
    # the clear window is scored as without the limit
    assert main([*argv, "--shifts", "0", "5", "--out", str(tmp_path / "a.tsv")]) == 0
    assert main([*argv, "--shifts", "0", "5", "--max-n-frac", "1", "--out", str(tmp_path / "b.tsv")]) == 0
    assert _table(tmp_path / "a.tsv")[1][0] == _table(tmp_path / "b.tsv")[1][0]


def test_training_records_the_data_sets_n_limit(tmp_path):
    from _prepare_helpers import tiny_dataset_inputs

    from peakcnn.checkpoint import load_model
    from peakcnn.data.prepare import prepare_dataset
    from peakcnn.train import train

    inputs = tiny_dataset_inputs(tmp_path)
    prepare_dataset(inputs["genome"], [inputs["a"]], tmp_path / "ds", window=200, max_n_frac=0.2)
    train(tmp_path / "ds", tmp_path / "run", {"arch": "small", "epochs": 1, "batch_size": 16}, progress=False)
    assert load_model(tmp_path / "run")[1]["max_n_frac"] == 0.2


def test_predict_counts_the_regions_it_drops_as_regions(tmp_path, caplog):
    run = make_run(tmp_path, tiny_model(), ["a", "b"])
    random_genome(tmp_path / "g.fa", {"chr1": 3000})
    (tmp_path / "r.bed").write_text("chr1\t100\t200\tx\nchrQ\t1\t10\ty\nchrQ\t5\t20\tz\n")
    argv = ["predict", str(run), "--genome", str(tmp_path / "g.fa"), "--bed", str(tmp_path / "r.bed")]
    with caplog.at_level("WARNING"):
        assert main([*argv, "--out", str(tmp_path / "p.tsv")]) == 0
    assert "r.bed: 2 regions on 1 chromosome(s) absent from genome g.fa are dropped: chrQ (2)" in caplog.text
    assert [r[3] for r in _table(tmp_path / "p.tsv")[1]] == ["x"]


def test_check_codes_refuses_the_first_code_past_n_and_batch_defaults():
    from peakcnn.errors import InputError
    from peakcnn.inference import CPU_BATCH, GPU_BATCH, check_codes, default_batch

    with pytest.raises(InputError, match="holds code 5"):
        check_codes(np.array([[0, 5]], dtype=np.uint8))
    assert default_batch("cpu") == CPU_BATCH == 32 and default_batch("cuda") == GPU_BATCH == 256


def test_max_n_frac_zero_is_a_limit():
    """``--max-n-frac 0``: only windows without N are scored (0 is in the documented range 0-1)."""
    from peakcnn.apply import max_n_frac

    assert max_n_frac({}, 0) == (0.0, "--max-n-frac")


def test_a_region_ending_on_the_chromosomes_last_base_does_not_run_past_it(tmp_path, caplog):
    run = make_run(tmp_path, tiny_model(), ["a", "b"])
    random_genome(tmp_path / "g.fa", {"chr1": 3000})
    (tmp_path / "r.bed").write_text("chr1\t2800\t3000\tp\nchr1\t2800\t3001\tq\n")  # half-open: 3000 is the end
    argv = ["predict", str(run), "--genome", str(tmp_path / "g.fa"), "--bed", str(tmp_path / "r.bed")]
    with caplog.at_level("WARNING"):
        assert main([*argv, "--max-n-frac", "1", "--out", str(tmp_path / "p.tsv")]) == 0
    assert "1 region(s) run past their chromosome's end (first: line 2," in caplog.text

"""DeepLIFT/SHAP attributions: summation to delta, hypothetical contributions, a planted motif, the command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _apply_helpers import make_run, motif_model, random_codes, tiny_model, write_fasta

from peakcnn.cli import main
from peakcnn.ensemble import EnsembleModel
from peakcnn.interpret.attribute import deep_lift_shap, shuffled_references, track_intervals, window_seed
from peakcnn.sequence import N_CODE, codes_to_onehot, reverse_complement_codes, str_to_codes


def _logits(model, codes: np.ndarray, task: int) -> np.ndarray:
    with torch.no_grad():
        return model.eval()(torch.as_tensor(codes_to_onehot(codes)))[:, task].double().numpy()


@pytest.mark.parametrize(
    "make", [lambda: tiny_model(2, seed=3), lambda: EnsembleModel([tiny_model(2), tiny_model(2, 1)])]
)
def test_contributions_add_up_to_the_logit_minus_the_references(make):
    """DeepLIFT's summation to delta, per window, with max-pooling, batch norm, N padding and an ensemble."""
    model = make()
    codes = random_codes(6 * 200, seed=5).reshape(6, 200)
    codes[0, :30] = N_CODE  # a window off a chromosome end
    codes[1, 90:95] = N_CODE  # an assembly gap
    a = deep_lift_shap(model, codes, task=1, n_shuffles=7, seed=2)
    np.testing.assert_allclose(a.logit, _logits(model, codes, 1), atol=1e-6)
    refs = shuffled_references(codes, 7, seed=2)
    ref_logits = _logits(model, refs.reshape(-1, 200), 1).reshape(6, 7).mean(1)
    np.testing.assert_allclose(a.reference_logit, ref_logits, atol=1e-6)
    np.testing.assert_allclose(a.contribution.sum(1), a.logit - a.reference_logit, atol=1e-5)
    assert a.error.max() < 1e-5
    assert np.abs(a.logit - a.reference_logit).max() > 1e-3  # the check above is not between zeros


def test_hypothetical_contribution_of_the_window_base_is_its_contribution():
    model = tiny_model(1, seed=4)
    codes = random_codes(3 * 200, seed=6).reshape(3, 200)
    codes[2, 50:60] = N_CODE
    a = deep_lift_shap(model, codes, n_shuffles=5)
    own = (a.hypothetical * codes_to_onehot(codes)).sum(1)
    known = codes != N_CODE
    np.testing.assert_allclose(own[known], a.contribution[known], atol=1e-6)
    assert np.abs(a.hypothetical).sum(1)[known].min() > 0  # other bases have their own hypothetical scores


def test_planted_motif_carries_the_contribution():
    """The hand-weighted detector gives +10 for TGCA: the bases of the planted motif carry a positive
    contribution, the largest of the window, and nothing else in the window is positive."""
    model = motif_model()
    seq = list("ACGTTACCGATTAGGCATCG" * 10)  # no TGCA anywhere
    seq[120:124] = "TGCA"
    codes = str_to_codes("".join(seq))[None]
    assert "TGCA" not in "".join(seq[:120] + seq[124:])
    a = deep_lift_shap(model, codes, n_shuffles=10)
    c = a.contribution[0]
    assert a.logit[0] == pytest.approx(5.0, abs=1e-5)
    assert np.argmax(c) in range(120, 124) and c[120:124].sum() > 1
    assert c[:120].max() <= 1e-6 and c[124:].max() <= 1e-6
    assert a.error[0] < 1e-5


@pytest.mark.parametrize(
    "make", [lambda: tiny_model(2, seed=3), lambda: EnsembleModel([tiny_model(2), tiny_model(2, 1)])]
)
def test_both_strands_add_up_to_the_mean_of_the_strands_logits(make):
    """With rc the mean of the two strands' logits is explained: its contributions, the other strand's mapped
    back onto the forward strand, still add up to it minus the references' own two-strand mean."""
    model = make()
    codes = random_codes(5 * 200, seed=7).reshape(5, 200)
    codes[0, :30] = N_CODE
    a = deep_lift_shap(model, codes, task=1, n_shuffles=6, seed=4, rc=True)
    both = (_logits(model, codes, 1) + _logits(model, reverse_complement_codes(codes), 1)) / 2
    np.testing.assert_allclose(a.logit, both, atol=1e-6)
    refs = shuffled_references(codes, 6, seed=4).reshape(-1, 200)  # the same references as one strand
    ref_both = (_logits(model, refs, 1) + _logits(model, reverse_complement_codes(refs), 1)) / 2
    np.testing.assert_allclose(a.reference_logit, ref_both.reshape(5, 6).mean(1), atol=1e-6)
    np.testing.assert_allclose(a.contribution.sum(1), a.logit - a.reference_logit, atol=1e-5)
    assert a.error.max() < 1e-5 and (a.contribution[0, :30] == 0).all()
    known = codes != N_CODE
    own = (a.hypothetical * codes_to_onehot(codes)).sum(1)
    np.testing.assert_allclose(own[known], a.contribution[known], atol=1e-6)
    forward = deep_lift_shap(model, codes, task=1, n_shuffles=6, seed=4)
    assert np.abs(forward.logit - a.logit).max() > 1e-3  # the other strand counts


def test_a_motif_seen_only_on_the_other_strand_is_credited_to_its_bases_with_rc():
    """A GATA detector and a window holding only TATC (GATA on the reverse strand): the forward strand
    gives it nothing; with rc the positive contribution lies on TATC's bases, mapped back to the forward
    strand, and nowhere else."""
    model = motif_model("GATA")
    seq = list("ACGTTACCGTTAGGCACCG" * 11)[:200]  # no AT dinucleotide, so no GATA or TATC
    seq[120:124] = "TATC"
    text = "".join(seq)
    assert text.count("TATC") == 1 and "GATA" not in text
    codes = str_to_codes(text)[None]
    forward = deep_lift_shap(model, codes, n_shuffles=10)
    assert forward.logit[0] == pytest.approx(-5.0, abs=1e-5) and forward.contribution[0].max() <= 1e-6
    a = deep_lift_shap(model, codes, n_shuffles=10, rc=True)
    c = a.contribution[0]
    assert a.logit[0] == pytest.approx(0.0, abs=1e-5)  # the mean of -5 and +5
    assert np.argmax(c) in range(120, 124) and c[120:124].sum() > 1
    assert c[:120].max() <= 1e-6 and c[124:].max() <= 1e-6
    assert a.error[0] < 1e-5


def _fields(a):
    return [a.hypothetical, a.contribution, a.logit, a.reference_logit, a.error]


def test_a_window_scores_the_same_alone_elsewhere_and_in_any_batch():
    """The references are seeded by the window's own bases: the same window gets the same scores wherever
    it stands in the input and whatever the batch size; another seed gives other references."""
    model = tiny_model(1, seed=1)
    codes = random_codes(5 * 200, seed=8).reshape(5, 200)
    full = deep_lift_shap(model, codes, n_shuffles=4, seed=9, batch_size=64)
    small = deep_lift_shap(model, codes, n_shuffles=4, seed=9, batch_size=4)
    for x, y in zip(_fields(small), _fields(full), strict=True):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-6)
    alone = deep_lift_shap(model, codes[3:4], n_shuffles=4, seed=9)
    moved = deep_lift_shap(model, codes[[3, 0, 3]], n_shuffles=4, seed=9)
    for x, y, z in zip(_fields(alone), _fields(full), _fields(moved), strict=True):
        np.testing.assert_allclose(x[0], y[3], rtol=0, atol=1e-6)
        np.testing.assert_allclose(z[[0, 2]], y[[3, 3]], rtol=0, atol=1e-6)
    other = deep_lift_shap(model, codes, n_shuffles=4, seed=10)
    assert not np.allclose(other.hypothetical, full.hypothetical)


def test_n_stays_in_place_and_contributes_nothing():
    """Padding and gaps are N in every reference too: no contribution there, so the contributions a
    TF-MoDISco input or a logo shows (hypothetical x one-hot) add up to the whole difference."""
    model = tiny_model(1, seed=2)
    codes = random_codes(2 * 200, seed=4).reshape(2, 200)
    codes[0, :94], codes[0, 106:] = N_CODE, N_CODE  # a 12 bp sequence padded to the window
    codes[1, 60:70] = N_CODE  # an assembly gap
    refs = shuffled_references(codes, 6, seed=0)
    assert ((refs == N_CODE) == (codes[:, None] == N_CODE)).all()
    a = deep_lift_shap(model, codes, n_shuffles=6)
    assert (a.contribution[codes == N_CODE] == 0).all()
    shown = (a.hypothetical * codes_to_onehot(codes)).sum((1, 2))
    np.testing.assert_allclose(shown, a.logit - a.reference_logit, atol=1e-5)


def test_error_is_the_largest_gap_over_single_references(monkeypatch):
    """With the multipliers of reference 0 doubled, its contributions add up to twice its difference: the
    error is that reference's gap, |logit - its logit|, not a mean over the references."""
    import tangermeme.deep_lift_shap as tdls

    real = tdls.deep_lift_shap

    def doubled(*args, **kw):
        m = real(*args, **kw)
        m[:, 0] *= 2
        return m

    monkeypatch.setattr(tdls, "deep_lift_shap", doubled)
    model = tiny_model(1, seed=6)
    codes = random_codes(3 * 200, seed=11).reshape(3, 200)
    a = deep_lift_shap(model, codes, n_shuffles=5, seed=1)
    first = _logits(model, shuffled_references(codes, 5, seed=1)[:, 0], 0)
    np.testing.assert_allclose(a.error, np.abs(a.logit - first), atol=1e-6)
    assert (np.abs(a.logit - first) > 1e-4).all()


def test_each_window_has_its_own_stable_seed():
    a, b = random_codes(200, seed=1), random_codes(200, seed=2)
    assert window_seed(0, a) == window_seed(0, a.copy()) != window_seed(0, b)
    assert window_seed(0, a) != window_seed(1, a)
    # the digest is blake2b of the codes' bytes: fixed across platforms and versions of numpy
    assert window_seed(7, np.arange(5, dtype=np.uint8)) == [7, 17483692334919901202]


def test_windows_with_nothing_to_shuffle_are_counted(setup, caplog):
    model = tiny_model(1)
    codes = random_codes(4 * 200, seed=3).reshape(4, 200)
    codes[0] = N_CODE  # all N
    codes[1] = 0  # poly-A
    codes[2] = np.tile([0, 1, 2, N_CODE], 50)  # runs of 3 bp between N
    a = deep_lift_shap(model, codes, n_shuffles=3)
    assert a.unshuffled == 3 and (a.contribution[:3] == 0).all() and np.abs(a.contribution[3]).sum() > 0
    tmp_path, _ = setup
    run = make_run(tmp_path, tiny_model(1), ["m"])
    (tmp_path / "u.fa").write_text(">n\n" + "N" * 50 + "\n>a\n" + "A" * 300 + "\n>ok\nACGTTGCAACGTAAGGCT\n")
    argv = ["attribute", str(run), "--fasta", str(tmp_path / "u.fa"), "--out", str(tmp_path / "u"), "--no-plot"]
    with caplog.at_level("WARNING"):
        assert main(argv + ["--shuffles", "2"]) == 0
    assert "2 window(s) have nothing to shuffle" in caplog.text
    # the all-N window and the 18 bp one (91% N-padding) hold more N than the model's data set allowed
    assert "warning: attribute: 2 of 3 windows hold more than 10% N (" in caplog.text and "first: n)" in caplog.text


def test_batch_size_bounds_the_pairs_of_each_pass(monkeypatch):
    """Many references per window still go through DeepLIFT a batch at a time (memory), to the same scores."""
    import tangermeme.deep_lift_shap as tdls

    real, sizes = tdls.deep_lift_shap, []
    monkeypatch.setattr(tdls, "deep_lift_shap", lambda *a, **k: sizes.append(k["batch_size"]) or real(*a, **k))
    model = tiny_model(1, seed=2)
    codes = random_codes(2 * 200, seed=12).reshape(2, 200)
    small = deep_lift_shap(model, codes, n_shuffles=10, batch_size=4)
    assert sizes == [4, 4]
    sizes.clear()
    whole = deep_lift_shap(model, codes, n_shuffles=10, batch_size=64)
    assert sizes == [20]
    for x, y in zip(_fields(small), _fields(whole), strict=True):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-6)


def test_running_out_of_memory_is_one_line(setup, monkeypatch, capsys):
    import peakcnn.interpret.attribute as attribute

    tmp_path, _ = setup
    run = make_run(tmp_path, tiny_model(1), ["m"])

    def oom(*args, **kw):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(attribute, "deep_lift_shap", oom)
    argv = ["attribute", str(run), "--fasta", str(tmp_path / "q.fa"), "--out", str(tmp_path / "m")]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("peakcnn: error: out of memory (") and not list(tmp_path.glob("m.*"))


def test_references_keep_each_window_s_dinucleotides():
    codes = random_codes(2 * 200, seed=3).reshape(2, 200)
    codes[1, 100:103] = N_CODE  # each side of the gap is shuffled on its own
    refs = shuffled_references(codes, 3, seed=0)
    for w, rs in zip(codes, refs, strict=True):
        for lo, hi in ((0, 100), (103, 200)) if (w == N_CODE).any() else ((0, 200),):
            pairs = sorted(zip(w[lo : hi - 1], w[lo + 1 : hi], strict=True))
            for r in rs:
                assert sorted(zip(r[lo : hi - 1], r[lo + 1 : hi], strict=True)) == pairs
                assert not np.array_equal(r[lo:hi], w[lo:hi])


def test_bad_arguments_are_one_line_errors():
    from peakcnn.errors import InputError

    model = tiny_model(2)
    codes = random_codes(400).reshape(2, 200)
    with pytest.raises(InputError, match="task 2: the model has 2 output"):
        deep_lift_shap(model, codes, task=2)
    with pytest.raises(InputError, match="windows of 100 bp, the model reads 200 bp"):
        deep_lift_shap(model, codes[:, :100])
    for n_shuffles in (0, 2.5, True):
        with pytest.raises(InputError, match="references per window, at least 1"):
            deep_lift_shap(model, codes, n_shuffles=n_shuffles)
    for task in ("0", 0.5, -1):
        with pytest.raises(InputError, match=f"task {task!r}: give a whole number >= 0"):
            deep_lift_shap(model, codes, task=task)
    for batch_size in (0, -1, 1.5):
        with pytest.raises(InputError, match="window-reference pairs, at least 1"):
            deep_lift_shap(model, codes, batch_size=batch_size)
    with pytest.raises(InputError, match=f"codes: holds code {int(codes.max()) + 5}; codes are A=0"):
        deep_lift_shap(model, codes + 5)
    with pytest.raises(InputError, match="model is a str; give a torch.nn.Module"):
        deep_lift_shap("run", codes)
    for seed in (-1, 1.5, True):
        with pytest.raises(InputError, match="give a whole number >= 0"):
            deep_lift_shap(model, codes, seed=seed)
    with pytest.raises(InputError, match="rc 'yes'"):
        deep_lift_shap(model, codes, rc="yes")


@pytest.fixture
def setup(tmp_path):
    rng = np.random.default_rng(0)
    seq = "".join("ACGT"[i] for i in rng.integers(0, 4, 3000))
    seq = seq.replace("TGCA", "TGGA")
    seq = seq[:1000] + "TGCA" + seq[1004:]
    write_fasta(tmp_path / "g.fa", {"chr1": seq})
    (tmp_path / "r.bed").write_text("track name=x\nchr1\t950\t1050\tpk1\nchr1\t0\t50\tedge\nchr1\t2000\t2100\n")
    (tmp_path / "q.fa").write_text(">s1\nACGTTGCAACGT\n>s2\n" + seq[800:1200] + "\n")
    return tmp_path, seq


def test_cli_bed_writes_modisco_inputs_table_settings_and_figure(setup):
    tmp_path, seq = setup
    run = make_run(tmp_path, motif_model(), ["m"])
    out = tmp_path / "attr"
    argv = ["-q", "attribute", str(run), "--genome", str(tmp_path / "g.fa"), "--bed", str(tmp_path / "r.bed")]
    assert main(argv + ["--out", str(out), "--shuffles", "6"]) == 0
    hyp = np.load(f"{out}.hyp.npz")["arr_0"]  # as `modisco motifs -s ... -a ...` reads them
    ohe = np.load(f"{out}.ohe.npz")["arr_0"]
    assert hyp.shape == ohe.shape == (3, 4, 200) and hyp.dtype == ohe.dtype == np.float32
    assert "".join("ACGT"[i] for i in ohe[0].argmax(0)) == seq[900:1100]  # centred on the region midpoint
    assert ohe[1, :, :75].sum() == 0  # the part before the chromosome start is N
    lines = [ln.split("\t") for ln in (tmp_path / "attr.tsv").read_text().splitlines()]
    assert lines[0] == [
        "chrom", "start", "end", "name", "window_start", "window_end",
        "logit", "reference_logit", "difference", "contribution_sum", "error",
    ]  # fmt: skip
    assert lines[1][:6] == ["chr1", "950", "1050", "pk1", "900", "1100"] and lines[2][4] == "-75"
    for row in lines[1:]:
        logit, ref, diff, total, error = map(float, row[6:])
        assert diff == pytest.approx(logit - ref, abs=1e-4) and total == pytest.approx(diff, abs=1e-4)
        assert error < 1e-4
    assert float(lines[1][6]) == pytest.approx(5.0, abs=1e-4)  # the planted TGCA
    assert float(lines[3][6]) == pytest.approx(-5.0, abs=1e-4)
    contribution = (hyp * ohe).sum(1)
    assert np.argmax(contribution[0]) in range(100, 104)
    settings = json.loads((tmp_path / "attr.json").read_text())
    assert settings["task"] == "m" and settings["shuffles"] == 6 and settings["windows"] == 3
    assert (tmp_path / "attr.png").stat().st_size > 1000
    # --no-plot removes the figure of the earlier call, which would not show these scores
    assert main(argv + ["--out", str(out), "--no-plot", "--seed", "3"]) == 0
    assert not (tmp_path / "attr.png").exists() and json.loads((tmp_path / "attr.json").read_text())["seed"] == 3


def test_fasta_figure_positions_count_the_record_s_own_bases(setup):
    """Window column 0 is base 1 - offset of the record: 101 for a 400 bp record cropped to 200 bp, -93 for
    a 12 bp record padded (its own first base, at column 94, is then base 1)."""
    import argparse

    from peakcnn.cli.interpret import _attribute_inputs

    tmp_path, _ = setup
    args = argparse.Namespace(fasta=str(tmp_path / "q.fa"), bed=None, genome=None, chrom_alias=None, command="x")
    codes, header, keys, labels, firsts, placed = _attribute_inputs(args, {}, 200)
    assert keys == [["s1", 12], ["s2", 400]] and labels == ["s1", "s2"] and firsts == [-93, 101] and placed is None
    assert "".join("ACGTN"[c] for c in codes[0][94:106]) == "ACGTTGCAACGT"


def test_cli_warns_when_contributions_do_not_add_up(setup, monkeypatch, caplog):
    import peakcnn.interpret.attribute as attribute

    tmp_path, _ = setup
    run = make_run(tmp_path, tiny_model(1), ["m"])
    real = attribute.deep_lift_shap

    def off(*args, **kw):
        a = real(*args, **kw)
        a.error[1] = 0.5
        return a

    monkeypatch.setattr(attribute, "deep_lift_shap", off)
    argv = ["attribute", str(run), "--fasta", str(tmp_path / "q.fa"), "--out", str(tmp_path / "w"), "--no-plot"]
    with caplog.at_level("WARNING"):
        assert main(argv + ["--shuffles", "2"]) == 0
    assert "add up to 0.5 away from its logit minus its references'" in caplog.text


def test_track_intervals_average_overlaps_and_leave_out_what_is_off_the_chromosome():
    starts = np.array([8, -2, 3, 40])
    contribution = np.array([[1.0] * 5, [2.0] * 5, [4.0] * 5, [8.0] * 5])
    s, e, v = track_intervals(starts, contribution, length=42)
    assert (e == s + 1).all()
    got = dict(zip(s.tolist(), v.tolist(), strict=True))
    # window -2..3 (positions 0-2 on the chromosome), 3..8, 8..13 and 40..45 (40, 41 inside 42 bp)
    assert got == {0: 2.0, 1: 2.0, 2: 2.0, 3: 4.0, 4: 4.0, 5: 4.0, 6: 4.0, 7: 4.0,
                   8: 1.0, 9: 1.0, 10: 1.0, 11: 1.0, 12: 1.0, 40: 8.0, 41: 8.0}  # fmt: skip
    s, e, v = track_intervals(np.array([0, 2]), np.array([[1.0] * 4, [3.0] * 4]), length=10)
    assert s.tolist() == [0, 1, 2, 3, 4, 5] and v.tolist() == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize("ext", [".bedGraph", ".bw"])
def test_cli_track_holds_each_base_s_contribution(setup, ext):
    """Per-base contributions along the chromosome: a window's own where it is alone, the mean of two where
    two windows overlap, nothing past the chromosome start."""
    tmp_path, _ = setup
    run = make_run(tmp_path, motif_model(), ["m"])
    (tmp_path / "o.bed").write_text("chr1\t950\t1050\ta\nchr1\t1000\t1100\tb\nchr1\t0\t50\tedge\n")
    out, track = tmp_path / "t", tmp_path / f"t{ext}"
    argv = ["-q", "attribute", str(run), "--genome", str(tmp_path / "g.fa"), "--bed", str(tmp_path / "o.bed")]
    assert main(argv + ["--out", str(out), "--track", str(track), "--no-plot", "--shuffles", "4"]) == 0
    contribution = (np.load(f"{out}.hyp.npz")["arr_0"] * np.load(f"{out}.ohe.npz")["arr_0"]).sum(1)
    expected = np.full(3000, np.nan)
    expected[900:950] = contribution[0, :50]
    expected[950:1100] = (contribution[0, 50:] + contribution[1, :150]) / 2
    expected[1100:1150] = contribution[1, 150:]
    expected[0:125] = contribution[2, 75:]  # its window starts 75 bp before the chromosome
    if ext == ".bw":
        import pyBigWig

        with pyBigWig.open(str(track)) as bw:
            assert bw.chroms() == {"chr1": 3000}
            got = np.array(bw.values("chr1", 0, 3000), dtype=float)
    else:
        got = np.full(3000, np.nan)
        for line in track.read_text().splitlines():
            chrom, s, e, v = line.split("\t")
            assert chrom == "chr1" and int(e) == int(s) + 1
            got[int(s)] = float(v)
    np.testing.assert_allclose(got, expected, atol=1e-5, equal_nan=True)


def test_cli_track_follows_the_genome_order_and_names_across_aliases(tmp_path):
    """Windows on two chromosomes, the BED unsorted, with a duplicate region and an alias (``9`` for
    ``Chr9``): each chromosome's track holds its own windows' contributions, in the genome's order."""
    import pyBigWig

    rng = np.random.default_rng(3)
    seqs = {n: "".join("ACGT"[i] for i in rng.integers(0, 4, 600)) for n in ("Chr9", "Chr2")}
    write_fasta(tmp_path / "g.fa", seqs)
    (tmp_path / "r.bed").write_text("9\t300\t310\tb\nChr2\t100\t110\ta\n9\t300\t310\tdup\n")
    run = make_run(tmp_path, tiny_model(1), ["m"])
    argv = ["-q", "attribute", str(run), "--genome", str(tmp_path / "g.fa"), "--bed", str(tmp_path / "r.bed")]
    assert main(argv + ["--out", str(tmp_path / "t"), "--track", str(tmp_path / "t.bw"), "--no-plot"]) == 0
    c = (np.load(tmp_path / "t.hyp.npz")["arr_0"] * np.load(tmp_path / "t.ohe.npz")["arr_0"]).sum(1)
    with pyBigWig.open(str(tmp_path / "t.bw")) as bw:
        assert list(bw.chroms()) == ["Chr9", "Chr2"]  # the genome's order and names
        np.testing.assert_allclose(bw.values("Chr9", 205, 405), c[0], atol=1e-5)  # the duplicate: the same
        np.testing.assert_allclose(bw.values("Chr2", 5, 205), c[1], atol=1e-5)
        assert np.isnan(bw.values("Chr9", 0, 205)).all() and np.isnan(bw.values("Chr2", 205, 600)).all()


def test_cli_track_that_cannot_be_written_is_refused_before_any_work(setup, monkeypatch, capsys):
    import peakcnn.interpret.attribute as attribute

    tmp_path, _ = setup
    run = make_run(tmp_path, motif_model(), ["m"])
    monkeypatch.setattr(attribute, "deep_lift_shap", lambda *a, **k: pytest.fail("attributed before refusing"))
    argv = ["attribute", str(run), "--genome", str(tmp_path / "g.fa"), "--bed", str(tmp_path / "r.bed")]
    assert main(argv + ["--out", str(tmp_path / "t"), "--track", str(tmp_path) + "/t\udcff.bw"]) == 2
    assert "UTF-8" in capsys.readouterr().err
    assert main(argv + ["--out", str(tmp_path / "t"), "--track", ""]) == 2
    assert "--track '': an empty name" in capsys.readouterr().err


def test_cli_track_whose_rename_fails_leaves_no_temporary_file(setup, monkeypatch):
    from peakcnn.io.tracks import TrackWriter

    tmp_path, _ = setup
    run = make_run(tmp_path, motif_model(), ["m"])

    def failing_commit(self):
        self.finish()
        raise OSError(21, "Is a directory", str(self.path))

    monkeypatch.setattr(TrackWriter, "commit", failing_commit)
    argv = ["attribute", str(run), "--genome", str(tmp_path / "g.fa"), "--bed", str(tmp_path / "r.bed")]
    assert main(argv + ["--out", str(tmp_path / "t"), "--track", str(tmp_path / "t.bw"), "--no-plot"]) == 1
    assert not list(tmp_path.glob(".t.*")) and not (tmp_path / "t.bw").exists()


def test_cli_track_needs_bed_and_a_track_name(setup, capsys):
    tmp_path, _ = setup
    run = make_run(tmp_path, motif_model(), ["m"])
    before = set(tmp_path.rglob("*"))
    for extra, message in (
        (["--fasta", str(tmp_path / "q.fa"), "--track", str(tmp_path / "t.bw")], "have no genome coordinates"),
        (
            ["--genome", str(tmp_path / "g.fa"), "--bed", str(tmp_path / "r.bed"), "--track", str(tmp_path / "t.txt")],
            "unknown track extension '.txt'",
        ),
        (
            ["--genome", str(tmp_path / "g.fa"), "--bed", str(tmp_path / "r.bed"), "--track", str(tmp_path / "t.tsv")],
            "unknown track extension '.tsv'",
        ),
    ):
        assert main(["attribute", str(run), *extra, "--out", str(tmp_path / "t")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert set(tmp_path.rglob("*")) == before


def test_cli_track_is_not_left_behind_when_a_later_file_fails(setup, monkeypatch):
    import peakcnn.interpret.attribute as attribute

    tmp_path, _ = setup
    run = make_run(tmp_path, motif_model(), ["m"])

    def broken_plot(*args, **kw):
        raise OSError(28, "No space left on device", str(args[4]))

    monkeypatch.setattr(attribute, "plot_contributions", broken_plot)
    before = set(tmp_path.rglob("*"))
    argv = ["attribute", str(run), "--genome", str(tmp_path / "g.fa"), "--bed", str(tmp_path / "r.bed")]
    assert main(argv + ["--out", str(tmp_path / "t"), "--track", str(tmp_path / "t.bw"), "--shuffles", "2"]) == 1
    index = {tmp_path / "g.fa.fai"}  # the genome's index, a cache kept beside it
    assert set(tmp_path.rglob("*")) - index == before - index  # no track, no .npz, no temporary file


def test_cli_fasta_and_task_choice(setup, caplog):
    tmp_path, _ = setup
    run = make_run(tmp_path, tiny_model(2), ["leaf", "root"])
    out = tmp_path / "q"
    argv = ["attribute", str(run), "--fasta", str(tmp_path / "q.fa"), "--out", str(out), "--no-plot"]
    assert main(argv + ["--task", "root", "--shuffles", "3"]) == 0
    rows = [ln.split("\t") for ln in (tmp_path / "q.tsv").read_text().splitlines()]
    assert rows[0][:2] == ["name", "length"] and [r[:2] for r in rows[1:]] == [["s1", "12"], ["s2", "400"]]
    hyp = np.load(f"{out}.hyp.npz")["arr_0"]
    model = tiny_model(2)
    ohe = np.load(f"{out}.ohe.npz")["arr_0"]
    with torch.no_grad():
        logits = model(torch.as_tensor(ohe))[:, 1].numpy()
    np.testing.assert_allclose([float(r[2]) for r in rows[1:]], logits, atol=1e-5)  # the root task's logit
    assert hyp.shape == (2, 4, 200)


def test_cli_rc_explains_the_mean_of_both_strands(setup, caplog, monkeypatch):
    import peakcnn.interpret.attribute as attribute

    titles = []
    real = attribute.plot_contributions
    monkeypatch.setattr(attribute, "plot_contributions", lambda *a, **kw: titles.append(kw["title"]) or real(*a, **kw))
    tmp_path, _ = setup
    run = make_run(tmp_path, tiny_model(1, seed=5), ["m"])
    out = tmp_path / "both"
    argv = ["attribute", str(run), "--fasta", str(tmp_path / "q.fa"), "--shuffles", "4", "--out"]
    with caplog.at_level("INFO"):
        assert main(argv + [str(out), "--rc"]) == 0
    assert "task m (mean of both strands)" in caplog.text and titles[0].endswith(", mean of both strands")
    assert json.loads(out.with_suffix(".json").read_text())["strands"].startswith("both")
    ohe = torch.as_tensor(np.load(f"{out}.ohe.npz")["arr_0"])
    model = tiny_model(1, seed=5).eval()
    with torch.no_grad():
        both = ((model(ohe) + model(ohe.flip(1).flip(2))) / 2)[:, 0].numpy()
    rows = [ln.split("\t") for ln in (tmp_path / "both.tsv").read_text().splitlines()[1:]]
    np.testing.assert_allclose([float(r[2]) for r in rows], both, atol=1e-5)
    for r in rows:
        assert float(r[5]) == pytest.approx(float(r[4]), abs=1e-4) and float(r[6]) < 1e-4
    assert main(argv + [str(tmp_path / "fwd")]) == 0
    assert json.loads((tmp_path / "fwd.json").read_text())["strands"] == "forward"
    assert titles[1].endswith("dinucleotide shuffles")
    forward = [float(ln.split("\t")[2]) for ln in (tmp_path / "fwd.tsv").read_text().splitlines()[1:]]
    assert np.abs(np.array(forward) - both).max() > 1e-3


def test_cli_bad_input_is_one_line_and_writes_nothing(setup, capsys):
    tmp_path, _ = setup
    run = make_run(tmp_path, tiny_model(2), ["leaf", "root"])
    (tmp_path / "x.tsv").write_text((tmp_path / "q.fa").read_text())  # a FASTA that --out x would overwrite
    before = set(tmp_path.rglob("*"))
    fasta = ["--fasta", str(tmp_path / "q.fa")]
    cases = [
        (fasta + ["--out", str(tmp_path / "o")], "the run has 2 tasks (leaf, root); choose one with --task"),
        (fasta + ["--task", "stem", "--out", str(tmp_path / "o")], "--task stem: not a task of"),
        (["--bed", str(tmp_path / "r.bed"), "--task", "leaf", "--out", str(tmp_path / "o")], "needs --genome"),
        (fasta + ["--task", "leaf", "--out", str(tmp_path)], "is a folder, not a prefix of file names"),
        (fasta + ["--task", "leaf", "--out", str(tmp_path / "none" / "o")], "none does not exist; create it"),
        (["--fasta", str(tmp_path / "x.tsv"), "--task", "leaf", "--out", str(tmp_path / "x")], "x.tsv"),
    ]
    for extra, message in cases:
        assert main(["attribute", str(run), *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    status = main(["attribute", str(run), *fasta, "--shuffles", "0", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and err == [
        "peakcnn: error: argument --shuffles: '0' must be a positive integer; see 'peakcnn attribute --help'"
    ]
    assert set(tmp_path.rglob("*")) == before


def test_a_four_base_run_between_n_is_shuffled():
    """AACA between N: a dinucleotide shuffle keeps its first and last base, and AACA and ACAA are the two
    orders with its dinucleotides; a run of 3 or fewer cannot change."""
    refs = shuffled_references(np.array([[4, 0, 0, 1, 0, 4, 2, 1, 2]], np.uint8), 50, 0)
    rows = {tuple(r) for r in refs[0].tolist()}
    assert rows == {(4, 0, 0, 1, 0, 4, 2, 1, 2), (4, 0, 1, 0, 0, 4, 2, 1, 2)}

"""In-silico saturation mutagenesis."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _apply_helpers import make_run, motif_model, random_genome, tiny_model, write_fasta

from peakcnn.cli import main
from peakcnn.interpret.ism import importance, ism
from peakcnn.sequence import codes_to_onehot, str_to_codes


def _brute_force(model, x):
    with torch.no_grad():
        ref = model(x[None])[0]
        out = np.zeros((ref.shape[0], 4, x.shape[1]), dtype=np.float32)
        for p in range(x.shape[1]):
            for b in range(4):
                if x[b, p] == 1:
                    continue
                y = x.clone()
                y[:, p] = 0
                y[b, p] = 1
                out[:, b, p] = (model(y[None])[0] - ref).numpy()
    return out


def test_ism_matches_brute_force_and_leaves_model_in_train_mode():
    model = tiny_model(n_tasks=2, window=40, pool_widths=[2, 2, 2]).train()
    codes = np.random.default_rng(0).integers(0, 5, (2, 40)).astype(np.uint8)
    X = torch.tensor(codes_to_onehot(codes))
    got = ism(model, X, batch_size=7)
    assert model.training and got.shape == (2, 2, 4, 40)
    model.eval()
    for n in range(2):
        np.testing.assert_allclose(got[n], _brute_force(model, X[n]), atol=1e-5)
    assert np.all(got[0][:, X[0].numpy() == 1] == 0)  # reference bases have effect 0


def test_ism_takes_a_reverse_complement_view():
    """A numpy view with negative strides (x[:, ::-1, ::-1], the reverse complement of one-hot windows) is
    scored as its copy is, as predict takes it."""
    model = tiny_model(n_tasks=1, window=40, pool_widths=[2, 2, 2]).eval()
    x = codes_to_onehot(np.random.default_rng(1).integers(0, 4, (2, 40)).astype(np.uint8))
    view = x[:, ::-1, ::-1]
    np.testing.assert_array_equal(ism(model, view), ism(model, view.copy()))


def test_ism_of_motif_detector_and_importance():
    model = motif_model()
    x = codes_to_onehot(str_to_codes("A" * 100 + "TGCA" + "A" * 96))
    d = ism(model, x[None], 95, 110)[0, 0]
    assert d.shape == (4, 15)
    assert np.allclose(d[:, 5:9][x[:, 100:104] == 0], -10)  # every change inside the motif destroys it
    assert np.abs(d[:, :5]).max() == 0 and np.abs(d[:, 9:]).max() == 0
    imp = importance(d, x[:, 95:110])
    assert np.allclose(imp.sum(axis=0)[5:9], 10)


def test_ism_cli_region_and_fasta(tmp_path, capsys, caplog):
    run = make_run(tmp_path, tiny_model(n_tasks=2), ["a", "b"])
    random_genome(tmp_path / "g.fa", {"chr1": 1000})
    assert (
        main(
            [
                "-q",
                "ism",
                str(run),
                "--genome",
                str(tmp_path / "g.fa"),
                "--region",
                "chr1:401-430",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    arr = np.load(tmp_path / "r.npy")
    assert arr.shape == (2, 4, 30)
    tsv = (tmp_path / "r.tsv").read_text().splitlines()
    assert tsv[0].split("\t") == ["position", "ref", "task", "A", "C", "G", "T"] and len(tsv) == 1 + 60
    assert tsv[1].split("\t")[0] == "401"
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    write_fasta(tmp_path / "q.fa", {"s1": "ACGT" * 10, "s/2": "G" * 250})
    assert (
        main(
            [
                "-q",
                "ism",
                str(run),
                "--fasta",
                str(tmp_path / "q.fa"),
                "--out",
                str(tmp_path / "f"),
                "--no-plot",
            ]
        )
        == 0
    )
    assert np.load(tmp_path / "f.1_s1.npy").shape == (2, 4, 40)
    assert np.load(tmp_path / "f.2_s_2.npy").shape == (2, 4, 200)
    assert (
        f"warning: {tmp_path / 'q.fa'}: 1 of 2 sequences are shorter than the 200 bp window (N-padded on both "
        "sides) and 1 longer (centre-cropped)"
    ) in caplog.text


@pytest.mark.parametrize(
    "region, message",
    [
        ("chr1:10", "expected CHROM:START-END"),
        ("chr1:50-40", "START <= END"),
        ("chr9:1-10", "chr9 is not in genome"),
        ("chr1:990-1010", "runs past the end"),
    ],
)
def test_ism_bad_region(tmp_path, capsys, region, message):
    run = make_run(tmp_path, tiny_model(), ["a", "b"])
    random_genome(tmp_path / "g.fa", {"chr1": 1000})
    assert (
        main(
            [
                "ism",
                str(run),
                "--genome",
                str(tmp_path / "g.fa"),
                "--region",
                region,
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 2
    )
    assert message in capsys.readouterr().err and not (tmp_path / "r.npy").exists()


def test_ism_cli_writes_the_effects_of_the_motif_detector(tmp_path):
    """The command's .npy and .tsv hold the real effects: -10 for each change inside the only motif, 0 elsewhere."""
    run = make_run(tmp_path, motif_model(), ["m"])
    seq = ["A"] * 1000
    seq[410:414] = list("TGCA")  # 1-based 411-414
    write_fasta(tmp_path / "g.fa", {"chr1": "".join(seq)})
    argv = ["-q", "ism", str(run), "--genome", str(tmp_path / "g.fa"), "--region", "chr1:401-430"]
    assert main(argv + ["--out", str(tmp_path / "r"), "--no-plot"]) == 0
    d = np.load(tmp_path / "r.npy")[0]
    ref = codes_to_onehot(str_to_codes("".join(seq[400:430])))
    expect = np.zeros((4, 30), dtype=np.float32)
    expect[:, 10:14] = np.where(ref[:, 10:14] == 1, 0.0, -10.0)
    np.testing.assert_allclose(d, expect, atol=1e-3)
    rows = [line.split("\t") for line in (tmp_path / "r.tsv").read_text().splitlines()[1:]]
    assert [r[1] for r in rows[10:14]] == list("TGCA") and rows[10][0] == "411"
    np.testing.assert_allclose([float(v) for v in rows[11][3:]], expect[:, 11], atol=1e-3)


@pytest.mark.parametrize("failure", [KeyboardInterrupt, OSError])
def test_ism_replaces_its_three_files_together_or_not_at_all(tmp_path, monkeypatch, failure):
    """Interrupted or failing while drawing the figure of a new region, ism leaves the previous region's
    .npy, .tsv and .png as they were (they are renamed into place together), and no temporary file."""
    import peakcnn.interpret.plot_ism

    run = make_run(tmp_path, tiny_model(1), ["a"])
    random_genome(tmp_path / "g.fa", {"chr1": 2000})
    argv = ["-q", "ism", str(run), "--genome", str(tmp_path / "g.fa"), "--out", str(tmp_path / "r"), "--region"]
    assert main([*argv, "chr1:401-430"]) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.glob("r.*")}
    assert sorted(before) == ["r.npy", "r.png", "r.tsv"]

    def broken(*args, **kwargs):
        raise failure(28, "No space left on device") if failure is OSError else failure

    monkeypatch.setattr(peakcnn.interpret.plot_ism, "plot_ism", broken)
    assert main([*argv, "chr1:901-960"]) == (130 if failure is KeyboardInterrupt else 1)
    assert {p.name: p.read_bytes() for p in tmp_path.glob("r.*")} == before
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_ism_without_plot_removes_the_figure_of_an_earlier_region(tmp_path):
    """A --no-plot run over another region leaves no PREFIX.png that shows the earlier region's effects."""
    run = make_run(tmp_path, tiny_model(1), ["a"])
    random_genome(tmp_path / "g.fa", {"chr1": 2000})
    argv = ["-q", "ism", str(run), "--genome", str(tmp_path / "g.fa"), "--out", str(tmp_path / "r"), "--region"]
    assert main([*argv, "chr1:401-430"]) == 0
    assert sorted(p.name for p in tmp_path.glob("r.*")) == ["r.npy", "r.png", "r.tsv"]
    assert main([*argv, "chr1:901-960", "--no-plot"]) == 0
    assert sorted(p.name for p in tmp_path.glob("r.*")) == ["r.npy", "r.tsv"]
    assert np.load(tmp_path / "r.npy").shape[-1] == 60
    # an input that would be removed as PREFIX.png is refused, as any output naming an input is
    write_fasta(tmp_path / "seqs.png", {"s": "ACGT" * 50})
    fasta = ["-q", "ism", str(run), "--fasta", str(tmp_path / "seqs.png"), "--no-plot"]
    assert main([*fasta, "--out", str(tmp_path / "seqs")]) == 2
    assert (tmp_path / "seqs.png").read_text().startswith(">s") and not (tmp_path / "seqs.npy").exists()


def test_ism_of_an_all_n_sequence_plots_a_flat_logo_without_warnings(tmp_path, capsys, caplog):
    """No warning from plotting; peakcnn's own says that the window is mostly N (the model records no limit)."""
    import warnings

    run = make_run(tmp_path, tiny_model(n_tasks=1), ["a"])
    (tmp_path / "n.fa").write_text(">n\nNNNNNNNN\n")
    with warnings.catch_warnings(), caplog.at_level("WARNING"):
        warnings.simplefilter("error")
        assert main(["-q", "ism", str(run), "--fasta", str(tmp_path / "n.fa"), "--out", str(tmp_path / "p")]) == 0
    assert capsys.readouterr().err == "" and "shorter than the 200 bp window" in caplog.messages[0]
    assert caplog.messages[1:] == [
        "warning: ism: 1 of 1 windows hold more than 10% N (prepare's default --max-n-frac, as the model does not "
        "record its data set's; first: n), more than the model was trained on: what it says there reads the N as "
        "well as the sequence"
    ]
    effects = np.load(tmp_path / "p.npy")
    assert effects.shape[:2] == (1, 4) and effects.any()  # each N can become any of the four bases
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _saved_figures(monkeypatch) -> list:
    """``(figure, renderer)`` of every figure saved while the test runs, drawn as saved, to measure text."""
    from matplotlib.figure import Figure

    real, drawn = Figure.savefig, []

    def keep(fig, *a, **kw):
        out = real(fig, *a, **kw)
        drawn.append((fig, fig._get_renderer()))
        return out

    monkeypatch.setattr(Figure, "savefig", keep)
    return drawn


@pytest.mark.parametrize("tasks", [["alpha", "beta"], ["MYB_tnt.AT1G01060_col_a_replicate_1", "AT5G65210_col_b_2"]])
def test_ism_figure_panels_and_labels_do_not_overlap(tmp_path, monkeypatch, tasks):
    """Each panel with its tick labels and task name stays clear of the next and inside the figure (the
    position numbers under a heat map were drawn over the next task's logo; a long task name, written up the
    side of its logo, ran over the next task's), and each heat map's position axis is labelled."""
    from peakcnn.interpret.plot_ism import plot_ism

    drawn = _saved_figures(monkeypatch)
    x = np.eye(4, dtype=np.float32)[:, np.arange(10) % 4]
    plot_ism(np.random.default_rng(0).normal(size=(2, 4, 10)), x, tasks, tmp_path / "f.png")
    ((fig, renderer),) = drawn
    boxes = [(ax.get_tightbbox(renderer), fig.bbox) for ax in fig.axes[:4]]  # logo, heat map per task
    labels = [ax.get_xlabel() for ax in fig.axes[1:4:2]]
    assert len(boxes) == 4 and labels == ["position (1-based, as in the .tsv)"] * 2
    for (upper, _), (lower, _) in zip(boxes, boxes[1:]):
        assert upper.y0 >= lower.y1 - 0.5  # pixels; panels run from the top down
    assert all(figure.x0 <= box.x0 and box.x1 <= figure.x1 and box.y0 >= figure.y0 for box, figure in boxes)


def test_ism_rc_gives_the_log_odds_variants_gives_for_the_same_substitution(tmp_path, caplog):
    """`variants` scores both strands; `ism --rc` does too, so a 1-bp region's effects are the variants'
    log-odds of the same substitutions (the forward strand alone differs), and the log line says which."""
    run = make_run(tmp_path, tiny_model(n_tasks=2), ["a", "b"])
    seq = random_genome(tmp_path / "g.fa", {"chr1": 1000})["chr1"]
    ref = seq[500]  # VCF POS 501, 1-based
    alts = [b for b in "ACGT" if b != ref]
    (tmp_path / "v.vcf").write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        + f"chr1\t501\t.\t{ref}\t{','.join(alts)}\t.\t.\t.\n"
    )
    common = ["--genome", str(tmp_path / "g.fa")]
    assert (
        main(["-q", "variants", str(run), *common, "--vcf", str(tmp_path / "v.vcf"), "--out", str(tmp_path / "v.tsv")])
        == 0
    )
    lines = [ln.split("\t") for ln in (tmp_path / "v.tsv").read_text().splitlines()]
    header, rows = lines[0], lines[1:]
    log_odds = {r[header.index("alt")]: [float(r[header.index(f"{t}_log_odds")]) for t in "ab"] for r in rows}
    effects = {}
    for strands in ([], ["--rc"]):
        out = tmp_path / f"ism{len(strands)}"
        with caplog.at_level("INFO"):
            assert main(["ism", str(run), *common, "--region", "chr1:501-501", "--out", str(out), *strands]) == 0
        delta = np.load(f"{out}.npy")  # (tasks, 4, 1)
        effects[bool(strands)] = {b: delta[:, "ACGT".index(b), 0] for b in alts}
    assert "(forward strand)" in caplog.text and "(both strands averaged)" in caplog.text
    for b in alts:
        np.testing.assert_allclose(effects[True][b], log_odds[b], atol=2e-5, rtol=1e-4)
    assert max(abs(effects[False][b] - np.array(log_odds[b])).max() for b in alts) > 1e-4  # beyond the tolerance above


def test_ism_position_labels_do_not_run_together(tmp_path, monkeypatch):
    """Six-digit genome coordinates under a 20 bp heat map: as many tick labels as fit, none overlapping
    the next (nine of them ran together as 170001170003...)."""
    from peakcnn.interpret.plot_ism import plot_ism

    drawn = _saved_figures(monkeypatch)
    x = np.eye(4, dtype=np.float32)[:, np.arange(20) % 4]
    plot_ism(np.random.default_rng(0).normal(size=(1, 4, 20)), x, ["a"], tmp_path / "f.png", first_pos=170001)
    ((fig, renderer),) = drawn
    extents = [t.get_window_extent(renderer) for t in fig.axes[1].get_xticklabels() if t.get_text()]
    assert len(extents) >= 3
    assert all(left.x1 + 2 <= right.x0 for left, right in zip(extents, extents[1:]))


def test_ism_warns_of_a_window_holding_more_n_than_the_model_was_trained_on(tmp_path, caplog):
    run = make_run(tmp_path, tiny_model(n_tasks=1), ["a"], max_n_frac=0.2)
    random_genome(tmp_path / "g.fa", {"chr1": 2000})
    for region, warned in (
        ("chr1:1-10", True),
        ("chr1:1000-1010", False),
        ("chr1:1936-1945", False),
        ("chr1:1938-1947", True),
    ):
        caplog.clear()
        argv = ["ism", str(run), "--genome", str(tmp_path / "g.fa"), "--region", region, "--no-plot"]
        with caplog.at_level("WARNING"):
            assert main([*argv, "--out", str(tmp_path / "e")]) == 0
        # chr1:1-10 is centred 95 bp from the start: 95 of the 200 bp window are N-padding (47.5%);
        # chr1:1936-1945 leaves 40 past the end (20%, at the limit), chr1:1938-1947 42
        assert ("1 of 1 windows hold more than 20% N" in caplog.text) == warned, region
        if warned:
            assert (
                f"the most the model's training windows held, 'prepare --max-n-frac'; first: {region})" in caplog.text
            )


@pytest.mark.parametrize(("start", "end"), [(5, 5), (0, 41)])
def test_ism_refuses_an_empty_range_or_one_past_the_window(start, end):
    from peakcnn.errors import InputError

    x = codes_to_onehot(str_to_codes("ACGT" * 10))[None]
    with pytest.raises(InputError, match=rf"start {start}, end {end}: give whole numbers with 0 <= start < end <= 40"):
        ism(tiny_model(window=40), x, start, end)

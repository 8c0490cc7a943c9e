"""Genome scanning: shared-trunk scan equals window-by-window prediction."""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from _apply_helpers import make_run, random_codes, random_genome, tiny_model

from peakcnn.apply import call_peaks
from peakcnn.cli import main
from peakcnn.inference import predict, sigmoid
from peakcnn.scan import default_stride, scan_codes
from peakcnn.sequence import str_to_codes


def _reference_windows(seq: str, stride: int, window: int) -> list[str]:
    """The window scored for each interval ``[i*stride, (i+1)*stride)`` of ``seq``, by string slicing (no
    peakcnn.scan code): centred on the interval's midpoint ``i*stride + stride//2``, starting ``window//2``
    before it, with N beyond the ends of ``seq``."""
    pad = "N" * (window + stride)
    ext = pad + seq + pad
    starts = [i * stride + stride // 2 - window // 2 + len(pad) for i in range(-(-len(seq) // stride))]
    return [ext[s : s + window] for s in starts]


def test_reference_windows_centre_on_interval_midpoints_and_pad_with_n():
    # odd stride and window: interval 0 is [0, 5), midpoint 2, window [-1, 6); interval 1 [5, 10) -> [4, 11)
    assert _reference_windows("ACGTACGTAC", 5, 7) == ["NACGTAC", "ACGTACN"]
    # odd stride, even window: midpoints 1, 4, 7 -> windows [-1, 3), [2, 6), [5, 9)
    assert _reference_windows("ACGTTGCA", 3, 4) == ["NACG", "GTTG", "GCAN"]
    assert _reference_windows("ACG", 4, 6) == ["NACGNN"]  # shorter than a window: N on both sides


def _window_by_window(model, codes, stride, window=200):
    seq = "".join("ACGTN"[c] for c in codes.tolist())
    return predict(model, np.stack([str_to_codes(w) for w in _reference_windows(seq, stride, window)]))


@pytest.mark.parametrize("stride", [8, 16, 24, 5, 1, 50, 300])
def test_exact_scan_equals_window_by_window(stride):
    model = tiny_model(n_tasks=3)
    codes = random_codes(4321 if stride >= 8 else 1201)
    codes[700:800] = 4
    ref = _window_by_window(model, codes, stride)
    out = scan_codes(model, codes, stride)
    assert out.shape == ref.shape
    assert np.abs(sigmoid(out) - sigmoid(ref)).max() < 1e-5


@pytest.mark.parametrize("stride, phases, shared", [(5, 8, True), (50, 4, True), (48, 1, True), (190, 4, False)])
def test_off_grid_strides_share_the_trunk_across_pooling_phases(monkeypatch, stride, phases, shared):
    import peakcnn.scan as scan

    model = tiny_model(n_tasks=2)
    codes = random_codes(6000, seed=3)
    calls = []
    original = scan._shared_logits
    monkeypatch.setattr(scan, "_shared_logits", lambda *a: calls.append(len(a[3])) or original(*a))
    out = scan_codes(model, codes, stride)
    assert bool(calls) is shared
    starts = [i * stride + stride // 2 - 100 for i in range(-(-6000 // stride))]
    assert len({s % 8 for s in starts}) == phases  # pooling product of the tiny model: 8
    if shared:  # every window went through shared calls, whatever its pooling phases
        assert sum(calls) == len(out)
    ref = _window_by_window(model, codes, stride)
    assert np.abs(sigmoid(out) - sigmoid(ref)).max() < 1e-5


@pytest.mark.parametrize("window", [203, 205])
def test_exact_scan_when_pooling_drops_outputs_at_the_right_end(window):
    model = tiny_model(n_tasks=2, conv_widths=[7, 5, 3], window=window)
    codes = random_codes(3001, seed=5)
    ref = _window_by_window(model, codes, 8, window=window)
    assert np.abs(sigmoid(scan_codes(model, codes, 8)) - sigmoid(ref)).max() < 1e-5


def test_fast_scan_difference_is_small_and_measured():
    model = tiny_model(n_tasks=2)
    codes = random_codes(6000, seed=3)
    ref = sigmoid(_window_by_window(model, codes, 16))
    diff = np.abs(sigmoid(scan_codes(model, codes, 16, exact=False)) - ref).max()
    print(f"fast-mode max |p_scan - p_window| = {diff:.2e}")
    assert 0 < diff < 2e-3  # 4e-4 for this network; docs/apply.md gives 1e-3 for the founding one at random weights


def test_scan_other_architecture_and_short_chromosome():
    model = tiny_model(n_tasks=1, conv_widths=[7, 5, 3], pool_widths=[3, 2, 2], window=180)
    codes = random_codes(100, seed=4)  # shorter than one window
    for stride in (12, 10):
        ref = _window_by_window(model, codes, stride, window=180)
        assert np.abs(scan_codes(model, codes, stride) - ref).max() < 1e-4


@pytest.mark.parametrize("stride", [8, 24])
def test_scan_with_residual_dilated_blocks_shares_the_trunk_and_equals_window_by_window(monkeypatch, stride):
    import peakcnn.scan as scan

    model = tiny_model(n_tasks=2, residual_dilations=[1, 2])
    for m in model.modules():  # move the blocks away from the identity they start as
        if isinstance(m, torch.nn.BatchNorm1d):
            m.weight.data.uniform_(0.5, 1.5)
    codes = random_codes(4321, seed=6)
    calls = []
    original = scan._shared_logits
    monkeypatch.setattr(scan, "_shared_logits", lambda *a: calls.append(len(a[3])) or original(*a))
    out = scan_codes(model, codes, stride)
    assert sum(calls) == len(out)  # the convolutions are shared, the blocks run on each window's own map
    ref = _window_by_window(model, codes, stride)
    assert np.abs(sigmoid(out) - sigmoid(ref)).max() < 1e-5


def test_default_stride_is_pool_multiple_within_the_window():
    assert default_stride(tiny_model()) == 48
    # a 30 bp window holds no multiple of the pool product 8 near 50 bp: the largest one that fits, 24
    assert default_stride(tiny_model(window=30)) == 24
    # pools 3/3/3 (27): 54 on a 60 bp window, 27 on a 40 bp one (54 would leave part of each interval unscored)
    assert default_stride(tiny_model(window=60, pool_widths=[3, 3, 3])) == 54
    assert default_stride(tiny_model(window=40, pool_widths=[3, 3, 3])) == 27


def test_the_default_stride_of_an_ensemble_fits_its_window(tmp_path, caplog):
    """Members with pool products 8 and 27 (lcm 216) on a 200 bp window: the default stride is 50, never
    above the window, and the warning about it suggests no stride that would be refused."""
    one = tiny_model(seed=1)
    two = tiny_model(seed=2, pool_widths=[3, 3, 3])
    from peakcnn.ensemble import build_ensemble

    build_ensemble(
        [make_run(tmp_path, one, ["a", "b"], "one"), make_run(tmp_path, two, ["a", "b"], "two")], tmp_path / "e"
    )
    recs = random_genome(tmp_path / "g.fa", {"chr1": 1000})
    argv = ["scan", str(tmp_path / "e"), "--genome", str(tmp_path / "g.fa"), "--max-n-frac", "1"]
    assert main([*argv, "--out", str(tmp_path / "t.bedGraph")]) == 0
    rows = (tmp_path / "t.a.bedGraph").read_text().splitlines()
    assert rows[0].split("\t")[:3] == ["chr1", "0", "50"] and len(rows) == 20 and len(recs["chr1"]) == 1000
    assert "not a multiple of the model's pooling product 216" in caplog.text and "--stride" not in caplog.text


def test_call_peaks_merge_and_min_length():
    starts = np.arange(10) * 10
    ends = starts + 10
    vals = np.array([0, 0.9, 0.8, 0, 0.7, 0, 0, 0.95, 0, 0])
    assert call_peaks(starts, ends, vals, 0.5, 0, 0) == [
        (10, 30, 0.9, 15),
        (40, 50, 0.7, 45),
        (70, 80, 0.95, 75),
    ]
    assert call_peaks(starts, ends, vals, 0.5, 10, 20) == [(10, 50, 0.9, 15)]


def _threshold_near_median(values: np.ndarray) -> float:
    """A threshold amid the middle half of ``values``, halfway across their widest gap there, so that the
    6 significant digits a track is written with cannot put a value on the other side of it."""
    u = np.unique(values)
    mid = u[len(u) // 4 : 3 * len(u) // 4 + 1]
    i = int(np.argmax(np.diff(mid)))
    assert mid[i + 1] - mid[i] > 1e-5
    return float((mid[i] + mid[i + 1]) / 2)


def test_scan_cli_bedgraph_matches_predict_at_midpoints(tmp_path):
    model = tiny_model(n_tasks=2)
    tasks, files = ["a", "b/c"], ["t.a.bedGraph", "t.b_c.bedGraph"]
    lengths = {"chr1": 2003, "chr2": 333}
    recs = random_genome(tmp_path / "g.fa", lengths)
    with torch.no_grad():  # spread the probabilities and centre both tasks' near 0.5: one threshold suits both
        model.head[-1].weight.mul_(30)
        logits = _window_by_window(model, str_to_codes(recs["chr1"]), 16)
        model.head[-1].bias.sub_(torch.as_tensor(np.median(logits, axis=0)))
    run = make_run(tmp_path, model, tasks)
    argv = ["-q", "scan", str(run), "--genome", str(tmp_path / "g.fa"), "--stride", "16", "--max-n-frac", "1"]
    assert main(argv + ["--out", str(tmp_path / "t.bedGraph")]) == 0
    # every task's track, every chromosome: intervals of 16 bp (the last one clipped), each holding the
    # prediction of the window centred on its midpoint, N-padded past the chromosome ends
    want = {c: sigmoid(_window_by_window(model, str_to_codes(recs[c]), 16)) for c in lengths}
    intervals = [(c, i * 16, min(i * 16 + 16, n)) for c, n in lengths.items() for i in range(-(-n // 16))]
    assert len(intervals) == 126 + 21 and intervals[125] == ("chr1", 2000, 2003)
    tracks = []
    for t, name in enumerate(files):
        rows = [ln.split("\t") for ln in (tmp_path / name).read_text().splitlines()]
        assert [(r[0], int(r[1]), int(r[2])) for r in rows] == intervals
        values = np.array([float(r[3]) for r in rows])
        np.testing.assert_allclose(values, np.concatenate([want[c][:, t] for c in lengths]), atol=1e-5)
        tracks.append(rows)
    assert np.abs(want["chr1"][:, 0] - want["chr1"][:, 1]).max() > 0.01  # the tasks' tracks differ
    # peaks: runs at or above a threshold near the median, merged across one-interval gaps, >= 32 bp
    threshold = _threshold_near_median(np.array([float(r[3]) for rows in tracks for r in rows]))
    options = ["--threshold", repr(threshold), "--merge-gap", "16", "--min-length", "32"]
    with_peaks = [*argv, *options, "--peaks-out"]
    assert main([*with_peaks, str(tmp_path / "pk.bed"), "--out", str(tmp_path / "u.bedGraph")]) == 0
    expected = []  # called per chromosome and task, numbered in that order, then sorted by position
    for c in lengths:
        for task, rows in zip(tasks, tracks, strict=True):
            on = [r for r in rows if r[0] == c]
            starts, ends = (np.array([int(r[k]) for r in on]) for k in (1, 2))
            for s, e, v, summit in call_peaks(starts, ends, np.array([float(r[3]) for r in on]), threshold, 16, 32):
                name = f"{task}_peak{len(expected)}"
                expected.append([c, str(s), str(e), name, str(round(1000 * v)), ".", f"{v:.6g}", "-1", "-1"])
                expected[-1].append(str(summit - s))
    expected.sort(key=lambda r: (list(lengths).index(r[0]), int(r[1])))
    peaks = (tmp_path / "pk.bed").read_text().splitlines()
    assert peaks[0] == "#chrom\tstart\tend\tname\tscore\tstrand\tmax_prob\tpValue\tqValue\tsummit_offset"
    assert [ln.split("\t") for ln in peaks[1:]] == expected
    assert {(r[0], r[3].rsplit("_", 1)[0]) for r in expected} == {(c, t) for c in lengths for t in tasks}
    assert any(int(r[2]) - int(r[1]) > 32 for r in expected)  # some peak spans several intervals
    # a peak file named .gz is the same table, gzip-compressed
    assert main([*with_peaks, str(tmp_path / "pk.bed.gz"), "--out", str(tmp_path / "v.bedGraph")]) == 0
    assert gzip.decompress((tmp_path / "pk.bed.gz").read_bytes()).decode().splitlines() == peaks


def test_scan_warns_of_a_slow_stride_only_when_a_faster_one_exists(tmp_path, caplog):
    """--stride 10 on pools 2/2/2 (product 8): a warning naming a faster stride. An ensemble of pools 2/2/2
    and 3/3/3 (product 216, longer than its 200 bp window) has no such stride: its default scan says why it
    shares less of the trunk, without a warning the user cannot act on."""
    from peakcnn.ensemble import build_ensemble

    one = make_run(tmp_path, tiny_model(n_tasks=1, seed=1), ["a"], "one")
    two = make_run(tmp_path, tiny_model(n_tasks=1, seed=2, pool_widths=[3, 3, 3]), ["a"], "two")
    build_ensemble([one, two], tmp_path / "ens")
    random_genome(tmp_path / "g.fa", {"chr1": 600})
    argv = ["scan", "--genome", str(tmp_path / "g.fa"), "--out", str(tmp_path / "t.bedGraph")]
    with caplog.at_level("INFO"):
        assert main([argv[0], str(one), *argv[1:], "--stride", "10"]) == 0
    assert "warning: stride 10 is not a multiple of the model's pooling product 8" in caplog.text
    assert "--stride 8 is much faster" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO"):
        assert main([argv[0], str(tmp_path / "ens"), *argv[1:]]) == 0
    assert "warning" not in caplog.text
    assert "stride 50 is not a multiple of the model's pooling product 216" in caplog.text
    assert "(no multiple of 216 fits the 200 bp window)" in caplog.text


def test_scan_keeps_the_genome_order_whatever_the_order_of_chrom(tmp_path):
    """Tracks and called peaks come sorted by coordinate (the genome's order), also for --chrom chr3 chr1."""
    run = make_run(tmp_path, tiny_model(n_tasks=1), ["a"])
    random_genome(tmp_path / "g.fa", {"chr1": 600, "chr2": 500, "chr3": 700})
    out = ["--out", str(tmp_path / "t.bedGraph"), "--peaks-out", str(tmp_path / "p.bed"), "--threshold", "0"]
    assert main(["-q", "scan", str(run), "--genome", str(tmp_path / "g.fa"), "--chrom", "3", "chr1", *out]) == 0
    track = [line.split("\t")[0] for line in (tmp_path / "t.bedGraph").read_text().splitlines() if line[0] != "t"]
    peaks = [line.split("\t")[0] for line in (tmp_path / "p.bed").read_text().splitlines() if line[0] != "#"]
    assert list(dict.fromkeys(track)) == ["chr1", "chr3"] and list(dict.fromkeys(peaks)) == ["chr1", "chr3"]


def test_scan_cli_bigwig_and_bad_inputs(tmp_path, capsys):
    import pyBigWig

    run = make_run(tmp_path, tiny_model(n_tasks=1), ["a"])
    random_genome(tmp_path / "g.fa", {"chr1": 1000})
    g = str(tmp_path / "g.fa")
    every = ["--max-n-frac", "1"]  # the N-padded windows at the ends scored too
    assert main(["-q", "scan", str(run), "--genome", g, "--out", str(tmp_path / "t.bw"), "--fast", *every]) == 0
    bw = pyBigWig.open(str(tmp_path / "t.bw"))
    assert bw.chroms() == {"chr1": 1000} and len(bw.intervals("chr1")) == 21
    # the same intervals and values as the bedGraph writer (checked against window-by-window prediction)
    assert main(["-q", "scan", str(run), "--genome", g, "--out", str(tmp_path / "t.bedGraph"), "--fast", *every]) == 0
    rows = [line.split("\t") for line in (tmp_path / "t.bedGraph").read_text().splitlines() if line[0] != "t"]
    got = bw.intervals("chr1")
    assert [(s, e) for s, e, _ in got] == [(int(r[1]), int(r[2])) for r in rows]
    np.testing.assert_allclose([v for _, _, v in got], [float(r[3]) for r in rows], atol=1e-5)
    assert np.ptp([v for _, _, v in got]) > 1e-3  # not a constant track
    assert main(["scan", str(run), "--genome", g, "--out", str(tmp_path / "t.wig")]) == 2
    assert "unknown track extension" in capsys.readouterr().err
    assert main(["scan", str(run), "--genome", g, "--chrom", "chr9", "--out", str(tmp_path / "u.bw")]) == 2
    assert "--chrom chr9: not in genome" in capsys.readouterr().err
    assert main(["scan", str(run), "--genome", g, "--out", str(tmp_path / "missing/t.bw")]) == 2
    assert not (tmp_path / "u.bw").exists() and not list(tmp_path.glob(".*tmp*"))
    out = ["--out", str(tmp_path / "v.bw"), "--peaks-out", str(tmp_path / "v.bed")]
    for option, value in [("--stride", "0"), ("--threshold", "nan"), ("--threshold", "1.5"), ("--merge-gap", "-1"),
                          ("--min-length", "-2"), ("--min-length", "x")]:  # fmt: skip
        status = main(["scan", str(run), "--genome", g, *out, option, value])
        err = capsys.readouterr().err.strip().splitlines()
        assert status == 2 and f"argument {option}: {value!r}" in err[-1], (option, value, err)
    assert not (tmp_path / "v.bw").exists() and not (tmp_path / "v.bed").exists()


def test_scan_leaves_no_track_when_the_peak_file_fails_and_refuses_clashing_task_files(tmp_path, capsys, monkeypatch):
    import peakcnn.io.output

    random_genome(tmp_path / "g.fa", {"chr1": 1000})
    g = str(tmp_path / "g.fa")
    clash = make_run(tmp_path, tiny_model(n_tasks=2), ["a:b", "a_b"], "clash")
    assert main(["scan", str(clash), "--genome", g, "--out", str(tmp_path / "t.bedGraph")]) == 2
    assert "tasks 'a:b' and 'a_b' would both write t.a_b.bedGraph" in capsys.readouterr().err

    run = make_run(tmp_path, tiny_model(n_tasks=2), ["a", "b"])

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(peakcnn.io.output, "write_table", full_disk)
    out, peaks = tmp_path / "out", tmp_path / "out" / "pk.bed"
    out.mkdir()
    assert main(["scan", str(run), "--genome", g, "--out", str(out / "t.bedGraph"), "--peaks-out", str(peaks)]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "peakcnn: error: No space left on device; free space or choose another path"
    )
    assert list(out.iterdir()) == []
    monkeypatch.undo()

    # A track that fails as it is finished (a bigWig writes its index then), or as it is put in place after
    # the first one was: nothing is left either.
    from peakcnn.io.tracks import TrackWriter

    for step in ("finish", "commit"):
        real, calls = getattr(TrackWriter, step), []

        def second_fails(self, real=real, calls=calls):
            calls.append(self.path.name)
            if len(calls) == 2:
                raise OSError(28, "No space left on device")
            return real(self)

        monkeypatch.setattr(TrackWriter, step, second_fails)
        argv = ["scan", str(run), "--genome", g, "--out", str(out / "t.bedGraph"), "--peaks-out", str(peaks)]
        assert main(argv) == 1, step
        assert calls[:2] == ["t.a.bedGraph", "t.b.bedGraph"]
        assert list(out.iterdir()) == [], step
        monkeypatch.undo()

    def never_finishes(self):  # closing fails every time, also while the partial files are removed
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(TrackWriter, "finish", never_finishes)
    assert main(["scan", str(run), "--genome", g, "--out", str(out / "t.bedGraph")]) == 1
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    "stride, message",
    [(0, "must be a positive number of bp"), (-27, "must be a positive number of bp"), (201, "use at most 200")],
)
def test_scan_genome_refuses_a_stride_below_one_bp_or_above_the_window(stride, message, tmp_path):
    from peakcnn.errors import InputError
    from peakcnn.scan_run import scan_genome

    assert tiny_model(n_tasks=1).config.window == 200
    with pytest.raises(InputError, match=f"--stride {stride}: .*{message}"):
        out = tmp_path / "unused.bw"
        scan_genome(tiny_model(n_tasks=1), ["a"], None, [], stride, exact=True, out=out, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_scan_genome_refuses_chromosomes_not_in_the_genome_and_one_name_as_a_string(tmp_path):
    """A name not in the genome was dropped, and a string read letter by letter: an empty track, silently."""
    from peakcnn.errors import InputError
    from peakcnn.io.fasta import Genome
    from peakcnn.scan_run import scan_genome

    random_genome(tmp_path / "g.fa", {"chr1": 1000, "chr2": 1000})
    genome, out = Genome(tmp_path / "g.fa"), tmp_path / "t.bedGraph"
    for chroms, message in (("chr2", "chroms 'chr2': give a list of chromosome names"),
                            (["chr2", "chr9"], "chroms: 'chr9' is not in genome g.fa")):  # fmt: skip
        with pytest.raises(InputError, match=message):
            scan_genome(tiny_model(n_tasks=1), ["a"], genome, chroms, 50, exact=True, out=out, progress=False)
    assert not out.exists()


@pytest.mark.parametrize("repeat", [False, True])
def test_sigterm_during_a_scan_leaves_no_track(tmp_path, capsys, monkeypatch, repeat):
    """SIGTERM (kill, a scheduler's time limit) cleans up as Ctrl-C does and exits 143; a second signal
    while the partial tracks are removed does not stop their removal."""
    import os
    import signal

    from peakcnn.io.tracks import TrackWriter

    random_genome(tmp_path / "g.fa", {"chr1": 1000})
    run = make_run(tmp_path, tiny_model(n_tasks=2), ["a", "b"])
    real, sent = TrackWriter.finish, []

    def killed(self):
        if repeat or not sent:
            sent.append(self.path.name)
            os.kill(os.getpid(), signal.SIGTERM)
        return real(self)

    monkeypatch.setattr(TrackWriter, "finish", killed)
    out = tmp_path / "out"
    out.mkdir()
    before = signal.getsignal(signal.SIGTERM)
    assert main(["scan", str(run), "--genome", str(tmp_path / "g.fa"), "--out", str(out / "t.bw")]) == 143
    assert capsys.readouterr().err.strip().splitlines()[-1] == "peakcnn: terminated"
    assert list(out.iterdir()) == []
    assert len(sent) == (3 if repeat else 1)
    assert signal.getsignal(signal.SIGTERM) is before  # the command's handler is gone once it returns


def test_a_track_cut_short_by_a_full_disk_is_one_error_line_naming_it(tmp_path):
    """A file size limit (as a full disk) stops the intervals spooled for a bigWig: one line names the track
    and the cause, and nothing is left behind."""
    import resource
    import subprocess
    import sys

    run = make_run(tmp_path, tiny_model(1), ["a"])
    random_genome(tmp_path / "g.fa", {"chr1": 300_000})
    argv = [sys.executable, "-m", "peakcnn", "-q", "scan", str(run), "--genome", str(tmp_path / "g.fa")]
    argv += ["--stride", "64", "--out", str(tmp_path / "cut.bw")]

    def cap():  # the spool of 4,688 float32 values takes 18,752 bytes
        resource.setrlimit(resource.RLIMIT_FSIZE, (8 << 10, 8 << 10))

    done = subprocess.run(argv, capture_output=True, text=True, preexec_fn=cap)
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        f"peakcnn: error: {tmp_path / 'cut.bw'}: File too large; choose a path on another file system, or raise "
        "the file size limit (ulimit -f)\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir() if "cut" in p.name) == []


@pytest.mark.parametrize("limit", [0, 1 << 10, 12 << 10, 40 << 10, -(20 << 10), -100])
def test_a_bigwig_cut_short_by_a_full_disk_is_an_error_not_a_truncated_track(tmp_path, monkeypatch, capfd, limit):
    """pyBigWig does not report every failed write: when its header, zoom levels or index cannot be written
    it prints a line and leaves a truncated file, or crashes. The process that writes the bigWig is given a
    file size limit (as a full disk; negative: that many bytes below the complete track's size): every
    failure is one error line, with nothing left behind."""
    import resource
    import subprocess

    import peakcnn.io.tracks

    run = make_run(tmp_path, tiny_model(1), ["a"])
    random_genome(tmp_path / "g.fa", {"chr1": 300_000, "chr2": 300_000})
    argv = ["-q", "scan", str(run), "--genome", str(tmp_path / "g.fa"), "--stride", "64", "--out"]
    assert main([*argv, str(tmp_path / "full.bw")]) == 0
    size = (tmp_path / "full.bw").stat().st_size
    assert size > 50_000  # the complete track does not fit the limit
    limit = limit if limit >= 0 else size + limit
    real = subprocess.run

    def capped(*args, **kwargs):
        return real(*args, **kwargs, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))

    monkeypatch.setattr(peakcnn.io.tracks.subprocess, "run", capped)
    capfd.readouterr()
    assert main([*argv, str(tmp_path / "cut.bw")]) == 1
    why = (  # by the size the limit cuts the track at
        r"pyBigWig could not write the header|its writer process was ended by SIG[A-Z]+|"
        r"pyBigWig could not write the intervals of chr[12]|the file does not end as a complete bigWig"
    )
    err = capfd.readouterr().err
    assert re.fullmatch(
        rf"peakcnn: error: {re.escape(str(tmp_path / 'cut.bw'))}: the bigWig could not be written completely "
        rf"\(({why})\); free space or choose another --out\n",
        err,
    ), err
    assert sorted(p.name for p in tmp_path.iterdir() if "cut" in p.name) == []


def test_the_bigwig_writer_process_finds_the_modules_this_process_found(tmp_path):
    """A scan run from a folder holding a module named as a standard one (json.py in a shared /tmp) writes
    its bigWig: the writer process searches this process's module path, not the current folder."""
    import subprocess
    import sys

    run = make_run(tmp_path, tiny_model(1), ["a"])
    random_genome(tmp_path / "g.fa", {"chr1": 3000})
    work = tmp_path / "work"
    work.mkdir()
    (work / "json.py").write_text("raise SystemExit(3)\n")
    script = Path(sys.executable).with_name("peakcnn")  # the console script: the current folder is not searched
    argv = [str(script), "-q", "scan", str(run), "--genome", str(tmp_path / "g.fa"), "--out", "t.bw"]
    done = subprocess.run(argv, cwd=work, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (work / "t.bw").read_bytes()[:4] == (0x888FFC26).to_bytes(4, "little")


def test_a_bigwig_that_cannot_be_written_is_refused_before_the_scan(tmp_path, capsys, monkeypatch):
    """Without pyBigWig, in a folder whose name is not UTF-8 (pyBigWig opens no other), or with a name that
    leaves no room for the spool beside it: one line naming the track, before any scanning."""
    import sys

    import peakcnn.scan_run

    run = make_run(tmp_path, tiny_model(1), ["a"])
    random_genome(tmp_path / "g.fa", {"chr1": 3000})
    argv = ["-q", "scan", str(run), "--genome", str(tmp_path / "g.fa"), "--out"]
    monkeypatch.setattr(peakcnn.scan_run, "scan_codes", lambda *a, **k: pytest.fail("scanned"))
    latin = tmp_path / os.fsdecode(b"lat\xe9")
    latin.mkdir()
    assert main([*argv, str(latin / "t.bw")]) == 2
    assert capsys.readouterr().err.strip().endswith("a bigWig path must be valid UTF-8 (pyBigWig opens no other); "
                                                    "rename the folder or write a .bedGraph track")  # fmt: skip
    stem = "x" * (252 - len(f"..tmp{os.getpid()}.bw"))  # its temporary name takes 252 bytes, the spool's 258
    long = tmp_path / f"{stem}.bw"
    assert main([*argv, str(long)]) == 1
    assert capsys.readouterr().err == f"peakcnn: error: {long}: File name too long; choose a shorter name\n"
    monkeypatch.setitem(sys.modules, "pyBigWig", None)  # import fails
    assert main([*argv, str(tmp_path / "t.bw")]) == 1
    assert capsys.readouterr().err.startswith("peakcnn: error: pyBigWig cannot be imported (")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.fa", "g.fa.fai", "lat\udce9", "run"]
    assert list(latin.iterdir()) == []


def test_the_writer_failure_is_said_from_its_signal_or_its_reason_line():
    import subprocess

    from peakcnn.io.tracks import _writer_failure

    def ended(status, err=b""):
        return _writer_failure(subprocess.CompletedProcess([], status, b"", err))

    assert ended(-11) == "its writer process was ended by SIGSEGV"
    assert ended(-9) == "its writer process was ended by SIGKILL; out of memory?"
    assert ended(1, b"peakcnn-bigwig: pyBigWig could not write the header\n[bwClose] There was an error\n") == (
        "pyBigWig could not write the header"
    )
    assert ended(1, b"EOFError: marshal data \xe9 too short\n") == "EOFError: marshal data \ufffd too short"
    assert ended(3) == "its writer process exited with status 3"


@pytest.mark.parametrize(
    "starts, ends, each",
    [
        ([0, 50, 100], [50, 100, 130], 4),  # in steps of 50, the last one clipped: the values only
        ([7], [9], 4),
        ([0, 50, 100], [50, 100, 150], 4),
        ([0, 50, 120], [50, 100, 170], 20),  # not in steps: whole records
        ([0, 50, 100], [40, 90, 140], 20),
        ([0, 50, 100], [50, 100, 151], 20),
    ],
)
def test_spooled_intervals_read_back_as_given(tmp_path, starts, ends, each):
    from peakcnn.io.bigwig import read_part, spool_part

    values = np.array([0.25, 0.5, 0.75][: len(starts)])
    first, lead = spool_part("c", [1, 2], [2, 3], [1.0, 2.0], 0)  # another part before, at offset 0
    part, data = spool_part("chr1", np.array(starts), np.array(ends), values, len(lead))
    assert len(data) == len(starts) * each
    (tmp_path / "s").write_bytes(lead + data)
    assert [x.tolist() for x in read_part(str(tmp_path / "s"), part)] == [starts, ends, values.tolist()]
    assert [x.tolist() for x in read_part(str(tmp_path / "s"), first)] == [[1, 2], [2, 3], [1.0, 2.0]]


def test_a_bigwig_is_the_file_pyBigWig_writes_from_the_same_intervals(tmp_path):
    """The writer process's file equals one written directly, in one call per chromosome, for intervals in
    steps (more than one chunk of them) and not in steps, several chromosomes, a clipped last interval."""
    import pyBigWig

    from peakcnn.io.bigwig import CHUNK
    from peakcnn.io.tracks import TrackWriter

    rng = np.random.default_rng(0)
    n = CHUNK + 5
    chroms = [("chr1", 10 * n - 3), ("chr2", 500), ("chrM", 90)]
    parts = [
        ("chr1", np.arange(n) * 10, np.minimum(np.arange(n) * 10 + 10, 10 * n - 3)),
        ("chr2", np.array([0, 7, 100, 480]), np.array([5, 60, 101, 500])),
        ("chrM", np.array([3]), np.array([90])),
    ]
    values = [rng.random(len(s)) for _, s, _ in parts]
    w = TrackWriter(tmp_path / "w.bw", chroms)
    for (chrom, starts, ends), v in zip(parts, values, strict=True):
        w.add(chrom, starts, ends, v)
    w.commit()
    bw = pyBigWig.open(str(tmp_path / "direct.bw"), "w")
    bw.addHeader(chroms, maxZooms=10)
    for (chrom, starts, ends), v in zip(parts, values, strict=True):
        bw.addEntries([chrom] * len(starts), starts.tolist(), ends=ends.tolist(), values=v.tolist())
    bw.close()
    assert (tmp_path / "w.bw").read_bytes() == (tmp_path / "direct.bw").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["direct.bw", "w.bw"]


def test_a_track_refuses_what_a_bigwig_cannot_hold_or_the_writer_cannot_run(tmp_path, monkeypatch):
    import sys

    from peakcnn.errors import InputError, OutputError
    from peakcnn.io.bigwig import spool_part
    from peakcnn.io.tracks import TrackWriter

    with pytest.raises(InputError, match=r"^chr1: 4,294,967,296 bp, longer than a bigWig holds"):
        TrackWriter(tmp_path / "t.bw", [("chr2", 10), ("chr1", 2**32)])
    TrackWriter(tmp_path / "t.bw", [("chr1", 2**32 - 1)]).abort()
    TrackWriter(tmp_path / "t.bedGraph", [("chr1", 2**32)]).abort()
    with pytest.raises(ValueError, match="2 starts, 2 ends and 3 values"):
        spool_part("chr1", np.array([0, 5]), np.array([5, 10]), np.zeros(3), 0)
    monkeypatch.setattr(sys, "executable", "")
    with pytest.raises(OutputError, match="no Python interpreter to run the bigWig writer with"):
        TrackWriter(tmp_path / "t.bw", [("chr1", 10)])
    assert list(tmp_path.iterdir()) == []


def test_a_relative_bigwig_path_is_written_from_a_folder_whose_name_is_not_utf8(tmp_path, monkeypatch):
    """Only the name the writer process is given must be UTF-8; a relative one is, wherever the scan runs."""
    import pyBigWig

    run = make_run(tmp_path, tiny_model(1), ["a"])
    random_genome(tmp_path / "g.fa", {"chr1": 3000})
    latin = tmp_path / os.fsdecode(b"lat\xe9")
    latin.mkdir()
    monkeypatch.chdir(latin)
    assert main(["-q", "scan", str(run), "--genome", str(tmp_path / "g.fa"), "--out", "t.bw"]) == 0
    assert pyBigWig.open("t.bw").chroms() == {"chr1": 3000}


def test_the_bigwig_writer_process_runs_no_startup_code_from_the_environment(tmp_path, monkeypatch):
    """A sitecustomize.py on PYTHONPATH, set after this process started, is not run by the writer (-I)."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text("raise SystemExit(5)\n")
    run = make_run(tmp_path, tiny_model(1), ["a"])
    random_genome(tmp_path / "g.fa", {"chr1": 3000})
    monkeypatch.setenv("PYTHONPATH", str(hooks))
    assert main(["-q", "scan", str(run), "--genome", str(tmp_path / "g.fa"), "--out", str(tmp_path / "t.bw")]) == 0


def test_scan_leaves_windows_of_mostly_n_out_of_the_track_and_the_peaks(tmp_path, caplog):
    """An assembly gap and the chromosome ends: an interval whose window holds more N than the limit (the
    model's recorded 'prepare --max-n-frac', or --max-n-frac) has no value in the track and is in no peak;
    every other interval keeps the value an unlimited scan gives it."""
    seq = list(random_genome(tmp_path / "g.fa", {"chr1": 3000})["chr1"])
    seq[1200:1800] = "N" * 600
    seq = "".join(seq)
    (tmp_path / "g.fa").write_text(">chr1\n" + seq + "\n")
    run = make_run(tmp_path, tiny_model(n_tasks=1), ["a"], max_n_frac=0.25)
    argv = ["scan", str(run), "--genome", str(tmp_path / "g.fa"), "--stride", "16", "--threshold", "0"]
    assert main([*argv, "--max-n-frac", "1", "--out", str(tmp_path / "all.bedGraph")]) == 0
    every = {
        tuple(r[1:3]): r[3] for r in (ln.split("\t") for ln in (tmp_path / "all.bedGraph").read_text().splitlines())
    }
    windows = _reference_windows(seq, 16, 200)
    assert len(every) == len(windows) == 188
    for limit, extra in ((0.25, []), (0.1, ["--max-n-frac", "0.1"])):
        caplog.clear()
        with caplog.at_level("INFO"):
            assert (
                main([*argv, *extra, "--out", str(tmp_path / "t.bedGraph"), "--peaks-out", str(tmp_path / "p.bed")])
                == 0
            )
        kept = [
            (str(i * 16), str(min(i * 16 + 16, 3000))) for i, w in enumerate(windows) if w.count("N") <= limit * 200
        ]
        rows = [ln.split("\t") for ln in (tmp_path / "t.bedGraph").read_text().splitlines()]
        assert [tuple(r[1:3]) for r in rows] == kept and [r[3] for r in rows] == [every[k] for k in kept]
        gone, bp = len(windows) - len(kept), 3000 - sum(int(e) - int(s) for s, e in kept)
        assert 40 < gone < 60, gone  # the 600 bp gap, less what a window may hold, and the ends
        assert f"scan: {gone} of 188 intervals ({bp} bp) have no value in the track and no peak" in caplog.text
        source = "the most the model's training windows held" if not extra else "--max-n-frac"
        assert f"more than {limit * 100:g}% N ({source}" in caplog.text
        peaks = [ln.split("\t") for ln in (tmp_path / "p.bed").read_text().splitlines()[1:]]
        covered = {(int(s), int(e)) for s, e in kept}
        for p in peaks:  # threshold 0: each peak is a run of kept intervals, and every kept interval is in one
            inside = {(s, e) for s, e in covered if int(p[1]) <= s and e <= int(p[2])}
            assert sum(e - s for s, e in inside) == int(p[2]) - int(p[1])
        assert sum(int(p[2]) - int(p[1]) for p in peaks) == sum(e - s for s, e in covered)
        assert len(peaks) == 2  # the gap splits the chromosome in two
    # no peak is merged across the gap, however wide --merge-gap
    wide = [*argv, "--max-n-frac", "0.1", "--merge-gap", "5000", "--peaks-out", str(tmp_path / "w.bed")]
    assert main([*wide, "--out", str(tmp_path / "w.bedGraph")]) == 0
    assert (tmp_path / "w.bed").read_text() == (tmp_path / "p.bed").read_text()


@pytest.mark.parametrize(
    ("widths", "window", "length", "seed"),
    [
        ([7, 5, 3], 16, 400, 1),  # a window so short that its two borders' reach overlaps: scored window by window
        ([19, 3, 3], 200, 1500, 2),  # a wide first kernel: several groups of changed inputs at a border
    ],
)
def test_scan_equals_window_by_window_at_awkward_sizes(widths, window, length, seed):
    model = tiny_model(conv_widths=widths, window=window)
    codes = random_codes(length, seed=seed)
    out = scan_codes(model, codes, 8)
    assert np.abs(sigmoid(out) - sigmoid(_window_by_window(model, codes, 8, window))).max() < 1e-5


def test_a_custom_trunk_with_an_overlapping_pool_is_scanned_window_by_window():
    from types import SimpleNamespace

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.config = SimpleNamespace(window=20, n_tasks=1)
            self.trunk = torch.nn.Sequential(
                torch.nn.Conv1d(4, 4, 3, padding=1), torch.nn.MaxPool1d(2, stride=1), torch.nn.ReLU()
            )
            self.head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * 19, 1))

        def forward(self, x):
            return self.head(self.trunk(x))

    model, codes = Net().eval(), random_codes(300, seed=3)
    np.testing.assert_allclose(scan_codes(model, codes, 4), _window_by_window(model, codes, 4, 20), atol=1e-5)


def test_scan_progress_counts_the_bases_and_short_windows_keep_the_shared_trunk():
    from peakcnn.ensemble import EnsembleModel
    from peakcnn.inference import fold_model
    from peakcnn.scan import scan_plans
    from peakcnn.scan_edges import borders_independent, trunk_layers

    steps = []
    scan_codes(tiny_model(), random_codes(1001), 8, progress=steps.append)
    assert sum(steps) == 1001  # the last interval is 1 bp long: 125 x 8 + 1
    model = tiny_model(window=16)  # borders that just fit
    assert borders_independent(trunk_layers(fold_model(model)), 16)
    assert scan_plans(model, 16, torch.device("cpu"))[0][1] is not None
    # members pooling by 8 and 27 have no common stride within a 40 bp window: the stride is the window
    assert default_stride(EnsembleModel([tiny_model(window=40), tiny_model(window=40, pool_widths=[3, 3, 3])])) == 40


def test_peak_calls_include_the_threshold_and_the_minimum_length():
    starts = np.arange(5) * 10
    vals = np.array([0.0, 0.5, 0.5, 0.2, 0.0])
    assert call_peaks(starts, starts + 10, vals, 0.5, 0, 20) == [(10, 30, 0.5, 15)]

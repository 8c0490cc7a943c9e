"""End-to-end ``peakcnn prepare`` on a tiny 4-chromosome genome, bad inputs, and real data."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from _prepare_helpers import ATAC1, SHARED, random_seq, read_windows_bed, tiny_dataset_inputs, write_fasta

from peakcnn.cli import main
from peakcnn.data.prepare import prepare_dataset
from peakcnn.data.store import Dataset
from peakcnn.data.windows import window_stats
from peakcnn.errors import InputError


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return tiny_dataset_inputs(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def built(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ds"
    argv = [
        "prepare",
        "--genome",
        str(inputs["genome"]),
        "--peaks",
        str(inputs["a"]),
        str(inputs["b"]),
        "--out",
        str(out),
        "--seed",
        "3",
    ]
    assert main(argv) == 0
    return out


def _load(out):
    with Dataset(out) as ds:
        return {k: ds.read(k) for k in ("seqs", "labels", "chrom", "start", "split", "source")}, ds


def _overlaps_across_splits(chrom, start, split, window) -> int:
    """Ordered pairs of overlapping windows in different splits, counted here rather than by the code under
    test: windows all ``window`` long overlap when their starts differ by less than ``window``, so per
    chromosome and split the starts of the other splits' windows are looked up among that split's sorted
    starts."""
    n = 0
    for c in np.unique(chrom):
        on = chrom == c
        for k in np.unique(split[on]):
            mine = np.sort(start[on & (split == k)])
            others = start[on & (split != k)]
            n += int((np.searchsorted(mine, others + window) - np.searchsorted(mine, others - window, "right")).sum())
    return n


def _check_windows_bed(out, lengths: dict) -> int:
    """Assert that every windows.bed row is its data-set window: chromosome, start and end clipped to the
    chromosome, name ``peak<row>`` or ``neg<row>`` by source. Returns the number of rows clipped."""
    arrays, ds = _load(out)
    window = ds.window
    _, rows = read_windows_bed(out / "windows.bed")
    assert len(rows) == len(arrays["start"])
    clipped = 0
    for i, row in enumerate(rows):
        chrom, start = ds.chroms[arrays["chrom"][i]], int(arrays["start"][i])
        assert row[0] == chrom
        assert int(row[1]) == max(start, 0) and int(row[2]) == min(start + window, lengths[chrom]), (row, start)
        assert row[3] == ("peak", "neg")[arrays["source"][i]] + str(i) and row[5] == "."
        clipped += start < 0 or start + window > lengths[chrom]
    assert {r[3].rstrip("0123456789") for r in rows} == {"peak", "neg"}
    return clipped


def test_overlap_helper_counts_overlaps_across_splits_only():
    chrom, split = np.array([0, 0, 0, 1]), np.array([0, 1, 1, 2])
    assert _overlaps_across_splits(chrom, np.array([0, 800, 1600, 0]), split, 800) == 0  # abutting, half-open
    assert _overlaps_across_splits(chrom, np.array([0, 799, 1600, 0]), split, 800) == 2  # one pair, both ways
    assert _overlaps_across_splits(chrom, np.array([0, 800, 801, 0]), split, 800) == 0  # same split may overlap


def test_outputs_exist_and_agree(built, inputs):
    assert sorted(p.name for p in built.iterdir()) == ["dataset.h5", "manifest.json", "windows.bed"]
    arrays, ds = _load(built)
    assert ds.tasks == ["a", "b"] and ds.window == 800 and set(ds.chroms) <= set(inputs["lengths"])
    header, rows = read_windows_bed(built / "windows.bed")
    assert header == ["chrom", "start", "end", "name", "score", "strand", "split", "a", "b"]
    assert len(rows) == len(arrays["seqs"]) > 100
    for row, lab, split in zip(rows, arrays["labels"], arrays["split"], strict=True):
        assert [int(row[7]), int(row[8])] == lab.tolist() and int(row[4]) == lab.sum()
        assert row[6] == ("train", "valid", "test")[split] and int(row[1]) < int(row[2])
    _check_windows_bed(built, inputs["lengths"])
    manifest = json.loads((built / "manifest.json").read_text())
    assert manifest["dataset_sha256"] == ds.sha256 and manifest["params"]["window"] == 800
    assert manifest["inputs"]["peaks"][0]["sha256"] and manifest["inputs"]["genome"]["sha256"]
    assert manifest["report"]["split_layout"]["mode"] == "chrom"


def test_sequences_match_genome(built, inputs):
    arrays, ds = _load(built)
    from peakcnn.sequence import str_to_codes

    for i in range(0, len(arrays["seqs"]), 17):
        seq = inputs["records"][ds.chroms[arrays["chrom"][i]]]
        s = int(arrays["start"][i])
        want = np.full(800, 4, np.uint8)
        lo, hi = max(s, 0), min(s + 800, len(seq))
        want[lo - s : hi - s] = str_to_codes(seq[lo:hi])
        assert np.array_equal(arrays["seqs"][i], want)


def test_no_window_overlaps_another_split(built):
    arrays, ds = _load(built)
    assert _overlaps_across_splits(arrays["chrom"], arrays["start"], arrays["split"], 800) == 0
    assert set(arrays["split"].tolist()) == {0, 1, 2}
    # --split chrom (auto with 4 chromosomes): every window of a chromosome is in that chromosome's split
    for c in np.unique(arrays["chrom"]):
        assert len(set(arrays["split"][arrays["chrom"] == c].tolist())) == 1, ds.chroms[c]


def test_classes_balanced_and_alike_in_n_and_gc(built):
    arrays, _ = _load(built)
    gc, nf = window_stats(arrays["seqs"])
    pos, negs = arrays["source"] == 0, arrays["source"] == 1
    assert (arrays["labels"][negs] == 0).all() and (arrays["labels"][pos].max(axis=1) == 1).all()
    for k in range(3):
        p, n = pos & (arrays["split"] == k), negs & (arrays["split"] == k)
        assert p.sum() == n.sum()
        assert abs(gc[p].mean() - gc[n].mean()) < 0.02
    assert abs(nf[pos].mean() - nf[negs].mean()) < 0.005
    assert gc[pos].mean() > 0.5  # peaks sit in GC-rich segments, so matching was needed


def test_negatives_match_the_gc_of_their_own_split(tmp_path):
    """Peaks of the held-out test chromosome sit in AT-rich segments, the others in GC-rich ones: each
    split's negatives follow the GC of that split's positives, not of all positives."""
    from _prepare_helpers import mosaic_seq

    rng = np.random.default_rng(7)
    records, lines = {}, []
    for name in ("chr1", "chr2", "chr3", "chr4"):
        seq, gcs = mosaic_seq(rng, 160_000)
        records[name] = seq
        wanted = np.flatnonzero(gcs < 0.4) if name == "chr4" else np.flatnonzero(gcs > 0.55)
        for seg in wanted[1:-1][:20]:
            start = int(seg) * 2000 + 850
            lines.append(f"{name}\t{start}\t{start + 300}")
    genome = write_fasta(tmp_path / "g.fa", records)
    (tmp_path / "p.bed").write_text("\n".join(lines) + "\n")
    prepare_dataset(
        genome, tmp_path / "p.bed", tmp_path / "ds", window=200, valid_chroms=["chr3"], test_chroms=["chr4"],
        progress=False,
    )  # fmt: skip
    arrays, _ = _load(tmp_path / "ds")
    gc = window_stats(arrays["seqs"])[0]
    pos = arrays["source"] == 0
    means = {}
    for k in range(3):
        in_k = arrays["split"] == k
        means[k] = gc[pos & in_k].mean(), gc[~pos & in_k].mean()
        assert abs(means[k][0] - means[k][1]) < 0.03, means
    assert means[2][0] < 0.42 < 0.53 < means[0][0]  # the splits' positives differ as planted


def test_the_leak_guard_stops_prepare_before_anything_is_written(inputs, tmp_path, monkeypatch, capsys):
    """The layouts keep splits apart (checked on real outputs above); should a window of one split still
    overlap one of another, prepare stops with an internal error and writes nothing."""
    from peakcnn.data import split

    counted = []
    real = split.cross_split_overlaps

    def planted(chrom, start, end, which):
        counted.append(real(chrom, start, end, which))
        return counted[-1] + 2

    monkeypatch.setattr(split, "cross_split_overlaps", planted)
    argv = ["prepare", "--genome", str(inputs["genome"]), "--peaks", str(inputs["a"]), "--out", str(tmp_path / "o")]
    assert main(argv) != 0
    assert counted == [0] and "internal error: 2 windows overlap a window of another split" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob(".o*"))


def test_genomic_negatives_overlap_no_peak_and_no_peak_window(built, inputs):
    """A negative window shares no base with a peak of any task or with a positive window (counted here
    from the peak files and the data set's coordinates, not by the code that drew them)."""
    import gzip

    arrays, ds = _load(built)
    window, names = ds.window, ds.chroms
    busy = {c: [] for c in names}
    for path in (inputs["a"], inputs["b"]):
        text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
        for line in text.splitlines():
            f = line.split("\t")
            if len(f) >= 3 and f"chr{f[0]}" in busy:
                busy[f"chr{f[0]}"].append((int(f[1]), int(f[2])))
    for i in np.flatnonzero(arrays["source"] == 0):
        busy[names[arrays["chrom"][i]]].append((int(arrays["start"][i]), int(arrays["start"][i]) + window))
    negatives = np.flatnonzero(arrays["source"] == 1)
    assert len(negatives) > 50
    for i in negatives:
        lo, hi = int(arrays["start"][i]), int(arrays["start"][i]) + window
        assert not any(a < hi and lo < b for a, b in busy[names[arrays["chrom"][i]]]), (names[arrays["chrom"][i]], lo)


def test_genomic_negatives_avoid_the_whole_of_peaks_longer_than_the_window(tmp_path):
    """A broad peak (4 kb) reaches far past its 200 bp window: negatives keep off all of it, not only off
    the window."""
    rng = np.random.default_rng(1)
    records = {name: random_seq(rng, 64_000) for name in ("chr1", "chr2", "chr3")}
    peaks = [(name, 8_000 * i + 2_000, 8_000 * i + 6_000) for name in records for i in range(8)]
    write_fasta(tmp_path / "g.fa", records)
    (tmp_path / "broad.bed").write_text("".join(f"{c}\t{a}\t{b}\n" for c, a, b in peaks))
    prepare_dataset(tmp_path / "g.fa", [tmp_path / "broad.bed"], tmp_path / "ds", window=200, neg_ratio=3.0,
                    negatives="random", split="region", block_size=8_000, progress=False)  # fmt: skip
    arrays, ds = _load(tmp_path / "ds")
    negatives = np.flatnonzero(arrays["source"] == 1)
    assert len(negatives) == 3 * (arrays["source"] == 0).sum() > 50
    for i in negatives:
        chrom, lo = ds.chroms[arrays["chrom"][i]], int(arrays["start"][i])
        assert not any(c == chrom and a < lo + 200 and lo < b for c, a, b in peaks), (chrom, lo)


def test_dropped_peaks_counted_and_warned(built):
    manifest = json.loads((built / "manifest.json").read_text())
    rep = manifest["report"]
    assert rep["peaks_dropped"]["a"]["chromosome not in genome"] == {"chrUn": 2}
    assert rep["peaks_dropped"]["a"]["start at or past chromosome end"] == 1
    assert rep["peaks_clipped_at_chromosome_end"]["a"] == 1
    assert rep["chrom_map"]["a"]["1"] == "chr1"
    assert any("chrUn (2)" in w for w in manifest["warnings"])
    past = [w for w in manifest["warnings"] if "past the end of their chromosome" in w]
    assert len(past) == 1 and "a.narrowPeak" in past[0]
    assert ": 1, dropped (first: 4 100,500 on a chromosome of 100,000 bp)" in past[0]
    # the format read and the kept peaks centred on a summit, per task (a: narrowPeak, b: BED3, no summits);
    # a's two peaks on chrUn and the one past the end of 4 are not kept
    n_a = sum(1 for line in Path(manifest["inputs"]["peaks"][0]["path"]).read_text().splitlines()[1:])
    assert rep["peaks_format"] == {"a": "narrowPeak", "b": "bed3"}
    assert rep["peaks_kept_centred_on_summit"] == {"a": n_a - 3, "b": 0}
    from peakcnn.data.summary import format_diagnostics

    shown = format_diagnostics(manifest)
    said = f"peaks a: {n_a} read (narrowPeak, {n_a - 3} kept peaks centred on their summit), 2 on chromosomes not in"
    assert said in shown and "(bed3, 0 kept peaks centred on their summit)" in shown
    # the manifest of a data set written by an earlier version, which prepare reuses: its own count is named
    # for what it counted, and the GC row it lacks is left out
    old = json.loads(json.dumps(manifest))
    old["report"]["peaks_centred_on_summit"] = {"a": n_a, "b": 0}
    del old["report"]["peaks_kept_centred_on_summit"], old["stats"]["gc_auroc"]
    shown = format_diagnostics(old)
    assert f"peaks a: {n_a} read (narrowPeak, {n_a} read with a summit)" in shown and "GC alone" not in shown


def test_summary_shows_long_task_names_whole_and_aligned(built):
    from peakcnn.data.summary import format_diagnostics

    manifest = json.loads((built / "manifest.json").read_text())
    long = "GSM3484757_Root_ATAC_1_peaks_with_a_long_name"
    manifest["stats"]["tasks"] = {long: manifest["stats"]["tasks"]["a"]}
    lines = format_diagnostics(manifest).splitlines()
    row = next(line for line in lines if line.strip().startswith("positives "))
    assert long in row
    table = lines[1 : lines.index(row) + 1]  # header, class rows, task row
    assert len({len(line) for line in table}) == 1, table
    assert row.split()[-3:] == [
        str(manifest["stats"]["tasks"][long][s]["positive"]) for s in ("train", "valid", "test")
    ]


def test_same_seed_same_data_and_reuse(built, inputs, tmp_path):
    argv = [
        "prepare",
        "--genome",
        str(inputs["genome"]),
        "--peaks",
        str(inputs["a"]),
        str(inputs["b"]),
        "--seed",
        "3",
    ]
    assert main(argv + ["--out", str(tmp_path / "again")]) == 0
    assert Dataset(tmp_path / "again").sha256 == Dataset(built).sha256
    assert main(argv[:-1] + ["4", "--out", str(tmp_path / "other")]) == 0
    assert Dataset(tmp_path / "other").sha256 != Dataset(built).sha256
    before = (tmp_path / "again" / "dataset.h5").stat().st_mtime_ns
    assert main(argv + ["--out", str(tmp_path / "again")]) == 0  # same inputs + params: reused
    assert (tmp_path / "again" / "dataset.h5").stat().st_mtime_ns == before
    assert main(argv + ["--out", str(tmp_path / "again"), "--force"]) == 0  # replaces only a different one
    assert (tmp_path / "again" / "dataset.h5").stat().st_mtime_ns == before
    assert main(argv[:-1] + ["4", "--out", str(tmp_path / "again"), "--force"]) == 0
    assert Dataset(tmp_path / "again").sha256 == Dataset(tmp_path / "other").sha256


@pytest.mark.parametrize("damage", ["truncated", "windows.bed", "dataset.h5", "replaced"])
def test_damaged_data_set_is_rebuilt_not_reused(built, inputs, tmp_path, caplog, damage):
    """Same inputs and parameters, but a file of the data set is damaged or gone: prepare rebuilds it, so
    that the advice 'run peakcnn prepare again' of the commands that read it works."""
    out = tmp_path / "ds"
    shutil.copytree(built, out)
    if damage == "truncated":
        data = (out / "dataset.h5").read_bytes()
        (out / "dataset.h5").write_bytes(data[: len(data) // 2])
    elif damage == "replaced":  # a readable data set, but not the one the manifest records
        prepare_dataset(inputs["genome"], [inputs["a"]], tmp_path / "other", seed=3, progress=False)
        shutil.copy(tmp_path / "other" / "dataset.h5", out / "dataset.h5")
    else:
        (out / damage).unlink()
    argv = ["prepare", "--genome", str(inputs["genome"]), "--peaks", str(inputs["a"]), str(inputs["b"])]
    with caplog.at_level("WARNING"):
        assert main(argv + ["--seed", "3", "--out", str(out)]) == 0
    reason = {"truncated": "dataset.h5 is damaged", "replaced": "dataset.h5 is not the one its manifest records"}
    assert f"{out}: {reason.get(damage, damage + ' missing')}; rebuilding it" in caplog.text
    assert Dataset(out / "dataset.h5").sha256 == Dataset(built).sha256
    assert (out / "windows.bed").read_text() == (built / "windows.bed").read_text()
    # a file that is not the data set's own is not deleted by the rebuild
    (out / "windows.bed").unlink()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"incomplete \(windows.bed missing\) and rebuilding it replaces only"):
        prepare_dataset(inputs["genome"], [inputs["a"], inputs["b"]], out, seed=3, progress=False)
    assert (out / "notes.txt").read_text() == "mine"


def test_gc_matched_negatives_that_cannot_match_are_warned_about(built, tmp_path):
    """Peaks that are the GC-rich islands of a GC-poor genome leave no window of their GC outside them: the
    negatives' GC then separates the classes, which the statistics show and a warning says. On the mosaic genome the
    negatives match (GC alone is close to chance) and nothing is said."""
    rng = np.random.default_rng(0)
    records, peaks = {}, []
    for name in ("chr1", "chr2", "chr3"):
        parts = []
        for i in range(8):
            parts += [random_seq(rng, 3_850, gc=0.35), random_seq(rng, 300, gc=0.8), random_seq(rng, 3_850, gc=0.35)]
            peaks.append(f"{name}\t{8_000 * i + 3_850}\t{8_000 * i + 4_150}")
        records[name] = "".join(parts)
    write_fasta(tmp_path / "g.fa", records)
    (tmp_path / "p.bed").write_text("\n".join(peaks) + "\n")
    m = prepare_dataset(tmp_path / "g.fa", [tmp_path / "p.bed"], tmp_path / "ds", window=300, split="region",
                        block_size=8_000, progress=False)  # fmt: skip
    said = [w for w in m["warnings"] if w.startswith("GC-matched negatives do not match the peak windows' GC")]
    assert len(said) == 1 and said[0].endswith("consider --negatives shuffled")
    assert all(m["stats"]["gc_auroc"][name] > 0.9 for name in ("train", "valid", "test"))
    # train's 20 + 20 windows are told apart beyond chance; valid's 2 + 2 could be by chance, so it is not named
    assert m["stats"]["windows"]["valid"] == 4 and "with auROC: train 1.000, mean GC" in said[0]
    assert "valid" not in said[0]
    matched = json.loads((built / "manifest.json").read_text())
    assert all(abs(v - 0.5) < 0.1 for v in matched["stats"]["gc_auroc"].values())
    assert not any("GC-matched negatives do not match" in w for w in matched["warnings"])


@pytest.mark.parametrize("negatives", ["shuffled", "random", "none"])
def test_library_negative_kinds_and_region_split(inputs, tmp_path, negatives):
    m = prepare_dataset(
        inputs["genome"],
        [inputs["a"], inputs["b"]],
        tmp_path / "ds",
        negatives=negatives,
        split="region",
        block_size=10_000,
        window=500,
        neg_ratio=2.0,
        progress=False,
    )
    arrays, ds = _load(tmp_path / "ds")
    assert ds.window == 500 and m["report"]["split_layout"]["mode"] == "region"
    n_pos, n_neg = (arrays["source"] == 0).sum(), (arrays["source"] == 1).sum()
    assert n_neg == (0 if negatives == "none" else 2 * n_pos)
    ignored = "--neg-ratio 2 is ignored: --negatives none draws no negatives"
    assert (ignored in m["warnings"]) == (negatives == "none")  # said, not dropped silently
    assert _overlaps_across_splits(arrays["chrom"], arrays["start"], arrays["split"], 500) == 0
    # blocks of different splits alternate along each chromosome, so the check above has neighbours to compare
    assert all(len(set(arrays["split"][arrays["chrom"] == c].tolist())) > 1 for c in range(len(ds.chroms)))
    _, rows = read_windows_bed(tmp_path / "ds" / "windows.bed")
    prefix = {"shuffled": "shuf", "random": "neg"}.get(negatives)
    assert [r[3].rstrip("0123456789") for r in rows] == ["peak" if s == 0 else prefix for s in arrays["source"]]
    if negatives == "shuffled":  # a shuffle sits at the coordinates of the positive it came from
        peaks = {(r[0], r[1], r[2]) for r in rows if r[3].startswith("peak")}
        assert all((r[0], r[1], r[2]) in peaks for r in rows if r[3].startswith("shuf"))
    if negatives == "none":  # multi-task: windows of one task are negatives of the other
        assert (arrays["labels"][:, 1] == 0).any()
        assert (arrays["labels"][:, 0] == 1).all()  # b's peaks are a subset of a's: a has no negatives
        assert any("task a has no negative windows" in w for w in m["warnings"])


def test_explicit_holdout_chromosomes(inputs, tmp_path):
    m = prepare_dataset(
        inputs["genome"],
        inputs["a"],
        tmp_path / "ds",
        valid_chroms=["2"],
        test_chroms=["chr3"],
        progress=False,
    )
    arrays, ds = _load(tmp_path / "ds")
    assert m["report"]["split_layout"]["valid_chroms"] == ["chr2"]
    assert m["report"]["split_layout"]["test_chroms"] == ["chr3"]
    chroms_of = [{ds.chroms[c] for c in arrays["chrom"][arrays["split"] == k]} for k in range(3)]
    assert chroms_of[1] == {"chr2"} and chroms_of[2] == {"chr3"}
    assert chroms_of[0] == {"chr1", "chr4"}  # train: everything else, neither held-out chromosome
    with pytest.raises(InputError, match=r"held-out chromosome 'chr9' is not a chromosome of genome genome.fa; choose"):
        prepare_dataset(inputs["genome"], inputs["a"], tmp_path / "ds2", test_chroms=["chr9"], progress=False)


@pytest.mark.parametrize("given", ["valid", "test"])
def test_one_holdout_list_gets_the_other_split_chosen_among_the_rest(inputs, tmp_path, given):
    m = prepare_dataset(inputs["genome"], inputs["a"], tmp_path / "ds", **{f"{given}_chroms": ["chr3"]}, progress=False)
    arrays, ds = _load(tmp_path / "ds")
    chroms_of = [{ds.chroms[c] for c in arrays["chrom"][arrays["split"] == k]} for k in range(3)]
    mine, other = (1, 2) if given == "valid" else (2, 1)
    assert chroms_of[mine] == {"chr3"}
    assert len(chroms_of[other]) == 1 and "chr3" not in chroms_of[other]  # one chromosome, never empty
    assert chroms_of[0] == {"chr1", "chr2", "chr4"} - chroms_of[other]
    layout, chosen = m["report"]["split_layout"], "test" if given == "valid" else "valid"
    assert layout[f"{given}_chroms"] == ["chr3"] and layout[f"{chosen}_chroms"] == sorted(chroms_of[other])
    with pytest.raises(InputError, match="no chromosome with peaks is left"):
        prepare_dataset(inputs["genome"], inputs["a"], tmp_path / "ds2", valid_chroms=["1", "2", "3"], progress=False)


def test_block_size_means_a_region_split(inputs, tmp_path, capsys):
    """--block-size under auto splits by regions, even on the four chromosomes that auto alone holds out
    whole; with --split chrom or held-out chromosome lists it is an error, not an option left unused."""
    m = prepare_dataset(inputs["genome"], inputs["a"], tmp_path / "ds", block_size=20_000, progress=False)
    assert m["report"]["split_layout"]["mode"] == "region"
    assert m["report"]["split_layout"]["block_size"] == 20_000
    auto = prepare_dataset(inputs["genome"], inputs["a"], tmp_path / "auto", progress=False)
    assert auto["report"]["split_layout"]["mode"] == "chrom"
    argv = ["prepare", "--genome", str(inputs["genome"]), "--peaks", str(inputs["a"]), "--block-size", "20000"]
    for extra, message in (
        (["--split", "chrom"], "--block-size needs --split region (or auto); --split chrom holds out whole"),
        (["--valid-chroms", "2"], "--valid-chroms/--test-chroms hold out whole chromosomes: pass one or the other"),
    ):
        assert main([*argv, *extra, "--out", str(tmp_path / "bad")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
        assert not (tmp_path / "bad").exists()


def _bad_case(tmp_path, inputs, case):
    genome, peaks = str(inputs["genome"]), tmp_path / "p.bed"
    texts = {
        "empty peaks": "",
        "fasta as peaks": ">chr1\nACGT\n",
        "vcf as peaks": "##fileformat=VCFv4.2\n",
        "non-integer": "1\t10\tx\n",
        "negative": "1\t-10\t20\n",
        "start >= end": "1\t50\t20\n",
        "unmatched names": "chrZ\t10\t20\nscaffold_9\t5\t9\n",
        "every peak past its chromosome": "1\t300000\t300500\n2\t400000\t400100\n",
    }
    if case in texts:
        peaks.write_text(texts[case])
    elif case == "binary peaks":
        peaks.write_bytes(bytes(range(256)))
    else:
        peaks = inputs["a"]
    if case == "missing genome":
        genome = str(tmp_path / "nope.fa")
    elif case == "no header genome":
        genome = str(tmp_path / "g.fa")
        (tmp_path / "g.fa").write_text("ACGTACGT\n")
    elif case == "empty sequence genome":
        genome = str(write_fasta(tmp_path / "g.fa", {"chr1": "ACGT" * 50, "chr2": ""}))
    return ["prepare", "--genome", genome, "--peaks", str(peaks), "--out", str(tmp_path / "out")]


BAD_CASES = [
    "empty peaks",
    "fasta as peaks",
    "vcf as peaks",
    "binary peaks",
    "non-integer",
    "negative",
    "start >= end",
    "unmatched names",
    "every peak past its chromosome",
    "missing genome",
    "no header genome",
    "empty sequence genome",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, inputs, capsys, case):
    argv = _bad_case(tmp_path, inputs, case)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("peakcnn: error: "), err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


@pytest.mark.parametrize(
    "option, value",
    [("--window", v) for v in ("0", "-5", "abc", "1.5")]
    + [("--seed", "-1")]
    + [("--neg-ratio", v) for v in ("0", "-1", "inf", "nan", "x")],
)
def test_window_positive_and_seed_non_negative(tmp_path, inputs, capsys, option, value):
    argv = _bad_case(tmp_path, inputs, "ok") + [option, value]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"peakcnn: error: argument {option}: {value!r} "), err
    assert err[0].endswith("see 'peakcnn prepare --help'")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("window", [1, 2, 26])
def test_window_no_network_can_take_is_refused_before_reading(tmp_path, inputs, capsys, window):
    argv = _bad_case(tmp_path, inputs, "ok") + ["--window", str(window)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"peakcnn: error: window {window} bp: no --arch of 'peakcnn train' takes a window shorter than 27 bp; "
        "give the window length in bases, such as 800"
    ]
    assert not (tmp_path / "out").exists()


def test_shortest_window_is_the_shortest_a_preset_builds_on(tmp_path, inputs):
    from peakcnn.modelconfig import PRESETS, preset_config, shortest_window

    assert shortest_window() == 27
    assert any(preset_config(name, 27, 1).trunk_length() == 1 for name in PRESETS)
    for name in PRESETS:
        with pytest.raises(InputError, match="too short for its pooling layers"):
            preset_config(name, 26, 1)
        shortest = shortest_window(name)
        assert preset_config(name, shortest, 1).trunk_length() == 1
        with pytest.raises(InputError, match=rf"^--arch {name}: a {shortest - 1} bp window .* at least {shortest} bp"):
            preset_config(name, shortest - 1, 1)
    # the message names the presets that do take the window
    with pytest.raises(
        InputError, match=r"longer --window, or choose an --arch that takes it: founding, basset, dilated$"
    ):
        preset_config("small", 63, 1)
    with pytest.raises(InputError, match=r"longer --window, or choose an --arch that takes it: founding, dilated$"):
        preset_config("basset", 47, 1)
    m = prepare_dataset(inputs["genome"], [inputs["a"]], tmp_path / "out", window=27, progress=False)
    assert m["params"]["window"] == 27


@pytest.mark.parametrize(
    "window, option, message",
    [
        (300, {"label_distance": 400}, "label-distance 400 is too wide for a 300 bp window"),
        (400, {"label_distance": 201, "merge_distance": 399}, "merge-distance 399 is too wide for a 400 bp window"),
        (401, {"label_distance": 402}, "use at most 401"),
    ],
)
def test_label_and_merge_distance_must_keep_peaks_inside_the_window(tmp_path, inputs, window, option, message):
    with pytest.raises(InputError, match=message):
        prepare_dataset(inputs["genome"], [inputs["a"]], tmp_path / "out", window=window, **option, progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("window, label, merge", [(800, 200, 200), (200, 199, 198), (151, 151, 150)])
def test_default_label_and_merge_distance_fit_the_window(tmp_path, inputs, window, label, merge):
    m = prepare_dataset(inputs["genome"], [inputs["a"]], tmp_path / "out", window=window, progress=False)
    assert (m["params"]["label_distance"], m["params"]["merge_distance"]) == (label, merge)


def test_a_failed_write_exits_1_and_leaves_nothing(tmp_path, inputs, capsys, monkeypatch):
    import peakcnn.data.prepare

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(peakcnn.data.prepare, "write_dataset", full_disk)
    assert main(_bad_case(tmp_path, inputs, "ok")) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (
        f"peakcnn: error: {tmp_path / 'out'}: cannot write the data set (No space left on device); "
        "free space or choose another --out"
    )
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))

    def denied(*args, **kwargs):  # the path, not the disk: bad input
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(peakcnn.data.prepare, "write_dataset", denied)
    assert main(_bad_case(tmp_path, inputs, "ok")) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("(Permission denied); choose a writable --out")


def test_library_rejects_negative_seed(tmp_path, inputs):
    with pytest.raises(InputError, match="seed must be >= 0"):
        prepare_dataset(inputs["genome"], [inputs["a"]], tmp_path / "out", seed=-1, progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("ratio", [0.0, float("inf"), float("nan")])
def test_library_rejects_a_negative_ratio_that_is_not_a_finite_positive_number(tmp_path, inputs, ratio):
    with pytest.raises(InputError, match="neg-ratio must be a finite number > 0"):
        prepare_dataset(inputs["genome"], [inputs["a"]], tmp_path / "out", neg_ratio=ratio, progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "option, accepted, refused, rule",
    [
        ("--window", "1", "0", "must be a positive integer"),
        ("--seed", "0", "-1", "must be >= 0"),
        ("--merge-distance", "0", "-1", "must be >= 0"),
        ("--max-n-frac", "1", "1.01", "must lie between 0 and 1"),
        ("--max-n-frac", "0", "-0.01", "must lie between 0 and 1"),
        ("--neg-ratio", "1e300", "inf", "must be a finite number > 0"),
        ("--neg-ratio", "1e-300", "0", "must be a finite number > 0"),
    ],
)
def test_number_options_are_refused_past_their_bounds_only(option, accepted, refused, rule, capsys):
    """The bound itself (or the nearest value inside it) is accepted; the value past it is one usage line."""
    from peakcnn.cli import build_parser

    base = ["prepare", "--genome", "g.fa", "--peaks", "p.bed", "--out", "out"]
    args = build_parser().parse_args([*base, option, accepted])
    assert getattr(args, option[2:].replace("-", "_")) == float(accepted)
    assert main([*base, option, refused]) == 2
    assert capsys.readouterr().err == (
        f"peakcnn: error: argument {option}: '{refused}' {rule}; see 'peakcnn prepare --help'\n"
    )


def test_refuses_different_data_set_and_foreign_folder(tmp_path, inputs, capsys):
    argv = _bad_case(tmp_path, inputs, "ok")
    assert main(argv) == 0
    sha = Dataset(tmp_path / "out").sha256
    capsys.readouterr()
    assert main(argv + ["--window", "600"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--force" in err
    assert Dataset(tmp_path / "out").sha256 == sha
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(argv[:-1] + [str(foreign), "--force"]) == 2
    assert (foreign / "notes.txt").read_text() == "mine"
    (foreign / "manifest.json").write_text("[]")  # valid JSON, not a manifest
    capsys.readouterr()
    assert main(argv[:-1] + [str(foreign)]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"peakcnn: error: {foreign}: folder exists and is not a peakcnn data set; choose another --out"
    )
    # a folder holding only another tool's manifest.json (a JSON object, no peakcnn format) is not replaced
    other = tmp_path / "other_tool"
    other.mkdir()
    (other / "manifest.json").write_text('{"tool": "something else", "files": []}')
    assert main(argv[:-1] + [str(other), "--force"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"peakcnn: error: {other}: folder exists and is not a peakcnn data set; choose another --out"
    )
    assert [p.name for p in other.iterdir()] == ["manifest.json"]
    assert json.loads((other / "manifest.json").read_text())["tool"] == "something else"


def test_force_replaces_only_a_data_sets_own_files(tmp_path, inputs, capsys):
    argv = _bad_case(tmp_path, inputs, "ok")
    out = tmp_path / "out"
    assert main(argv) == 0
    (out / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(argv + ["--window", "600", "--force"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"peakcnn: error: {out}: holds files that are not part of a data set (notes.txt); --force replaces only "
        "a data set's own files: move them out or choose another --out"
    )
    assert (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "manifest.json").read_text())["params"]["window"] == 800
    for more, shown in ((["a.txt", "b.txt"], "a.txt, b.txt, notes.txt"), (["c.txt"], "a.txt, b.txt, c.txt and 1 more")):
        for name in more:
            (out / name).write_text("mine")
        assert main(argv + ["--window", "600", "--force"]) == 2
        assert f"holds files that are not part of a data set ({shown}); --force" in capsys.readouterr().err
    for name in ("a.txt", "b.txt", "c.txt", "notes.txt"):
        (out / name).unlink()
    assert main(argv + ["--window", "600", "--force"]) == 0
    assert json.loads((out / "manifest.json").read_text())["params"]["window"] == 600


@pytest.mark.parametrize("which", ["genome", "peaks", "a data set file as peaks", "exclude", "alias"])
def test_an_input_inside_out_is_refused_and_kept(tmp_path, inputs, capsys, which):
    out = tmp_path / "out"
    assert main(_bad_case(tmp_path, inputs, "ok")) == 0
    genome, peaks, extra = Path(inputs["genome"]), Path(inputs["a"]), []
    inside = out / "inside.txt"
    if which == "genome":
        genome = inside = out / genome.name
        shutil.copy(inputs["genome"], genome)
    elif which == "peaks":
        peaks = inside = out / peaks.name
        shutil.copy(inputs["a"], peaks)
    elif which == "exclude":
        inside.write_text("1\t10\t20\n")
        extra = ["--exclude", str(inside)]
    elif which == "alias":
        inside.write_text("chr1\t1\n")
        extra = ["--chrom-alias", str(inside)]
    else:
        peaks = inside = out / "windows.bed"
    kept = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    argv = ["prepare", "--genome", str(genome), "--peaks", str(peaks), "--out", str(out), "--force", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"peakcnn: error: {inside}: input file is inside --out {out}, which prepare replaces; move it out or choose "
        "another --out"
    )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == kept


def test_a_path_through_out_and_back_is_outside_it_and_a_copy_is_named_where_it_is(
    tmp_path, inputs, capsys, monkeypatch
):
    """``out/../genome.fa`` was refused as an input inside ``out``; a copied data set, reused, was printed
    under the name of the folder it was copied from."""
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(inputs["genome"], tmp_path / "genome.fa")
    argv = ["prepare", "--genome", str(out / ".." / "genome.fa"), "--peaks", str(inputs["a"])]
    assert main([*argv, "--out", str(out)]) == 0
    shutil.copytree(out, tmp_path / "copy")
    capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "copy")]) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith(f"data set: {tmp_path / 'copy'} (")
    monkeypatch.chdir(out)  # ../genome.fa from inside --out . is outside it; --out . is the current folder
    argv = ["prepare", "--genome", "../genome.fa", "--peaks", str(inputs["a"]), "--seed", "2", "--force"]
    assert main([*argv, "--out", "."]) == 2
    assert "error: .: is the current folder or holds it" in capsys.readouterr().err


@pytest.mark.parametrize(
    "names, message",
    [
        (["a b", "c"], "task name 'a b' is empty or holds whitespace; pass distinct --names without spaces"),
        (["x", "x"], "task name 'x' is used twice; pass distinct --names without spaces"),
        (["x"], "1 task names for 2 peak files; give one --names entry per file"),
        (["x", "name"], "task name 'name' is also the name of a column of predict's tables; name the task otherwise"),
    ],
)
def test_task_names_that_cannot_head_an_output_column_are_refused(tmp_path, inputs, capsys, names, message):
    argv = ["prepare", "--genome", str(inputs["genome"]), "--peaks", str(inputs["a"]), str(inputs["a"])]
    assert main([*argv, "--names", *names, "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith(f"peakcnn: error: {message}")
    assert not (tmp_path / "out").exists()


def test_real_atac_on_tair10_chr1(tmp_path):
    from peakcnn.data.default import tair10_chr1_fasta

    if not ATAC1.exists():
        pytest.skip(f"shared data not found at {SHARED}")
    try:
        genome = tair10_chr1_fasta()
    except InputError as e:
        pytest.skip(str(e))
    m = prepare_dataset(genome, ATAC1, tmp_path / "atac", progress=False)
    dropped = m["report"]["peaks_dropped"]["GSM3484757_Root_ATAC_1_peaks"]["chromosome not in genome"]
    assert set(dropped) == {"2", "3", "4", "5"} and m["report"]["split_layout"]["mode"] == "region"
    arrays, _ = _load(tmp_path / "atac")
    assert _overlaps_across_splits(arrays["chrom"], arrays["start"], arrays["split"], 800) == 0
    for k in ("train", "valid", "test"):
        pos, negs = m["stats"]["classes"]["positive"][k], m["stats"]["classes"]["negative"][k]
        assert pos["windows"] == negs["windows"] > 300
        assert abs(pos["gc_mean"] - negs["gc_mean"]) < 0.01


def _overlapping(arrays, chroms, regions) -> int:
    """Negative windows overlapping any ``(chrom, start, end)`` of ``regions``."""
    n = 0
    for c, s, src in zip(arrays["chrom"], arrays["start"], arrays["source"], strict=True):
        if src == 1:
            n += any(rc == chroms[c] and rs < s + 800 and re > s for rc, rs, re in regions)
    return n


def test_exclude_keeps_negatives_off_other_regions(inputs, tmp_path):
    rng = np.random.default_rng(1)
    regions = [
        (name, int(s), int(s) + 3000)
        for name in ("chr1", "chr2")
        for s in rng.choice(np.arange(0, inputs["lengths"][name] - 3000, 3000), size=15, replace=False)
    ]
    lines = [f"Chr{name[3:]}\t{s}\t{e}" for name, s, e in regions] + ["chrZ\t10\t20"]  # aliases, one unknown
    exclude = tmp_path / "accessible_elsewhere.bed"
    exclude.write_text("\n".join(lines) + "\n")
    common = dict(negatives="gc-matched", neg_ratio=2.0, seed=3, progress=False)
    prepare_dataset(inputs["genome"], [inputs["a"]], tmp_path / "plain", **common)
    m = prepare_dataset(inputs["genome"], [inputs["a"]], tmp_path / "clean", exclude=[exclude], **common)
    plain, ds_plain = _load(tmp_path / "plain")
    clean, ds = _load(tmp_path / "clean")
    assert _overlapping(plain, ds_plain.chroms, regions) > 0  # the regions do attract negatives otherwise
    assert _overlapping(clean, ds.chroms, regions) == 0
    assert (clean["source"] == 1).sum() == 2 * (clean["source"] == 0).sum()
    assert ds.attrs["negatives"] == "gc-matched, also outside the regions of accessible_elsewhere"
    assert m["inputs"]["exclude"][0]["sha256"] and list(m["report"]["exclude_intervals"].values()) == [30]
    assert any("(--exclude): 1 regions on 1 chromosome(s)" in w and "chrZ (1)" in w for w in m["warnings"])
    assert ds_plain.attrs["negatives"] == "gc-matched"


@pytest.mark.parametrize(
    "text, extra, message",
    [
        ("chrZ\t10\t20\n", [], "x.bed (--exclude): no chromosome name matches genome"),
        ("1\t10\t20\n", ["--negatives", "shuffled"], "--exclude applies to genomic negatives"),
        ("1\t20\t10\n", [], "x.bed"),
    ],
)
def test_bad_exclude_files(tmp_path, inputs, capsys, text, extra, message):
    (tmp_path / "x.bed").write_text(text)
    argv = _bad_case(tmp_path, inputs, "ok") + ["--exclude", str(tmp_path / "x.bed")] + extra
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("peakcnn: error: ") and message in err, err
    assert not (tmp_path / "out").exists()


def test_peak_past_chromosome_end_is_centred_on_what_exists(tmp_path):
    rng = np.random.default_rng(0)
    genome = write_fasta(tmp_path / "g.fa", {"chr1": "".join(rng.choice(list("ACGT"), 100_000))})
    peaks = tmp_path / "p.bed"
    peaks.write_text("".join(f"chr1\t{s}\t{s + 300}\n" for s in range(5_000, 90_000, 5_000)) + "chr1\t99000\t102000\n")
    assert main(["prepare", "--genome", str(genome), "--peaks", str(peaks), "--window", "400",
                 "--out", str(tmp_path / "ds")]) == 0  # fmt: skip
    _, rows = read_windows_bed(tmp_path / "ds" / "windows.bed")
    positive = {int(r[1]) for r in rows if r[-1] == "1"}
    assert 99_500 - 200 in positive  # the middle of 99000-100000, not of 99000-102000 (past the end)
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["report"]["peaks_clipped_at_chromosome_end"]["p"] == 1


def test_every_merged_peak_labels_its_window(tmp_path):
    rng = np.random.default_rng(1)
    genome = write_fasta(tmp_path / "g.fa", {"chr1": "".join(rng.choice(list("ACGT"), 100_000))})
    others = range(20_000, 95_000, 5_000)
    (tmp_path / "a.bed").write_text("chr1\t9999\t10001\n" + "".join(f"chr1\t{s}\t{s + 2}\n" for s in others))
    (tmp_path / "b.bed").write_text("chr1\t10200\t10202\n" + "".join(f"chr1\t{s + 9}\t{s + 11}\n" for s in others))
    # Midpoints 10000 and 10201 merge into one window centred on 10100, 101 bp from b's peak: more than
    # --label-distance 201 // 2, yet b's peak is in the window and labels it.
    assert main(["prepare", "--genome", str(genome), "--peaks", str(tmp_path / "a.bed"), str(tmp_path / "b.bed"),
                 "--window", "400", "--label-distance", "201", "--out", str(tmp_path / "ds")]) == 0  # fmt: skip
    header, rows = read_windows_bed(tmp_path / "ds" / "windows.bed")
    labels = {int(r[1]): (r[-2], r[-1]) for r in rows}
    assert header[-2:] == ["a", "b"] and labels[10_100 - 200] == ("1", "1")
    with Dataset(tmp_path / "ds") as ds:
        source, y = ds.read("source"), ds.read("labels")
    assert (y[source == 0].max(axis=1) == 1).all()  # no peak window without a positive label


@pytest.mark.parametrize("center", ["summit", "midpoint"])
def test_narrowpeak_window_is_centred_on_the_summit(tmp_path, center):
    rng = np.random.default_rng(2)
    seq = "".join(rng.choice(list("ACGT"), 100_000))
    genome = write_fasta(tmp_path / "g.fa", {"chr1": seq})
    # Peak start -> summit offset (-1: none). Besides 5000-5300, peaks sit mid-block (the region split cuts
    # chr1 into 4 kb blocks) with offsets other than the midpoint's 150; two run off the chromosome's ends.
    offsets = {5_000: 40} | {4_000 * k + 1_850: 7 + 12 * k for k in range(2, 24)} | {61_850: -1}
    ends = {0: (300, 10), 99_800: (100_000, 190)}  # centres 10 and 99990 (summit), 150 and 99900 (midpoint)
    lines = [f"chr1\t{s}\t{s + 300}\t.\t0\t.\t0\t0\t0\t{o}\n" for s, o in offsets.items()]
    lines += [f"chr1\t{s}\t{e}\t.\t0\t.\t0\t0\t0\t{o}\n" for s, (e, o) in ends.items()]
    (tmp_path / "p.narrowPeak").write_text("".join(lines))
    argv = ["prepare", "--genome", str(genome), "--peaks", str(tmp_path / "p.narrowPeak"), "--window", "400"]
    argv += ["--max-n-frac", "0.5", "--center", center, "--out", str(tmp_path / "ds")]
    assert main(argv) == 0
    arrays, ds = _load(tmp_path / "ds")
    positive = arrays["start"][arrays["source"] == 0].tolist()
    summit = center == "summit"
    centres = [s + (o if summit and o >= 0 else 150) for s, o in offsets.items()]
    centres += [s + (o if summit else (e - s) // 2) for s, (e, o) in ends.items()]
    assert sorted(positive) == sorted(c - 200 for c in centres)  # every peak kept, each on its own centre
    assert (4_840 if summit else 4_950) in positive  # summit 5040 - 200, or midpoint 5150 - 200
    assert 61_800 in positive  # no summit: the midpoint, whatever --center
    assert set(arrays["split"].tolist()) == {0, 1, 2}
    for c in centres:  # each positive window holds the genome around its centre, N past the ends
        (row,) = np.flatnonzero((arrays["source"] == 0) & (arrays["start"] == c - 200))
        want = ("N" * 400 + seq + "N" * 400)[c - 200 + 400 : c + 200 + 400]
        assert "".join("ACGTN"[b] for b in arrays["seqs"][row]) == want
    # windows.bed shows the same windows, clipped to chr1 (summits: -190 -> 0, 100190 -> 100000)
    assert _check_windows_bed(tmp_path / "ds", {"chr1": 100_000}) >= 2
    _, rows = read_windows_bed(tmp_path / "ds" / "windows.bed")
    assert {(int(r[1]), int(r[2])) for r in rows if r[-1] == "1"} >= (
        {(0, 210), (99_790, 100_000)} if summit else {(0, 350), (99_700, 100_000)}
    )


def test_no_window_left_says_which_windows_were_dropped_and_why(tmp_path, capsys):
    genome = write_fasta(tmp_path / "g.fa", {"chr1": "N" * 3000, "chr2": random_seq(np.random.default_rng(0), 3000)})
    (tmp_path / "p.bed").write_text("chr1\t1000\t1200\nchr1\t2000\t2200\nchr3\t10\t20\n")
    argv = ["prepare", "--genome", str(genome), "--peaks", str(tmp_path / "p.bed"), "--window", "400"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (
        "peakcnn: error: no peak window is left (3 peaks read; peaks dropped: chromosome not in genome: 1; "
        "windows dropped: N fraction above max_n_frac: 2); are the peak files for this genome?"
    )
    assert not (tmp_path / "out").exists()
    # a window as long as the longest chromosome fits it: the windows were dropped, which is what is said
    assert main([*argv[:-1], "3000", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("peakcnn: error: no peak window is left (")
    assert not (tmp_path / "out").exists()
    # every chromosome shorter than the window: said as such
    assert main([*argv[:-1], "4000", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"peakcnn: error: {genome}: every chromosome is shorter than the window (longest 3,000 bp, --window 4,000), "
        "so no window fits; choose a smaller --window"
    )
    assert not (tmp_path / "out").exists()


def test_genomic_negatives_that_come_to_none_say_what_to_change(inputs, tmp_path):
    m = prepare_dataset(inputs["genome"], [inputs["a"]], tmp_path / "ds", neg_ratio=1e-9, progress=False)
    assert (
        "task a has no negative windows: no gc-matched negative was found; raise --neg-ratio (1e-09) or leave "
        "more of the genome outside --exclude"
    ) in m["warnings"]
    # a genome with no room left for negatives: more of them would not fit either, so no --neg-ratio advice
    everything = tmp_path / "all.bed"
    everything.write_text("".join(f"{c}\t0\t300000\n" for c in ("1", "2", "3", "4")))
    m = prepare_dataset(inputs["genome"], [inputs["a"]], tmp_path / "ds2", exclude=[everything], progress=False)
    assert (
        "task a has no negative windows: the genome has no room for a gc-matched negative outside the peaks, "
        "the data set's windows and --exclude; use --negatives shuffled, a smaller --window or fewer --exclude "
        "regions"
    ) in m["warnings"], m["warnings"]
    positives = m["stats"]["classes"]["positive"]
    assert m["report"]["negatives_not_found"] == sum(positives[k]["windows"] for k in ("train", "valid", "test"))
    assert m["report"]["negatives_refused_for_n"] == 0


def test_negatives_refused_for_their_n_content_name_max_n_frac(tmp_path):
    """A genome that is N outside its peaks has free windows, all refused by the N filter: the warning
    names --max-n-frac, which finds them when raised, not a lack of room."""
    rng = np.random.default_rng(1)
    records, lines = {}, []
    for c in ("chr1", "chr2", "chr3", "chr4"):
        seq = np.array(list("N" * 40_000))
        for k in range(8):
            start = 2_000 + k * 4_500
            seq[start : start + 200] = list(random_seq(rng, 200))  # the peak's window: every other window is N
            lines.append(f"{c}\t{start + 50}\t{start + 150}\n")
        records[c] = "".join(seq)
    genome = write_fasta(tmp_path / "g.fa", records)
    (tmp_path / "p.bed").write_text("".join(lines))
    common = dict(window=200, split="region", progress=False)
    m = prepare_dataset(genome, [tmp_path / "p.bed"], tmp_path / "ds", **common)
    refused = m["report"]["negatives_refused_for_n"]
    positives = sum(m["stats"]["classes"]["positive"][k]["windows"] for k in ("train", "valid", "test"))
    assert refused > 0 and m["report"]["negatives_not_found"] == positives > 20
    assert (
        f"task p has no negative windows: the {refused:,} free windows found hold more N than --max-n-frac (0.1) "
        "allows; raise --max-n-frac or use --negatives shuffled"
    ) in m["warnings"], m["warnings"]
    assert any("more refused for N above --max-n-frac 0.1" in w for w in m["warnings"])
    m = prepare_dataset(genome, [tmp_path / "p.bed"], tmp_path / "ds1", max_n_frac=1.0, **common)
    assert m["report"]["negatives_not_found"] == 0 and not any("no negative" in w for w in m["warnings"])


def test_a_different_data_set_written_meanwhile_is_not_replaced_without_force(inputs, tmp_path, monkeypatch):
    import shutil

    import peakcnn.data.prepare

    common = dict(window=400, progress=False)
    prepare_dataset(inputs["genome"], [inputs["a"]], tmp_path / "other", seed=1, **common)
    real = peakcnn.data.prepare.write_dataset

    def another_command_finishes_first(table, path):
        if not (tmp_path / "out").exists():
            shutil.copytree(tmp_path / "other", tmp_path / "out")
        return real(table, path)

    monkeypatch.setattr(peakcnn.data.prepare, "write_dataset", another_command_finishes_first)
    with pytest.raises(InputError, match=r"holds a different data set .*\(it was written there by another command"):
        prepare_dataset(inputs["genome"], [inputs["a"]], tmp_path / "out", seed=2, **common)
    assert (tmp_path / "out" / "manifest.json").read_bytes() == (tmp_path / "other" / "manifest.json").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "out"]  # no temporary folder left
    m = prepare_dataset(inputs["genome"], [inputs["a"]], tmp_path / "out", seed=2, force=True, **common)
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["fingerprint"] == m["fingerprint"]


def test_a_data_set_write_that_fails_midway_is_one_line_and_leaves_nothing(inputs, tmp_path):
    """A write failing midway (here: a file size limit, as a full disk would) ends in one line and exit 1,
    not in HDF5 tracebacks and a crash, and leaves no output folder."""
    import resource
    import signal
    import subprocess
    import sys

    from peakcnn.io.fasta import Genome

    Genome(inputs["genome"])  # its .fai index exists before the limit applies

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))

    out = tmp_path / "out" / "ds"
    argv = ["prepare", "--genome", str(inputs["genome"]), "--peaks", str(inputs["a"]), "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "peakcnn", "-q", *argv], capture_output=True, text=True, preexec_fn=limit, timeout=300
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"peakcnn: error: {out}: cannot write the data set (File too large); free space or choose another --out"
    ]
    assert not out.exists() and list((tmp_path / "out").iterdir()) == []


def test_chromosome_descriptions_travel_from_the_genome_to_the_model(inputs, tmp_path):
    """The FASTA description of each chromosome is kept in the data set and in a model trained on it, so
    that a genome naming the same chromosomes otherwise is recognised (see test_predict)."""
    import json as _json

    from peakcnn.train import train

    records = {f"NC_00000{i}.1": seq for i, seq in enumerate(inputs["records"].values(), start=1)}
    descriptions = {name: f"Testus chromosome {i}" for i, name in enumerate(records, start=1)}
    genome = write_fasta(tmp_path / "acc.fa", records, descriptions=descriptions)
    prepare_dataset(genome, [inputs["a"]], tmp_path / "ds", progress=False)
    with Dataset(tmp_path / "ds") as ds:
        assert ds.chrom_descriptions == {c: descriptions[c] for c in ds.chroms} and len(ds.chroms) == 4
    train(tmp_path / "ds", tmp_path / "run", {"arch": "small", "epochs": 1, "batch_size": 64}, progress=False)
    meta = _json.loads((tmp_path / "run" / "model.json").read_text())
    assert meta["genome_chrom_descriptions"] == {c: descriptions[c] for c in meta["genome_chroms"]}


def test_other_libraries_info_logs_stay_off_stderr(inputs, tmp_path):
    """peakcnn's own INFO lines reach standard error (and -q hides them); another library's INFO records do
    not: torch logs cache statistics at INFO when it exits, which showed after a Ctrl-C during its import."""
    import subprocess
    import sys

    script = (
        "import atexit, logging, sys\n"
        "from peakcnn.cli import main\n"
        "atexit.register(lambda: logging.getLogger('somelib').info('third-party chatter'))\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    argv = ["prepare", "--genome", str(inputs["genome"]), "--peaks", str(inputs["a"]), "--out", str(tmp_path / "ds")]

    def run(*flags, after=()):
        done = subprocess.run(
            [sys.executable, "-c", script, *flags, *argv, *after], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        return done.stderr

    run()
    again = run()  # the same inputs: the data set is reused, which peakcnn says at INFO
    assert "data set is up to date" in again and "third-party chatter" not in again
    assert "data set is up to date" not in run("-q")
    assert "data set is up to date" not in run(after=["-q"])  # after the command name, too


def test_overlapping_matches_chromosomes_across_naming_styles():
    """Windows of one genome written as ``Chr1`` in one data set and ``1`` in another are compared; a key that
    two chromosomes share, and a chromosome the other data set lacks, match nothing."""
    from peakcnn.data.split import overlapping

    names = ["Chr1", "Chr2", "Chr3", "NC_003070.9"]
    other = (["1", "chr2", "Chr02", "NC_003070.9"], np.array([0, 1, 2, 3]), np.array([950, 0, 0, 0]), 100)
    hits = overlapping(names, np.array([0, 1, 3]), np.array([0, 0, 5000]), 100, other)
    assert hits.tolist() == [False, False, False]  # 0-100 misses 950-1050; Chr2's key "2" is ambiguous there
    hits = overlapping(names, np.array([0, 0, 3]), np.array([900, 1000, 0]), 100, other)
    assert hits.tolist() == [True, True, True]
    hits = overlapping(["chr2", "Chr3"], np.array([0, 1]), np.array([0, 0]), 100, other)
    assert hits.tolist() == [True, False]  # the exact name wins over the ambiguous key


def _acgt_genome_with_n_tails(tmp_path, chroms=("chr1", "chr2", "chr3", "chr4")):
    """Chromosomes of 60 kb of random bases then 20 kb of N, 4 peaks each in the bases (one summit on base 0)."""
    rng = np.random.default_rng(2)
    records = {c: random_seq(rng, 60_000) + "N" * 20_000 for c in chroms}
    lines = [
        f"{c}\t{2_000 + 12_000 * k}\t{2_100 + 12_000 * k}\tp\t1\t.\t1\t1\t1\t50\n" for c in chroms for k in range(4)
    ]
    lines.append(f"{chroms[0]}\t0\t100\tp\t1\t.\t1\t1\t1\t0\n")  # a summit on the chromosome's first base
    (tmp_path / "p.narrowPeak").write_text("".join(lines))
    return write_fasta(tmp_path / "g.fa", records), tmp_path / "p.narrowPeak"


def test_max_n_frac_is_an_upper_bound_and_n_refusals_count_only_when_short(tmp_path):
    """``--max-n-frac 0`` keeps every window without N (the limit is inclusive): only the window centred
    on base 0, half N, is dropped. Free windows in the N tails are refused by the N filter, but the splits
    do not fall short, so no refusal is reported; the summit on base 0 counts as a summit."""
    genome, peaks = _acgt_genome_with_n_tails(tmp_path)
    m = prepare_dataset(genome, [peaks], tmp_path / "ds", window=200, split="region", max_n_frac=0.0, progress=False)
    report = m["report"]
    assert report["windows_dropped"]["N fraction above max_n_frac"] == 1
    assert report["peaks_kept_centred_on_summit"] == {"p": 17}
    assert report["negatives_not_found"] == 0 and report["negatives_refused_for_n"] == 0
    positives = sum(m["stats"]["classes"]["positive"][k]["windows"] for k in ("train", "valid", "test"))
    assert positives == 16


def test_split_chrom_needs_three_chromosomes_with_peaks(tmp_path):
    genome, peaks = _acgt_genome_with_n_tails(tmp_path, chroms=("chr1", "chr2"))
    with pytest.raises(InputError, match=r"--split chrom needs >= 3 chromosomes with peaks \(found 2\)"):
        prepare_dataset(genome, [peaks], tmp_path / "ds", window=200, split="chrom", progress=False)
    assert not (tmp_path / "ds").exists()


def test_cyclic_choice_and_which_duplicate_is_kept():
    """Shuffled negatives draw whole permutations of the positives, then part of one more; of two identical
    sequences the positive is kept (its split, place and label), whatever the negative's split."""
    from peakcnn.data.build import _combine, _cyclic_choice

    rng = np.random.default_rng(0)
    half = _cyclic_choice(rng, 4, 2)
    assert len(half) == 2 and len(set(half.tolist())) == 2
    more = _cyclic_choice(rng, 4, 6)
    assert len(more) == 6 and sorted(more[:4].tolist()) == [0, 1, 2, 3]
    seq = np.zeros((1, 8), np.uint8)
    pos = {"seqs": seq, "labels": np.ones((1, 1), np.uint8), "chrom": np.array([0]), "start": np.array([100]),
           "split": np.array([1])}  # fmt: skip
    negs = {"seqs": seq.copy(), "chrom": np.array([0]), "start": np.array([5_000]), "split": np.array([0])}
    table, n_dup = _combine(pos, negs, ["t"], ["chr1"])
    assert n_dup == 1 and table.source.tolist() == [0] and table.split.tolist() == [1]
    assert table.start.tolist() == [100] and table.labels.tolist() == [[1]]


def test_every_option_of_the_command_line_reaches_the_data_set(inputs, tmp_path):
    """Each option given to ``peakcnn prepare`` is the parameter the data set was built with and records."""
    (tmp_path / "alias.tsv").write_text("chr1\tone\n")
    (tmp_path / "exclude.bed").write_text("chr1\t0\t1000\n")
    given = {
        "window": 300,
        "center": "midpoint",
        "max_n_frac": 0.2,
        "merge_distance": 50,
        "label_distance": 100,
        "negatives": "random",
        "neg_ratio": 2.0,
        "split": "region",
        "block_size": 20_000,
        "seed": 3,
    }
    argv = ["prepare", "--genome", str(inputs["genome"]), "--peaks", str(inputs["a"]), str(inputs["b"])]
    argv += ["--names", "x", "y", "--out", str(tmp_path / "ds")]
    argv += ["--chrom-alias", str(tmp_path / "alias.tsv"), "--exclude", str(tmp_path / "exclude.bed")]
    for key, value in given.items():
        argv += ["--" + key.replace("_", "-"), str(value)]
    assert main(argv) == 0
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert {key: manifest["params"][key] for key in given} == given
    assert [p["task"] for p in manifest["inputs"]["peaks"]] == ["x", "y"]
    assert manifest["inputs"]["chrom_alias"]["path"] == str(tmp_path / "alias.tsv")
    assert [p["path"] for p in manifest["inputs"]["exclude"]] == [str(tmp_path / "exclude.bed")]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"label_distance": 0}, "label-distance must be a positive integer (got 0)"),
        ({"merge_distance": -1}, "merge-distance must be >= 0 (got -1)"),
        ({"block_size": 799}, "block-size must be at least twice the window (800 bp)"),
        ({"names": ["x", "y"]}, "2 task names for 1 peak files; give one --names entry per file"),
        ({"peaks": []}, "no peak files given; pass at least one --peaks file"),
    ],
)
def test_library_refuses_distances_blocks_names_and_peaks_that_do_not_fit(tmp_path, inputs, kwargs, message):
    """What the command line's parser refuses, and what it does not (a block shorter than two windows, more
    --names than --peaks), is refused by prepare_dataset too, before anything is written."""
    kwargs = {"peaks": [inputs["a"]], "window": 400, **kwargs}
    with pytest.raises(InputError, match=re.escape(message)):
        prepare_dataset(inputs["genome"], out=tmp_path / "out", progress=False, **kwargs)
    assert not (tmp_path / "out").exists()


def test_numpy_integers_are_taken_and_recorded_as_plain_numbers(tmp_path, inputs):
    """Whole numbers from numpy (as from a parameter grid) build the data set that plain ones do, and the
    manifest records them as JSON numbers."""
    given = dict(window=400, label_distance=150, merge_distance=100, block_size=20_000, seed=2)
    plain = prepare_dataset(inputs["genome"], [inputs["a"]], tmp_path / "plain", progress=False, **given)
    m = prepare_dataset(
        inputs["genome"], [inputs["a"]], tmp_path / "np", progress=False, **{k: np.int64(v) for k, v in given.items()}
    )
    assert m["fingerprint"] == plain["fingerprint"] and m["dataset_sha256"] == plain["dataset_sha256"]
    params = json.loads((tmp_path / "np" / "manifest.json").read_text())["params"]
    assert {k: params[k] for k in given} == given and all(type(params[k]) is int for k in given)


def test_a_changed_exclude_or_alias_file_makes_another_data_set(tmp_path, inputs):
    """The --exclude and --chrom-alias files are inputs: a data set made without them, or with other contents,
    is not reused as if it were the same one."""
    genome, peaks, out = inputs["genome"], [inputs["a"]], tmp_path / "ds"
    alias, exclude = tmp_path / "alias.tsv", tmp_path / "exclude.bed"
    alias.write_text("chr1\t1\n")
    exclude.write_text("1\t1000\t5000\n")
    common = dict(window=400, progress=False)
    first = prepare_dataset(genome, peaks, out, **common)
    assert prepare_dataset(genome, peaks, out, **common)["fingerprint"] == first["fingerprint"]  # reused
    for kwargs in ({"exclude": [exclude]}, {"chrom_alias": alias}):
        with pytest.raises(InputError, match="holds a different data set"):
            prepare_dataset(genome, peaks, out, **kwargs, **common)
    m = prepare_dataset(genome, peaks, out, exclude=[exclude], chrom_alias=alias, force=True, **common)
    for path, edit in ((exclude, "2\t1000\t5000\n"), (alias, "chr2\t2\n")):
        path.write_text(path.read_text() + edit)
        with pytest.raises(InputError, match="holds a different data set"):
            prepare_dataset(genome, peaks, out, exclude=[exclude], chrom_alias=alias, **common)
    assert json.loads((out / "manifest.json").read_text())["fingerprint"] == m["fingerprint"]


def test_an_input_that_reaches_into_out_through_a_link_is_refused(tmp_path, inputs):
    """A link outside --out to a file inside it, or --out named through a linked folder while the input is
    named by the real one: the input is inside --out all the same, and the data set is kept."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "via").symlink_to(real, target_is_directory=True)
    out = real / "ds"
    prepare_dataset(inputs["genome"], [inputs["a"]], out, window=400, progress=False)
    kept = {p.name: p.read_bytes() for p in out.iterdir()}
    link = tmp_path / "peaks.bed"
    link.symlink_to(out / "windows.bed")
    for peaks, given_out in ((link, out), (out / "windows.bed", tmp_path / "via" / "ds")):
        with pytest.raises(InputError, match=rf"^{re.escape(str(peaks))}: input file is inside --out"):
            prepare_dataset(inputs["genome"], [peaks], given_out, force=True, progress=False)
        assert {p.name: p.read_bytes() for p in out.iterdir()} == kept


@pytest.mark.parametrize("ratio, said", [(0.5, True), (1.0, False)])
def test_a_neg_ratio_with_no_negatives_is_said_to_be_ignored(tmp_path, inputs, ratio, said):
    m = prepare_dataset(
        inputs["genome"], [inputs["a"]], tmp_path / "ds", negatives="none", neg_ratio=ratio, window=400, progress=False
    )
    assert (f"--neg-ratio {ratio:g} is ignored: --negatives none draws no negatives" in m["warnings"]) is said


def test_held_out_splits_with_few_or_no_peak_windows_are_warned_about_and_train_is_not(tmp_path):
    """A valid or test split with no peak window, or with under 2% of them (here 1 of 60, 1.7%), is warned
    about; a training split that small is not (the advice is about held-out chromosomes)."""
    rng = np.random.default_rng(4)
    seqs = {c: random_seq(rng, n) for c, n in {"big1": 60_000, "big2": 60_000, "tiny1": 3_000, "tiny2": 3_000}.items()}
    write_fasta(tmp_path / "g.fa", seqs)
    peaks = [f"{c}\t{s}\t{s + 100}" for c in ("big1", "big2") for s in range(1_000, 59_000, 2_000)]
    (tmp_path / "p.bed").write_text("\n".join([*peaks, "tiny1\t1400\t1500", "tiny2\t1400\t1500"]) + "\n")

    def held_out_warnings(genome, **kwargs):
        m = prepare_dataset(genome, tmp_path / "p.bed", tmp_path / "ds", window=400, force=True, progress=False,
                            **kwargs)  # fmt: skip
        return [w for w in m["warnings"] if w.startswith("split ")]

    said = held_out_warnings(tmp_path / "g.fa", valid_chroms=["tiny1"], test_chroms=["tiny2"])
    assert [w.split(" too few")[0] for w in said] == [
        "split valid holds 1 of 60 peak windows (1.7%),",
        "split test holds 1 of 60 peak windows (1.7%),",
    ]
    # training on one small chromosome, the large ones held out
    write_fasta(tmp_path / "g3.fa", {c: seqs[c] for c in ("big1", "big2", "tiny1")})
    assert held_out_warnings(tmp_path / "g3.fa", valid_chroms=["big1"], test_chroms=["big2"]) == []
    # peaks only in the first blocks of a region split: the valid and test blocks hold none
    write_fasta(tmp_path / "g1.fa", {"big1": seqs["big1"]})
    (tmp_path / "p.bed").write_text("".join(f"big1\t{s}\t{s + 100}\n" for s in range(1_000, 20_000, 2_000)))
    said = held_out_warnings(tmp_path / "g1.fa", split="region", block_size=5_000)
    assert said == [
        f"split {name} holds no peak windows; adjust --split/--valid-chroms/--test-chroms/--block-size"
        for name in ("valid", "test")
    ]

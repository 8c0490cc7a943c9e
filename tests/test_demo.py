"""peakcnn demo end to end on the embedded TAIR10 chr1 data, with the schedule cut short for the suite."""

from __future__ import annotations

import json
import sys

import pytest

import peakcnn.data.prepare
import peakcnn.demo
from peakcnn.cli import main
from peakcnn.errors import InputError


def test_demo_prepares_trains_evaluates_and_reports(tmp_path, monkeypatch, capsys):
    # The pipeline as 'peakcnn demo' runs it; only the schedule is shortened (1 epoch on 1,024 windows).
    monkeypatch.setitem(peakcnn.demo.QUICK_RECIPE, "epochs", 1)
    monkeypatch.setitem(peakcnn.demo.QUICK_RECIPE, "max_train", 1024)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # progress bars are drawn on a terminal
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    out, err = capsys.readouterr()
    assert "epoch 1/1" in err  # the training bar
    report = tmp_path / "demo" / "run" / "eval_test" / "report.html"
    assert str(report) in out and "REDUCED demo recipe" in out
    for name in ("CNN (small)", "GC-content logistic regression", "4-mer logistic regression", "6-mer"):
        assert name in out, name
    doc = json.loads((report.parent / "metrics.json").read_text())
    assert doc["dataset"]["tasks"] == ["tss_promoter_proxy"] and doc["dataset"]["negatives"] == "gc-matched"
    assert doc["dataset"]["split_mode"] == "region" and doc["split"] == "test"
    cnn = doc["models"]["CNN"]["metrics"]["macro"]
    assert cnn["n"] > 1000 and cnn["n_pos"] == cnn["n_neg"]  # 1:1 GC-matched negatives on held-out regions
    # one short epoch is for the wiring only (accuracy is the demo's own figure, and learning is tested on a
    # planted motif in test_train.py); every model is scored on the same windows
    assert 0 <= cnn["auroc"] <= 1 and all(m["metrics"]["macro"]["n"] == cnn["n"] for m in doc["models"].values())
    html = report.read_text()
    assert "gc-matched" in html and "REDUCED" in html and "tss_promoter_proxy" in html
    # run again into the same folder, quietly: the data set is reused and the demo's own run replaced
    capsys.readouterr()
    assert main(["demo", "--out", str(tmp_path / "demo"), "-q"]) == 0
    out, err = capsys.readouterr()
    assert str(report) in out and "epoch 1/1" not in err and "baselines: " not in err


def test_tss_sites_from_gff3_coordinates_and_strands(tmp_path):
    from peakcnn.data.default import tss_sites

    gff = tmp_path / "a.gff3"
    rows = [
        ("chr1", "mRNA", "101", "200", "+", "ID=a"),  # 1-based 101 -> 0-based 100
        ("chr1", "mRNA", "301", "400", "-", "ID=b"),  # the TSS of a minus-strand gene is its end: 399
        ("chr1", "gene", "501", "600", "+", "ID=g"),  # not a transcript
        ("chr1", "mRNA", "701", "800", ".", "ID=c"),  # unstranded
        ("chr1", "mRNA", "901", "950", "", "ID=d"),  # strand column empty
    ]
    gff.write_text(
        "##gff-version 3\n" + "".join(f"{c}\tx\t{t}\t{s}\t{e}\t.\t{st}\t.\t{a}\n" for c, t, s, e, st, a in rows)
    )
    assert [site[:3] for site in tss_sites(gff)] == [("chr1", 100, "+"), ("chr1", 399, "-")]


def test_the_demo_writes_its_promoter_bed_over_its_own_only(tmp_path, monkeypatch):
    """OUT/tss_promoter_proxy.bed holding a user's file is refused and left as it was; the demo's own BED
    (the same sites) is written again."""
    monkeypatch.setattr(peakcnn.data.prepare, "prepare_dataset", lambda *args, **kwargs: None)
    gff = tmp_path / "a.gff3"
    gff.write_text("##gff-version 3\nchr1\tx\tmRNA\t101\t200\t.\t+\t.\tID=a\n")
    bed = tmp_path / "tss_promoter_proxy.bed"
    bed.write_text("my notes\n")
    with pytest.raises(InputError, match="tss_promoter_proxy.bed: holds a file the demo did not write"):
        peakcnn.demo.prepare_promoters(bed, tmp_path / "dataset", gff=gff)
    assert bed.read_text() == "my notes\n" and sorted(p.name for p in tmp_path.iterdir()) == ["a.gff3", bed.name]
    bed.unlink()
    peakcnn.demo.prepare_promoters(bed, tmp_path / "dataset", gff=gff)
    first = bed.read_text()
    assert first.splitlines()[-1].split("\t")[:3] == ["chr1", "100", "101"]
    peakcnn.demo.prepare_promoters(bed, tmp_path / "dataset", gff=gff)
    assert bed.read_text() == first and sorted(p.name for p in tmp_path.iterdir()) == ["a.gff3", bed.name]

"""Costs that must not grow with the square of an input: many outputs, many scaffolds, many variants."""

from __future__ import annotations

import os

import numpy as np
import pytest
from _apply_helpers import make_run, random_genome, tiny_model, write_fasta

from peakcnn.cli import main


def test_distinct_output_check_stats_each_path_once(tmp_path, monkeypatch):
    """Thousands of outputs (ism of many sequences) are compared through one key each, not pairwise."""
    from peakcnn.errors import InputError
    from peakcnn.io import output

    calls = {"n": 0}
    real = os.stat

    def counted(path, *a, **kw):
        calls["n"] += 1
        return real(path, *a, **kw)

    monkeypatch.setattr(output.os, "stat", counted)
    real_key, compared = output._file_key, {"n": 0}

    class Key:  # a path's key that counts how often it is compared with another
        def __init__(self, key):
            self.key = key

        def __hash__(self):
            return hash(self.key)

        def __eq__(self, other):
            compared["n"] += 1
            return self.key == other.key

    monkeypatch.setattr(output, "_file_key", lambda path: Key(real_key(path)))
    outs = [("--out", tmp_path / f"o{i}.npy") for i in range(3000)]
    output.check_distinct_files(outs, [("--genome", tmp_path / "g.fa"), ("--fasta", None)])
    assert calls["n"] <= 3001
    assert compared["n"] <= 3000  # pairwise would be about 4.5 million
    (tmp_path / "g.fa").write_text(">a\nACGT\n")
    os.symlink(tmp_path / "g.fa", tmp_path / "link.npy")
    with pytest.raises(InputError, match="link.npy: --out is the same file as --genome"):
        output.check_distinct_files([*outs, ("--out", tmp_path / "link.npy")], [("--genome", tmp_path / "g.fa")])
    with pytest.raises(InputError, match="o7.npy: --out and --out are the same file"):
        output.check_distinct_files([*outs, ("--out", tmp_path / "x" / ".." / "o7.npy")], [])


def test_a_scan_folds_the_model_once_for_all_chromosomes(tmp_path, monkeypatch):
    import peakcnn.scan

    random_genome(tmp_path / "g.fa", {f"s{i}": 300 + 7 * i for i in range(12)})
    run = make_run(tmp_path, tiny_model(n_tasks=1), ["a"])
    real, calls = peakcnn.scan.fold_model, []
    monkeypatch.setattr(peakcnn.scan, "fold_model", lambda m: calls.append(1) or real(m))
    argv = ["-q", "scan", str(run), "--genome", str(tmp_path / "g.fa"), "--out", str(tmp_path / "t.bedGraph")]
    assert main(argv) == 0
    assert len(calls) == 1
    assert len({ln.split("\t")[0] for ln in (tmp_path / "t.bedGraph").read_text().splitlines()}) == 12


def test_variants_read_each_chromosome_once(tmp_path, monkeypatch):
    from peakcnn.io import fasta

    recs = random_genome(tmp_path / "g.fa", {"chr1": 5000, "chr2": 4000})
    run = make_run(tmp_path, tiny_model(n_tasks=1), ["a"])
    rng = np.random.default_rng(0)
    lines = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT"]
    for c in ("chr1", "chr2", "chr1"):  # a chromosome met twice
        for pos in sorted(rng.integers(1, 3900, 40)):
            lines.append(f"{c}\t{pos}\t.\t{recs[c][pos - 1]}\t{'A' if recs[c][pos - 1] != 'A' else 'C'}")
    (tmp_path / "v.vcf").write_text("\n".join(lines) + "\n")
    real, reads = fasta._Index.read_codes, []
    monkeypatch.setattr(fasta._Index, "read_codes", lambda self, c, s, e: reads.append(c) or real(self, c, s, e))
    argv = ["-q", "variants", str(run), "--genome", str(tmp_path / "g.fa"), "--vcf", str(tmp_path / "v.vcf")]
    assert main([*argv, "--out", str(tmp_path / "s.tsv")]) == 0
    assert sorted(reads) == ["chr1", "chr2"]
    assert len((tmp_path / "s.tsv").read_text().splitlines()) == 1 + 120


def test_the_genome_cache_keeps_count_of_its_bases(tmp_path):
    from peakcnn.io.fasta import Genome

    random_genome(tmp_path / "g.fa", {f"s{i}": 1000 + i for i in range(50)})
    g = Genome(tmp_path / "g.fa", cache_bp=5_000)
    for name in g.names:
        g.codes(name)
        assert g._cached_bp == sum(map(len, g._cache.values())) <= 5_000
    assert list(g._cache) == g.names[-4:]


def test_held_out_splits_on_small_scaffolds_are_warned_about(tmp_path):
    from peakcnn.data.prepare import prepare_dataset

    rng = np.random.default_rng(1)
    records = {"big1": 60_000, "big2": 60_000, "tiny1": 3_000, "tiny2": 3_000}
    seqs = {c: "".join(rng.choice(list("ACGT"), n)) for c, n in records.items()}
    write_fasta(tmp_path / "g.fa", seqs)
    peaks = [f"{c}\t{s}\t{s + 100}" for c in ("big1", "big2") for s in range(1000, 58_000, 1000)]
    peaks += ["tiny1\t1400\t1500", "tiny2\t1400\t1500"]
    (tmp_path / "p.bed").write_text("\n".join(peaks) + "\n")
    m = prepare_dataset(
        tmp_path / "g.fa", tmp_path / "p.bed", tmp_path / "ds", window=400, split="chrom", valid_chroms=["tiny1"],
        test_chroms=["tiny2"], progress=False,
    )  # fmt: skip
    held = [w for w in m["warnings"] if "too few for scores that hold up" in w]
    assert [w.split()[1] for w in held] == ["valid", "test"] and "holds 1 of 116 peak windows (0.9%)" in held[0]


def test_ism_figures_draw_at_most_twelve_tasks(tmp_path):
    from matplotlib.figure import Figure

    from peakcnn.interpret import plot_ism as module

    sizes = []
    real = Figure.savefig
    Figure.savefig = lambda self, *a, **kw: sizes.append(self.get_size_inches()[1]) or real(self, *a, **kw)
    try:
        x = np.eye(4, dtype=np.float32)[:, np.arange(20) % 4]
        delta = np.random.default_rng(0).normal(size=(40, 4, 20)).astype(np.float32)
        module.plot_ism(delta, x, [f"t{i}" for i in range(40)], tmp_path / "f.png")
    finally:
        Figure.savefig = real
    assert module.MAX_TASKS == 12 and sizes == [pytest.approx(2.6 * 12)]

"""The real-data benchmark script's own logic that runs without the real data."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "root_atac.py"


@pytest.fixture(scope="module")
def root_atac():
    spec = importlib.util.spec_from_file_location("root_atac_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_output_suffix_names_few_recipes_and_keeps_many_within_a_file_name(root_atac, tmp_path):
    assert root_atac.output_suffix(["all"]) == ""
    assert root_atac.output_suffix(["best", "founding"]) == "_best+founding"
    many = [name for name in root_atac.RECIPES if name.startswith("best_small")]
    assert len("+".join(many)) > 255  # would not fit in one file name
    suffix = root_atac.output_suffix(many)
    assert suffix == root_atac.output_suffix(list(many))  # the same pool, the same files
    others = {root_atac.output_suffix(many[::-1]), root_atac.output_suffix(many[:-1])}
    assert len(others) == 2 and suffix not in others  # another order or one recipe fewer: another file
    assert suffix.startswith(f"_{len(many)}recipes_")
    for name in (f"results{suffix}.json", f"ensemble_best_both{suffix}", f"learning_curves{suffix}.png"):
        (tmp_path / name).write_text("x")  # the file system accepts the name


def test_attribution_kmers_counts_both_strands_and_sums_each_kmer_s_positions():
    import numpy as np

    spec = importlib.util.spec_from_file_location(
        "attribution_kmers_under_test", SCRIPT.parent / "attribution_kmers.py"
    )
    kmers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kmers)
    ohe = np.zeros((2, 4, 8), np.float32)
    for w, seq in enumerate(["AAGGGCCA", "TGGCCCTN"]):
        for j, b in enumerate(seq):
            if b != "N":
                ohe[w, "ACGT".index(b), j] = 1
    seqs = kmers.sequences(ohe)
    assert seqs == ["AAGGGCCA", "TGGCCCTN"]
    contribution = np.zeros((2, 8))
    contribution[0, 2:7] = 1.0  # GGGCC of window 0
    contribution[1, 2:6] = 0.5  # GCCC of window 1: GGCCC holds 4 of these positions
    rows = {w: (m, n) for m, n, w in kmers.kmer_means(seqs, contribution, 5, 1)}
    assert rows["GGCCC"] == ((5.0 + 2.0) / 2, 2)  # GGGCC (window 0: 5 x 1) and GGCCC (window 1: 4 x 0.5), one pair
    assert "CCCTN" not in rows and "GGCCCT" not in rows
    share, positions = kmers.motif_share(seqs, contribution, ["GGGCC"])
    assert share == 1.0 and positions == 10 / 16

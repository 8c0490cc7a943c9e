"""The real-data benchmark script's own logic that runs without the real data."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _script(name: str):
    """The benchmark script ``benchmarks/NAME.py`` as a module."""
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def root_atac():
    return _script("root_atac")


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

    kmers = _script("attribution_kmers")
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


def test_modisco_matches_trims_on_the_summed_absolute_contribution_then_on_information():
    """modisco report's rule: the columns from the first to the last whose sum of absolute contributions
    (not hypothetical ones) reaches 0.3 of the largest column's; then flanking columns under 0.2 bits go."""
    import numpy as np

    matches = _script("modisco_matches")
    sure = [0.85, 0.05, 0.05, 0.05]  # an informative column (1.15 bits)
    sequence = np.array([sure, sure, sure, sure, sure, [0.25] * 4, sure])
    contrib = np.array(
        [
            [0.05, 0, 0, 0],  # 0.05: out
            [0.4, -0.4, 0, 0],  # 0.8 summed absolutely (0 as the absolute value of the sum): in
            [0.3, 0.3, 0.3, 0.1],  # 1.0, the largest, spread over the bases
            [0.3, 0.3, 0.3, 0.1],
            [0.35, 0, 0, 0],  # 0.35: in
            [0.125] * 4,  # 0.5: in by contribution, but no information: trimmed as a flank
            [0.2, 0, 0, 0],  # 0.2: out, though above 0.3 of the largest single value
        ]
    )
    np.testing.assert_array_equal(matches.trimmed(sequence, contrib, 0.3), sequence[1:5].T)
    assert matches.shown_matches([], 0.05) == "(too narrow to match)"
    shown = matches.shown_matches([("MA1", "ONE", 0.01), ("MA2", "TWO", 0.2)], 0.05)
    assert shown == "ONE MA1 (0.01); [TWO MA2 (0.2)]"


def test_modisco_matches_trims_each_pattern_and_finds_the_jaspar_motif_it_was_made_of(tmp_path, monkeypatch, capsys):
    """Patterns written as TF-MoDISco writes them: a JASPAR motif inside uniform flanks (positive), and the
    reverse complement of another (negative). Each is trimmed to the motif's columns and matched to it."""
    import h5py
    import numpy as np

    from peakcnn.interpret.motifs import information, jaspar_motifs

    matches = _script("modisco_matches")
    db = jaspar_motifs("plants")
    whole = [j for j in range(len(db.ppms)) if information(db.ppms[j]).min() >= 0.2]  # nothing to trim
    order = sorted(whole, key=lambda j: -information(db.ppms[j]).sum())
    first, second = order[0], next(j for j in order if db.ppms[j].shape[1] != db.ppms[order[0]].shape[1])

    def pattern(group, name, ppm, sign, seqlets):
        seq = np.tile([0.7, 0.1, 0.1, 0.1], (ppm.shape[1] + 20, 1))  # informative flanks, low contribution
        seq[10:-10] = ppm.T
        contrib = np.full(seq.shape, 0.01) * sign  # flanks: under 0.3 of the motif's columns
        contrib[10:-10] = ppm.T * sign
        g = group.create_group(name)
        g["sequence"], g["contrib_scores"] = seq, contrib
        g["hypothetical_contribs"] = np.ones_like(contrib)  # not what trimming reads
        g.create_group("seqlets")["n_seqlets"] = np.array([seqlets])

    path = tmp_path / "modisco.h5"
    with h5py.File(path, "w") as f:
        pos = f.create_group("pos_patterns")
        pattern(pos, "pattern_10", db.ppms[second], 1, 7)
        pattern(pos, "pattern_2", db.ppms[first], 1, 40)
        pattern(f.create_group("neg_patterns"), "pattern_0", db.ppms[second][::-1, ::-1], -1, 12)
        pattern(pos, "pattern_3", np.array([[0.9, 0.1, 0, 0], [0, 0, 0.1, 0.9], [0, 0.9, 0.1, 0]]).T, 1, 5)
    found = matches.read_patterns(str(path), 0.3)
    assert [(p.name, p.sign, p.seqlets) for p in found] == [
        ("pos_patterns/pattern_2", "+", 40),  # numeric order: pattern_2 before pattern_10
        ("pos_patterns/pattern_3", "+", 5),
        ("pos_patterns/pattern_10", "+", 7),
        ("neg_patterns/pattern_0", "-", 12),
    ]
    np.testing.assert_allclose(found[0].ppm, db.ppms[first])  # trimmed to the motif's own columns
    np.testing.assert_allclose(found[3].ppm, db.ppms[second][::-1, ::-1])
    best = matches.best_matches(found, db, 2)
    assert best[1] == []  # 3 columns: too narrow to match
    del best[1]
    assert [b[0][0] for b in best] == [db.ids[first], db.ids[second], db.ids[second]]  # either strand
    assert all(b[0][2] < 0.05 for b in best) and all(len(b) == 2 for b in best)
    monkeypatch.setattr("sys.argv", ["modisco_matches.py", str(path), "--top", "1"])
    matches.main()
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("4 patterns in") and "JASPAR" in table[0]
    width = db.ppms[first].shape[1]
    assert table[4].startswith(f"| pos_patterns/pattern_2 | + | 40 | {width} | ") and table[4].endswith(
        f"{db.names[first]} {db.ids[first]} ({best[0][0][2]:.2g}) |"
    )
    assert table[5] == "| pos_patterns/pattern_3 | + | 5 | 3 | ATC | (too narrow to match) |"

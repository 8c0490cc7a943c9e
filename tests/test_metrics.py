"""Metrics, k-mer counting and baselines, checked against direct computations."""

import math

import numpy as np
import pytest
from _train_helpers import synthetic_table

from peakcnn.baselines import Baseline, canonical_columns, features, fit_predict, kmer_counts
from peakcnn.metrics import (
    add_intervals,
    auprc,
    auroc,
    binary_metrics,
    bootstrap_interval,
    bootstrap_scores,
    expected_calibration_error,
    json_safe,
    log_loss,
    multitask_metrics,
    quick_scores,
    rank_auroc,
    reliability_bins,
    sigmoid,
)
from peakcnn.sequence import reverse_complement_codes, str_to_codes


def _pairs_auroc(y, p):
    """auROC as the fraction of (positive, negative) pairs ranked correctly, ties counting half."""
    pos, neg = p[y == 1], p[y == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def test_binary_metrics_against_direct_formulas():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1)
    m = binary_metrics(y, p)
    assert m["n"] == 300 and m["n_pos"] == y.sum() and m["positive_rate"] == pytest.approx(y.mean())
    assert m["auroc"] == pytest.approx(_pairs_auroc(y, p))
    assert m["accuracy"] == pytest.approx(np.mean((p >= 0.5) == y))
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert m["loss"] == pytest.approx(-np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)), rel=1e-4)
    assert m["positive_rate"] <= m["auprc"] <= 1
    # average precision from its definition: mean over positives of the precision at each positive's rank
    order = np.argsort(-p, kind="stable")
    hits = y[order] == 1
    precision_at = np.cumsum(hits) / np.arange(1, len(y) + 1)
    assert m["auprc"] == pytest.approx(precision_at[hits].mean(), rel=1e-9)
    assert binary_metrics(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1]))["auprc"] == pytest.approx(5 / 6)
    assert sum(b["n"] for b in m["reliability"]) == 300
    # at the edges: a probability of exactly 1 falls in the last bin, and 0.5 (a logit of 0) is called positive
    edge = binary_metrics(np.array([1, 0]), np.array([1.0, 0.5]))
    assert [b["n"] for b in edge["reliability"]] == [0, 0, 0, 0, 0, 1, 0, 0, 0, 1] and edge["accuracy"] == 0.5


def test_single_class_gives_nan_and_macro_leaves_that_task_out_of_every_mean():
    y = np.array([[1, 0], [1, 1], [1, 0], [1, 1]])
    p = np.array([[0.9, 0.2], [0.3, 0.7], [0.6, 0.4], [0.7, 0.9]])
    out = multitask_metrics(y, p, ["a", "b"])
    assert math.isnan(out["tasks"]["a"]["auroc"]) and out["tasks"]["b"]["auroc"] == 1.0
    assert out["tasks"]["a"]["accuracy"] == 0.75
    macro, b = out["macro"], out["tasks"]["b"]
    # every mean is over task b alone: the positive rate beside the macro auPRC is its chance level
    for key in ("auroc", "auprc", "positive_rate", "accuracy", "loss", "brier", "ece"):
        assert macro[key] == pytest.approx(b[key]), key
    assert macro["positive_rate"] == 0.5 and macro["accuracy"] == 1.0
    # n counts windows, n_pos / n_neg the labels of the averaged task
    assert (macro["n"], macro["n_pos"], macro["n_neg"], macro["n_tasks"]) == (4, 2, 2, 1)
    assert macro["tasks_left_out"] == ["a"]
    from peakcnn.report import window_counts

    assert window_counts(macro) == "4 windows x 1 of 2 tasks (2 pos / 2 neg labels; left out, one class: a)"
    assert window_counts(out["tasks"]["b"]) == "4 (2 pos / 2 neg)"
    assert json_safe(out)["tasks"]["a"]["auroc"] is None
    # the macro average over one task carries that task's interval
    add_intervals(out, y, p, ["a", "b"], n_boot=50)
    assert macro["auroc_interval"] == b["auroc_interval"] and macro["auprc_interval"] == b["auprc_interval"]
    # whichever column the one-class task is in (b separates its classes perfectly: an interval of [1, 1])
    swapped = multitask_metrics(y[:, ::-1], p[:, ::-1], ["b", "a"])
    add_intervals(swapped, y[:, ::-1], p[:, ::-1], ["b", "a"], n_boot=50)
    assert swapped["macro"]["auroc_interval"] == swapped["tasks"]["b"]["auroc_interval"] == [1.0, 1.0]
    assert swapped["macro"]["auprc_interval"] == [1.0, 1.0]
    # the per-epoch scores average the same task
    assert quick_scores(y, p) == pytest.approx({"accuracy": 1.0, "auroc": 1.0, "auprc": 1.0})
    # with both classes everywhere every task counts
    both = multitask_metrics(np.array([[1, 0], [0, 1], [1, 0], [0, 1]]), p, ["a", "b"])["macro"]
    assert (both["n_tasks"], both["n_pos"], both["n_neg"], both["tasks_left_out"]) == (2, 4, 4, [])
    assert window_counts(both) == "4 windows x 2 tasks (4 pos / 4 neg labels)"


def test_bootstrap_scores_equal_sklearn_on_the_drawn_windows():
    """Each resample's scores are those of auroc/auprc (sklearn) on the windows it draws, ties included;
    the draws are replayed here: per chunk of resamples, the positives' then the negatives' indices."""
    rng = np.random.default_rng(5)
    y = (rng.random(120) < 0.3).astype(int)
    p = np.round(rng.normal(y, 1.0), 1)  # many tied scores
    got = bootstrap_scores(y, p, n_boot=7, seed=11, chunk=3)
    replay = np.random.default_rng(11)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    want = {"auroc": [], "auprc": []}
    for b in (3, 3, 1):
        draws = np.concatenate([replay.choice(pos, (b, pos.size)), replay.choice(neg, (b, neg.size))], axis=1)
        for idx in draws:
            want["auroc"].append(auroc(y[idx], p[idx]))
            want["auprc"].append(auprc(y[idx], p[idx]))
    assert np.allclose(got["auroc"], want["auroc"], rtol=0, atol=1e-12)
    assert np.allclose(got["auprc"], want["auprc"], rtol=0, atol=1e-12)
    assert len(set(np.round(got["auroc"], 9))) == 7  # the resamples differ


def test_rank_auroc_equals_sklearn_with_ties_and_without():
    rng = np.random.default_rng(3)
    for n, levels in ((7, 3), (200, 0), (500, 4), (2000, 25)):
        y = (rng.random(n) < 0.4).astype(int)
        y[:2] = (0, 1)
        p = rng.normal(y, 1.0) if levels == 0 else rng.integers(0, levels, n) / levels  # ties, or none
        assert rank_auroc(y, p) == pytest.approx(auroc(y, p), abs=1e-12)
    assert rank_auroc([1, 0, 1], [0.9, 0.1, 0.9]) == 1.0 and rank_auroc([1, 0], [0.5, 0.5]) == 0.5
    assert math.isnan(rank_auroc([1, 1], [0.2, 0.3])) and math.isnan(rank_auroc([], []))


def test_bootstrap_interval_width_matches_the_hanley_mcneil_error_and_keeps_the_positive_rate():
    rng = np.random.default_rng(3)
    y = np.r_[np.ones(300), np.zeros(500)]
    p = sigmoid(rng.normal(1.5 * y, 1.0))
    m = binary_metrics(y, p)
    ci = bootstrap_interval(y, p, n_boot=400, seed=0)
    a, n1, n2 = m["auroc"], 300, 500
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = math.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n2 - 1) * (q2 - a * a)) / (n1 * n2))
    low, high = ci["auroc"]
    assert low < a < high and 0.75 < (high - low) / (2 * 1.96 * se) < 1.33
    assert ci["auprc"][0] < m["auprc"] < ci["auprc"][1] <= 1
    assert bootstrap_interval(y, p, n_boot=400, seed=0) == ci  # seeded
    # a 95% interval: the 2.5th and 97.5th percentiles of the resamples' scores (checked against sklearn above)
    draws = bootstrap_scores(y, p, n_boot=400, seed=0)
    for key in ("auroc", "auprc"):
        assert ci[key] == pytest.approx(np.percentile(draws[key], [2.5, 97.5]), abs=1e-12)
    assert bootstrap_interval(y, p, n_boot=400, seed=0, level=0.8)["auroc"] == pytest.approx(
        np.percentile(draws["auroc"], [10, 90]), abs=1e-12
    )
    assert bootstrap_interval(y, p, n_boot=400, seed=1)["auroc"] != ci["auroc"]
    # Positives and negatives are resampled to their own counts: a constant score has auPRC equal to the
    # positive rate in every resample, so the interval has no width.
    flat = bootstrap_interval(y, np.full(len(y), 0.5), n_boot=50)
    assert flat["auprc"] == pytest.approx([300 / 800, 300 / 800]) and flat["auroc"] == pytest.approx([0.5, 0.5])
    assert bootstrap_interval(y, y, n_boot=50)["auroc"] == [1.0, 1.0]
    assert all(math.isnan(v) for v in bootstrap_interval(np.ones(5), np.ones(5), n_boot=5)["auprc"])


def test_calibration_of_a_calibrated_predictor():
    rng = np.random.default_rng(1)
    p = np.repeat(np.arange(0.05, 1, 0.1), 2000)
    y = (rng.random(len(p)) < p).astype(int)
    bins = reliability_bins(y, p)
    assert expected_calibration_error(bins) < 0.02
    overconfident = np.where(p > 0.5, 1.0, 0.0)
    assert expected_calibration_error(reliability_bins(y, overconfident)) > 0.15


def test_sigmoid_and_log_loss_are_stable():
    assert np.allclose(sigmoid(np.array([-800.0, 0.0, 800.0])), [0, 0.5, 1])
    assert math.isfinite(log_loss(np.array([1, 0]), np.array([0.0, 1.0])))


def _naive_kmers(seq: str, k: int) -> dict:
    counts = {}
    for i in range(len(seq) - k + 1):
        kmer = seq[i : i + k]
        if "N" not in kmer:
            counts[kmer] = counts.get(kmer, 0) + 1
    return counts


@pytest.mark.parametrize("k", [1, 2, 3])
def test_kmer_counts_match_a_direct_count(k):
    rng = np.random.default_rng(k)
    seqs = ["".join(rng.choice(list("ACGTN"), 40, p=[0.24, 0.24, 0.24, 0.24, 0.04])) for _ in range(5)]
    codes = np.stack([str_to_codes(s) for s in seqs])
    counts = kmer_counts(codes, k, canonical=False, chunk=2)
    for row, seq in zip(counts, seqs, strict=True):
        for kmer, c in _naive_kmers(seq, k).items():
            index = int("".join(str("ACGT".index(b)) for b in kmer), 4)
            assert row[index] == c
        assert row.sum() == sum(_naive_kmers(seq, k).values())


def test_canonical_counts_cover_both_strands():
    assert len(canonical_columns(4)[0]) == 136 and len(canonical_columns(6)[0]) == 2080
    codes = np.random.default_rng(0).integers(0, 5, (20, 300)).astype(np.uint8)
    assert np.array_equal(kmer_counts(codes, 4), kmer_counts(reverse_complement_codes(codes), 4))
    full = kmer_counts(codes, 4, canonical=False)
    assert np.array_equal(kmer_counts(codes, 4).sum(axis=1), full.sum(axis=1))


def _split(table):
    return [(table.seqs[table.split == s], table.labels[table.split == s]) for s in range(3)]


def test_baselines_see_what_they_should():
    table = synthetic_table(n=600, window=100, n_tasks=1, seed=2)
    gc_rich = table.labels[:, 0] == 1
    codes = table.seqs.copy()
    codes[gc_rich, :60] = np.where(codes[gc_rich, :60] < 2, codes[gc_rich, :60] + 1, codes[gc_rich, :60])
    train, valid, test = _split(table)
    gc_table = synthetic_table(n=600, window=100, n_tasks=1, seed=2)
    gc_table.seqs = codes
    gtrain, gvalid, gtest = _split(gc_table)
    from peakcnn.metrics import auroc

    gc = fit_predict(Baseline("gc", "gc"), gtrain, gvalid, gtest)
    assert auroc(gtest[1][:, 0], gc[:, 0]) > 0.9  # GC-rich positives: GC alone separates them
    gc_on_motif = fit_predict(Baseline("gc", "gc"), train, valid, test)
    kmer = fit_predict(Baseline("kmer4", "4-mer", k=4), train, valid, test)
    assert auroc(test[1][:, 0], kmer[:, 0]) > auroc(test[1][:, 0], gc_on_motif[:, 0]) + 0.1
    tuned = Baseline("kmer6", "6-mer", k=6, tune_c=True)
    fit_predict(tuned, train, valid, test)
    assert tuned.untuned == []
    # the C of the grid with the best validation auPRC, fitted here with scikit-learn directly
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, xv = (features(tuned, part[0]) for part in (train, valid))
    valid_auprc = {
        c: average_precision_score(
            valid[1][:, 0],
            make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
            .fit(x, train[1][:, 0])
            .predict_proba(xv)[:, 1],
        )
        for c in (1e-3, 1e-2, 1e-1, 1.0)
    }
    assert len(set(valid_auprc.values())) > 1  # the choice matters on these windows
    assert tuned.chosen_c[0] == max(valid_auprc, key=lambda c: (valid_auprc[c], -c))
    assert features(Baseline("k4", "k4", k=4), test[0]).sum(axis=1) == pytest.approx(1.0)


def test_baseline_edge_cases_worked_by_hand(caplog):
    """A window of N has the neutral GC fraction 0.5; among Cs tied on validation auPRC the strongest
    regularisation wins; a baseline fitted on one class only is neither fitted nor tuned."""
    from peakcnn.baselines import C_GRID, _choose_c, run_baselines

    assert features(Baseline("gc", "gc"), np.full((2, 10), 4, np.uint8)).tolist() == [[0.5], [0.5]]
    x = np.r_[np.linspace(-3.5, -2.5, 20), np.linspace(2.5, 3.5, 20)].reshape(-1, 1)
    y = np.r_[np.zeros(20), np.ones(20)]
    assert _choose_c(x, y, x, y) == min(C_GRID)  # every C separates the clusters: auPRC 1 for all
    codes = np.random.default_rng(0).integers(0, 4, (40, 50)).astype(np.uint8)
    zeros, both = np.zeros((40, 1), np.uint8), y.reshape(-1, 1).astype(np.uint8)
    with caplog.at_level("WARNING"):
        fitted = run_baselines((codes, zeros), (codes, both), (codes, both), tasks=["t"], progress=False)
    for name in ("gc", "kmer4", "kmer6"):
        assert not fitted[name]["fitted"] and not fitted[name]["tuned"], name


def _baselines_with_one_class(caplog, split: str):
    """Baselines of two tasks, ``root`` and ``leaf``, whose ``leaf`` labels in ``split`` are all 0."""
    from peakcnn.baselines import run_baselines

    parts = dict(zip(("train", "valid", "test"), _split(synthetic_table(n=300, window=100, n_tasks=2, seed=3))))
    parts[split] = (parts[split][0], parts[split][1].copy())
    parts[split][1][:, 1] = 0
    with caplog.at_level("WARNING"):
        fitted = run_baselines(*parts.values(), tasks=["root", "leaf"])
    return *parts.values(), fitted


def test_a_c_that_cannot_be_chosen_on_valid_is_said_to_be_the_default(caplog):
    """With one class in a task's valid labels the 6-mer baseline cannot choose its L2 strength there: it
    uses C = 1, warns naming the task, and its label says so."""
    from peakcnn.baselines import run_baselines

    train, valid, test, fitted = _baselines_with_one_class(caplog, "valid")
    assert fitted["kmer6"]["chosen_c"][1] == 1.0
    assert fitted["kmer6"]["label"].endswith("(L2 chosen on valid; C = 1 for leaf: one class in valid)")
    assert "task leaf has one class in the valid split" in caplog.text and "task root" not in caplog.text
    assert fitted["kmer4"]["label"] == "4-mer logistic regression"
    assert fitted["kmer6"]["tuned"] and not fitted["kmer4"]["tuned"]  # root's C was chosen on valid
    caplog.clear()
    empty = (valid[0][:0], valid[1][:0])  # no validation windows at all: said as such, not "one class"
    with caplog.at_level("WARNING"):
        fitted = run_baselines(train, empty, test, tasks=["root", "leaf"])
    assert fitted["kmer6"]["label"].endswith("(L2 chosen on valid; C = 1 for root, leaf: no valid windows)")
    assert "the valid split is empty" in caplog.text and "one class" not in caplog.text
    assert not fitted["kmer6"]["tuned"] and fitted["kmer6"]["fitted"]  # valid chose nothing: evaluate's caveat


def test_a_baseline_not_fitted_for_a_task_says_so_in_its_label(caplog):
    """One class in a task's training labels: the baseline predicts a constant for it (auROC 0.5), and its
    label, which the report and the printout show beside the scores, says so."""
    *_, fitted = _baselines_with_one_class(caplog, "train")
    assert (
        fitted["gc"]["label"] == "GC-content logistic regression (not fitted for leaf: one class in train, a constant)"
    )
    assert fitted["kmer6"]["label"].endswith(
        "(L2 chosen on valid; not fitted for leaf: one class in train, a constant)"
    )
    assert fitted["kmer6"]["chosen_c"][1] is None and np.ptp(fitted["kmer6"]["probs"][:, 1]) == 0


def test_the_per_task_table_gives_each_baseline_note_on_its_own_task_only(caplog):
    """The report's per-task rows carry a baseline's note (not fitted, C not chosen) on the task it concerns,
    not repeated on every task's rows; the comparison table keeps the full label."""
    from peakcnn.report import comparison_table, per_task_table

    *_, fitted = _baselines_with_one_class(caplog, "train")
    assert fitted["kmer6"]["task_notes"] == {"leaf": "not fitted: one class in train, a constant"}
    assert fitted["kmer6"]["plain_label"] == "6-mer logistic regression (L2 chosen on valid)"
    scores = dict.fromkeys(("auroc", "auprc", "positive_rate", "accuracy", "loss", "brier", "ece"), 0.5)
    one = {"n": 4, "n_pos": 2, "n_neg": 2, **scores}
    metrics = {"macro": {**one, "n_tasks": 2}, "tasks": {"root": one, "leaf": one}}
    doc = {
        "dataset": {"tasks": ["root", "leaf"]},
        "models": {name: {**b, "metrics": metrics} for name, b in fitted.items() if name in ("gc", "kmer6")},
    }
    rows = [row.split("</td><td>")[:2] for row in per_task_table(doc).split("<tr>")[2:]]
    assert [(task[-4:], label) for task, label in rows] == [
        ("root", "GC-content logistic regression"),
        ("root", "6-mer logistic regression (L2 chosen on valid)"),
        ("leaf", "GC-content logistic regression (not fitted: one class in train, a constant)"),
        ("leaf", "6-mer logistic regression (L2 chosen on valid; not fitted: one class in train, a constant)"),
    ]
    assert "not fitted for leaf: one class in train, a constant" in comparison_table(doc)


@pytest.mark.parametrize("plot", ["plot_roc", "plot_pr"])
def test_curve_panels_label_each_model_and_say_when_a_task_has_one_class(plot, tmp_path, monkeypatch):
    import warnings

    from peakcnn import plots

    kept = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: kept.append(fig) or path)
    labels = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])  # task b has negatives only
    probs = np.array([[0.9, 0.1], [0.2, 0.3], [0.4, 0.2], [0.6, 0.4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "No artists with labels" warning from the one-class panel
        getattr(plots, plot)(labels, {"CNN": probs, "GC": probs[::-1]}, ["a", "b"], tmp_path / "x.png")
    a, b = kept[0].axes[:2]
    assert [line.get_label() for line in a.get_lines()][:2] == (
        ["CNN (0.750)", "GC (0.250)"] if plot == "plot_roc" else ["CNN (0.833)", "GC (0.500)"]  # worked out by hand
    )
    assert a.get_legend() is not None and b.get_legend() is None
    assert [t.get_text() for t in b.texts] == ["one class only: no curve"]
    # precision-recall as steps, the curve whose area is average precision (the auPRC in the legend)
    assert a.get_lines()[0].get_drawstyle() == ("default" if plot == "plot_roc" else "steps-post")


def test_panels_put_two_class_tasks_first_and_wrap_long_names(tmp_path, monkeypatch):
    """With more tasks than panels, tasks with both classes are drawn first; a one-class task's reliability
    panel says so rather than drawing a flat curve; long names wrap within the panel; epochs tick as whole
    numbers."""
    from peakcnn import plots

    kept = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: kept.append(fig) or path)
    monkeypatch.setattr(plots, "MAX_PANELS", 2)
    long = "Root_tip_ATAC_seq_replicate_one_of_three_chr1only"
    labels = np.array([[0, 1, 1], [0, 0, 1], [0, 1, 0], [0, 0, 0]])  # task "one" has negatives only
    probs = np.array([[0.9, 0.1, 0.8], [0.2, 0.3, 0.6], [0.4, 0.2, 0.3], [0.6, 0.4, 0.1]])
    tasks = ["one", long, "c"]
    assert plots.panel_tasks(labels) == [1, 2]
    plots.plot_roc(labels, {"CNN": probs}, tasks, tmp_path / "roc.png")
    titles = [ax.get_title() for ax in kept[-1].axes if ax.get_visible()]
    assert titles[0].splitlines()[-1] == "(n=4, 2 pos)" and titles[1].startswith("c\n")
    assert "".join(titles[0].splitlines()[:-1]) == long and max(map(len, titles[0].splitlines())) <= 34
    bins = [
        [
            {"mean_predicted": 0.3, "fraction_positive": f, "n": 2},
            {"mean_predicted": 0.7, "fraction_positive": 0.5, "n": 2},
        ]
        for f in (0.0, 0.5, 0.5)
    ]
    monkeypatch.setattr(plots, "MAX_PANELS", 3)
    plots.plot_calibration({"CNN": bins}, tasks, tmp_path / "cal.png", labels=labels)
    one = [ax for ax in kept[-1].axes if ax.get_title().startswith("one")][0]
    assert [t.get_text() for t in one.texts] == ["one class only: no curve"] and len(one.get_lines()) == 1  # diagonal
    rows = [{"epoch": e, "train_loss": 0.6, "valid_loss": 0.7, "valid_auroc": 0.6} for e in (1, 2, 3)]
    plots.plot_history(rows, tmp_path / "h.png")
    kept[-1].canvas.draw()
    ticks = [t for t in kept[-1].axes[0].get_xticks() if 1 <= t <= 3]
    assert ticks == [1, 2, 3]


def test_names_with_dollar_signs_are_drawn_as_written(tmp_path):
    """Task names are shown literally: a pair of $ in one ('root$_$') was read as mathtext and failed."""
    from peakcnn import plots
    from peakcnn.interpret.plot_ism import plot_ism

    labels = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    probs = np.array([[0.9, 0.1], [0.2, 0.3], [0.4, 0.2], [0.6, 0.4]])
    tasks = ["root$_$", "$x^2$"]
    plots.plot_roc(labels, {"CNN": probs}, tasks, tmp_path / "roc.png")
    plots.plot_pr(labels, {"CNN": probs}, tasks, tmp_path / "pr.png")
    bins = [
        [
            {"mean_predicted": 0.2, "fraction_positive": 0.3, "n": 2},
            {"mean_predicted": 0.7, "fraction_positive": 0.6, "n": 2},
        ]
    ] * 2
    plots.plot_calibration({"CNN": bins}, tasks, tmp_path / "cal.png")
    rows = [{"epoch": e, "train_loss": 0.6, "valid_loss": 0.7, "valid_auroc": 0.6} for e in (1, 2)]
    plots.plot_history(rows, tmp_path / "h.png", title="run $a$_$")
    x = np.eye(4, dtype=np.float32)[np.arange(12) % 4].T
    plot_ism(np.random.default_rng(0).normal(size=(2, 4, 12)), x, tasks, tmp_path / "ism.png", title="seq $1$")
    for name in ("roc", "pr", "cal", "h", "ism"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert plots.literal("root$_$") == r"root\$_\$"


def _kept_figures(monkeypatch):
    from peakcnn import plots

    kept = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: kept.append(fig) or path)
    return kept


def test_curve_panels_draw_each_tasks_own_curve_on_the_right_axes(tmp_path, monkeypatch):
    """Each panel holds its own task's curve (false positive rate across, true positive rate up; recall across,
    precision up), score and positive count; the precision-recall chance line is the task's positive rate."""
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    from peakcnn import plots

    kept = _kept_figures(monkeypatch)
    labels = np.array([[1, 0], [0, 1], [1, 0], [0, 0], [0, 0], [1, 0]])  # task a 3 of 6 positive, task b 1 of 6
    probs = np.array([[0.9, 0.2], [0.2, 0.7], [0.4, 0.8], [0.6, 0.1], [0.3, 0.5], [0.5, 0.3]])
    plots.plot_roc(labels, {"CNN": probs}, ["a", "b"], tmp_path / "roc.png")
    plots.plot_pr(labels, {"CNN": probs}, ["a", "b"], tmp_path / "pr.png")
    roc, pr = kept
    for t, pos in ((0, 3), (1, 1)):
        y, p = labels[:, t], probs[:, t]
        line = roc.axes[t].get_lines()[0]
        fpr, tpr, _ = roc_curve(y, p)
        np.testing.assert_allclose(line.get_xdata(), fpr)
        np.testing.assert_allclose(line.get_ydata(), tpr)
        assert line.get_label() == f"CNN ({roc_auc_score(y, p):.3f})"
        assert roc.axes[t].get_title().splitlines()[-1] == f"(n=6, {pos} pos)"
        line, chance = pr.axes[t].get_lines()[:2]
        precision, recall, _ = precision_recall_curve(y, p)
        np.testing.assert_allclose(line.get_xdata(), recall)
        np.testing.assert_allclose(line.get_ydata(), precision)
        assert line.get_label() == f"CNN ({average_precision_score(y, p):.3f})"
        np.testing.assert_allclose(chance.get_ydata(), [pos / 6, pos / 6])


def test_reliability_panels_draw_each_tasks_filled_bins(tmp_path, monkeypatch):
    """A task's panel joins its own non-empty bins (mean predicted across, fraction positive up) and counts its
    own windows; without labels the first MAX_PANELS tasks are drawn."""
    from peakcnn import plots

    kept = _kept_figures(monkeypatch)
    reliability = [reliability_bins(np.array(y), np.array(p), n_bins=4) for y, p in (
        ([0, 1, 1, 0, 1], [0.1, 0.2, 0.9, 0.15, 0.8]),
        ([0, 0, 1], [0.6, 0.7, 0.95]),
    )]  # fmt: skip
    assert reliability[0][1]["n"] == 0  # an empty bin between filled ones: no point, no NaN in the line
    plots.plot_calibration({"CNN": reliability}, ["a", "b"], tmp_path / "cal.png")
    for t, n in ((0, 5), (1, 3)):
        ax = kept[-1].axes[t]
        filled = [b for b in reliability[t] if b["n"]]
        line = ax.get_lines()[0]
        np.testing.assert_allclose(line.get_xdata(), [b["mean_predicted"] for b in filled])
        np.testing.assert_allclose(line.get_ydata(), [b["fraction_positive"] for b in filled])
        assert ax.get_title() == f"{'ab'[t]}\n(n={n})"
    tasks = [f"t{i}" for i in range(plots.MAX_PANELS + 1)]
    plots.plot_calibration({"CNN": [reliability[0]] * len(tasks)}, tasks, tmp_path / "cal.png")
    assert [ax.get_title().split("\n")[0] for ax in kept[-1].axes if ax.get_visible()] == tasks[: plots.MAX_PANELS]


def test_training_curves_draw_each_column_and_partly_recorded_scores(tmp_path, monkeypatch):
    """Train and valid loss are their own columns; a score missing from some epochs' rows (a history begun by an
    older version) is still drawn for the epochs that have it."""
    from peakcnn import plots

    kept = _kept_figures(monkeypatch)
    rows = [{"epoch": 1, "train_loss": 0.6, "valid_loss": 0.7, "valid_auroc": 0.6}]
    rows.append({"epoch": 2, "train_loss": 0.5, "valid_loss": 0.65, "valid_auroc": 0.7, "train_auprc": 0.8})
    plots.plot_history(rows, tmp_path / "h.png")
    losses, scores = kept[0].axes
    drawn = {line.get_label(): list(line.get_ydata()) for line in losses.get_lines()}
    assert drawn == {"train loss": [0.6, 0.5], "valid loss": [0.7, 0.65]}
    drawn = {line.get_label(): line.get_ydata() for line in scores.get_lines()}
    assert sorted(drawn) == ["train auPRC", "valid auROC"] and drawn["train auPRC"][1] == 0.8

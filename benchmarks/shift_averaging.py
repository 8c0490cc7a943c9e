"""Test-time shift averaging (``peakcnn evaluate --rc --shifts ...``) on a trained run, chosen on validation.

Each window is scored on both strands and, for each candidate set of shifts, also moved by those bases
(``N`` moved in, as training's shift augmentation does); the probabilities are averaged. The candidate sets
are fixed in :data:`CANDIDATES`. The set with the highest validation auPRC is chosen (the fewest shifts on
a tie) and adopted only when that is above no shift at all; the test figures of every set are printed
after the choice, for disclosure, and are not used to choose.

    python benchmarks/shift_averaging.py RUN DATASET

RUN is a run or ensemble folder (for root ATAC, ``OUT/ensemble_best_both*`` written by
``benchmarks/root_atac.py``); DATASET the data set it is scored on (``OUT/dataset``: replicate 1). The
model's first task is scored.
"""

from __future__ import annotations

import argparse
import time

#: Candidate shift sets (bp). ``(0,)`` is no test-time shift.
CANDIDATES = [(0,), (-1, 0, 1), (-5, 0, 5), (-10, -5, 0, 5, 10), (-20, -10, 0, 10, 20)]


def main() -> None:
    from peakcnn.checkpoint import load_model
    from peakcnn.data.store import Dataset
    from peakcnn.metrics import bootstrap_interval, multitask_metrics, sigmoid
    from peakcnn.trainer import predict_logits

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="run or ensemble folder")
    parser.add_argument("dataset", help="data set folder or dataset.h5 to score")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    model, _ = load_model(args.run)
    with Dataset(args.dataset) as ds:
        task = ds.tasks[0]
        splits = {s: ds.load_split(s) for s in ("valid", "test")}
    scores, probs = {}, {}
    for shifts in CANDIDATES:
        start = time.time()
        for split, (codes, labels) in splits.items():
            p = sigmoid(predict_logits(model, codes, device=args.device, rc=True, shifts=shifts))[:, :1]
            probs[shifts, split] = p
            scores[shifts, split] = multitask_metrics(labels[:, :1], p, [task])["macro"]
        print(f"shifts {shifts}: valid auPRC {scores[shifts, 'valid']['auprc']:.4f} ({time.time() - start:.0f} s)")
    chosen = max(CANDIDATES, key=lambda s: (scores[s, "valid"]["auprc"], -len(s)))
    adopted = scores[chosen, "valid"]["auprc"] > scores[(0,), "valid"]["auprc"]
    print(f"\nchosen on validation: {chosen} ({'adopted' if adopted else 'not adopted: no shift is as good'})\n")
    print("| shifts (bp), both strands | valid auPRC | test auROC | test auPRC | test accuracy |")
    print("|---|---:|---:|---:|---:|")
    for s in CANDIDATES:
        v, t = scores[s, "valid"], scores[s, "test"]
        mark = " (chosen)" if s == chosen else ""
        print(f"| {', '.join(map(str, s))}{mark} | {v['auprc']:.4f} | {t['auroc']:.4f} | {t['auprc']:.4f} "
              f"| {t['accuracy']:.3f} |")  # fmt: skip
    labels = splits["test"][1][:, 0]
    kept = chosen if adopted else (0,)
    ci = bootstrap_interval(labels, probs[kept, "test"][:, 0], n_boot=1000)
    state = "adopted" if adopted else "no shift"
    print(
        f"\nshifts {kept} ({state}), test: auROC 95% CI {ci['auroc'][0]:.3f}-{ci['auroc'][1]:.3f}, auPRC "
        f"{ci['auprc'][0]:.3f}-{ci['auprc'][1]:.3f} (stratified bootstrap of {len(labels)} test windows)"
    )


if __name__ == "__main__":
    main()

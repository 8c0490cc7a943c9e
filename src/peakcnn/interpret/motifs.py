"""What the first-layer filters learned, as motifs matched to a database (Basset's filter analysis).

For every filter of the first convolution, the windows' stretches that activate it are counted base by base
into a position frequency matrix, aligned on the filter's 19 (or ``kernel``) columns; ``N`` and the padding
past a window's ends count for nothing. A stretch activates a filter when the filter's output there
(convolution, batch norm and ReLU) exceeds ``mean + threshold * (max - mean)``, mean and max taken over every
position of every window read, as in Basset's ``basset_motifs.py`` (``threshold`` 0.5). Each matrix becomes a
probability matrix (a pseudocount of ``PSEUDOCOUNT`` per column spread evenly over the bases), is trimmed of
flanking columns carrying under ``TRIM_BITS`` bits, and is compared with a motif database by Tomtom
(``memelite.tomtom``, both strands, p-values from the query's columns against all target columns; q-values by
Benjamini-Hochberg over the targets of each filter). A filter's ``auroc`` is how well its strongest activation
in a window tells the peak windows (positive for any task) from the others: 0.5 is no better than chance.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from peakcnn.errors import InputError
from peakcnn.runconfig import is_real_number, is_whole_number
from peakcnn.sequence import ALPHABET as BASES

log = logging.getLogger(__name__)

#: A stretch is a site of a filter above ``mean + THRESHOLD * (max - mean)`` of its activations (Basset: 0.5).
THRESHOLD = 0.5
#: Added to every column of a frequency matrix, spread evenly over the four bases.
PSEUDOCOUNT = 1.0
#: Flanking columns with less information than this (bits) are trimmed before matching.
TRIM_BITS = 0.2
#: Filters with fewer sites than this are left unmatched: too few to make a motif of.
MIN_SITES = 10


@dataclass
class FilterMotifs:
    """Per filter of the first layer: ``counts`` ``(F, 4, K)`` base counts of its sites, ``sites`` ``(F,)``,
    ``max_activation``, ``mean_activation`` and ``cutoff`` ``(F,)`` (the activation a site exceeds) over all
    windows, and ``auroc`` ``(F,)`` of the per-window maximum for telling peak windows from the others (NaN
    with one class only)."""

    counts: np.ndarray
    sites: np.ndarray
    max_activation: np.ndarray
    mean_activation: np.ndarray
    cutoff: np.ndarray
    auroc: np.ndarray


def first_layer(model: nn.Module) -> nn.Sequential:
    """Convolution, batch norm and ReLU of the first block of a :class:`~peakcnn.model.DNASeqClassifier`."""
    from peakcnn.model import DNASeqClassifier

    if not isinstance(model, DNASeqClassifier):
        members = len(getattr(model, "members", []))
        what = f"an ensemble of {members} networks" if members else f"a {type(model).__name__}"
        raise InputError(f"the model is {what}; motifs reads the first layer of one network: give one run")
    return model.trunk[:3]


def _unfold(x: torch.Tensor, width: int, pad: int) -> torch.Tensor:
    """``(B, 4, L)`` one-hot -> ``(B * P, 4 * width)``: the input stretch under each of the ``P`` output
    positions of a convolution of ``width`` with ``pad`` zeros on either side (``P = L + 2 pad - width + 1``)."""
    x = nn.functional.pad(x, (pad, pad))
    return x.unfold(2, width, 1).permute(0, 2, 1, 3).reshape(-1, 4 * width)


def check_threshold(threshold: float) -> None:
    """One line unless ``threshold`` is a fraction of the way from the mean to the largest activation."""
    if not is_real_number(threshold) or not 0 <= threshold < 1:
        raise InputError(f"--threshold {threshold!r}: give a fraction of the way from the mean to the largest "
                         "activation, 0 <= t < 1")  # fmt: skip


def filter_motifs(
    model: nn.Module,
    codes: np.ndarray,
    labels: np.ndarray,
    threshold: float = THRESHOLD,
    batch_size: int = 64,
    device=None,
    progress=None,
) -> FilterMotifs:
    """Count the sites of every first-layer filter in the windows ``codes`` ``(N, L)`` (two passes: the mean
    and largest activations, then the stretches above ``mean + threshold * (max - mean)``); ``labels``
    ``(N, T)`` give the peak windows for ``auroc``. ``progress`` is called with the windows of each batch of
    either pass."""
    from sklearn.metrics import roc_auc_score

    from peakcnn.inference import best_device, check_batch_size, check_codes, inference_mode, input_dtype
    from peakcnn.sequence import codes_to_onehot_torch

    check_threshold(threshold)
    layer = first_layer(model)
    codes, labels = check_codes(codes), np.asarray(labels)
    if labels.ndim != 2 or len(labels) != len(codes):
        raise InputError(f"labels: shape {labels.shape}; give one row of task labels per window, ({len(codes)}, T)")
    batch_size = check_batch_size(batch_size)
    conv = layer[0]
    width, n_filters, pad = conv.kernel_size[0], conv.out_channels, conv.padding[0]
    dev = best_device(device)
    batches = [slice(i, i + batch_size) for i in range(0, len(codes), batch_size)]
    peak_max = np.zeros((len(codes), n_filters), np.float32)
    total = np.zeros(n_filters, np.float64)
    positions = 0
    # float32 on the device (MPS has no float64): a batch's counts are whole numbers far below 2**24
    counts = np.zeros((n_filters, 4 * width), np.float64)
    sites = np.zeros(n_filters, np.int64)
    with inference_mode(layer, dev) as net:

        def activations(rows):
            x = codes_to_onehot_torch(torch.as_tensor(codes[rows], device=dev), dtype=torch.float32)
            return x, net(x.to(input_dtype(net))).float()

        for rows in batches:
            _, a = activations(rows)
            peak_max[rows] = a.amax(dim=2).cpu().numpy()
            total += a.sum(dim=(0, 2)).double().cpu().numpy()
            positions += a.shape[0] * a.shape[2]
            if progress:
                progress(a.shape[0])
        top = peak_max.max(axis=0, initial=0.0)
        mean = total / max(positions, 1)
        cutoff = mean + threshold * (top - mean)
        cut = torch.as_tensor(cutoff, dtype=torch.float32, device=dev)[None, :, None]
        alive = torch.as_tensor(top > 0, device=dev)[None, :, None]  # a filter silent everywhere has no site
        for rows in batches:
            x, a = activations(rows)
            hits = ((a > cut) & alive).permute(1, 0, 2).reshape(n_filters, -1)
            # (F, B * P) @ (B * P, 4 * width): the stretches of every site, summed per filter
            counts += (hits.float() @ _unfold(x, width, pad)).cpu().numpy()
            sites += hits.sum(dim=1).cpu().numpy()
            if progress:
                progress(x.shape[0])
    peaks = labels.max(axis=1) > 0 if labels.size else np.zeros(len(codes), bool)
    if peaks.all() or not peaks.any():
        auroc = np.full(n_filters, np.nan)
    else:
        auroc = np.array([roc_auc_score(peaks, peak_max[:, f]) for f in range(n_filters)])
    return FilterMotifs(counts=counts.reshape(n_filters, 4, width), sites=sites, max_activation=top,
                        mean_activation=mean, cutoff=cutoff, auroc=auroc)  # fmt: skip


def filter_influence(
    model: nn.Module,
    codes: np.ndarray,
    labels: np.ndarray,
    mean_activation: np.ndarray,
    batch_size: int = 64,
    device=None,
    progress=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Basset's filter influence: each first-layer filter's output (after batch norm and ReLU, before
    pooling) is replaced by its mean activation ``mean_activation`` ``(F,)`` at every position, and the
    windows ``codes`` are scored again against their ``labels`` ``(N, T)``. Returns the mean change of the
    binary cross-entropy per filter and task ``(F, T)`` (positive: the filter lowers the loss, so it helps)
    and the mean change of the logits per filter ``(F,)`` over windows and tasks (negative: the filter
    raises the predictions). ``progress`` is called with the windows of each batch, once per filter."""
    from peakcnn.inference import best_device, inference_mode
    from peakcnn.sequence import codes_to_onehot_torch

    layer = first_layer(model)
    n_filters = layer[0].out_channels
    dev = best_device(device)
    loss_change = np.zeros((n_filters, labels.shape[1]), np.float64)
    logit_change = np.zeros(n_filters, np.float64)
    bce = nn.functional.binary_cross_entropy_with_logits
    with inference_mode(model, dev) as net:
        rest = nn.Sequential(*net.trunk[3:], net.head)
        means = torch.as_tensor(mean_activation, dtype=torch.float32, device=dev)
        for i in range(0, len(codes), batch_size):
            x = codes_to_onehot_torch(torch.as_tensor(codes[i : i + batch_size], device=dev), dtype=torch.float32)
            y = torch.as_tensor(labels[i : i + batch_size], dtype=torch.float32, device=dev)
            a = layer(x).float()
            logits = rest(a).float()
            loss = bce(logits, y, reduction="none")
            for f in range(n_filters):
                kept = a[:, f, :].clone()
                a[:, f, :] = means[f]
                changed = rest(a).float()
                a[:, f, :] = kept
                loss_change[f] += (bce(changed, y, reduction="none") - loss).sum(dim=0).double().cpu().numpy()
                logit_change[f] += (changed - logits).mean(dim=1).sum().item()
                if progress:
                    progress(len(x))
    n = max(len(codes), 1)
    return loss_change / n, logit_change / n


def probabilities(counts: np.ndarray, pseudocount: float = PSEUDOCOUNT) -> np.ndarray:
    """Base counts ``(4, K)`` -> probabilities, each column with ``pseudocount`` spread over the bases."""
    counts = np.asarray(counts, dtype=np.float64) + pseudocount / 4
    return counts / counts.sum(axis=0, keepdims=True)


def information(ppm: np.ndarray) -> np.ndarray:
    """Information content (bits) of each column of a probability matrix ``(4, K)``."""
    p = np.clip(ppm, 1e-12, 1)
    return 2 + (p * np.log2(p)).sum(axis=0)


def trim(ppm: np.ndarray, min_bits: float = TRIM_BITS) -> np.ndarray:
    """``ppm`` without its flanking columns of less than ``min_bits`` bits (empty when every column is)."""
    keep = np.flatnonzero(information(ppm) >= min_bits)
    return ppm[:, keep[0] : keep[-1] + 1] if len(keep) else ppm[:, :0]


def consensus(ppm: np.ndarray) -> str:
    """The most likely base of each column, lowercase where it has under half the probability."""
    best = ppm.argmax(axis=0)
    return "".join(BASES[b] if ppm[b, j] >= 0.5 else BASES[b].lower() for j, b in enumerate(best))


@dataclass
class MotifDatabase:
    """Target motifs: ``ids``, ``names``, probability matrices ``(4, K)`` and where they came from."""

    ids: list[str]
    names: list[str]
    ppms: list[np.ndarray]
    source: str


def jaspar_motifs(tax_group: str = "plants", release: str | None = None) -> MotifDatabase:
    """The JASPAR CORE motifs of ``tax_group`` (latest version of each) from the ``pyjaspar`` package's own
    copy of the database: no network access."""
    import warnings

    from pyjaspar import jaspar_releases, jaspardb

    if release is not None and release not in jaspar_releases:
        known = ", ".join(sorted(jaspar_releases, reverse=True))
        raise InputError(f"--jaspar-release {release}: not in pyjaspar; choose one of {known}")
    db = jaspardb(release=release) if release else jaspardb()
    with warnings.catch_warnings():  # an unknown group is reported below, not as Biopython's warning
        warnings.simplefilter("ignore")
        motifs = db.fetch_motifs(collection="CORE", tax_group=[tax_group])
    if not motifs:
        raise InputError(
            f"--jaspar-group {tax_group}: no JASPAR CORE motifs; choose plants, vertebrates, insects, nematodes, "
            "fungi or urochordates, or give --motif-db FILE.meme"
        )
    ppms = [_checked_matrix(np.array([m.counts[b] for b in BASES], dtype=np.float64), m.matrix_id) for m in motifs]
    return MotifDatabase(
        ids=[m.matrix_id for m in motifs],
        names=[m.name for m in motifs],
        ppms=ppms,
        source=f"{db.release} CORE {tax_group} ({len(motifs)} motifs, pyjaspar)",
    )


#: A MEME file declaring a motif wider than this is refused (no binding site is; it would only fill memory).
MAX_MOTIF_WIDTH = 1000


def meme_motifs(path: str | Path) -> MotifDatabase:
    """Motifs of a MEME-format file (letter-probability matrices over ACGT)."""
    import re

    from memelite.io import read_meme

    path = Path(path)
    if not path.exists():
        raise InputError(f"--motif-db {path}: no such file")
    if not path.is_file():
        raise InputError(f"--motif-db {path}: not a file; give a motif file in MEME format")
    try:
        text = path.read_bytes()
        widths = [int(w) for w in re.findall(rb"\bw=\s*(\d+)", text)]
        if any(w > MAX_MOTIF_WIDTH for w in widths):
            raise InputError(f"--motif-db {path}: declares a motif {max(widths):,} columns wide (w=); "
                             f"motifs here hold at most {MAX_MOTIF_WIDTH:,}")  # fmt: skip
        found = read_meme(str(path))
    except OSError as e:
        raise InputError(f"--motif-db {path}: cannot be read ({e.strerror or e})") from None
    except (ValueError, AttributeError, IndexError, UnicodeDecodeError) as e:
        raise InputError(f"--motif-db {path}: not a MEME motif file ({e}); give a file in MEME format") from None
    if not found:
        raise InputError(f"--motif-db {path}: no MOTIF with a letter-probability matrix; give a file in MEME format")
    found = {" ".join(k.split()): m for k, m in found.items()}  # memelite versions differ in keeping blanks
    keys = list(found)
    declared = [" ".join(m.decode("utf-8", "replace").split()) for m in re.findall(rb"^MOTIF[ \t]+(.*?)\s*$",
                                                                                  text, re.M)]  # fmt: skip
    missing = [m for m in declared if m not in found]
    if missing:
        raise InputError(f"--motif-db {path}: MOTIF {missing[0]} has no complete letter-probability matrix "
                         f"({len(missing)} of {len(declared)} motifs are incomplete); fix or remove them")  # fmt: skip
    declared_ids = [m.split(" ")[0] for m in declared]
    twice = sorted({i for i in declared_ids if declared_ids.count(i) > 1})
    if twice:
        raise InputError(f"--motif-db {path}: motif ID {twice[0]} appears more than once; give each motif its own ID")
    return MotifDatabase(
        ids=[k.split(" ")[0] for k in keys],
        names=[k.partition(" ")[2] or k for k in keys],
        ppms=[_checked_matrix(found[k], f"{path}: motif {k}") for k in keys],
        source=f"{path.name} ({len(keys)} motifs)",
    )


def _checked_matrix(m: np.ndarray, what: str) -> np.ndarray:
    """A database matrix ``(4, K)`` as probabilities; one line naming ``what`` when it cannot be one."""
    if m.ndim != 2 or m.shape[0] != 4 or m.shape[1] == 0:
        raise InputError(f"{what}: a motif needs 4 rows (A C G T) and at least one column, not shape {m.shape}")
    if not np.isfinite(m).all() or (m < 0).any() or (m.sum(axis=0) <= 0).any():
        raise InputError(f"{what}: a column holds a negative, empty or non-finite value; it is no motif")
    return m / m.sum(axis=0, keepdims=True)


#: Tomtom's p-values rest on the columns of the database; with fewer motifs than this they are unreliable.
FEW_TARGETS = 25


def few_targets_warning(db: MotifDatabase) -> str | None:
    """The caveat for a database too small for Tomtom's null distribution, or ``None``."""
    n = len(db.ppms)
    if n >= FEW_TARGETS:
        return None
    return (f"{db.source}: Tomtom's p-values are built from the columns of the database's {n} motif"
            f"{'s' if n != 1 else ''}; under {FEW_TARGETS} they can change by orders of magnitude with the choice "
            "of motifs: read the matches with care, or give a larger --motif-db")  # fmt: skip


def match(queries: list[np.ndarray], db: MotifDatabase) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tomtom of each query against every database motif: p-values, q-values (Benjamini-Hochberg over the
    targets of each query) and the strand of the best alignment (0 forward, 1 reverse complement), each
    ``(len(queries), len(db.ppms))``. A database under :data:`FEW_TARGETS` motifs is not refused
    (:func:`few_targets_warning` says what it means)."""
    import warnings

    from memelite import tomtom
    from scipy.stats import false_discovery_control

    if isinstance(queries, np.ndarray) or not isinstance(queries, (list, tuple)):
        raise InputError(f"queries: a {type(queries).__name__}; give a list of (4, K) probability matrices")
    # counts are made probabilities, as the database's are; a matrix that cannot be one is refused
    queries = [_checked_matrix(np.asarray(q, dtype=np.float64), f"query {i}") for i, q in enumerate(queries)]
    if not queries:
        empty = np.zeros((0, len(db.ppms)))
        return empty, empty, empty.astype(np.int64)
    threads = torch.get_num_threads()  # numba's parallel loops reset the OpenMP thread count torch shares
    try:
        with warnings.catch_warnings():  # memelite's warning of a small database: see few_targets_warning
            warnings.filterwarnings("ignore", message="tomtom was given", category=UserWarning)
            p, _, _, _, strands = tomtom(queries, db.ppms)
    finally:
        torch.set_num_threads(threads)
    p = np.clip(np.asarray(p, dtype=np.float64), 0, 1)
    q = np.stack([false_discovery_control(row) for row in p])
    return p, q, np.asarray(strands, dtype=np.int64)


#: Trimmed filter motifs shorter than this are left unmatched (Tomtom's p-values need a few columns).
MIN_WIDTH = 4
#: Windows read at the most (a random subset of the split beyond this; seed 0).
MAX_WINDOWS = 5000
#: Filters drawn in logos.png at the most, by the distance of their auROC from 0.5.
MAX_LOGOS = 24
OUT_FILES = ("motifs.tsv", "motifs.json", "filters.meme", "logos.png", "report.html")
TSV_COLUMNS = ["filter", "sites", "auroc", "bits", "consensus", "match_id", "match_name", "strand", "p_value",
               "q_value", "matches", "max_activation", "cutoff", "influence", "logit_change"]  # fmt: skip


def describe_filters(found: FilterMotifs, db: MotifDatabase, max_q: float) -> list[dict]:
    """One row per filter (``TSV_COLUMNS``): its sites, auROC, the information of its trimmed motif, its
    consensus, and its best database match with the number of matches at q <= ``max_q`` (empty fields for
    a filter with under :data:`MIN_SITES` sites or a trimmed motif under :data:`MIN_WIDTH` columns)."""
    rows, queries, asked = [], [], []
    for f in range(len(found.sites)):
        ppm = trim(probabilities(found.counts[f]))
        auroc = None if np.isnan(found.auroc[f]) else float(found.auroc[f])
        row = {"filter": f, "sites": int(found.sites[f]), "auroc": auroc, "bits": None,
               "consensus": "", "match_id": "", "match_name": "", "strand": "", "p_value": None, "q_value": None,
               "matches": None, "max_activation": float(found.max_activation[f]),
               "cutoff": float(found.cutoff[f]), "influence": None, "logit_change": None,
               "influence_per_task": None}  # fmt: skip
        if found.sites[f] >= MIN_SITES:
            row["bits"], row["consensus"] = float(information(ppm).sum()), consensus(ppm)
            if ppm.shape[1] >= MIN_WIDTH:
                queries.append(ppm)
                asked.append(f)
        rows.append(row)
    p, q, strands = match(queries, db)
    for k, f in enumerate(asked):
        best = int(np.argmin(p[k]))
        rows[f].update(
            match_id=db.ids[best],
            match_name=db.names[best],
            strand="+-"[int(strands[k, best])],
            p_value=float(p[k, best]),
            q_value=float(q[k, best]),
            matches=int((q[k] <= max_q).sum()),
        )
    return rows


def _windows(ds, split: str, max_windows: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes and labels of ``split`` (``all``: every window), at most ``max_windows`` of them drawn at random
    (seed 0, kept in data set order, only those read); also the number of windows the split holds."""
    if split == "all":
        rows = slice(0, sum(ds.count(s) for s in ("train", "valid", "test")))
    else:
        rows = ds.split_slice(split)
    n = rows.stop - rows.start
    if n == 0:
        raise InputError(f"{ds.path}: the {split} split has no windows; choose another --split")
    if n > max_windows:
        rows = rows.start + np.sort(np.random.default_rng(0).choice(n, max_windows, replace=False))
    return ds.read("seqs", rows), ds.read("labels", rows), n


def _check_influence_data(ds, meta: dict, run: Path) -> None:
    """The influence scores whole windows against their labels: the data set must have the model's window
    and tasks (the filter analysis alone reads windows of any length and any tasks)."""
    if ds.window != int(meta["window"]):
        raise InputError(
            f"{ds.path}: {ds.window} bp windows, but the model in {run} takes {meta['window']} bp; --influence "
            f"scores whole windows: give a data set prepared with --window {meta['window']}, or leave out --influence"
        )
    if ds.tasks != list(meta["tasks"]):
        raise InputError(
            f"{ds.path}: tasks {ds.tasks} differ from the model's {meta['tasks']} ({run}); --influence measures "
            "the loss against the labels of the model's tasks: give a data set with those tasks, or leave it out"
        )


def check_motif_folder(folder: Path) -> None:
    """Refuse an ``--out`` that is a file, or a folder holding files this command does not write (it is
    replaced as a whole)."""
    from peakcnn.io.output import check_own_folder

    check_own_folder(folder, OUT_FILES, "'peakcnn motifs'")


def remove_motifs(run: Path) -> bool:
    """Delete ``RUN/motifs`` when it holds only what this command writes: it describes a model that
    ``train --force`` is replacing. Returns whether it went."""
    from peakcnn.io.output import remove_own_folder

    return remove_own_folder(Path(run) / "motifs", OUT_FILES, "motifs.json", "'peakcnn motifs'", "'peakcnn motifs'")


def find_motifs(
    run,
    dataset=None,
    split: str = "test",
    out=None,
    threshold: float = THRESHOLD,
    max_windows: int = MAX_WINDOWS,
    jaspar_group: str = "plants",
    jaspar_release: str | None = None,
    motif_db=None,
    max_q: float = 0.05,
    influence: int = 0,
    device=None,
    progress: bool = True,
) -> tuple[dict, Path]:
    """The motifs of the first-layer filters of ``run``'s network, found in windows of a data set (default:
    the run's own, test split) and matched to JASPAR CORE (``jaspar_group``) or a MEME file (``motif_db``).
    Writes ``motifs.tsv``, ``motifs.json``, ``filters.meme``, ``logos.png`` and ``report.html`` to ``out``
    (default ``RUN/motifs``); returns ``(document, folder)``."""
    from peakcnn.checkpoint import load_model
    from peakcnn.data.store import SPLITS, Dataset
    from peakcnn.evaluate import dataset_path
    from peakcnn.io.output import built_aside, check_not_current_folder, folder_destination
    from peakcnn.progress import progress_bar

    if split not in (*SPLITS, "all"):
        raise InputError(f"--split {split!r}: choose one of {', '.join(SPLITS)} or all")
    if not is_whole_number(max_windows) or max_windows < 1:
        raise InputError(f"--max-windows {max_windows!r}: give a whole number of at least 1")
    if not is_whole_number(influence) or influence < 0:
        raise InputError(f"--influence {influence!r}: give a number of windows, 0 to skip")
    max_windows, influence = int(max_windows), int(influence)  # numpy integers too, as plain ints in JSON
    if not is_real_number(max_q) or not 0 < max_q <= 1:
        raise InputError(f"--max-q {max_q!r}: give a q-value threshold, 0 < q <= 1")
    check_threshold(threshold)
    if motif_db is not None and jaspar_release is not None:
        raise InputError(
            "--jaspar-release picks a JASPAR release and --motif-db replaces JASPAR with a file: give one or the other"
        )
    run = Path(run)
    folder = Path(out) if out else run / "motifs"
    check_motif_folder(folder)
    check_not_current_folder(folder)
    folder = folder_destination(folder)
    model, meta = load_model(run)
    n_filters = first_layer(model)[0].out_channels  # an ensemble is refused before the data are read
    db = meme_motifs(motif_db) if motif_db else jaspar_motifs(jaspar_group, jaspar_release)
    caveat = few_targets_warning(db)
    if caveat:
        log.warning(f"warning: {caveat}")
    with Dataset(dataset_path(run, meta, dataset)) as ds:
        if influence:
            _check_influence_data(ds, meta, run)
        codes, labels, n_split = _windows(ds, split, max_windows)
        doc = {
            "run": str(run.resolve()),
            "model_sha256": meta.get("tensors_sha256"),
            "dataset": str(ds.path.resolve()),
            "dataset_sha256": ds.sha256,
            "negatives": ds.attrs.get("negatives", "not recorded"),
            "split": split,
            "windows": int(len(codes)),
            "windows_in_split": int(n_split),
            "tasks": ds.tasks,
        }
    scored = min(influence, len(codes))
    if 0 < scored < influence:
        log.info(f"--influence {influence}: {scored:,} windows were read; influence is measured on all of them")
    # a random subset (seed 0) of the windows read: the data set keeps a split's windows in genome order
    chosen = np.sort(np.random.default_rng(0).choice(len(codes), scored, replace=False))
    with progress_bar(progress, 2 * len(codes) + scored * n_filters, "window", "motifs") as bar:
        found = filter_motifs(model, codes, labels, threshold, device=device, progress=bar.update)
        if scored:
            per_task, shift = filter_influence(model, codes[chosen], labels[chosen], found.mean_activation,
                                               device=device, progress=bar.update)  # fmt: skip
    rows = describe_filters(found, db, max_q)
    if scored:
        for row, tasks, f_shift in zip(rows, per_task, shift):
            row.update(influence=float(tasks.mean()), logit_change=float(f_shift),
                       influence_per_task=[float(v) for v in tasks])  # fmt: skip
    doc.update(
        threshold=threshold,
        pseudocount=PSEUDOCOUNT,
        trim_bits=TRIM_BITS,
        min_sites=MIN_SITES,
        min_width=MIN_WIDTH,
        max_q=max_q,
        influence_windows=scored,
        database=db.source,
        warnings=[caveat] if caveat else [],
        filters=rows,
    )
    with built_aside(folder) as tmp:
        _write_outputs(tmp, doc, found)
    return doc, folder


def write_meme(path: Path, found: FilterMotifs) -> None:
    """The probability matrix of every filter with a site, full width, in MEME format (``nsites`` its sites)."""
    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", "", "Background letter frequencies",
             "A 0.25 C 0.25 G 0.25 T 0.25", ""]  # fmt: skip
    for f in np.flatnonzero(found.sites > 0):
        ppm = probabilities(found.counts[f])
        lines += [f"MOTIF filter{f}", f"letter-probability matrix: alength= 4 w= {ppm.shape[1]} nsites= "
                  f"{found.sites[f]} E= 0"]  # fmt: skip
        lines += [" ".join(f"{v:.6f}" for v in col) for col in ppm.T] + [""]
    path.write_text("\n".join(lines) + "\n")


def _write_outputs(folder: Path, doc: dict, found: FilterMotifs) -> None:
    import json

    from peakcnn.interpret.plot_motifs import plot_logos
    from peakcnn.io.output import format_float, write_table

    def cell(v):
        return "" if v is None else format_float(v) if isinstance(v, float) else str(v)

    rows = doc["filters"]
    write_table(folder / "motifs.tsv", TSV_COLUMNS, ([cell(r[k]) for k in TSV_COLUMNS] for r in rows))
    (folder / "motifs.json").write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    write_meme(folder / "filters.meme", found)
    shown = top_filters(rows)
    plot_logos([probabilities(found.counts[r["filter"]]) for r in shown], [logo_title(r) for r in shown],
               folder / "logos.png")  # fmt: skip
    (folder / "report.html").write_text(render(doc, folder / "logos.png", len(shown)), encoding="utf-8")


def matched_filters(doc: dict) -> list[dict]:
    """The filters of a motifs document whose best database match has q <= its ``max_q``."""
    return [r for r in doc["filters"] if r["q_value"] is not None and r["q_value"] <= doc["max_q"]]


def top_filters(rows: list[dict]) -> list[dict]:
    """Filters with enough sites, most telling first (:func:`rank`), at most :data:`MAX_LOGOS`."""
    return sorted((r for r in rows if r["bits"] is not None), key=rank)[:MAX_LOGOS]


def rank(row: dict) -> tuple:
    """Sort key: filters with a motif first, then by influence where it was measured, then by how far their
    auROC lies from 0.5 either way (a filter that fires in the negatives tells them apart as well; none: as
    chance), then by sites."""
    auroc = 0.5 if row["auroc"] is None else row["auroc"]
    return (row["bits"] is None, -(row["influence"] or 0.0), -abs(auroc - 0.5), -row["sites"])


def logo_title(row: dict) -> str:
    auroc = "n/a" if row["auroc"] is None else f"{row['auroc']:.2f}"
    best = f"{row['match_name']} ({row['match_id']}), q={row['q_value']:.1e}" if row["match_id"] else "no match"
    influence = "" if row["influence"] is None else f", influence {row['influence']:+.1e}"
    return f"filter {row['filter']}: {row['sites']:,} sites, auROC {auroc}{influence}; best: {best}"


def render(doc: dict, logos: Path, n_logos: int) -> str:
    """The HTML page: settings, the logos of the top filters and the table of every filter."""
    from peakcnn.report import _CSS, _esc, _image, _table

    rows = doc["filters"]
    matched = matched_filters(doc)
    described = sum(r["bits"] is not None for r in rows)

    def num(v, spec):
        return "" if v is None else format(v, spec)

    table = _table(
        ["filter", "sites", "auROC", "influence", "logit change", "bits", "consensus", "best match", "strand", "p",
         "q", f"matches (q &le; {doc['max_q']})"],
        [[str(r["filter"]), f"{r['sites']:,}", num(r["auroc"], ".3f"), num(r["influence"], ".2e"),
          num(r["logit_change"], "+.3f"), num(r["bits"], ".1f"),
          f"<code>{_esc(r['consensus'])}</code>", _esc(f"{r['match_name']} {r['match_id']}".strip()), r["strand"],
          num(r["p_value"], ".1e"), num(r["q_value"], ".1e"), "" if r["matches"] is None else str(r["matches"])]
         for r in sorted(rows, key=rank)],
    )  # fmt: skip
    subset = doc["windows"] < doc["windows_in_split"]
    which = f"a random subset, seed 0, of the {doc['windows_in_split']:,}" if subset else "all the"
    window_note = f"{doc['windows']:,} windows ({which} windows of the {_esc(doc['split'])} split)"
    body = [
        f"<h1>peakcnn motifs: {_esc(Path(doc['run']).name)}</h1>",
        f"<p>First-layer filters of the network in <code>{_esc(doc['run'])}</code>, read in {window_note} of "
        f"<code>{_esc(doc['dataset'])}</code> (negatives: <b>{_esc(doc['negatives'])}</b>; tasks: "
        f"{_esc(', '.join(doc['tasks']))}). A site is a stretch whose activation exceeds the filter's mean "
        f"activation plus {doc['threshold']} of the way to its largest; {described} of {len(rows)} filters have at "
        f"least {doc['min_sites']} sites, and "
        f"{len(matched)} match a motif of {_esc(doc['database'])} at q &le; {doc['max_q']} (Tomtom, both strands). "
        "auROC: how well a filter's strongest activation in a window tells peak windows from the others (above 0.5: "
        "the filter fires more in peak windows; below: more in the others).</p>",
        (
            f"<p>Influence (Basset's filter influence): each filter's output replaced by its mean activation, "
            f"{doc['influence_windows']:,} of the windows (a random subset, seed 0) scored again against their "
            "labels; the mean rise of the binary cross-entropy over windows and tasks (above 0: the filter helps), "
            "and the mean change of the logits (negative: the filter raises the predictions). Filters with a motif "
            "are ranked by influence; motifs.json holds each task's influence.</p>"
            if doc["influence_windows"]
            else ""
        ),
        *(f"<p class='note'>{_esc(w)}</p>" for w in doc["warnings"]),
        _image(
            logos,
            f"the {n_logos} filters with a motif of highest influence (information content, bits)"
            if doc["influence_windows"]
            else f"the {n_logos} filters with a motif whose auROC lies furthest from 0.5 (information content, bits)",
        ),
        "<h2>Every filter</h2>",
        table,
    ]
    head = f"<meta charset='utf-8'><title>peakcnn motifs {_esc(Path(doc['run']).name)}</title><style>{_CSS}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{chr(10).join(body)}</body></html>\n"

"""``peakcnn prepare``: genome + peak files -> ``DIR/dataset.h5``, ``DIR/windows.bed``, ``DIR/manifest.json``.

Output is written into a temporary folder next to ``DIR`` and renamed into place at the end, so a failed
run leaves nothing behind. An existing ``DIR``:

* holding the same data set (same input files by sha256, same parameters, same peakcnn version) is reused
  as it is, without recomputation, also with ``force=True``, once its three files are there and
  ``dataset.h5`` holds the content the manifest records; otherwise it is rebuilt (deleting ``dataset.h5``
  forces that);
* holding a different peakcnn data set is refused unless ``force=True``, which replaces it, and only when
  the folder holds nothing but a data set's own files;
* holding anything else (a non-empty folder without a peakcnn manifest) is always refused.

An input file (genome, peaks, ``exclude``, alias file) inside ``DIR`` is refused: replacing ``DIR`` would
delete it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import math
import os
from pathlib import Path

import numpy as np

from peakcnn import __version__
from peakcnn.data.build import build_windows
from peakcnn.data.split import SPLIT_NAMES
from peakcnn.data.store import DATASET_FILE, write_dataset
from peakcnn.data.summary import gc_warnings, n_warnings, table_stats
from peakcnn.errors import InputError, OutputError
from peakcnn.io.bed import read_peaks, task_column_clash, task_name, task_name_problem, write_bed
from peakcnn.io.output import (
    built_aside,
    check_not_current_folder,
    check_output_folder,
    folder_destination,
)
from peakcnn.modelconfig import shortest_window
from peakcnn.runconfig import check_flag

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
WINDOWS_BED = "windows.bed"
#: The files of a data set folder: all that ``force`` may replace.
DATASET_FILES = frozenset({DATASET_FILE, MANIFEST, WINDOWS_BED})
MANIFEST_FORMAT = "peakcnn-prepare-manifest"
NEGATIVES = ("gc-matched", "shuffled", "random", "none")
#: Negative kinds drawn from the genome, which ``exclude`` regions keep off.
GENOMIC_NEGATIVES = ("gc-matched", "random")
SPLITS = ("auto", "chrom", "region")
CENTERS = ("summit", "midpoint")


def _drop_summary(report: dict) -> str:
    """The reasons peaks and their windows were dropped, with counts, summed over tasks (for a message)."""
    reasons: dict[str, int] = {}
    for per_task in report.get("peaks_dropped", {}).values():
        for reason, count in per_task.items():
            n = sum(count.values()) if isinstance(count, dict) else int(count)
            reasons[reason] = reasons.get(reason, 0) + n
    read = sum(report.get("peaks_read", {}).values())
    peaks = ", ".join(f"{reason}: {n:,}" for reason, n in reasons.items() if n)
    windows = ", ".join(f"{reason}: {n:,}" for reason, n in report.get("windows_dropped", {}).items() if n)
    text = f"{read:,} peaks read; peaks dropped: {peaks or 'none'}"
    return f"{text}; windows dropped: {windows}" if windows else text


#: A held-out split with a smaller share of the peak windows than this is warned about.
MIN_HELD_OUT = 0.02

#: Default ``label_distance``: the central 200 bp, or the widest a shorter window allows.
LABEL_DISTANCE = 200


def _is_whole(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _check_params(p: dict) -> dict:
    """Validate parameters; fill defaults that depend on others."""
    kinds = {"max_n_frac": _is_real, "neg_ratio": _is_real, "seed": _is_whole}
    kinds |= {k: lambda v: v is None or _is_whole(v) for k in ("merge_distance", "label_distance", "block_size")}
    for key, ok in kinds.items():
        if not ok(p[key]):
            what = "a number" if ok is _is_real else "a whole number"
            raise InputError(f"{key.replace('_', '-')} {p[key]!r}: give {what}")
    p["max_n_frac"], p["neg_ratio"], p["seed"] = float(p["max_n_frac"]), float(p["neg_ratio"]), int(p["seed"])
    for key in ("window", "merge_distance", "label_distance", "block_size"):
        p[key] = int(p[key]) if _is_whole(p[key]) else p[key]  # numpy integers as plain ones (JSON)

    def positive_int(key: str) -> None:
        if not _is_whole(p[key]) or p[key] <= 0:
            raise InputError(f"{key.replace('_', '-')} must be a positive integer (got {p[key]!r})")

    positive_int("window")
    if p["window"] < shortest_window():
        raise InputError(
            f"window {p['window']} bp: no --arch of 'peakcnn train' takes a window shorter than {shortest_window()} "
            "bp; give the window length in bases, such as 800"
        )
    # Every peak that labels a window must lie inside it: within (window - 1) // 2 bp of its centre on both
    # sides (a label reaches label_distance // 2; a merged cluster's ends lie up to ceil(span / 2) away).
    reach = (p["window"] - 1) // 2
    if p["label_distance"] is None:
        p["label_distance"] = min(LABEL_DISTANCE, 2 * reach + 1)
    positive_int("label_distance")
    for key, allowed in (("negatives", NEGATIVES), ("split", SPLITS), ("center", CENTERS)):
        if p[key] not in allowed:
            raise InputError(f"unknown {key} {p[key]!r}; choose one of {', '.join(allowed)}")
    if not 0 <= p["max_n_frac"] <= 1:
        raise InputError(f"max-n-frac must lie in [0, 1] (got {p['max_n_frac']})")
    if not 0 < p["neg_ratio"] < math.inf:
        raise InputError(f"neg-ratio must be a finite number > 0 (got {p['neg_ratio']})")
    if p["merge_distance"] is None:
        p["merge_distance"] = min(p["label_distance"], 2 * reach)
    if p["merge_distance"] < 0:
        raise InputError(f"merge-distance must be >= 0 (got {p['merge_distance']})")
    for key, most in (("label_distance", 2 * reach + 1), ("merge_distance", 2 * reach)):
        if p[key] > most:
            raise InputError(
                f"{key.replace('_', '-')} {p[key]} is too wide for a {p['window']} bp window: a peak that far "
                f"from the window centre lies outside the window; use at most {most}"
            )
    if p["block_size"] is not None and p["block_size"] < 2 * p["window"]:
        raise InputError(f"block-size must be at least twice the window ({2 * p['window']} bp)")
    if p["seed"] < 0:
        raise InputError(f"seed must be >= 0 (got {p['seed']})")
    return p


def _names(names, what: str = "names") -> list[str]:
    """One name or a list of them (``None``: none) as a list; anything but strings is refused."""
    listed = [names] if isinstance(names, str) else names if isinstance(names, (list, tuple)) else None
    if names is not None and (listed is None or not all(isinstance(n, str) for n in listed)):
        raise InputError(f"{what} {names!r}: give a name or a list of names, as strings")
    return list(listed or [])


def _task_names(peaks: list[Path], names) -> list[str]:
    tasks = _names(names) or [task_name(p) for p in peaks]
    if len(tasks) != len(peaks):
        raise InputError(f"{len(tasks)} task names for {len(peaks)} peak files; give one --names entry per file")
    problem = task_name_problem(tasks)
    if problem:
        raise InputError(f"{problem}; pass distinct --names without spaces")
    problem = task_column_clash(tasks)
    if problem:
        raise InputError(f"{problem}; name the task otherwise with --names")
    return tasks


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _paths(files) -> list[Path]:
    """One path or a list of them (``None``: none) as a list of :class:`Path`."""
    return [Path(x) for x in ([files] if isinstance(files, (str, Path)) else files or [])]


def _negatives_label(kind: str, exclude: list[Path]) -> str:
    """How the negatives were drawn, as reports show it beside every number."""
    if not exclude:
        return kind
    return f"{kind}, also outside the regions of {', '.join(task_name(p) for p in exclude)}"


def _inputs(genome, peaks: list[Path], tasks: list[str], alias, exclude: list[Path]) -> dict:
    files = {
        "genome": {
            "path": str(genome.path.resolve()),
            "sha256": _sha256(genome.path),
            "compression": genome.compression,
            "sequences": len(genome.names),
        }
    }
    files["peaks"] = [
        {"task": t, "path": str(p.resolve()), "sha256": _sha256(p)} for t, p in zip(tasks, peaks, strict=True)
    ]
    if alias:
        files["chrom_alias"] = {"path": str(Path(alias).resolve()), "sha256": _sha256(Path(alias))}
    if exclude:
        files["exclude"] = [{"path": str(p.resolve()), "sha256": _sha256(p)} for p in exclude]
    return files


def _fingerprint(inputs: dict, params: dict) -> str:
    ident = {
        "genome": inputs["genome"]["sha256"],
        "peaks": [(p["task"], p["sha256"]) for p in inputs["peaks"]],
        "alias": inputs.get("chrom_alias", {}).get("sha256"),
        "params": params,
        "version": __version__,
    }
    if "exclude" in inputs:  # only when given, so that data sets made without it keep their fingerprint
        ident["exclude"] = [p["sha256"] for p in inputs["exclude"]]
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


def _check_inputs_outside(out: Path, paths) -> None:
    """Refuse an input file inside ``out``: building the data set there replaces the folder. Paths are compared
    as given (``..`` taken away by name, so a link inside ``out`` counts) and with links resolved."""
    folders = {Path(os.path.abspath(out)), out.resolve()}
    for path in paths:
        path = Path(path)
        for p in (Path(os.path.abspath(path)), path.resolve()):
            if any(f == p or f in p.parents for f in folders):
                raise InputError(
                    f"{path}: input file is inside --out {out}, which prepare replaces; move it out or choose "
                    "another --out"
                )


def _existing(out: Path, fingerprint: str, force: bool, announce: bool = True) -> dict | None:
    """The manifest of a reusable data set in ``out``, ``None`` to (re)build; raises when ``out`` is taken.

    A data set of the same inputs and parameters is reused (also with ``force``, which replaces only a
    different one) when its three files are there and ``dataset.h5`` still holds the content the manifest
    records; otherwise it is rebuilt."""
    if not out.exists():
        return None
    if not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder; choose another --out")
    if not any(out.iterdir()):
        return None
    try:
        old = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError):
        old = None
    if not isinstance(old, dict) or old.get("format") != MANIFEST_FORMAT:
        raise InputError(f"{out}: folder exists and is not a peakcnn data set; choose another --out")
    if old.get("fingerprint") == fingerprint:  # the same data set, with or without --force
        damage = _damage(out, old)
        if damage is None:
            return old
        _refuse_foreign(out, f"the data set there is incomplete ({damage}) and rebuilding it replaces")
        if announce:
            log.warning("warning: %s: %s; rebuilding it", out, damage)
        return None
    if force:
        _refuse_foreign(out, "--force replaces")
        return None
    raise InputError(
        f"{out}: holds a different data set (other inputs or parameters); pass --force to replace it "
        "or choose another --out"
    )


def _refuse_foreign(out: Path, action: str) -> None:
    foreign = sorted(p.name for p in out.iterdir() if p.name not in DATASET_FILES)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise InputError(
            f"{out}: holds files that are not part of a data set ({shown}); {action} only a data set's own "
            "files: move them out or choose another --out"
        )


def _damage(out: Path, manifest: dict) -> str | None:
    """What is wrong with the data set files in ``out`` (``None``: complete, and ``dataset.h5`` is intact)."""
    from peakcnn.data.store import Dataset

    missing = [name for name in (DATASET_FILE, WINDOWS_BED) if not (out / name).is_file()]
    if missing:
        return f"{' and '.join(missing)} missing"
    try:
        with Dataset(out / DATASET_FILE) as ds:
            sha256 = ds.sha256
    except InputError:
        return f"{DATASET_FILE} is damaged"
    if sha256 != manifest.get("dataset_sha256"):
        return f"{DATASET_FILE} is not the one its manifest records"
    return None


def _write_windows_bed(path: Path, table, lengths: dict, window: int) -> None:
    chroms = np.array(table.chroms, dtype=object)[table.chrom]
    length = np.array([lengths[c] for c in table.chroms], dtype=np.int64)[table.chrom]
    start = np.maximum(table.start, 0)
    end = np.minimum(table.start + window, length)
    # A shuffled negative has no place in the genome: it carries the coordinates of the positive it was
    # shuffled from, and its name says so.
    neg = "shuf" if table.attrs["params"]["negatives"] == "shuffled" else "neg"
    kind = np.where(table.source == 0, "peak", neg)
    names = [f"{k}{i}" for i, k in enumerate(kind.tolist())]
    cols = [chroms, start, end, names, table.labels.sum(axis=1), ["."] * len(table)]
    cols += [np.array(SPLIT_NAMES, dtype=object)[table.split]]
    cols += [table.labels[:, t] for t in range(len(table.tasks))]
    write_bed(path, cols, ["chrom", "start", "end", "name", "score", "strand", "split", *table.tasks])


def prepare_dataset(
    genome,
    peaks,
    out,
    names=None,
    window: int = 800,
    *,
    center: str = "summit",
    max_n_frac: float = 0.1,
    merge_distance: int | None = None,
    label_distance: int | None = None,
    negatives: str = "gc-matched",
    neg_ratio: float = 1.0,
    split: str = "auto",
    valid_chroms=None,
    test_chroms=None,
    block_size: int | None = None,
    seed: int = 0,
    chrom_alias=None,
    exclude=None,
    force: bool = False,
    progress: bool = True,
) -> dict:
    """Build a training data set of fixed-length windows from a genome and one or more peak files.

    Parameters
    ----------
    genome
        FASTA path (plain/gzip/bgzip) or a :class:`~peakcnn.io.fasta.Genome`.
    peaks
        One peak file path or a list; each file is one task.
    out
        Output folder (see the module docstring for how an existing folder is handled).
    names
        Task names, one per peak file (default: file names without extensions).
    window
        Window length in bp.
    center
        ``summit`` (narrowPeak column 10 where present, else midpoint) or ``midpoint``.
    max_n_frac
        Windows (positive and negative alike) with a larger fraction of ``N`` are dropped.
    merge_distance
        Peak centres (all tasks pooled) within this distance of a cluster's first centre share one window
        (default: ``label_distance``, or the widest the window allows). Every merged peak labels its window.
    label_distance
        A window is positive for a task when a peak centre of that task is within ``label_distance // 2``
        of its centre, or is one of the peaks merged into it (default 200, or the widest the window allows:
        ``window - 1`` for an even window, ``window`` for an odd one).
    negatives
        ``gc-matched``, ``shuffled``, ``random`` or ``none``.
    neg_ratio
        Negatives per positive window, per split.
    split, valid_chroms, test_chroms, block_size
        Split layout (see :mod:`peakcnn.data.split`).
    seed
        Random seed; the same inputs and seed give the same data set.
    chrom_alias
        chromAlias-style TSV of equivalent chromosome names.
    exclude
        BED files of regions that genomic negatives must not overlap, besides the peaks themselves: the
        peaks of other replicates or conditions (so that a region accessible there is not a negative here),
        a blacklist.
    force
        Replace an existing, different data set in ``out`` (an identical one is reused).
    progress
        Show a progress bar and log warnings as they happen.

    Returns
    -------
    dict
        The manifest (also written to ``out/manifest.json``).
    """
    from tqdm import tqdm

    p = _check_params(
        dict(
            window=window,
            center=center,
            max_n_frac=max_n_frac,
            merge_distance=merge_distance,
            label_distance=label_distance,
            negatives=negatives,
            neg_ratio=neg_ratio,
            split=split,
            valid_chroms=_names(valid_chroms, "valid_chroms"),
            test_chroms=_names(test_chroms, "test_chroms"),
            block_size=block_size,
            seed=seed,
        )
    )
    check_flag(force, "force")
    peak_paths = _paths(peaks)
    if not peak_paths:
        raise InputError("no peak files given; pass at least one --peaks file")
    tasks = _task_names(peak_paths, names)
    exclude_paths = _paths(exclude)
    if exclude_paths and p["negatives"] not in GENOMIC_NEGATIVES:
        raise InputError(
            f"--exclude applies to genomic negatives ({', '.join(GENOMIC_NEGATIVES)}), not to {p['negatives']!r}"
        )
    if not isinstance(out, (str, Path)):
        raise InputError(f"out {out!r}: give the output folder as a path")
    out = folder_destination(check_output_folder(out))
    bar = tqdm(total=6, desc="prepare", disable=None if progress else True, leave=False)
    try:
        return _prepare(genome, peak_paths, exclude_paths, tasks, out, p, chrom_alias, force, progress, bar)
    finally:
        bar.close()


def _prepare(
    genome, peak_paths, exclude_paths, tasks, out, p: dict, chrom_alias, force: bool, progress: bool, bar
) -> dict:
    from peakcnn.io.fasta import Genome

    def step(name: str) -> None:
        bar.set_postfix_str(name)
        bar.update(1)

    warnings: list[str] = []

    def warn(msg: str) -> None:
        warnings.append(msg)
        if progress:
            log.warning("warning: %s", msg)

    if p["negatives"] == "none" and p["neg_ratio"] != 1.0:
        warn(f"--neg-ratio {p['neg_ratio']:g} is ignored: --negatives none draws no negatives")
    genome_path = genome.path if isinstance(genome, Genome) else genome
    _check_inputs_outside(out, [genome_path, *peak_paths, *exclude_paths, *([chrom_alias] if chrom_alias else [])])
    step("genome")
    genome = genome if isinstance(genome, Genome) else Genome(genome, alias_file=chrom_alias)
    step("peaks")
    tables = [read_peaks(x) for x in peak_paths]
    excluded = [read_peaks(x, "--exclude") for x in exclude_paths]
    inputs = _inputs(genome, peak_paths, tasks, chrom_alias, exclude_paths)
    fingerprint = _fingerprint(inputs, p)
    reused = _existing(out, fingerprint, force)
    if reused is not None:
        log.info("%s: data set is up to date (same inputs and parameters); reusing it", out)
        return {**reused, "output": str(out)}  # where it is now, if the folder was moved or copied
    check_not_current_folder(out)  # a rebuilt data set replaces the folder as a whole
    rng = np.random.default_rng(p["seed"])
    table, report = build_windows(genome, tables, tasks, p, rng, warn, step, exclude=excluded)
    step("writing")
    stats = table_stats(table)
    if not any(stats["classes"]["positive"][name]["windows"] for name in SPLIT_NAMES):
        longest = max(genome.lengths.values())
        if longest < p["window"]:
            raise InputError(
                f"{genome.path}: every chromosome is shorter than the window (longest {longest:,} bp, --window "
                f"{p['window']:,}), so no window fits; choose a smaller --window"
            )
        raise InputError(f"no peak window is left ({_drop_summary(report)}); are the peak files for this genome?")
    for msg in n_warnings(stats) + gc_warnings(stats, p["negatives"]):
        warn(msg)
    for task, counts in stats["tasks"].items():
        if not any(counts[name]["negative"] for name in SPLIT_NAMES):
            if p["negatives"] == "none":
                warn(f"task {task} has no negative windows; choose --negatives gc-matched, shuffled or random")
            elif report["negatives_not_found"] and report["negatives_refused_for_n"]:
                warn(
                    f"task {task} has no negative windows: the {report['negatives_refused_for_n']:,} free windows "
                    f"found hold more N than --max-n-frac ({p['max_n_frac']:g}) allows; raise --max-n-frac or use "
                    "--negatives shuffled"
                )
            elif report["negatives_not_found"]:  # more negatives would not fit either
                warn(
                    f"task {task} has no negative windows: the genome has no room for a {p['negatives']} negative "
                    "outside the peaks, the data set's windows and --exclude; use --negatives shuffled, a smaller "
                    "--window or fewer --exclude regions"
                )
            else:
                warn(
                    f"task {task} has no negative windows: no {p['negatives']} negative was found; raise "
                    f"--neg-ratio ({p['neg_ratio']:g}) or leave more of the genome outside --exclude"
                )
    positives = {name: stats["classes"]["positive"][name]["windows"] for name in SPLIT_NAMES}
    total = sum(positives.values())
    for name, n in positives.items():
        if n == 0:
            warn(f"split {name} holds no peak windows; adjust --split/--valid-chroms/--test-chroms/--block-size")
        elif name != "train" and n < MIN_HELD_OUT * total:
            warn(
                f"split {name} holds {n:,} of {total:,} peak windows ({n / total:.1%}), "
                "too few for scores that hold up (held-out chromosomes can be small scaffolds); use --split region "
                "or name larger --valid-chroms/--test-chroms"
            )
    table.attrs = {
        "negatives": _negatives_label(p["negatives"], exclude_paths),
        "split_mode": report["split_layout"]["mode"],
        "genome": str(genome.path.resolve()),
        # what the FASTA headers say of each chromosome ("... chromosome 1"): its names in other assemblies
        "chrom_descriptions": {c: genome.descriptions[c] for c in table.chroms if genome.descriptions.get(c)},
        "params": p,
        "fingerprint": fingerprint,
    }
    manifest = {
        "format": MANIFEST_FORMAT,
        "peakcnn_version": __version__,
        "output": str(out),
        "fingerprint": fingerprint,
        "inputs": inputs,
        "params": p,
        "tasks": tasks,
        "chroms": table.chroms,
        "stats": stats,
        "report": report,
        "warnings": warnings,
        "files": {"dataset": DATASET_FILE, "windows": WINDOWS_BED, "manifest": MANIFEST},
    }
    _write_all(out, table, manifest, genome.lengths, p["window"], force)
    return manifest


def _write_all(out: Path, table, manifest: dict, lengths: dict, window: int, force: bool = False) -> None:
    """Write the three output files into a temporary folder next to ``out``, then move it into place; a
    different data set that another command wrote to ``out`` meanwhile is replaced only with ``force``."""
    try:
        with built_aside(out) as tmp:
            manifest["dataset_sha256"] = write_dataset(table, tmp / DATASET_FILE)
            _write_windows_bed(tmp / WINDOWS_BED, table, lengths, window)
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            try:
                _existing(out, manifest["fingerprint"], force, announce=False)
            except InputError as e:
                raise InputError(f"{e} (it was written there by another command while this one ran)") from None
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG):  # the disk, not the path
            raise OutputError(
                f"{out}: cannot write the data set ({e.strerror}); free space or choose another --out"
            ) from None
        raise InputError(f"{out}: cannot write the data set ({e.strerror or e}); choose a writable --out") from None

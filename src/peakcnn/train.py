"""``peakcnn train``: set up or resume a run folder and train it (the loop is in :mod:`peakcnn.trainer`).

Defaults are the founding recipe: SGD lr 0.02 momentum 0.9, BCEWithLogits, 20 epochs, batch size 64,
architecture ``founding``. See :class:`peakcnn.runconfig.TrainConfig` for every option and
:mod:`peakcnn.runconfig` for the files of a run folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shlex
from pathlib import Path

import numpy as np
import torch

from peakcnn import __version__
from peakcnn.checkpoint import LAST_NAME, MODEL_NAME, transfer_weights
from peakcnn.data.store import Dataset
from peakcnn.errors import InputError
from peakcnn.inference import autograd_on
from peakcnn.io.output import check_output_folder, make_folder, remove_made_folders
from peakcnn.model import preset_config
from peakcnn.runconfig import (
    CONFIG_FILE,
    HISTORY_FILE,
    TrainConfig,
    amp_dtype,
    check_flag,
    differing_keys,
    read_run_config,
    resolve_device,
    write_history,
    write_json,
)
from peakcnn.trainer import NonFiniteLoss, Trainer, predict_logits

__all__ = ["Interrupted", "NonFiniteLoss", "TrainConfig", "predict_logits", "train"]

log = logging.getLogger(__name__)


class Interrupted(KeyboardInterrupt):
    """Training was interrupted (Ctrl-C); ``message`` says what was kept and how to resume."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _run_config(ds: Dataset, cfg: TrainConfig, device: torch.device) -> dict:
    model_cfg = preset_config(cfg.arch, ds.window, len(ds.tasks))
    return {
        "training": cfg.to_dict(),
        "model": model_cfg.to_dict(),
        "dataset": {
            "path": str(ds.path.resolve()),
            "sha256": ds.sha256,
            "tasks": ds.tasks,
            "window": ds.window,
            "negatives": ds.attrs.get("negatives", "unknown"),
            "split_mode": ds.attrs.get("split_mode", "unknown"),
            "n_train": ds.count("train"),
            "n_valid": ds.count("valid"),
            "n_test": ds.count("test"),
        },
        "device": str(device),
        "amp": str(amp_dtype(cfg.amp, device.type) or "off").removeprefix("torch."),
        "peakcnn_version": __version__,
    }


#: Training options every run's config.json holds (options added since may be absent: they take defaults).
_FIRST_OPTIONS = (
    "arch", "epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay", "lr_schedule", "rc_augment",
    "shift", "early_stop", "select_best", "class_weights", "seed", "max_train",
)  # fmt: skip


def _resume_config(run: Path, ds: Dataset, options: dict) -> tuple[TrainConfig, dict]:
    """The configuration to resume ``run`` with, and the run's ``config.json`` it was read from."""
    if not (run / f"{LAST_NAME}.json").exists():
        raise InputError(f"{run}: no checkpoint to resume ({LAST_NAME}.json missing); train without --resume")
    saved = read_run_config(run)
    for key, fields in (("training", ()), ("dataset", ("sha256", "path"))):
        if not isinstance(saved.get(key), dict) or any(f not in saved[key] for f in fields):
            raise InputError(
                f"{run}/{CONFIG_FILE}: lacks its '{key}' section; the run folder is damaged, train into a "
                "new --out folder"
            )
    # an option added since the run was trained is absent from its config.json: the run used its default
    defaults = TrainConfig().to_dict()
    resolved = {**defaults, **saved["training"]}
    differ = differing_keys(resolved, options)
    if differ:
        detail = ", ".join(
            f"{k} ({resolved[k]!r} {'in config.json' if k in saved['training'] else 'by default'}, "
            f"{options[k]!r} given)"
            for k in differ
        )
        raise InputError(
            f"{run}: cannot resume with a different configuration: {detail}; drop these options "
            "or train into a new --out folder"
        )
    if saved["dataset"]["sha256"] != ds.sha256:
        raise InputError(
            f"{ds.path}: not the data set this run was trained on (its sha256 differs from "
            f"{run}/{CONFIG_FILE}); resume with {saved['dataset']['path']}"
        )
    missing = [k for k in _FIRST_OPTIONS if k not in saved["training"]]
    if missing:
        raise InputError(
            f"{run}/{CONFIG_FILE}: its training section lacks {', '.join(missing)}; the run folder is damaged, "
            "train into a new --out folder"
        )
    try:
        return TrainConfig.from_dict(saved["training"]), saved
    except InputError as e:  # the values were read from the run, not given on this command line
        raise InputError(
            f"{run}/{CONFIG_FILE}: its training section does not load ({e}); the run folder is damaged, train "
            "into a new --out folder"
        ) from None


#: The files of a run that training writes besides its config: checkpoints and history.
_RUN_FILES = tuple(f"{n}.{ext}" for n in (LAST_NAME, MODEL_NAME) for ext in ("json", "safetensors")) + (HISTORY_FILE,)


class _RunLock:
    """An exclusive advisory lock (``flock``) on a run folder while training writes to it, so that a second
    ``peakcnn train`` into the same folder (``--resume``, ``--force`` or a new run) stops with one line
    instead of mixing its checkpoints with the first one's. Taken on entry when the folder exists, else by
    :meth:`take` once it is made; released on exit, and by the system when the process dies. Where
    ``flock`` is missing (Windows) or not supported by the file system, or the folder cannot be opened for
    reading, training goes on unlocked."""

    def __init__(self, run: Path):
        self.run, self.fd = run, None

    def __enter__(self) -> _RunLock:
        if self.run.is_dir():
            self.take()
        return self

    def take(self) -> None:
        try:
            import fcntl
        except ImportError:
            return
        if self.fd is not None:
            return
        try:
            fd = os.open(self.run, os.O_RDONLY)
        except OSError:  # a folder that can be written but not read
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError(
                f"{self.run}: another 'peakcnn train' is writing to this run folder; wait for it to finish, or "
                "choose another --out folder"
            ) from None
        except OSError:  # a file system without flock
            os.close(fd)
            return
        self.fd = fd

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _check_fresh(run: Path, force: bool) -> None:
    """Refuse to train over an existing checkpoint unless ``force``; clear the old run's files if so."""
    if not run.exists():
        return
    taken = [p for p in (f"{LAST_NAME}.json", f"{MODEL_NAME}.json") if (run / p).exists()]
    if taken and not force:
        raise InputError(
            f"{run}: already holds a run ({taken[0]}); add --resume to continue it, --force to "
            "start over, or choose another --out folder"
        )
    for name in _RUN_FILES:
        if (run / name).exists():
            (run / name).unlink()
    if taken:
        from peakcnn.evaluate import remove_evaluations
        from peakcnn.interpret.motifs import remove_motifs

        remove_evaluations(run)
        remove_motifs(run)


def train(
    dataset,
    out,
    options: dict | None = None,
    resume: bool = False,
    force: bool = False,
    device: str = "auto",
    progress: bool = True,
) -> dict:
    """Train a model on ``dataset`` into the run folder ``out``.

    Parameters
    ----------
    dataset
        Data set folder (or ``dataset.h5``) written by ``peakcnn prepare``.
    out
        Run folder (created if needed).
    options
        :class:`TrainConfig` fields to set; the rest keep the founding defaults, or with ``resume`` the
        run's saved values (options that differ from the saved config are an error naming the keys).
    resume
        Continue from ``out/last.*``.
    force
        Overwrite an existing run in ``out``.
    device
        ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (or a :class:`torch.device`).

    Returns
    -------
    dict
        Summary: epochs done, best epoch and validation auPRC, whether training stopped early, history.

    Training seeds and draws from torch's global random generators (and a resumed run restores numpy's and
    Python's as they were saved); the caller's states are given back on return.
    """
    device = str(device) if isinstance(device, torch.device) else device
    check_flag(resume, "resume")
    check_flag(force, "force")
    with _callers_random_state(), autograd_on():
        return _train(dataset, out, options, resume, force, device, progress)


@contextlib.contextmanager
def _callers_random_state():
    """Save the global random states of torch (CPU, CUDA and MPS: ``torch.manual_seed`` reseeds them all),
    numpy and Python, and restore them on exit."""
    cpu, np_state, py_state = torch.get_rng_state(), np.random.get_state(), random.getstate()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    mps = torch.mps.get_rng_state() if torch.backends.mps.is_available() else None
    try:
        yield
    finally:
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        if mps is not None:
            torch.mps.set_rng_state(mps)
        np.random.set_state(np_state)
        random.setstate(py_state)


def _train(dataset, out, options, resume, force, device, progress) -> dict:
    """:func:`train` without the care for the caller's random states."""
    options = dict(options or {})
    if isinstance(options.get("init"), str) and options["init"]:  # recorded as one path however it was spelt
        options["init"] = str(Path(options["init"]).resolve())
    if resume and force:
        raise InputError("--resume continues the run in --out and --force starts it over; give one of them")
    check_output_folder(out)
    run = Path(out)
    with Dataset(dataset) as ds, _RunLock(run) as lock:
        cfg, saved = (
            _resume_config(run, ds, options)
            if resume
            else (TrainConfig.from_dict({**TrainConfig().to_dict(), **options}), None)
        )
        if cfg.init and not resume and run.resolve() in (Path(cfg.init).resolve(), *Path(cfg.init).resolve().parents):
            raise InputError(
                f"--init {cfg.init}: is the run --out {out} replaces, so training would erase the weights it starts "
                "from; give --out another folder"
            )
        dev = resolve_device(device)
        _check_trainable(ds, cfg)
        trainer = Trainer(ds, run, cfg, dev, progress)
        init = transfer_weights(trainer.model, cfg.init, ds.tasks) if cfg.init and not resume else None
        if init is not None:
            log.info(
                "init: %d tensors copied from %s; %s", len(init["copied"]), init["run"],
                f"left at random: {', '.join(init['kept'])}" if init["kept"] else "none left at random",
            )  # fmt: skip
        if resume:
            saved_init = saved.get("init")  # the --init overlap recorded when the run started
            if isinstance(saved_init, dict) and isinstance(saved_init.get("overlap"), dict):
                trainer.init_overlap = saved_init["overlap"]
            trainer.restore()
            missing = [f"{MODEL_NAME}.{x}" for x in ("json", "safetensors") if not (run / f"{MODEL_NAME}.{x}").exists()]
            if trainer.epoch and missing:
                raise InputError(
                    f"{run}: {missing[0]} is missing although {trainer.epoch} epoch(s) were trained, and the model "
                    "that run selected cannot be rebuilt from last.*; train again with --force"
                )
            if trainer.epoch < cfg.epochs and not trainer.stopped_early:  # a part that trains
                _record_resume(run, saved, _run_config(ds, cfg, dev), trainer.epoch)
            write_history(run / HISTORY_FILE, trainer.history)  # a missing or cut file, rebuilt from last.json
            try:
                return trainer.fit()
            except KeyboardInterrupt:
                raise Interrupted(_interrupt_message(trainer, dataset, run)) from None
        created = make_folder(run)
        lock.take()  # held before _check_fresh clears an old run's files (a no-op when taken on entry)
        try:
            _check_fresh(run, force)
            if init is not None:
                init["overlap"] = trainer.init_overlap = init_overlap(init, ds)
                _warn_overlap(init, ds)
        except BaseException:
            remove_made_folders(created)  # only folders this call made, and only while empty
            raise
        try:
            write_json(run / CONFIG_FILE, {**_run_config(ds, cfg, dev), "init": init})
            return trainer.fit()
        except BaseException as e:
            if not (run / f"{LAST_NAME}.json").exists():
                _remove_run_files(run, created)
            if isinstance(e, KeyboardInterrupt):
                raise Interrupted(_interrupt_message(trainer, dataset, run)) from None
            raise


def _record_resume(run: Path, saved: dict, now: dict, epoch: int) -> None:
    """Add this resumed part of ``run`` to its ``config.json`` (``resumed``: the first epoch it trains, its
    device and precision), warning when these differ from the part before, as ``--amp auto`` on another
    device does: the run is then not the one an uninterrupted run would have been."""
    parts = saved.get("resumed") if isinstance(saved.get("resumed"), list) else []
    before = parts[-1] if parts and isinstance(parts[-1], dict) else saved
    here = {"epoch": epoch + 1, "device": now["device"], "amp": now["amp"]}
    if (before.get("device"), before.get("amp")) != (here["device"], here["amp"]):
        log.warning(
            "%s: resumed at epoch %d on %s with amp %s, where the epochs before ran on %s with amp %s; "
            "config.json records both", run, here["epoch"], here["device"], here["amp"], before.get("device"),
            before.get("amp"),
        )  # fmt: skip
    write_json(run / CONFIG_FILE, {**saved, "resumed": [*parts, here]})


def init_overlap(init: dict, ds: Dataset) -> dict:
    """Windows of ``ds``, per split, that overlap a window the ``--init`` run was trained on (its data set's
    train split) or, for the test split, also selected on (its valid split): scores on such windows are not
    those of unseen regions. A valid split shared with the starting run is not counted: this run's own
    selection on it is what :func:`peakcnn.evaluate.split_caveat` already states.

    ``{"checked": True, "windows": {split: count}, "of": {split: windows}}``, or ``{"checked": False,
    "reason": ...}`` when the starting run's data set cannot be read."""
    return training_overlap(ds, init.get("dataset_path"), init.get("dataset_sha256"), init["run"], valid_too=False)


def training_overlap(ds: Dataset, path, sha256, who: str, valid_too: bool = True) -> dict:
    """Windows of ``ds``, per split, that overlap a window of the data set at ``path`` (checksum ``sha256``)
    that the run ``who`` was trained or selected on: its train and valid splits, or, with ``valid_too``
    false, its train split only for the train and valid splits of ``ds``. The result is as
    :func:`init_overlap`'s."""
    from peakcnn.data.split import SPLIT_NAMES, overlapping

    if not isinstance(path, str) or not isinstance(sha256, str):
        return {"checked": False, "reason": f"{who} does not record its data set"}
    if sha256 == ds.sha256:
        source = ds
    elif not Path(path).is_file():
        return {"checked": False, "reason": f"{path}, the data set of {who}, is not there any more"}
    else:
        try:
            source = Dataset(path)
        except InputError as e:
            return {"checked": False, "reason": f"{path} cannot be read ({e})"}
        if source.sha256 != sha256:
            source.close()
            return {"checked": False, "reason": f"{path} is no longer the data set {who} was trained on"}
    try:
        theirs, their_chrom, their_start = (source.read(k) for k in ("split", "chrom", "start"))
        chrom, start, split = ds.read("chrom"), ds.read("start"), ds.read("split")
        hits = {}
        for k, name in enumerate(SPLIT_NAMES):
            if valid_too or name == "test":
                used = theirs != SPLIT_NAMES.index("test")
            else:
                used = theirs == SPLIT_NAMES.index("train")
            other = (source.chroms, their_chrom[used], their_start[used], source.window)
            mine = split == k
            hits[name] = int(overlapping(ds.chroms, chrom[mine], start[mine], ds.window, other).sum())
    finally:
        if source is not ds:
            source.close()
    return {
        "checked": True,
        "windows": hits,
        "of": {name: int((split == k).sum()) for k, name in enumerate(SPLIT_NAMES)},
    }


def _warn_overlap(init: dict, ds: Dataset) -> None:
    if init.get("started_from"):
        log.warning(
            f"warning: --init {init['run']} was itself started from {init['started_from']}, whose training "
            "windows are not checked against this data set (only the starting run's own data set is); if it was "
            "trained on this genome, hold out the same regions in every data set of the chain"
        )
    overlap = init["overlap"]
    if not overlap["checked"]:
        log.warning(
            f"warning: --init {init['run']}: its windows cannot be checked against {ds.path}: {overlap['reason']}"
        )
        return
    held_out = {k: overlap["windows"][k] for k in ("valid", "test") if overlap["windows"][k]}
    if held_out:
        counts = " and ".join(f"{n:,} {k}" for k, n in held_out.items())
        log.warning(
            f"warning: {counts} windows of {ds.path} overlap windows that --init {init['run']} was trained on "
            "(test windows: trained or selected on), so their scores will be optimistic; prepare both data sets "
            "with the same held-out regions (--split, --valid-chroms/--test-chroms, --block-size)"
        )


def _remove_run_files(run: Path, created: list[Path]) -> None:
    """Take back what a fresh run wrote before its first checkpoint: its files in ``run`` (those a fresh
    run starts by clearing, so no other file of the folder), then the folders in ``created`` if empty."""
    for name in (CONFIG_FILE, *_RUN_FILES):
        with contextlib.suppress(OSError):
            (run / name).unlink(missing_ok=True)
    remove_made_folders(created)


def _check_trainable(ds: Dataset, cfg: TrainConfig) -> None:
    if ds.count("train") < 2:
        raise InputError(f"{ds.path}: the training split has {ds.count('train')} windows; at least 2 are needed")
    if (cfg.selects_best or cfg.lr_schedule == "plateau") and ds.count("valid") == 0:
        raise InputError(
            f"{ds.path}: the validation split is empty, so --early-stop/--select-best/"
            "--lr-schedule plateau cannot be used"
        )
    if cfg.selects_best:
        valid = ds.read("labels", ds.split_slice("valid"))
        if all(column.min() == column.max() for column in valid.T):
            raise InputError(
                f"{ds.path}: in the validation split every task has one class only, so validation auPRC cannot "
                "rank epochs and --early-stop/--select-best would keep epoch 1; prepare the data set with "
                "negatives and peaks in the validation split, or train without these options"
            )
    labels = ds.read("labels", ds.split_slice("train"))
    one_class = [t for t, column in zip(ds.tasks, labels.T, strict=True) if column.min() == column.max()]
    if len(one_class) == len(ds.tasks):
        raise InputError(
            f"{ds.path}: in the training split every task has one class only (all {labels.shape[0]:,} windows "
            f"{'positive' if labels.min() == 1 else 'alike'}), so there is nothing to learn; prepare the data set "
            "with negatives (--negatives gc-matched, shuffled or random)"
        )
    for t in one_class:
        log.warning("warning: task %s has one class only in the training split of %s; it cannot be learned", t, ds.path)
    if cfg.shift and cfg.shift >= ds.window // 2:
        raise InputError(
            f"--shift {cfg.shift}: must be less than half the {ds.window} bp window of {ds.path} (a shift of "
            f"{ds.window // 2} bp or more moves the centre out); a few bp to a few tens is usual"
        )
    preset_config(cfg.arch, ds.window, len(ds.tasks))


def _interrupt_message(trainer: Trainer, dataset, run: Path) -> str:
    if not trainer.epoch:
        return "interrupted during epoch 1; no epoch had completed, so nothing was kept; train again"
    if trainer.epoch >= trainer.cfg.epochs or trainer.stopped_early:
        return (
            f"interrupted once training had ended: {run} holds the finished run ({trainer.epoch} epochs); "
            f"evaluate it with: peakcnn evaluate {shlex.quote(str(run))}"
        )
    return (
        f"interrupted during epoch {trainer.epoch + 1}; {run}/{LAST_NAME}.* holds epoch {trainer.epoch}; "
        f"continue with: peakcnn train {shlex.quote(str(dataset))} --out {shlex.quote(str(run))} --resume"
    )

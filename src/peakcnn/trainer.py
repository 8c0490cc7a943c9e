"""The training loop of one run folder: epochs, validation, model selection, checkpoints.

The data order of epoch ``e`` is ``default_rng([seed, e]).permutation(n)`` and torch's generator is reseeded
from ``(seed, e)`` at the start of every epoch (dropout, shifts, reverse complements), so a run resumed from
``RUN/last.*`` on the CPU ends with the same weights as an uninterrupted one.

The training split lives on the device as uint8 codes (one byte per base); each batch is indexed, shifted,
one-hot encoded and reverse-complemented on the device (see :mod:`peakcnn.augment`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import signal
import threading
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from peakcnn import trainstate
from peakcnn.augment import make_batch
from peakcnn.checkpoint import (
    LAST_NAME,
    MODEL_NAME,
    TRAIN_STATE_PREFIX,
    load_tensors,
    model_from_tensors,
    model_meta,
    save_model,
    save_tensors,
    tensor_fault,
)
from peakcnn.data.store import Dataset
from peakcnn.ema import WeightAverage
from peakcnn.errors import TERMINATED, InputError, PeakcnnError
from peakcnn.inference import predict
from peakcnn.metrics import quick_scores, sigmoid
from peakcnn.model import DNASeqClassifier, preset_config
from peakcnn.runconfig import (
    HISTORY_FILE,
    TrainConfig,
    amp_dtype,
    is_real_number,
    is_whole_number,
    native_bf16,
    write_history,
)

log = logging.getLogger(__name__)

#: Prefix of the weight average's tensors in ``RUN/last.safetensors`` (``--ema``).
EMA_PREFIX = TRAIN_STATE_PREFIX + "ema."


def _dataset_params(ds: Dataset) -> dict:
    """The parameters ``prepare`` recorded in the data set (empty when it records none, as synthetic ones)."""
    try:
        params = json.loads(ds.attrs.get("params") or "{}")
    except (TypeError, json.JSONDecodeError):
        params = {}
    return params if isinstance(params, dict) else {}


def _prepared_windows(ds: Dataset) -> dict:
    """How ``prepare`` made the data set's windows, as predict/scan/variants must know it: ``center``,
    ``summit`` or ``midpoint`` (``summit`` when the data set does not say, as for synthetic ones), and
    ``max_n_frac``, the most N it let a window hold (``--max-n-frac``), when it records one."""
    params = _dataset_params(ds)
    limit = params.get("max_n_frac")
    return {"center": params.get("center", "summit"), **({"max_n_frac": float(limit)} if is_real_number(limit) else {})}


#: What ``last.json`` must hold under ``train_state`` to resume a run.
_STATE_KEYS = ("epoch", "history", "best", "bad_epochs", "stopped_early", "optimizer", "rng")


def _state_fault(state: dict, epochs: int) -> str | None:
    """What in a saved training state cannot be what training wrote (``None`` if nothing): counters that are
    not whole numbers in range, a history that does not hold one row of numbers per epoch done, a best epoch
    or optimizer settings of the wrong type."""
    epoch, history, best, bad = state["epoch"], state["history"], state["best"], state["bad_epochs"]
    if not is_whole_number(epoch) or not 0 <= epoch <= epochs:
        return f"epoch {epoch!r} is not a whole number from 0 to the run's {epochs} epochs"
    if not isinstance(history, list) or len(history) != epoch:
        return f"history does not hold one row for each of its {epoch} epoch(s)"
    for i, row in enumerate(history, 1):
        if not isinstance(row, dict) or row.get("epoch") != i:
            return f"history row {i} is not epoch {i}'s"
        if not all(v is None or is_real_number(v) for v in row.values()):
            return f"history row {i} holds a value that is not a number"
    if not (
        isinstance(best, dict)
        and is_whole_number(best.get("epoch"))
        and 0 <= best["epoch"] <= epoch
        and (best.get("valid_auprc") is None or is_real_number(best["valid_auprc"]))
    ):
        return f"best {best!r} is not an epoch from 0 to {epoch} with a number or null as valid_auprc"
    if not is_whole_number(bad) or not 0 <= bad <= epoch:
        return f"bad_epochs {bad!r} is not a whole number from 0 to {epoch}"
    if not isinstance(state["stopped_early"], bool):
        return f"stopped_early {state['stopped_early']!r} is not true or false"
    groups = state["optimizer"].get("param_groups") if isinstance(state["optimizer"], dict) else None
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        return "optimizer lacks its parameter groups"
    per_tensor = state["optimizer"].get("state")
    if not isinstance(per_tensor, dict) or not all(isinstance(v, dict) for v in per_tensor.values()):
        return "optimizer lacks its per-tensor state"
    updates = state.get("ema_updates")
    if updates is not None and not (is_whole_number(updates) and updates >= 0):
        return f"ema_updates {updates!r} is not a whole number >= 0"
    for g in groups:
        for key in ("lr", "momentum", "weight_decay"):
            if key in g and not (is_real_number(g[key]) and math.isfinite(g[key]) and g[key] >= 0):
                return f"optimizer {key} {g[key]!r} is not a non-negative number"
    return None


#: Learning-rate scheduler entries that change as training goes; the others follow from the configuration.
_SCHEDULER_PROGRESS = {"last_epoch", "_step_count", "_last_lr", "best", "cooldown_counter", "num_bad_epochs"}


def _scheduler_fault(fresh: dict, saved, epochs: int) -> str | None:
    """What in a saved scheduler state cannot be what training wrote, judged against ``fresh``, the state of
    the scheduler the run's configuration builds: the configured entries equal, the counters whole numbers
    in range and the rates finite numbers (``None`` if nothing)."""
    if not isinstance(saved, dict) or "last_epoch" not in saved:
        return "scheduler state is missing although the run uses a learning-rate schedule"
    for key in fresh.keys() & saved.keys():  # entries of other torch versions' schedulers are left to torch
        want, value = fresh[key], saved[key]
        if key == "_last_lr":
            ok = isinstance(value, list) and len(value) == len(want)
            ok = ok and all(is_real_number(v) and math.isfinite(v) and v >= 0 for v in value)
        elif key in ("last_epoch", "_step_count", "cooldown_counter", "num_bad_epochs"):
            ok = is_whole_number(value) and 0 <= value <= epochs + 1
        elif key == "best":
            ok = is_real_number(value)
        elif key in _SCHEDULER_PROGRESS or isinstance(want, bool):
            ok = isinstance(value, type(want))
        else:
            ok = value == want
        if not ok:
            return f"scheduler {key} {value!r} is not what this run's schedule holds"
    return None


class NonFiniteLoss(PeakcnnError):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""


def predict_logits(
    model: nn.Module, codes, device=None, batch_size: int | None = None, rc: bool = False, shifts=(0,)
) -> np.ndarray:
    """Logits ``(n, n_tasks)`` of ``model`` as it is (eval mode, batch norm not folded) for uint8 codes ``(n, L)``.

    With ``rc`` each window's probability is the mean over both strands, with several ``shifts`` the mean
    over those shifts too (returned as a logit; see :func:`peakcnn.inference.strand_logits`). Runs on
    ``device``, by default the model's own.
    """
    device = device or next(model.parameters()).device
    codes = codes if torch.is_tensor(codes) else np.asarray(codes)
    return predict(model, codes, batch_size=batch_size, device=device, rc=rc, fold=False, shifts=shifts)


@contextlib.contextmanager
def _defer_interrupt():
    """Hold back Ctrl-C and SIGTERM while a checkpoint is written, so its files always belong to one epoch."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in held}
    try:
        yield
    finally:
        for s in held:
            signal.signal(s, previous[s])
    if signal.SIGTERM in caught:
        TERMINATED.append(signal.SIGTERM)
    if caught:
        raise KeyboardInterrupt


class Trainer:
    """Trains one run folder; build with :func:`train` rather than directly."""

    def __init__(self, ds: Dataset, run: Path, cfg: TrainConfig, device: torch.device, progress: bool = True):
        self.ds, self.run, self.cfg, self.device, self.progress = ds, Path(run), cfg, device, progress
        self.amp_dtype = amp_dtype(cfg.amp, device.type)
        if self.amp_dtype == torch.bfloat16 and device.type == "cpu" and native_bf16() is False:
            log.warning(
                "warning: --amp bf16: this CPU has no native bfloat16 (no avx512_bf16, amx_bf16 or bf16 flag in "
                "/proc/cpuinfo), so training in bfloat16 runs several times slower than in float32 here; "
                "train without --amp bf16"
            )
        self._load_data()
        torch.manual_seed(cfg.seed)
        self.model = DNASeqClassifier(preset_config(cfg.arch, ds.window, len(ds.tasks))).to(device)
        self.epoch = 0
        self.history: list[dict] = []
        self.best = {"epoch": 0, "valid_auprc": None}
        self.bad_epochs = 0
        self.stopped_early = False
        self.ema: WeightAverage | None = None  # started in fit(), after --init has set the weights
        #: With --init: windows of this data set that overlap the starting run's (see train.init_overlap)
        self.init_overlap: dict | None = None
        self._build_optimizer()

    @property
    def selected_model(self) -> nn.Module:
        """The model validation scores and the run keeps: the weight average with ``--ema``, else the model."""
        return self.ema.model if self.ema is not None else self.model

    # -- set-up --------------------------------------------------------------------------------------
    def _load_data(self) -> None:
        cfg, ds = self.cfg, self.ds
        seqs, labels = ds.load_split("train")
        if cfg.max_train and len(seqs) > cfg.max_train:
            keep = np.sort(np.random.default_rng([cfg.seed, 7]).choice(len(seqs), cfg.max_train, replace=False))
            seqs, labels = seqs[keep], labels[keep]
        self.train_codes = torch.from_numpy(np.ascontiguousarray(seqs)).to(self.device)
        self.train_labels = torch.from_numpy(labels.astype(np.float32)).to(self.device)
        self.valid_codes, self.valid_labels = ds.load_split("valid")
        n_pos = labels.sum(axis=0).astype(np.float64)
        self.pos_weight = np.where(n_pos > 0, (len(labels) - n_pos) / np.maximum(n_pos, 1), 1.0)

    def _build_optimizer(self) -> None:
        cfg, params = self.cfg, self.model.parameters()
        if cfg.optimizer == "sgd":
            self.optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        else:
            self.optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        if cfg.lr_schedule == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=cfg.epochs)
        elif cfg.lr_schedule == "plateau":
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer, mode="max", factor=0.5, patience=1
            )
        else:
            self.scheduler = None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        weight = torch.tensor(self.pos_weight, dtype=torch.float32, device=self.device)
        self.loss_fn = nn.BCEWithLogitsLoss(pos_weight=weight if self.cfg.class_weights else None)

    # -- checkpoints ---------------------------------------------------------------------------------
    def _extra_meta(self) -> dict:
        return {
            "training": self.cfg.to_dict(),
            "dataset_sha256": self.ds.sha256,
            "dataset_path": str(self.ds.path.resolve()),
            "negatives": self.ds.attrs.get("negatives", "unknown"),
            "split_mode": self.ds.attrs.get("split_mode", "unknown"),
            # How 'predict --bed' must place windows, and the most N a window may hold for predict/scan/variants
            # to score it (more was never trained on); then which assembly 'predict'/'scan' should be given.
            **_prepared_windows(self.ds),
            "genome_chroms": list(self.ds.chroms),
            "genome_chrom_descriptions": dict(self.ds.chrom_descriptions),
            **({"init_overlap": self.init_overlap} if self.init_overlap is not None else {}),
        }

    def _save_last(self) -> None:
        opt_tensors, opt_meta = trainstate.optimizer_parts(self.optimizer)
        rng_tensors, rng_meta = trainstate.rng_parts()
        tensors = {**self.model.state_dict(), **opt_tensors, **rng_tensors}
        if self.ema is not None:
            tensors.update({EMA_PREFIX + k: v for k, v in self.ema.state().items()})
        state = {
            "epoch": self.epoch,
            "history": self.history,
            "best": self.best,
            "bad_epochs": self.bad_epochs,
            "stopped_early": self.stopped_early,
            "optimizer": opt_meta,
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "scaler": self.scaler.state_dict(),
            "rng": rng_meta,
            "ema_updates": self.ema.updates if self.ema is not None else None,
        }
        meta = model_meta(self.model, self.ds.tasks, **self._extra_meta(), train_state=state)
        save_tensors(self.run / LAST_NAME, tensors, meta, strict_json=False)  # read back by --resume only

    def restore(self) -> None:
        """Load model, optimizer, scheduler, scaler, RNG and bookkeeping from ``RUN/last.*``."""
        tensors, meta = load_tensors(self.run / LAST_NAME)
        state = meta.get("train_state") if isinstance(meta, dict) else None
        missing = [k for k in _STATE_KEYS if not isinstance(state, dict) or k not in state]
        if missing:
            raise InputError(
                f"{self.run}/{LAST_NAME}.json: the training state lacks {', '.join(missing)}; the checkpoint "
                "is damaged, train into a new --out folder"
            )
        fault = _state_fault(state, self.cfg.epochs)
        if fault is None and self.scheduler is not None:
            fault = _scheduler_fault(self.scheduler.state_dict(), state.get("scheduler"), self.cfg.epochs)
        if fault:
            raise InputError(
                f"{self.run}/{LAST_NAME}.json: the training state's {fault}; the checkpoint is damaged, train "
                "into a new --out folder"
            )
        weights = {k: v for k, v in tensors.items() if not k.startswith(TRAIN_STATE_PREFIX)}
        model = model_from_tensors(weights, meta, str(self.run / f"{LAST_NAME}.safetensors"))
        self._check_own_checkpoint(model, meta)
        self.model = model.to(self.device)
        self._build_optimizer()
        try:
            trainstate.load_optimizer_parts(self.optimizer, tensors, state["optimizer"])
            if self.scheduler is not None and state.get("scheduler"):
                self.scheduler.load_state_dict(state["scheduler"])
            if state.get("scaler"):
                self.scaler.load_state_dict(state["scaler"])
            trainstate.load_rng_parts(tensors, state["rng"])
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as e:
            raise InputError(
                f"{self.run}/{LAST_NAME}.*: the optimizer or random state does not load ({type(e).__name__}: {e}); "
                "the checkpoint is damaged, train into a new --out folder"
            ) from None
        if self.cfg.ema:
            averaged = {k[len(EMA_PREFIX) :]: v for k, v in tensors.items() if k.startswith(EMA_PREFIX)}
            if not averaged or state.get("ema_updates") is None:
                raise InputError(
                    f"{self.run}/{LAST_NAME}.safetensors: holds no weight average although the run uses "
                    f"--ema {self.cfg.ema}; train into a new --out folder"
                )
            self.ema = WeightAverage(self.model, self.cfg.ema)
            self.ema.load(averaged, state["ema_updates"])
        self.epoch, self.history, self.best = state["epoch"], state["history"], state["best"]
        self.bad_epochs, self.stopped_early = state["bad_epochs"], state["stopped_early"]

    def _check_own_checkpoint(self, model: nn.Module, meta: dict) -> None:
        """Refuse a ``last.*`` that is not this run's (copied from another run): its network, tasks or data
        set differ from those the run's configuration and data set give."""
        differ = [
            what
            for what, same in (
                ("network", model.config == self.model.config),
                ("tasks", meta.get("tasks") == list(self.ds.tasks)),
                ("data set", meta.get("dataset_sha256") == self.ds.sha256),
            )
            if not same
        ]
        if differ:
            raise InputError(
                f"{self.run}/{LAST_NAME}.json: not this run's checkpoint (its {', '.join(differ)} "
                f"{'differs' if len(differ) == 1 else 'differ'} from config.json and {self.ds.path}); a checkpoint "
                "of another run cannot be resumed here, train into a new --out folder"
            )

    def _end_epoch(self, row: dict) -> None:
        """Record an epoch: history, model selection, early stopping, scheduler, checkpoint files. Ctrl-C and
        SIGTERM are held back until all of it is done, so the run's state and its files agree on the epoch."""
        with _defer_interrupt():
            self.history.append(row)
            self.epoch = row["epoch"]
            score = row["valid_auprc"]
            best = self.best["valid_auprc"]
            improved = self.best["epoch"] == 0 or (
                not math.isnan(score) and (best is None or math.isnan(best) or score > best)
            )
            if improved:
                self.best = {"epoch": self.epoch, "valid_auprc": score}
                self.bad_epochs = 0
            else:
                self.bad_epochs += 1
            if self.cfg.early_stop and self.bad_epochs >= self.cfg.early_stop:
                self.stopped_early = True
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(score if not math.isnan(score) else -row["valid_loss"])
            elif self.scheduler is not None:
                self.scheduler.step()
            if improved or not self.cfg.selects_best:
                selected = "valid_auprc" if self.cfg.selects_best else "last"
                save_model(
                    self.run,
                    self.selected_model,
                    self.ds.tasks,
                    MODEL_NAME,
                    **self._extra_meta(),
                    epoch=self.epoch,
                    selected_by=selected,
                    valid=row,
                )
            self._save_last()
            write_history(self.run / HISTORY_FILE, self.history)

    # -- the loop ------------------------------------------------------------------------------------
    def _step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.optimizer.zero_grad(set_to_none=True)
        autocast = (
            torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)
            if self.amp_dtype is not None
            else contextlib.nullcontext()
        )
        with autocast:
            logits = self.model(x)
        loss = self.loss_fn(logits.float(), y)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update(self.model)
        return loss, logits

    def _train_epoch(self, epoch: int) -> dict:
        from tqdm import tqdm

        cfg, n = self.cfg, len(self.train_codes)
        torch.manual_seed(trainstate.epoch_seed(cfg.seed, epoch))
        order = torch.from_numpy(trainstate.epoch_order(cfg.seed, epoch, n)).to(self.device)
        starts = [lo for lo in range(0, n, cfg.batch_size) if min(n, lo + cfg.batch_size) - lo >= 2]
        self.model.train()
        total, seen = 0.0, 0
        outputs, targets = [], []
        bar = tqdm(total=len(starts), desc=f"epoch {epoch}/{cfg.epochs}", disable=not self.progress, leave=False)
        with bar:
            for b, lo in enumerate(starts):
                rows = order[lo : lo + cfg.batch_size]
                x = make_batch(self.train_codes, rows, cfg.shift, cfg.rc_augment)
                y = self.train_labels[rows]
                loss, logits = _train_step(self, x, y)
                value = loss.item()
                if not math.isfinite(value):
                    self._raise_non_finite(epoch, b + 1, value)
                total += value * len(rows)
                outputs.append(logits.detach().float())
                targets.append(y)
                seen += len(rows)
                bar.update(1)
                bar.set_postfix(loss=f"{total / seen:.4f}", refresh=False)
        # Scores of the predictions made while training (dropout on, augmented batches), as Keras reports. An
        # epoch always has a batch: the training split holds at least 2 windows (_check_trainable, --max-train).
        logits, y = torch.cat(outputs), torch.cat(targets)
        scores = quick_scores(y.cpu().numpy(), torch.sigmoid(logits).cpu().numpy())
        return {
            "train_loss": total / seen,
            "train_acc": scores["accuracy"],
            "train_auroc": scores["auroc"],
            "train_auprc": scores["auprc"],
        }

    def _raise_non_finite(self, epoch: int, batch: int | None, value, stage: str = "validation") -> None:
        kept = (
            f"{self.run}/{LAST_NAME}.* still holds epoch {self.epoch}, the last good one"
            if self.epoch
            else "no epoch had completed, so no checkpoint was written"
        )
        what = f"batch {batch}: the training loss is {value}" if batch else f"{stage}: {value}"
        raise NonFiniteLoss(
            f"epoch {epoch}, {what}; training stopped ({kept}); "
            f"try a lower --lr (now {self.cfg.lr}) or check the data set"
        )

    def _check_weights(self, epoch: int) -> None:
        """Stop before saving weights or batch-norm statistics that a checkpoint may not hold
        (:func:`~peakcnn.checkpoint.tensor_fault`); finite outputs can hide them: an infinite running
        variance scales its channel to 0."""
        models = [("weights", self.model)] + ([("weight average", self.ema.model)] if self.ema is not None else [])
        for what, model in models:
            bad = tensor_fault(model.state_dict())
            if bad:
                self._raise_non_finite(epoch, None, f"the model's {what} hold {bad[1]} ({bad[0]})", "end of the epoch")

    def _validate(self, epoch: int) -> dict:
        """Validation loss (weighted as the training loss is), accuracy, auROC and auPRC of the model
        that would be kept (the weight average with ``--ema``)."""
        if len(self.valid_codes) == 0:
            return {
                "valid_loss": math.nan,
                "valid_acc": math.nan,
                "valid_auroc": math.nan,
                "valid_auprc": math.nan,
            }
        logits = predict_logits(self.selected_model, self.valid_codes, self.device)
        bad = int((~np.isfinite(logits)).any(axis=1).sum())
        if bad:
            self._raise_non_finite(epoch, None, f"the model's output is NaN or infinite for {bad:,} of "
                                   f"{len(logits):,} windows")  # fmt: skip
        labels = self.valid_labels.astype(np.float32)
        # in float64: the mean of float32 losses of huge (finite) logits can overflow to inf
        weight = self.loss_fn.pos_weight
        loss = float(
            nn.functional.binary_cross_entropy_with_logits(
                torch.from_numpy(logits).double(),
                torch.from_numpy(labels).double(),
                pos_weight=None if weight is None else weight.detach().cpu().double(),
            )
        )
        if not math.isfinite(loss):
            self._raise_non_finite(epoch, None, f"the loss is {loss}")
        scores = quick_scores(labels, sigmoid(logits))
        return {
            "valid_loss": loss,
            "valid_acc": scores["accuracy"],
            "valid_auroc": scores["auroc"],
            "valid_auprc": scores["auprc"],
        }

    def fit(self) -> dict:
        """Train the remaining epochs; returns a summary dict."""
        cfg = self.cfg
        if cfg.ema and self.ema is None:
            self.ema = WeightAverage(self.model, cfg.ema)
        start = self.epoch
        while self.epoch < cfg.epochs and not self.stopped_early:
            epoch = self.epoch + 1
            t0 = time.perf_counter()
            lr = self.optimizer.param_groups[0]["lr"]
            row = {"epoch": epoch, **self._train_epoch(epoch), **self._validate(epoch), "lr": lr}
            self._check_weights(epoch)
            row["seconds"] = time.perf_counter() - t0
            self._end_epoch(row)
            log.info(_epoch_line(row, cfg.epochs))
        if self.stopped_early:
            log.info(f"early stop: no better validation auPRC for {cfg.early_stop} epochs")
        return self.summary(epochs_run=self.epoch - start)

    def summary(self, epochs_run: int | None = None) -> dict:
        """What the run holds: ``epochs_done`` in all, ``epochs_run`` of them by this call (``None`` if unknown)."""
        return {
            "run": str(self.run),
            "epochs_done": self.epoch,
            "epochs_run": epochs_run,
            "best_epoch": self.best["epoch"],
            "best_valid_auprc": self.best["valid_auprc"],
            "stopped_early": self.stopped_early,
            "selected_by": "valid_auprc" if self.cfg.selects_best else "last",
            "history": self.history,
        }


def _train_step(trainer: Trainer, x: torch.Tensor, y: torch.Tensor):
    """One optimisation step (a module-level seam so tests can simulate failures mid-epoch)."""
    return trainer._step(x, y)


def _epoch_line(row: dict, epochs: int) -> str:
    return (
        f"epoch {row['epoch']}/{epochs}  train loss {row['train_loss']:.4f} acc {row['train_acc']:.3f} "
        f"auPRC {row['train_auprc']:.3f}  |  "
        f"valid loss {row['valid_loss']:.4f} acc {row['valid_acc']:.3f} auROC {row['valid_auroc']:.3f} "
        f"auPRC {row['valid_auprc']:.3f}  |  lr {row['lr']:.3g}  {row['seconds']:.1f} s"
    )

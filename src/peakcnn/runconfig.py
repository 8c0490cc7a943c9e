"""The training recipe (:class:`TrainConfig`) and the plain files of a run folder.

A run folder (``peakcnn train ... --out RUN``) holds:

``config.json``
    The resolved configuration: ``training`` (a :class:`TrainConfig`), ``model`` (the architecture),
    ``dataset`` (path, sha256, tasks, window, window counts, negatives, split mode), ``device``, ``amp``.
``history.csv``
    One row per completed epoch (columns :data:`HISTORY_COLUMNS`).
``model.safetensors`` / ``model.json``
    The selected model (best validation auPRC when selection is on, else the last epoch).
``last.safetensors`` / ``last.json``
    The latest completed epoch with optimizer, scheduler and RNG states, for ``--resume``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import numbers
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from peakcnn.errors import InputError
from peakcnn.io.output import atomic_write_bytes
from peakcnn.modelconfig import PRESETS

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
HISTORY_COLUMNS = (
    "epoch",
    "train_loss",
    "train_acc",
    "train_auroc",
    "train_auprc",
    "valid_loss",
    "valid_acc",
    "valid_auroc",
    "valid_auprc",
    "lr",
    "seconds",
)
OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("none", "cosine", "plateau")
DEVICES = ("auto", "cpu", "cuda", "mps")
#: One CUDA device of several, by index (``--device cuda:1``).
CUDA_INDEX = re.compile(r"cuda:(0|[1-9][0-9]*)", re.ASCII)
#: Mixed precision: ``auto`` = float16 with loss scaling on CUDA, full precision elsewhere.
AMP_MODES = ("auto", "off", "bf16", "fp16")
#: The largest float32, the type of the weights: a larger factor overflows inside the optimizer step.
_FLOAT32_MAX = 3.4028234663852886e38
#: Bootstrap resamples behind the 95% intervals of auROC and auPRC that ``peakcnn evaluate`` reports, by
#: default for data sets of at most :data:`N_BOOT_MAX_TASKS` tasks (each task and model takes about 0.05 s
#: per 1,000 windows on a CPU core).
N_BOOT = 1000
#: The fewest resamples that make a 95% interval (fewer put its ends on one or two resamples) and the most.
MIN_BOOT, MAX_BOOT = 100, 100_000
N_BOOT_MAX_TASKS = 20


@dataclass
class TrainConfig:
    """A training recipe. The defaults are the founding recipe (SGD 0.02, momentum 0.9, 20 epochs, batch 64).

    ``early_stop`` is a patience in epochs on validation auPRC (0 = off); ``select_best`` keeps the epoch
    with the best validation auPRC as the run's model without stopping early; ``max_train`` trains on a
    random subset of that many training windows (0 = all); ``ema`` is the decay of an exponential moving
    average of the weights (0 = off; see :mod:`peakcnn.ema`), which validation scores and the run keeps;
    ``amp`` is the mixed precision of the training steps (see :func:`amp_dtype`; validation always runs in
    full precision); ``init`` is a run folder whose weights start the model (transfer learning, see
    :func:`peakcnn.checkpoint.transfer_weights`); ``note`` is free text shown in reports.
    """

    arch: str = "founding"
    epochs: int = 20
    batch_size: int = 64
    lr: float = 0.02
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_schedule: str = "none"
    rc_augment: bool = False
    shift: int = 0
    early_stop: int = 0
    select_best: bool = False
    class_weights: bool = False
    seed: int = 0
    max_train: int = 0
    ema: float = 0.0
    amp: str = "auto"
    init: str = ""
    note: str = ""

    @property
    def selects_best(self) -> bool:
        """Whether the run's model is the epoch with the best validation auPRC."""
        return self.select_best or self.early_stop > 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"training config has unknown keys: {', '.join(unknown)}")
        cfg = cls(**{k: v.item() if type(v).__module__ == "numpy" else v for k, v in d.items()})  # numpy scalars
        cfg.validate()
        return cfg

    def _check_types(self) -> None:
        """Raise :class:`InputError` naming the first option whose value is not of its field's type (an int
        counts as a float; a bool is no number)."""
        kinds = {
            "int": ((int,), "a whole number"),
            "float": ((int, float), "a number"),
            "bool": ((bool,), "True or False"),
            "str": ((str,), "a string"),
        }
        for f in fields(self):
            value = getattr(self, f.name)
            want, what = kinds[str(f.type)]
            if not isinstance(value, want) or (isinstance(value, bool) and bool not in want):
                raise InputError(f"training option {f.name} is {value!r} ({type(value).__name__}); it takes {what}")

    def validate(self) -> None:
        """Raise :class:`InputError` naming the first option of the wrong type or out of range."""
        self._check_types()
        checks = [
            (self.arch in PRESETS, "--arch", f"choose one of {', '.join(PRESETS)}"),
            (self.optimizer in OPTIMIZERS, "--optimizer", f"choose one of {', '.join(OPTIMIZERS)}"),
            (self.lr_schedule in SCHEDULES, "--lr-schedule", f"choose one of {', '.join(SCHEDULES)}"),
            (self.epochs >= 1, "--epochs", "must be at least 1"),
            (self.batch_size >= 2, "--batch-size", "must be at least 2 (batch norm needs two windows)"),
            (math.isfinite(self.lr) and self.lr > 0, "--lr", "must be a positive number"),
            (0 <= self.momentum < 1, "momentum", "must be in [0, 1)"),
            (math.isfinite(self.weight_decay) and self.weight_decay >= 0, "--weight-decay", "must be >= 0"),
            (self.lr <= _FLOAT32_MAX, "--lr", "is beyond float32, the type of the weights it scales"),
            (self.weight_decay <= _FLOAT32_MAX, "--weight-decay", "is beyond float32, the type of the weights"),
            (self.shift >= 0, "--shift", "must be >= 0 bp"),
            (self.early_stop >= 0, "--early-stop", "must be >= 0 epochs (0 = off)"),
            (self.max_train == 0 or self.max_train >= 2, "--max-train", "must be 0 (all windows) or at least 2"),
            (0 <= self.ema < 1, "--ema", "must be in [0, 1) (0 = off; 0.999 averages over about 1,000 steps)"),
            (self.amp in AMP_MODES, "--amp", f"choose one of {', '.join(AMP_MODES)}"),
            (0 <= self.seed < 2**63, "--seed", "must be an integer in [0, 2**63)"),
        ]
        for ok, name, what in checks:
            if not ok:
                value = getattr(self, name.lstrip("-").replace("-", "_"), None)
                raise InputError(f"{name} {value!r}: {what}")


def differing_keys(saved: dict, options: dict) -> list[str]:
    """Keys of ``options`` whose value differs from ``saved`` (the resolved config of an existing run)."""
    return sorted(k for k, v in options.items() if k in saved and saved[k] != v)


def amp_dtype(mode: str, device_type: str):
    """The autocast dtype of the training steps for ``--amp MODE`` on a device, or ``None`` (full precision).

    ``auto`` is float16 on CUDA and full precision elsewhere; ``bf16`` autocasts convolutions and dense
    layers to bfloat16 (about twice as fast on CPUs with native bfloat16, such as AVX512-BF16 or AMX, and
    several times slower on CPUs without it, see :func:`native_bf16`); ``fp16`` needs CUDA.
    """
    import torch

    if mode == "auto":
        return torch.float16 if device_type == "cuda" else None
    if mode == "fp16" and device_type != "cuda":
        raise InputError(f"--amp fp16 needs a CUDA device (this run is on {device_type}); use --amp bf16 or off")
    return {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[mode]


def native_bf16(cpuinfo: str | None = None) -> bool | None:
    """Whether the CPU computes bfloat16 natively (x86 AVX512-BF16 or AMX-BF16, Arm BF16), read from the
    ``flags`` / ``Features`` lines of ``/proc/cpuinfo`` (or the text ``cpuinfo``); ``None`` where unknown."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return None
    flags = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"}) if flags else None


def _known_device(name: str) -> bool:
    return name in DEVICES or CUDA_INDEX.fullmatch(name) is not None


def device_option(text: str) -> str:
    """argparse type of ``--device``: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""
    if _known_device(text):
        return text
    raise argparse.ArgumentTypeError(f"{text!r}: choose auto, cpu, cuda, cuda:N or mps")


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """The ``--device`` option every command that runs a model shares."""
    parser.add_argument(
        "--device",
        default="auto",
        type=device_option,
        metavar="{auto,cpu,cuda,cuda:N,mps}",
        help="default auto: CUDA, then MPS, then CPU",
    )


def add_shifts_option(parser: argparse.ArgumentParser) -> None:
    """The ``--shifts`` option of the commands that score windows (test-time shift averaging)."""
    parser.add_argument(
        "--shifts",
        type=int,
        nargs="+",
        default=[0],
        metavar="S",
        help="score each window moved by each of these bases, N moved in, and average (test-time augmentation, "
        "as Basenji's --shifts); include 0 for the window as it is, e.g. --shifts -5 0 5; default 0",
    )


def resolve_device(name: str):
    """A ``torch.device`` for ``auto|cpu|cuda|cuda:N|mps``; ``auto`` picks CUDA, then MPS, then CPU."""
    import torch

    if not _known_device(name):
        raise InputError(f"--device {name!r}: choose one of auto, cpu, cuda, cuda:N, mps")
    cuda = torch.cuda.is_available()
    if CUDA_INDEX.fullmatch(name):
        count, index = torch.cuda.device_count() if cuda else 0, int(name.split(":")[1])
        if count == 0:
            raise InputError(f"--device {name}: no CUDA device is available here; use --device cpu or auto")
        if index >= count:
            last = "cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
            raise InputError(f"--device {name}: this machine has {count} CUDA device(s); use {last}")
        return torch.device("cuda", index)
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise InputError("--device cuda: no CUDA device is available here; use --device cpu or auto")
    if name == "mps" and not mps:
        raise InputError("--device mps: Apple MPS is not available here; use --device cpu or auto")
    return torch.device(name)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    atomic_write_bytes(path, text.encode())


def write_json(path: Path, obj: dict) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_run_config(run: Path) -> dict:
    """The ``config.json`` of a run folder: a JSON object whose ``training`` and ``dataset`` sections, where
    present, are objects, with the data set's ``path`` and ``sha256`` as strings."""
    path = Path(run) / CONFIG_FILE
    if not path.exists():
        raise InputError(f"{run}: no {CONFIG_FILE} here; give the --out folder of 'peakcnn train'")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e}); the run folder is damaged") from None
    damaged = "the run folder is damaged, train into a new --out folder"
    if not isinstance(config, dict):
        raise InputError(f"{path}: holds a JSON {type(config).__name__}, not an object; {damaged}")
    for key in ("training", "dataset"):
        if key in config and not isinstance(config[key], dict):
            raise InputError(f"{path}: its '{key}' section is {config[key]!r}, not an object; {damaged}")
    for key in ("path", "sha256"):
        value = config.get("dataset", {}).get(key)
        if value is not None and not isinstance(value, str):
            raise InputError(f"{path}: its dataset {key} is {value!r}, not a string; {damaged}")
    return config


def recorded_dataset(run: Path, meta: dict) -> str | None:
    """The data set path a run records: from its ``config.json`` when present, else from its checkpoint
    metadata ``meta`` (``dataset_path``); ``None`` when neither has one."""
    config = read_run_config(run) if (Path(run) / CONFIG_FILE).exists() else {}
    return config.get("dataset", {}).get("path") or meta.get("dataset_path")


def write_history(path: Path, rows: list[dict]) -> None:
    """Write the per-epoch history as CSV (atomically)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(row.get(k)) for k in HISTORY_COLUMNS})
    atomic_write_text(path, buf.getvalue())


def read_history(path: Path) -> list[dict]:
    """Rows of a ``history.csv`` as dicts of floats (``epoch`` as int); empty if the file is absent.

    A file that is not such a table (a missing ``epoch``, ``train_loss`` or ``valid_loss`` column, a value
    that is not a number, a row with more fields than the header) raises :class:`InputError` naming it."""
    path = Path(path)
    if not path.exists():
        return []
    damaged = "the run's history is damaged; train the run again, or delete the file to go without curves"
    rows = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in ("epoch", "train_loss", "valid_loss") if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(f"{path}: no column {missing[0]!r} in the header line; {damaged}")
            for raw in reader:
                line = reader.line_num
                if None in raw:
                    raise InputError(f"{path}:{line}: more fields than the header names; {damaged}")
                try:
                    row = {k: (float(v) if v not in ("", None) else math.nan) for k, v in raw.items()}
                    row["epoch"] = int(row["epoch"])
                except (ValueError, OverflowError) as e:
                    raise InputError(f"{path}:{line}: {e}; {damaged}") from None
                bad = _history_fault(row)
                if bad:
                    raise InputError(f"{path}:{line}: {bad}; {damaged}")
                rows.append(row)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{path}: cannot be read as a history table ({e}); {damaged}") from None
    return rows


def _history_fault(row: dict) -> str | None:
    """What in a history row training cannot have written: an epoch below 1, a score (accuracy, auROC,
    auPRC) outside [0, 1], a loss, rate or time that is negative or infinite (empty cells are allowed)."""
    if row["epoch"] < 1:
        return f"epoch {row['epoch']} is below 1"
    for key, value in row.items():
        if key == "epoch" or key not in HISTORY_COLUMNS or math.isnan(value):
            continue
        if key.endswith(("_acc", "_auroc", "_auprc")):
            if not 0 <= value <= 1:
                return f"{key} {value:g} is not a score from 0 to 1"
        elif not (math.isfinite(value) and value >= 0):
            return f"{key} {value:g} is not a finite number >= 0"
    return None


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def n_boot_allowed(n: int) -> bool:
    """Whether ``n`` resamples may be asked for: 0 (no intervals) or :data:`MIN_BOOT` to :data:`MAX_BOOT`."""
    return n == 0 or MIN_BOOT <= n <= MAX_BOOT


def is_whole_number(value) -> bool:
    """A whole number from Python or numpy (``True`` and ``np.True_`` are not one)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real_number(value) -> bool:
    """A real number from Python or numpy, whole or not (``True`` and complex numbers are not one)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_n_boot(n_boot) -> None:
    """Raise :class:`InputError` unless ``n_boot`` is ``None`` (the default) or a whole number of resamples
    that :func:`n_boot_allowed`, as ``evaluate --bootstrap`` takes."""
    if n_boot is None:
        return
    if not is_whole_number(n_boot) or not n_boot_allowed(n_boot):
        raise InputError(f"n_boot {n_boot!r}: give 0 (no intervals) or a whole number from {MIN_BOOT} to {MAX_BOOT:,}")


def check_flag(value, name: str) -> None:
    """Raise :class:`InputError` unless ``value`` is True or False (``rc="no"`` would read as True)."""
    if not isinstance(value, bool):
        raise InputError(f"{name} {value!r} ({type(value).__name__}): give True or False")

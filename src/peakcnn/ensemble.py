"""Ensembles: several trained runs used as one model, whose logits are the mean of the members' logits.

``peakcnn ensemble RUN RUN... --out ENS`` writes a run folder holding every member: ``model.safetensors``
has each member's tensors under ``members.<i>.`` and ``model.json`` describes each member (model config,
training recipe, data set checksum, selected epoch, source folder). :func:`peakcnn.checkpoint.load_model`
loads it like any other run, so ``evaluate``, ``predict``, ``scan``, ``variants`` and ``ism`` take it
unchanged. Members must share their tasks (names and order, unless the ensemble's outputs are named
explicitly, ``--tasks``), window and encoding; their architectures and training data may differ. The folder
is self-contained: the member runs may be deleted afterwards.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from peakcnn.errors import InputError
from peakcnn.io.output import check_output_folder, make_folder, remove_made_folders

log = logging.getLogger(__name__)

#: Prefix of member ``i``'s tensors in an ensemble checkpoint: ``members.<i>.``.
MEMBER_PREFIX = "members."
#: How member outputs are combined (recorded in the checkpoint).
COMBINE = "mean of the members' logits"


@dataclass(frozen=True)
class EnsembleConfig:
    """What callers read from a model's ``config``: its window and number of outputs."""

    window: int
    n_tasks: int


class EnsembleModel(nn.Module):
    """Models mapping one-hot DNA ``(B, 4, L)`` to logits ``(B, T)``, combined as the mean of their logits."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        first = members[0].config
        for i, member in enumerate(members[1:], start=2):
            for field in ("window", "n_tasks"):
                if getattr(member.config, field) != getattr(first, field):
                    raise InputError(
                        f"ensemble member {i}: its {field} {getattr(member.config, field)} is not member 1's "
                        f"{getattr(first, field)}; members must share window and number of outputs"
                    )
        self.members = nn.ModuleList(members)
        self.config = EnsembleConfig(window=first.window, n_tasks=first.n_tasks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of the members' logits, ``(B, n_tasks)``."""
        return torch.stack([m(x) for m in self.members]).mean(0)


def is_ensemble(meta: dict) -> bool:
    """True when checkpoint metadata describes an ensemble."""
    return "ensemble" in meta


def ensemble_from_tensors(tensors: dict[str, torch.Tensor], meta: dict, where: str) -> EnsembleModel:
    """Rebuild an ensemble from its checkpoint, checking each member's tensors against its config."""
    from peakcnn.checkpoint import model_from_tensors

    members = meta["ensemble"].get("members") if isinstance(meta["ensemble"], dict) else None
    if not isinstance(members, list) or not members:
        raise InputError(f"{where}: the ensemble lists no members; the checkpoint is damaged")
    prefixes = [f"{MEMBER_PREFIX}{i}." for i in range(len(members))]
    stray = [k for k in tensors if not any(k.startswith(p) for p in prefixes)]
    if stray:
        raise InputError(f"{where}: tensors {stray[:3]} belong to no member of the ensemble; the checkpoint is damaged")
    models = []
    for i, (prefix, member) in enumerate(zip(prefixes, members, strict=True)):
        own = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        models.append(model_from_tensors(own, member, f"{where} (member {i + 1})"))
    if any(m.config.n_tasks != len(meta["tasks"]) for m in models):
        n = len(meta["tasks"])
        raise InputError(f"{where}: a member's outputs do not match the {n} tasks; the checkpoint is damaged")
    return EnsembleModel(models).eval()


def _whole_pair(stem: Path) -> bool:
    """Whether ``stem.json`` and ``stem.safetensors`` are one checkpoint (the JSON's checksum fits)."""
    from peakcnn.checkpoint import load_tensors

    try:
        load_tensors(stem)
    except InputError:
        return False
    return True


def _member_doc(run: Path, meta: dict) -> dict:
    keep = (
        "model_config", "tasks", "training", "dataset_sha256", "dataset_path", "epoch", "selected_by", "center",
        "genome_chroms", "genome_chrom_descriptions", "init_overlap", "max_n_frac",
    )  # fmt: skip
    return {"run": str(run.resolve()), **{k: meta[k] for k in keep if k in meta}}


def _model_file(run: Path) -> Path:
    """The model JSON :func:`peakcnn.checkpoint.load_model` reads for ``run``, its path resolved (so two
    paths to one run, through ``..``, a trailing ``/`` or a symbolic link, give the same file)."""
    from peakcnn.checkpoint import model_stem

    return model_stem(run).with_suffix(".json").resolve()


def _strictest_n_limit(members: list[dict]) -> float | None:
    """The least of the members' N limits (``max_n_frac``), so that no member scores more N than it was
    trained on; a member that records none counts with prepare's default. ``None`` when none records one."""
    from peakcnn.apply import DEFAULT_MAX_N_FRAC

    limits = [m.get("max_n_frac") for m in members]
    if all(v is None for v in limits):
        return None
    return min(DEFAULT_MAX_N_FRAC if v is None else v for v in limits)


def _shared(values: list):
    """The common value of ``values``, or ``None`` when they differ."""
    return values[0] if all(v == values[0] for v in values) else None


def _weights_digest(model) -> str:
    """sha256 of a network's tensors by name, whatever file or checkpoint they were read from."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        raw = tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8)  # any dtype, bfloat16 too
        h.update(name.encode() + b"\0" + raw.numpy().tobytes())
    return h.hexdigest()


def build_ensemble(
    runs: list[str | Path], out: str | Path, force: bool = False, tasks: list[str] | None = None
) -> dict:
    """Combine the trained runs ``runs`` into the ensemble run folder ``out``; returns its metadata.

    Parameters
    ----------
    runs
        At least two distinct run folders written by ``peakcnn train``, with the same tasks, window and
        encoding. A run given twice (by any path) or a copy of one (the same weights) is refused.
    out
        Folder to write (created if needed). An existing ensemble there is replaced only with ``force``; a
        training run folder is never overwritten.
    tasks
        Names of the ensemble's outputs, under the rules of ``peakcnn prepare --names`` (non-empty, no
        whitespace, distinct). When given, members whose task names differ are accepted as long as they have
        this many tasks; output ``i`` is then the mean of every member's output ``i`` (each
        member's own names are kept in the metadata). A name found at two positions (in two members, or in
        a member and ``tasks``) is refused: it would mix tasks.
    """
    from peakcnn import __version__
    from peakcnn.checkpoint import LAST_NAME, MODEL_NAME, load_model, save_tensors
    from peakcnn.io.bed import task_column_clash, task_name_problem
    from peakcnn.runconfig import CONFIG_FILE, HISTORY_FILE, check_flag, recorded_dataset

    check_flag(force, "force")
    for name, value in (("runs", runs), ("tasks", tasks)):
        if isinstance(value, (str, bytes, Path)):  # one string would be taken letter by letter
            raise InputError(f"{name} {value!r}: give a list, one item per {name[:-1]}")
    runs = [Path(r) for r in runs]
    if len(runs) < 2:
        raise InputError("an ensemble needs at least two runs; give two or more RUN folders")
    if tasks is not None:
        problem = task_name_problem(list(tasks)) or task_column_clash(list(tasks))
        if problem:
            raise InputError(f"--tasks: {problem}; give distinct names without whitespace, one per output")
    files = [_model_file(r) for r in runs]
    for i, file in enumerate(files):
        if file in files[:i]:
            earlier = runs[files.index(file)]
            raise InputError(f"{runs[i]}: is the same run as {earlier} ({file.parent}); list each member run once")
    out = check_output_folder(out)
    if (out / f"{MODEL_NAME}.json").resolve() in files:
        raise InputError(f"{out}: is also one of the member runs; choose another --out folder")
    trained = [name for name in (f"{LAST_NAME}.json", CONFIG_FILE, HISTORY_FILE) if (out / name).exists()]
    if trained:  # last.* may have been deleted after training; config.json and history.csv still say it
        raise InputError(f"{out}: holds a training run ({trained[0]}); choose another --out folder for the ensemble")
    replacing = (out / f"{MODEL_NAME}.json").exists()
    if replacing and not force:
        raise InputError(f"{out}: already holds a model; add --force to replace it, or choose another --out folder")
    tensors, members, first, weights = {}, [], None, {}
    # A task name at two output positions (a member trained with --names b a beside one with a b, or --tasks
    # naming the members' outputs in another order) would average or label different tasks as one.
    positions = {name: (i, "--tasks") for i, name in enumerate(tasks or [])}
    for i, run in enumerate(runs):
        model, meta = load_model(run)
        if is_ensemble(meta):
            raise InputError(f"{run}: is itself an ensemble; list its member runs instead")
        if first is None:
            first = (run, meta)
        if tasks is not None and len(meta["tasks"]) != len(tasks):
            raise InputError(
                f"{run}: {len(meta['tasks'])} tasks {meta['tasks']}, but {len(tasks)} task names were given "
                f"({', '.join(tasks)}); every member needs one output per name"
            )
        for key in ("window", "encoding") if tasks is not None else ("tasks", "window", "encoding"):
            if meta.get(key) != first[1].get(key):
                raise InputError(
                    f"{run}: {key} {meta.get(key)} does not match {key} {first[1].get(key)} of {first[0]}; "
                    "the members of an ensemble must share tasks (or be named with --tasks), window and encoding"
                )
        for j, name in enumerate(meta["tasks"] if tasks is not None else []):
            k, where = positions.setdefault(name, (j, str(run)))
            if k != j:
                raise InputError(
                    f"{run}: task '{name}' is output {j + 1} here but output {k + 1} of {where}; outputs are "
                    "matched by position, so this would mix tasks; give members (and --tasks) one task order"
                )
        digest = _weights_digest(model)  # the network's own tensors: last.* also holds optimizer state
        if digest in weights:
            raise InputError(
                f"{run}: holds the same weights as {weights[digest]} (a copy of that run?); an "
                "ensemble of identical models is that model, list each member run once"
            )
        weights[digest] = run
        members.append(_member_doc(run, {**meta, "dataset_path": recorded_dataset(run, meta)}))
        tensors.update({f"{MEMBER_PREFIX}{i}.{k}": v for k, v in model.state_dict().items()})
    meta = {
        "ensemble": {"combine": COMBINE, "members": members},
        "tasks": list(tasks) if tasks is not None else first[1]["tasks"],
        "window": first[1]["window"],
        "encoding": first[1]["encoding"],
        "peakcnn_version": __version__,
        "training": {"arch": f"ensemble of {len(members)}"},
        "selected_by": "each member's own selection",
        # Shared only when every member was trained on the same data set; evaluate then finds it itself.
        "dataset_sha256": _shared([m.get("dataset_sha256") for m in members]),
        "dataset_path": _shared([m.get("dataset_path") for m in members]),
        "center": _shared([m.get("center") for m in members]),
        "genome_chroms": _shared([m.get("genome_chroms") for m in members]),
        "genome_chrom_descriptions": _shared([m.get("genome_chrom_descriptions") for m in members]),
        "max_n_frac": _strictest_n_limit(members),
    }
    centres = sorted({m["center"] for m in members if m.get("center")})
    if len(centres) > 1:
        log.warning(
            "warning: the members' data sets centred peak windows differently (%s); 'predict --bed' with this "
            "ensemble centres windows on summits",
            ", ".join(centres),
        )
    meta = {k: v for k, v in meta.items() if v is not None}
    created = make_folder(out)
    try:
        save_tensors(out / MODEL_NAME, tensors, meta)
    except BaseException:  # a full disk or an interruption: no half of a checkpoint, no folder made for it
        if not replacing or not _whole_pair(out / MODEL_NAME):  # an ensemble being replaced may still be whole
            for ext in ("safetensors", "json"):
                (out / f"{MODEL_NAME}.{ext}").unlink(missing_ok=True)
        remove_made_folders(created)
        raise
    if replacing:  # the evaluations there scored the ensemble just replaced
        from peakcnn.evaluate import remove_evaluations

        remove_evaluations(out)
    return meta

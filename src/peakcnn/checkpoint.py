"""Self-describing checkpoints: tensors in safetensors, everything else in JSON. Loading never unpickles.

A checkpoint is a pair ``NAME.safetensors`` + ``NAME.json`` inside a run folder. The JSON holds
``model_config``, ``tasks``, ``window``, ``encoding``, ``training`` (config), ``dataset_sha256``,
``peakcnn_version`` and ``tensors_sha256`` (required, and checked on loading); :func:`load_model` needs
nothing else to rebuild the network, so ``predict``, ``scan`` and the interpretation tools never need the
training command line.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import fields
from pathlib import Path

import torch
from torch import nn

from peakcnn import __version__
from peakcnn.ensemble import ensemble_from_tensors, is_ensemble
from peakcnn.errors import InputError
from peakcnn.io.bed import task_name_problem
from peakcnn.io.output import atomic_write_bytes
from peakcnn.metrics import json_safe
from peakcnn.model import DNASeqClassifier, ModelConfig
from peakcnn.runconfig import is_real_number, is_whole_number
from peakcnn.sequence import ENCODING_NAME

MODEL_NAME = "model"  # the best (or final) model of a run
LAST_NAME = "last"  # the latest epoch, for --resume
#: Tensors under this prefix (optimizer buffers, RNG states) belong to the training state, not the model.
TRAIN_STATE_PREFIX = "train_state."


#: Key of the JSON half of a checkpoint holding the sha256 of its safetensors half.
TENSORS_SHA256 = "tensors_sha256"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
#: What to do about a checkpoint whose JSON holds a value peakcnn never writes.
_DAMAGED = "the checkpoint is damaged; restore it or train the run again"


def _show(value) -> str:
    """``repr(value)``, cut to fit an error line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def save_tensors(stem: Path, tensors: dict[str, torch.Tensor], meta: dict, strict_json: bool = True) -> None:
    """Write ``stem.safetensors`` and ``stem.json`` atomically (the JSON last, so it marks completeness).
    With ``strict_json`` a NaN or infinite number in ``meta`` (a validation score without a value) is
    written as null, which every JSON parser reads; without it Python's ``NaN`` and ``Infinity`` are kept,
    for values read back exactly (a training state's schedule bounds are infinite).

    The JSON records the sha256 of the safetensors bytes, so that a pair left inconsistent by a process
    killed between the two renames is recognised when it is read.
    """
    from safetensors.torch import save

    stem = Path(stem)
    clean = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    data = save(clean)
    meta = {**meta, TENSORS_SHA256: hashlib.sha256(data).hexdigest()}
    atomic_write_bytes(stem.with_suffix(".safetensors"), data)
    text = json.dumps(json_safe(meta) if strict_json else meta, indent=2, sort_keys=True, allow_nan=not strict_json)
    atomic_write_bytes(stem.with_suffix(".json"), text.encode())


def load_tensors(stem: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a pair written by :func:`save_tensors`, refusing tensors whose sha256 the JSON lacks or contradicts."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    stem = Path(stem)
    jpath, tpath = stem.with_suffix(".json"), stem.with_suffix(".safetensors")
    if not jpath.exists() or not tpath.exists():
        raise InputError(f"{stem.parent}: no checkpoint '{stem.name}' here; train one with 'peakcnn train'")
    try:
        meta = json.loads(jpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{jpath}: not valid JSON ({e}); the checkpoint is damaged") from None
    if not isinstance(meta, dict):
        raise InputError(f"{jpath}: is not a checkpoint description (a JSON object); the checkpoint is damaged")
    recorded = meta.get(TENSORS_SHA256)
    if recorded is None:
        raise InputError(
            f"{jpath}: lacks its checksum '{TENSORS_SHA256}' (the sha256 of {tpath.name}), so the weights cannot "
            "be verified; train the run again, or re-save the checkpoint with peakcnn.checkpoint.save_tensors"
        )
    if not isinstance(recorded, str) or not _SHA256_HEX.fullmatch(recorded):
        raise InputError(
            f"{jpath}: '{TENSORS_SHA256}' is {_show(recorded)}, not a sha256 (64 lower-case hex digits) of "
            f"{tpath.name}; {_DAMAGED}"
        )
    try:
        data = tpath.read_bytes()
        if hashlib.sha256(data).hexdigest() != recorded:
            raise InputError(
                f"{tpath}: does not match {jpath.name} (sha256 differs; the process writing them was probably "
                f"killed); {_DAMAGED}"
            )
        tensors = load(data)
    except (SafetensorError, OSError, ValueError) as e:
        raise InputError(f"{tpath}: cannot be read as safetensors ({e}); the checkpoint is damaged") from None
    return tensors, meta


def model_meta(model: DNASeqClassifier, tasks: list[str], **extra) -> dict:
    meta = {
        "model_config": model.config.to_dict(),
        "tasks": list(tasks),
        "window": model.config.window,
        "encoding": ENCODING_NAME,
        "peakcnn_version": __version__,
    }
    meta.update(extra)
    return meta


def save_model(run: Path, model: DNASeqClassifier, tasks: list[str], name: str = MODEL_NAME, **extra) -> None:
    """Save weights and a self-describing JSON (extra keys, e.g. ``training``, ``dataset_sha256``, are kept)."""
    save_tensors(Path(run) / name, model.state_dict(), model_meta(model, tasks, **extra))


def tensor_fault(tensors: dict[str, torch.Tensor]) -> tuple[str, str] | None:
    """The first tensor that would make a model's outputs NaN, and why (``NaN or infinite values``, ``a
    negative variance`` in a batch-norm ``running_var``); ``None`` when there is none."""
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return key, "NaN or infinite values"
        if key.endswith("running_var") and bool((tensor < 0).any()):
            return key, "a negative variance"
    return None


def model_from_tensors(tensors: dict[str, torch.Tensor], meta: dict, where: str) -> DNASeqClassifier:
    """Build the network described by ``meta`` and load ``tensors`` into it, checking that they fit."""
    try:
        config = ModelConfig.from_dict(meta["model_config"])
        with torch.random.fork_rng(devices=[]):  # the initial weights, replaced below, leave torch's draws alone
            model = DNASeqClassifier(config)
    except (InputError, KeyError, TypeError, ValueError, RuntimeError, AttributeError) as e:
        raise InputError(
            f"{where}: the model_config in its JSON does not describe a network ({e}); the checkpoint is damaged"
        ) from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [k for k in expected if k in tensors and tensors[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        detail = "; ".join(
            s
            for s in (
                f"missing {missing[:3]}" if missing else "",
                f"unexpected {unexpected[:3]}" if unexpected else "",
                f"shape mismatch {wrong[0]}: {tuple(tensors[wrong[0]].shape)} vs {tuple(expected[wrong[0]].shape)}"
                if wrong
                else "",
            )
            if s
        )
        raise InputError(f"{where}: tensors do not fit the model config ({detail}); the checkpoint is damaged")
    bad = tensor_fault(tensors)
    if bad:  # training never saves such weights (it stops first); they would give NaN outputs
        raise InputError(f"{where}: tensor {bad[0]} holds {bad[1]}; the checkpoint is damaged, train the run again")
    model.load_state_dict(tensors)
    model.eval()
    return model


def _is_int_list(value) -> bool:
    return isinstance(value, list) and all(map(is_whole_number, value))


#: Type each ``model_config`` field must have in a checkpoint: (test, description for the message). Every
#: field of :class:`ModelConfig` must be present; its values are then checked by :class:`ModelConfig` itself.
_CONFIG_TYPES = {
    "window": (lambda v: is_whole_number(v) and v > 0, "a positive integer (bp)"),
    "n_tasks": (lambda v: is_whole_number(v) and v > 0, "a positive integer"),
    "conv_filters": (_is_int_list, "a list of integers"),
    "conv_widths": (_is_int_list, "a list of integers"),
    "pool_widths": (_is_int_list, "a list of integers"),
    "conv_dropout": (
        lambda v: isinstance(v, list) and all(is_real_number(p) and 0 <= p <= 1 for p in v),
        "a list of numbers in [0, 1]",
    ),
    "residual_dilations": (_is_int_list, "a list of integers"),
    "residual_dropout": (lambda v: is_real_number(v) and 0 <= v <= 1, "a number in [0, 1]"),
    "dense_units": (_is_int_list, "a list of integers"),
    "dense_dropout": (lambda v: is_real_number(v) and 0 <= v <= 1, "a number in [0, 1]"),
}

#: Optional keys other commands read: (test, description). ``center`` is checked against ``prepare --center``.
#: A missing key or null means "not recorded" (an ensemble records ``dataset_path`` null for a member whose
#: run names no data set), which every reader handles.
_OPTIONAL_FIELDS = {
    "training": (lambda v: isinstance(v, dict), "a JSON object"),
    "genome_chroms": (lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v), "a list of names"),
    "genome_chrom_descriptions": (
        lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
        "a JSON object of names and descriptions",
    ),
    "dataset_sha256": (lambda v: isinstance(v, str), "a string"),
    "dataset_path": (lambda v: isinstance(v, str), "a string"),
    "selected_by": (lambda v: isinstance(v, str), "a string"),
    "epoch": (lambda v: is_whole_number(v) and v >= 0, "a non-negative integer"),
    "max_n_frac": (
        lambda v: is_real_number(v) and 0 <= v <= 1,
        "a fraction from 0 to 1 (the training data set's 'prepare --max-n-frac')",
    ),
    "run": (lambda v: isinstance(v, str), "a string (an ensemble member's run folder)"),
}


def _check_model_config(config, path: Path, key: str) -> ModelConfig:
    """The :class:`ModelConfig` recorded under ``key``, every field present and of its type."""
    if not isinstance(config, dict):
        raise InputError(f"{path}: {key!r} is {_show(config)}, not a JSON object describing the network; {_DAMAGED}")
    known = [f.name for f in fields(ModelConfig)]
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise InputError(
            f"{path}: {key!r} has unknown fields {', '.join(unknown)} (known: {', '.join(known)}); "
            f"it was written by another peakcnn version, or {_DAMAGED}"
        )
    missing = [f for f in known if f not in config]
    if missing:
        raise InputError(f"{path}: '{key}.{missing[0]}' is missing; {_DAMAGED}")
    for field, (ok, allowed) in _CONFIG_TYPES.items():
        if not ok(config[field]):
            raise InputError(f"{path}: '{key}.{field}' is {_show(config[field])}, must be {allowed}; {_DAMAGED}")
    try:
        return ModelConfig.from_dict(config)
    except InputError as e:
        raise InputError(f"{path}: the {key} in its JSON does not describe a network ({e}); {_DAMAGED}") from None


def _check_tasks(tasks, path: Path, key: str) -> list[str]:
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) for t in tasks):
        raise InputError(f"{path}: {key!r} is missing or not a list of names ({_show(tasks)}); {_DAMAGED}")
    problem = task_name_problem(tasks)
    if problem:
        raise InputError(
            f"{path}: {key!r} is invalid: {problem} (names are non-empty, without whitespace and distinct, as "
            f"'peakcnn prepare --names' requires); {_DAMAGED}"
        )
    return tasks


def _check_optional(doc: dict, path: Path, prefix: str = "") -> None:
    """Keys a run may lack (or record as null, "not known"); when given, each must have its type."""
    from peakcnn.data.prepare import CENTERS

    for field, (ok, allowed) in _OPTIONAL_FIELDS.items():
        if doc.get(field) is not None and not ok(doc[field]):
            raise InputError(f"{path}: '{prefix}{field}' is {_show(doc[field])}, must be {allowed}; {_DAMAGED}")
    if doc.get("center") is not None and doc["center"] not in CENTERS:
        raise InputError(
            f"{path}: '{prefix}center' is {_show(doc['center'])}, must be one of {', '.join(CENTERS)} "
            f"(as 'peakcnn prepare --center'); {_DAMAGED}"
        )


def _check_meta(meta: dict, path: Path) -> None:
    """Check every key a command reads from the model's JSON at ``path``, before the model is built: task
    names (one per output of the network), window (the network's), encoding, centring, model config(s)."""
    tasks = _check_tasks(meta.get("tasks"), path, "tasks")
    window = meta.get("window")
    if not is_whole_number(window) or window <= 0:
        raise InputError(f"{path}: 'window' is missing or not a positive length ({_show(window)}); {_DAMAGED}")
    if meta.get("encoding") != ENCODING_NAME:
        raise InputError(
            f"{path}: 'encoding' is {_show(meta.get('encoding'))}, but peakcnn models read only "
            f"{ENCODING_NAME!r}; {_DAMAGED}"
        )
    _check_optional(meta, path)
    if not is_ensemble(meta):
        _check_network(meta, path, "", tasks, window)
        return
    members = meta["ensemble"].get("members") if isinstance(meta["ensemble"], dict) else None
    if not isinstance(members, list) or not members or not all(isinstance(m, dict) for m in members):
        raise InputError(
            f"{path}: the ensemble lists no members ('ensemble.members' is not a list of JSON objects); {_DAMAGED}"
        )
    for i, member in enumerate(members):
        prefix = f"ensemble.members[{i}]."
        _check_optional(member, path, prefix)
        _check_network(member, path, prefix, tasks, window)
        if "tasks" in member:  # the member's own names, which --tasks may have replaced
            own = _check_tasks(member["tasks"], path, prefix + "tasks")
            if len(own) != len(tasks):
                raise InputError(
                    f"{path}: '{prefix}tasks' names {len(own)} tasks, but the ensemble has {len(tasks)}; {_DAMAGED}"
                )


def _check_network(doc: dict, path: Path, prefix: str, tasks: list[str], window: int) -> None:
    """``doc["model_config"]`` must describe a network with one output per task that takes ``window`` bp."""
    key = prefix + "model_config"
    config = _check_model_config(doc.get("model_config"), path, key)
    if config.n_tasks != len(tasks):
        raise InputError(
            f"{path}: 'tasks' is {_show(tasks)}, but the network has {config.n_tasks} output(s) ('{key}.n_tasks'); "
            f"it must name one task per output; {_DAMAGED}"
        )
    if config.window != window:
        raise InputError(
            f"{path}: 'window' is {window}, but the network takes {config.window} bp ('{key}.window'); the two "
            f"must agree; {_DAMAGED}"
        )


def model_stem(run: str | Path, name: str = MODEL_NAME) -> Path:
    """The checkpoint :func:`load_model` reads for ``run`` (a run folder, or a ``.json``/``.safetensors``
    path), without its extension."""
    run = Path(run)
    return run.with_suffix("") if run.suffix in (".json", ".safetensors") else run / name


def load_model(run: str | Path, name: str = MODEL_NAME) -> tuple[nn.Module, dict]:
    """Load a trained model from a run folder (or a ``.json``/``.safetensors`` path); returns ``(model, meta)``.

    The model is a :class:`DNASeqClassifier`, or an :class:`~peakcnn.ensemble.EnsembleModel` for a folder
    written by ``peakcnn ensemble``; it is returned in eval mode on the CPU. Every key of the JSON that a
    command reads is checked before the model is built (its tasks name the network's outputs, its window is
    the network's, its encoding and centring are known, its checksum is present and matches the tensors),
    so a damaged or hand-edited ``model.json`` fails here in one line.
    """
    run = Path(run)
    if run.suffix not in (".json", ".safetensors") and not run.is_dir():
        raise InputError(f"{run}: not a run folder; give the --out folder of 'peakcnn train'")
    stem = model_stem(run, name)
    tensors, meta = load_tensors(stem)
    _check_meta(meta, stem.with_suffix(".json"))
    tensors = {k: v for k, v in tensors.items() if not k.startswith(TRAIN_STATE_PREFIX)}
    if is_ensemble(meta):
        return ensemble_from_tensors(tensors, meta, str(stem) + ".safetensors"), meta
    return model_from_tensors(tensors, meta, str(stem) + ".safetensors"), meta


def _output_layer(model: nn.Module) -> str:
    """The name of ``model``'s last linear layer, whose rows are the tasks."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Linear)][-1]


def transfer_weights(model: nn.Module, source: str | Path, tasks: list[str] | None = None) -> dict:
    """Copy into ``model`` every tensor of the trained run ``source`` with the same name and shape.

    Used to start training from another run (transfer learning): the convolutions carry over whenever the
    architecture matches, the dense layers when the window matches too (otherwise the whole dense head starts
    fresh), and the output layer when the tasks match as well (``tasks``, the names of ``model``'s outputs,
    equal to the source's in the same order; without ``tasks``, when their number matches); everything else,
    each layer whole, keeps its fresh initialisation. ``started_from`` is the run the source itself started
    from, if any: its training windows are not among the source's data set's.

    Returns
    -------
    dict
        ``{"run", "tasks", "copied", "kept", "dataset_sha256", "dataset_path", "started_from"}``: the source,
        its task names, the names of the tensors copied and of those left as initialised, the data set it was
        trained on and the run it started from.
    """
    source_model, meta = load_model(source)
    if is_ensemble(meta):
        raise InputError(f"{source}: is an ensemble; --init takes one trained run, for instance one of its members")
    theirs = source_model.state_dict()
    ours = model.state_dict()
    copied = [k for k, v in ours.items() if k in theirs and theirs[k].shape == v.shape]
    # Layer by layer: a layer whose weight does not fit starts fresh as a whole (its bias too), and so does the
    # dense head after a dense layer other than the output one that does not fit (another window)
    output = _output_layer(model)
    fresh = {k.rsplit(".", 1)[0] for k in ours if k.endswith("weight") and k not in copied}
    if any(layer.startswith("head.") and layer != output for layer in fresh):
        fresh |= {k.rsplit(".", 1)[0] for k in ours if k.startswith("head.")}
    copied = [k for k in copied if k.rsplit(".", 1)[0] not in fresh]
    if tasks is not None and list(tasks) != list(meta.get("tasks", [])):  # output i is another task there
        copied = [k for k in copied if not k.startswith(f"{output}.")]
    if not any(k.startswith("trunk.") and k.endswith("weight") for k in copied):
        arch = (meta.get("training") or {}).get("arch")
        raise InputError(
            f"{source}: its convolutions do not fit this model (its architecture: {arch!r}); "
            "--init needs a run trained with the same --arch (or, for --arch dilated, a founding one)"
        )
    with torch.no_grad():
        for k in copied:
            ours[k].copy_(theirs[k])
    return {
        "run": str(Path(source).resolve()),
        "tasks": list(meta.get("tasks", [])),
        "copied": copied,
        "kept": [k for k in ours if k not in copied],
        "dataset_sha256": meta.get("dataset_sha256"),
        "dataset_path": meta.get("dataset_path"),
        "started_from": (meta.get("training") or {}).get("init"),
    }

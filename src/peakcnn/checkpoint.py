"""Self-describing checkpoints: tensors in safetensors, everything else in JSON. Loading never unpickles.

A checkpoint is a pair ``NAME.safetensors`` + ``NAME.json`` inside a run folder. The JSON holds
``model_config``, ``tasks``, ``window``, ``encoding``, ``training`` (config), ``dataset_sha256``,
``peakcnn_version`` and ``tensors_sha256`` (checked on loading); :func:`load_model` needs nothing else to
rebuild the network, so ``predict``, ``scan`` and the interpretation tools never need the training command
line.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import nn

from peakcnn import __version__
from peakcnn.ensemble import ensemble_from_tensors, is_ensemble
from peakcnn.errors import InputError
from peakcnn.io.output import atomic_write_bytes
from peakcnn.model import DNASeqClassifier, ModelConfig
from peakcnn.sequence import ENCODING_NAME

MODEL_NAME = "model"  # the best (or final) model of a run
LAST_NAME = "last"  # the latest epoch, for --resume
#: Tensors under this prefix (optimizer buffers, RNG states) belong to the training state, not the model.
TRAIN_STATE_PREFIX = "train_state."


#: Key of the JSON half of a checkpoint holding the sha256 of its safetensors half.
TENSORS_SHA256 = "tensors_sha256"


def save_tensors(stem: Path, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Write ``stem.safetensors`` and ``stem.json`` atomically (the JSON last, so it marks completeness).

    The JSON records the sha256 of the safetensors bytes, so that a pair left inconsistent by a process
    killed between the two renames is recognised when it is read.
    """
    from safetensors.torch import save

    stem = Path(stem)
    clean = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    data = save(clean)
    meta = {**meta, TENSORS_SHA256: hashlib.sha256(data).hexdigest()}
    atomic_write_bytes(stem.with_suffix(".safetensors"), data)
    atomic_write_bytes(stem.with_suffix(".json"), json.dumps(meta, indent=2, sort_keys=True).encode())


def load_tensors(stem: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a pair written by :func:`save_tensors`."""
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
    try:
        data = tpath.read_bytes()
        recorded = meta.get(TENSORS_SHA256) if isinstance(meta, dict) else None
        if recorded is not None and hashlib.sha256(data).hexdigest() != recorded:
            raise InputError(
                f"{tpath}: does not match {jpath.name} (sha256 differs; the process writing them was probably "
                "killed); the checkpoint is damaged, train into a new --out folder"
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


def model_from_tensors(tensors: dict[str, torch.Tensor], meta: dict, where: str) -> DNASeqClassifier:
    """Build the network described by ``meta`` and load ``tensors`` into it, checking that they fit."""
    try:
        config = ModelConfig.from_dict(meta["model_config"])
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
    model.load_state_dict(tensors)
    model.eval()
    return model


def _check_meta(meta, path: Path) -> None:
    """The keys every command reads from a model's JSON: ``tasks`` (names) and ``window`` (bp)."""
    if not isinstance(meta, dict):
        raise InputError(f"{path}: is not a checkpoint description (a JSON object); the checkpoint is damaged")
    tasks, window = meta.get("tasks"), meta.get("window")
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) for t in tasks):
        raise InputError(f"{path}: 'tasks' is missing or not a list of names; the checkpoint is damaged")
    if not isinstance(window, int) or isinstance(window, bool) or window <= 0:
        raise InputError(
            f"{path}: 'window' is missing or not a positive length ({window!r}); the checkpoint is damaged"
        )


def load_model(run: str | Path, name: str = MODEL_NAME) -> tuple[nn.Module, dict]:
    """Load a trained model from a run folder (or a ``.json``/``.safetensors`` path); returns ``(model, meta)``.

    The model is a :class:`DNASeqClassifier`, or an :class:`~peakcnn.ensemble.EnsembleModel` for a folder
    written by ``peakcnn ensemble``; it is returned in eval mode on the CPU.
    """
    run = Path(run)
    if run.suffix in (".json", ".safetensors"):
        stem = run.with_suffix("")
    elif run.is_dir():
        stem = run / name
    else:
        raise InputError(f"{run}: not a run folder; give the --out folder of 'peakcnn train'")
    tensors, meta = load_tensors(stem)
    _check_meta(meta, stem.with_suffix(".json"))
    tensors = {k: v for k, v in tensors.items() if not k.startswith(TRAIN_STATE_PREFIX)}
    if is_ensemble(meta):
        return ensemble_from_tensors(tensors, meta, str(stem) + ".safetensors"), meta
    return model_from_tensors(tensors, meta, str(stem) + ".safetensors"), meta


def transfer_weights(model: nn.Module, source: str | Path) -> dict:
    """Copy into ``model`` every tensor of the trained run ``source`` with the same name and shape.

    Used to start training from another run (transfer learning): the convolutions carry over whenever the
    architecture matches, the dense layers when the window matches too, and the output layer when the
    number of tasks matches as well; everything else keeps its fresh initialisation.

    Returns
    -------
    dict
        ``{"run", "tasks", "copied", "kept"}``: the source, its task names, and the names of the
        tensors copied and of those left as initialised.
    """
    source_model, meta = load_model(source)
    if is_ensemble(meta):
        raise InputError(f"{source}: is an ensemble; --init takes one trained run, for instance one of its members")
    theirs = source_model.state_dict()
    ours = model.state_dict()
    copied = [k for k, v in ours.items() if k in theirs and theirs[k].shape == v.shape]
    if not any(k.startswith("trunk.") and k.endswith("weight") for k in copied):
        arch = meta.get("training", {}).get("arch")
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
    }

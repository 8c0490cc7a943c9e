"""Training state as safetensors + JSON: optimizer, scheduler, gradient scaler and random generators.

``torch.save`` is never used. Tensors (optimizer buffers, the torch RNG state) go under the
:data:`~peakcnn.checkpoint.TRAIN_STATE_PREFIX` in the checkpoint's safetensors file; everything else
(optimizer hyper-parameters, scheduler counters, numpy and Python RNG states) is plain JSON.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from peakcnn.checkpoint import TRAIN_STATE_PREFIX

_OPT = TRAIN_STATE_PREFIX + "optim."
_RNG_TORCH = TRAIN_STATE_PREFIX + "rng.torch"
_RNG_CUDA = TRAIN_STATE_PREFIX + "rng.cuda."


def optimizer_parts(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split ``optimizer.state_dict()`` into tensors and a JSON-able remainder."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    state_meta: dict[str, dict] = {}
    for idx, entry in sd["state"].items():
        plain = {}
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{_OPT}{idx}.{key}"] = value
            else:
                plain[key] = value
        state_meta[str(idx)] = plain
    return tensors, {"state": state_meta, "param_groups": sd["param_groups"]}


def load_optimizer_parts(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Inverse of :func:`optimizer_parts`: restore ``optimizer`` in place."""
    state: dict[int, dict] = {int(idx): dict(plain) for idx, plain in meta["state"].items()}
    for name, value in tensors.items():
        if not name.startswith(_OPT):
            continue
        idx, key = name[len(_OPT) :].split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    groups = []
    for saved, current in zip(meta["param_groups"], optimizer.param_groups, strict=False):
        # JSON turns tuples (e.g. AdamW betas) into lists; give them back their original type
        groups.append({k: tuple(v) if isinstance(current.get(k), tuple) else v for k, v in saved.items()})
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def rng_parts() -> tuple[dict[str, torch.Tensor], dict]:
    """Current torch (CPU and CUDA), numpy and Python random states."""
    tensors = {_RNG_TORCH: torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"{_RNG_CUDA}{i}"] = s
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    meta = {
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "python": [py_version, list(py_state), py_gauss],
    }
    return tensors, meta


def load_rng_parts(tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Restore the random generators saved by :func:`rng_parts`."""
    if _RNG_TORCH in tensors:
        torch.set_rng_state(tensors[_RNG_TORCH])
    cuda = sorted(k for k in tensors if k.startswith(_RNG_CUDA))
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])
    if "numpy" in meta:
        kind, keys, pos, has_gauss, cached = meta["numpy"]
        np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    if "python" in meta:
        version, state, gauss = meta["python"]
        random.setstate((version, tuple(state), gauss))


def epoch_seed(seed: int, epoch: int) -> int:
    """The torch seed of one epoch, a pure function of ``(seed, epoch)``."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order in which training windows are visited in ``epoch``, a pure function of its arguments."""
    return np.random.default_rng([seed, epoch]).permutation(n)

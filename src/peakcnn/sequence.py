"""The sequence data contract: the one place where encodings are defined.

Three encodings are used throughout peakcnn:

* **string**: DNA letters. Lowercase (soft-masked) is read as uppercase; every IUPAC ambiguity code and any
  other letter is read as ``N``.
* **codes**: ``uint8`` array, ``A=0, C=1, G=2, T=3, N=4``. One byte per base; this is how data sets and
  genomes are stored.
* **one-hot**: ``float32`` array or tensor of shape ``(..., 4, L)`` in the order ``A, C, G, T``. ``N`` is
  all zeros.

The reverse complement of codes is ``3 - code`` for ``A/C/G/T`` and ``N`` stays ``N``, reversed along the
length axis.
"""

from __future__ import annotations

import numpy as np

ALPHABET = "ACGT"
N_CODE = 4
ENCODING_NAME = "uint8 codes A=0 C=1 G=2 T=3 N=4; one-hot ACGT, N = zeros"

# Byte -> code lookup: A/C/G/T in either case map to 0..3 (RNA's U as T), everything else to N.
_LOOKUP = np.full(256, N_CODE, dtype=np.uint8)
for _i, _b in enumerate(ALPHABET):
    _LOOKUP[ord(_b)] = _i
    _LOOKUP[ord(_b.lower())] = _i
_LOOKUP[ord("U")] = _LOOKUP[ord("u")] = 3

#: Letters accepted in sequences given by the user (IUPAC nucleotide codes, ``-`` and ``.`` excluded).
IUPAC = frozenset("ACGTUNRYSWKMBDHVacgtunryswkmbdhv")

_COMPLEMENT = np.array([3, 2, 1, 0, N_CODE], dtype=np.uint8)
_DECODE = np.frombuffer(b"ACGTN", dtype=np.uint8)


def bytes_to_codes(raw: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """Convert ASCII sequence bytes (or a uint8 array of ASCII) to codes."""
    arr = np.frombuffer(raw, dtype=np.uint8) if not isinstance(raw, np.ndarray) else raw
    return _LOOKUP[arr]


def str_to_codes(seq: str) -> np.ndarray:
    """Convert a DNA string to uint8 codes, shape ``(L,)``."""
    return bytes_to_codes(seq.encode("ascii", errors="replace"))


def _checked_codes(codes) -> np.ndarray:
    """``codes`` as an integer array of values 0-4; :class:`~peakcnn.errors.InputError` otherwise (a value
    such as -2 or 257 would index another letter)."""
    from peakcnn.errors import InputError

    codes = np.asarray(codes)
    if codes.dtype.kind not in "ui" or (codes.size and (codes.min() < 0 or codes.max() > N_CODE)):
        shown = f"values {codes.min()}..{codes.max()}" if codes.dtype.kind in "ui" else f"{codes.dtype} values"
        raise InputError(f"sequence codes hold {shown}; codes are integers A=0 C=1 G=2 T=3 N=4")
    return codes


def codes_to_str(codes: np.ndarray) -> str:
    """Convert codes of shape ``(L,)`` back to an uppercase string."""
    return _DECODE[_checked_codes(codes)].tobytes().decode("ascii")


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of codes along the last axis."""
    return _COMPLEMENT[codes][..., ::-1]


def codes_to_onehot(codes: np.ndarray, dtype=np.float32) -> np.ndarray:
    """One-hot encode codes of shape ``(..., L)`` into ``(..., 4, L)``; ``N`` becomes all zeros."""
    eye = np.zeros((N_CODE + 1, 4), dtype=dtype)
    eye[np.arange(4), np.arange(4)] = 1
    return np.moveaxis(eye[_checked_codes(codes)], -1, -2)


def codes_to_onehot_torch(codes, dtype=None):
    """Torch version of :func:`codes_to_onehot`: ``(B, L)`` integer tensor -> ``(B, 4, L)`` float tensor.

    Runs on the tensor's device, so sequences can travel to a GPU as one byte per base.
    """
    import torch

    dtype = dtype or torch.float32
    eye = torch.zeros(N_CODE + 1, 4, dtype=dtype, device=codes.device)
    eye[torch.arange(4), torch.arange(4)] = 1
    return eye[codes.long()].transpose(-1, -2)


def onehot_to_codes(onehot: np.ndarray) -> np.ndarray:
    """Inverse of :func:`codes_to_onehot`: columns with no 1 become ``N``."""
    onehot = np.asarray(onehot)
    if onehot.ndim < 2 or onehot.shape[-2] != 4:
        from peakcnn.errors import InputError

        raise InputError(f"one-hot of shape {onehot.shape}: give shape (..., 4, L), the bases A, C, G, T on axis -2")
    codes = onehot.argmax(axis=-2).astype(np.uint8)
    codes[onehot.sum(axis=-2) == 0] = N_CODE
    return codes


def gc_fraction(codes: np.ndarray) -> np.ndarray:
    """GC fraction over non-N bases along the last axis (NaN where every base is N)."""
    codes = np.asarray(codes)
    gc = ((codes == 1) | (codes == 2)).sum(axis=-1)
    acgt = (codes < N_CODE).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return gc / acgt


def n_fraction(codes: np.ndarray) -> np.ndarray:
    """Fraction of ``N`` along the last axis."""
    codes = np.asarray(codes)
    return (codes == N_CODE).mean(axis=-1)

"""The data set file written by ``peakcnn prepare`` and read by training, evaluation and benchmarks.

Layout of ``DIR/dataset.h5`` (HDF5, format ``peakcnn-dataset`` version 1)::

    attrs   format="peakcnn-dataset", format_version=1, window=int, tasks=JSON list of names,
            chroms=JSON list of chromosome names (as in the genome), negatives=str, split_mode=str,
            encoding=str, genome=str, peakcnn_version=str, content_sha256=str
    seqs    uint8 (N, window)   sequence codes (see peakcnn.sequence), chunked by rows
    labels  uint8 (N, n_tasks)  1 = positive for that task
    chrom   uint16 (N,)         index into attrs["chroms"]
    start   int64 (N,)          0-based window start (may be < 0 or > chromosome end when N-padded)
    split   uint8 (N,)          0 = train, 1 = valid, 2 = test
    source  uint8 (N,)          0 = peak window, 1 = generated negative

Rows are sorted by split, then chromosome, then start, so a split is one contiguous slice and can be read
in batches without loading the file whole. Opening a data set checks its arrays and task names against
``content_sha256`` (once per file in a process), so a file changed or damaged after ``prepare`` is refused.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from peakcnn import __version__
from peakcnn.errors import InputError
from peakcnn.sequence import ENCODING_NAME

FORMAT = "peakcnn-dataset"
FORMAT_VERSION = 1
SPLITS = ("train", "valid", "test")
DATASET_FILE = "dataset.h5"
_ARRAYS = ("seqs", "labels", "chrom", "start", "split", "source")


@dataclass
class WindowTable:
    """All windows of a data set held in memory (what ``prepare`` builds before writing)."""

    seqs: np.ndarray  # uint8 (N, L)
    labels: np.ndarray  # uint8 (N, T)
    chrom: np.ndarray  # uint16 (N,)
    start: np.ndarray  # int64 (N,)
    split: np.ndarray  # uint8 (N,)
    source: np.ndarray  # uint8 (N,)
    tasks: list[str]
    chroms: list[str]
    attrs: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.seqs)

    def sorted(self) -> WindowTable:
        """Rows ordered by split, chromosome and start."""
        order = np.lexsort((self.start, self.chrom, self.split))
        return WindowTable(
            **{k: getattr(self, k)[order] for k in _ARRAYS},
            tasks=self.tasks,
            chroms=self.chroms,
            attrs=self.attrs,
        )


def content_hash(table: WindowTable) -> str:
    """sha256 over every array and the task names: identifies a data set's content."""
    h = hashlib.sha256()
    for k in _ARRAYS:
        a = np.ascontiguousarray(getattr(table, k))
        h.update(k.encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    h.update(json.dumps(table.tasks).encode())
    return h.hexdigest()


def write_dataset(table: WindowTable, path: str | Path) -> str:
    """Write ``table`` to ``path`` atomically (temporary name, then rename). Returns the content hash."""
    import h5py

    path = Path(path)
    table = table.sorted()
    digest = content_hash(table)
    tmp = path.with_name(path.name + ".tmp")
    # Built in memory and written with a plain file write: HDF5 reports a write that fails on a full disk
    # from its destructors (tracebacks it cannot raise, then a crash), a plain write as one OSError.
    buffer = io.BytesIO()
    try:
        with h5py.File(buffer, "w") as f:
            window = table.seqs.shape[1]
            f.create_dataset(
                "seqs", data=table.seqs, chunks=(max(1, min(len(table), 256)), window) if len(table) else None
            )
            for k in _ARRAYS[1:]:
                f.create_dataset(k, data=getattr(table, k))
            attrs = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "window": int(window),
                "tasks": json.dumps(table.tasks),
                "chroms": json.dumps(table.chroms),
                "encoding": ENCODING_NAME,
                "peakcnn_version": __version__,
                "content_sha256": digest,
            }
            for k, v in table.attrs.items():
                attrs[k] = v if isinstance(v, (int, float, str)) else json.dumps(v)
            f.attrs.update(attrs)
        with open(tmp, "wb") as fh:
            fh.write(buffer.getbuffer())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return digest


_AGAIN = "run 'peakcnn prepare' again"
#: Bytes read at a time when checking a data set against its checksum.
_HASH_BLOCK = 64 << 20
#: Data set files checked against their checksum in this process: (path, inode, size, mtime, checksum).
_VERIFIED: set[tuple] = set()


def _names_attr(path: Path, attrs: dict, key: str) -> list[str]:
    """A JSON list of names stored as an attribute (tasks, chroms); one line when it is missing or damaged."""
    try:
        names = json.loads(attrs[key])
    except (KeyError, TypeError, ValueError):
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InputError(f"{path}: attribute '{key}' is missing or not a JSON list of names; {_AGAIN}")
    return names


def _looks_like_hdf5(path: Path) -> bool:
    """Whether ``path`` starts with the HDF5 signature (a truncated HDF5 file does, a FASTA or BED does not)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(8) == b"\x89HDF\r\n\x1a\n"
    except OSError:
        return False


class Dataset:
    """Read access to a ``dataset.h5``; arrays are read on demand, by split or by row range.

    Parameters
    ----------
    path
        The data set folder written by ``peakcnn prepare`` or the ``dataset.h5`` file itself.
    """

    def __init__(self, path: str | Path):
        path = Path(path)
        if path.is_dir():
            path = path / DATASET_FILE
        if not path.exists():
            raise InputError(f"{path}: no data set here; create one with 'peakcnn prepare ... --out DIR'")
        self._f = None
        try:
            self._open(path)
        except BaseException:
            if self._f is not None:  # a rejected file is not kept open (it could not be rewritten meanwhile)
                self._f.close()
            raise

    def _open(self, path: Path) -> None:
        """Open ``path`` and check it is a complete data set of this format version."""
        import h5py

        try:
            self._f = h5py.File(path, "r")
            attrs = dict(self._f.attrs)
            missing = [k for k in _ARRAYS if k not in self._f]
            self._split = self._f["split"][:] if not missing else None
        except (OSError, KeyError, RuntimeError) as e:
            if path.name != DATASET_FILE and "signature not found" in str(e) and not _looks_like_hdf5(path):
                raise InputError(
                    f"{path}: not a peakcnn data set (not an HDF5 file); pass the folder 'peakcnn prepare' wrote"
                ) from None
            raise InputError(
                f"{path}: cannot be read as a peakcnn data set ({e.__class__.__name__}: "
                f"{str(e).splitlines()[0] if str(e) else 'unreadable'}); the file may be truncated, "
                "run 'peakcnn prepare' again"
            ) from None
        if attrs.get("format") != FORMAT:
            raise InputError(f"{path}: not a peakcnn data set (format={attrs.get('format')!r})")
        if int(attrs.get("format_version", -1)) != FORMAT_VERSION:
            raise InputError(
                f"{path}: data set format version {attrs.get('format_version')} is not supported by "
                f"peakcnn {__version__} (expects {FORMAT_VERSION}); run 'peakcnn prepare' again"
            )
        if missing:
            raise InputError(f"{path}: data set is incomplete (missing {', '.join(missing)}); prepare it again")
        self.path = path
        self.attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
        self.tasks: list[str] = _names_attr(path, self.attrs, "tasks")
        self.chroms: list[str] = _names_attr(path, self.attrs, "chroms")
        #: FASTA description of each chromosome that had one (empty for data sets without the attribute)
        try:
            self.chrom_descriptions: dict[str, str] = dict(json.loads(self.attrs.get("chrom_descriptions", "{}")))
        except (TypeError, ValueError):
            raise InputError(f"{path}: attribute 'chrom_descriptions' is damaged; {_AGAIN}") from None
        for key in ("window", "content_sha256"):
            if key not in self.attrs:
                raise InputError(f"{path}: attribute '{key}' is missing; {_AGAIN}")
        try:
            self.window: int = int(self.attrs["window"])
        except (TypeError, ValueError):
            raise InputError(f"{path}: attribute 'window' is not a number; {_AGAIN}") from None
        self.sha256: str = str(self.attrs["content_sha256"])
        if self._f["seqs"].shape != (len(self._split), self.window):
            raise InputError(f"{path}: sequence array has shape {self._f['seqs'].shape}; prepare it again")
        for name, shape in (("labels", (len(self._split), len(self.tasks))), ("chrom", (len(self._split),))):
            if self._f[name].shape != shape:
                raise InputError(f"{path}: '{name}' has shape {self._f[name].shape}, expected {shape}; {_AGAIN}")
        # The checksum covers the arrays, not the chromosome names they index
        if len(self._split) and int(self._f["chrom"][:].max()) >= len(self.chroms):
            raise InputError(f"{path}: attribute 'chroms' names fewer chromosomes than the windows use; {_AGAIN}")
        self._verify()

    def _verify(self) -> None:
        """Check the arrays and task names against ``content_sha256`` (as :func:`content_hash` computes it,
        read in row blocks); once per file and modification in a process."""
        st = os.stat(self.path)
        key = (os.path.realpath(self.path), st.st_ino, st.st_size, st.st_mtime_ns, self.sha256)
        if key in _VERIFIED:
            return
        h = hashlib.sha256()
        for k in _ARRAYS:
            array = self._f[k]
            h.update(k.encode())
            h.update(str(array.shape).encode())
            row_bytes = max(1, int(np.prod(array.shape[1:], dtype=np.int64)) * array.dtype.itemsize)
            step = max(1, _HASH_BLOCK // row_bytes)
            for lo in range(0, array.shape[0], step):
                h.update(np.ascontiguousarray(self.read(k, slice(lo, lo + step))).tobytes())
        h.update(json.dumps(self.tasks).encode())
        if h.hexdigest() != self.sha256:
            raise InputError(
                f"{self.path}: content does not match its checksum (content_sha256): the file was changed or "
                f"damaged after 'peakcnn prepare' wrote it; {_AGAIN}"
            )
        _VERIFIED.add(key)

    def __len__(self) -> int:
        return len(self._split)

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def split_slice(self, split: str) -> slice:
        """Rows of one split as a contiguous slice (rows are stored sorted by split)."""
        if split not in SPLITS:
            raise InputError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        code = SPLITS.index(split)
        lo = int(np.searchsorted(self._split, code, side="left"))
        hi = int(np.searchsorted(self._split, code, side="right"))
        return slice(lo, hi)

    def count(self, split: str) -> int:
        s = self.split_slice(split)
        return s.stop - s.start

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        """Read one array (seqs, labels, chrom, start, split or source), optionally a row slice."""
        if name not in _ARRAYS:
            raise KeyError(name)
        try:
            return self._f[name][rows if rows is not None else slice(None)]
        except OSError as e:
            raise InputError(f"{self.path}: reading '{name}' failed ({e}); the file may be truncated") from None

    def load_split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Sequences ``(n, L)`` uint8 and labels ``(n, T)`` uint8 of one split."""
        s = self.split_slice(split)
        return self.read("seqs", s), self.read("labels", s)

    def iter_batches(self, split: str, batch_size: int = 4096):
        """Yield ``(seqs, labels)`` of one split in row order, ``batch_size`` rows at a time."""
        s = self.split_slice(split)
        for lo in range(s.start, s.stop, batch_size):
            rows = slice(lo, min(lo + batch_size, s.stop))
            yield self.read("seqs", rows), self.read("labels", rows)

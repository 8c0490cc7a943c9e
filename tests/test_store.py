import json

import h5py
import numpy as np
import pytest

from peakcnn.data.store import Dataset, WindowTable, write_dataset
from peakcnn.errors import InputError


def _table(n=30, window=12, tasks=("a", "b"), seed=0):
    rng = np.random.default_rng(seed)
    return WindowTable(
        seqs=rng.integers(0, 5, (n, window)).astype(np.uint8),
        labels=rng.integers(0, 2, (n, len(tasks))).astype(np.uint8),
        chrom=rng.integers(0, 2, n).astype(np.uint16),
        start=rng.integers(0, 1000, n).astype(np.int64),
        split=rng.integers(0, 3, n).astype(np.uint8),
        source=rng.integers(0, 2, n).astype(np.uint8),
        tasks=list(tasks),
        chroms=["c1", "c2"],
        attrs={"negatives": "gc-matched", "params": {"window": window}},
    )


def test_roundtrip_by_split(tmp_path):
    table = _table()
    digest = write_dataset(table, tmp_path / "dataset.h5")
    ds = Dataset(tmp_path)
    assert ds.sha256 == digest and ds.tasks == ["a", "b"] and ds.window == 12
    assert ds.attrs["negatives"] == "gc-matched"
    assert json.loads(ds.attrs["params"]) == {"window": 12}
    total = 0
    for split_code, split in enumerate(("train", "valid", "test")):
        seqs, labels = ds.load_split(split)
        rows = ds.split_slice(split)
        mask = table.split == split_code
        # rows of a split are the same multiset of whole rows as in the input table: every array of a row
        # stays with it, so a permutation of one array (e.g. the labels) fails
        got = sorted(
            zip(
                ds.read("chrom", rows).tolist(),
                ds.read("start", rows).tolist(),
                map(bytes, seqs),
                map(bytes, labels),
                ds.read("source", rows).tolist(),
                strict=True,
            )
        )
        want = sorted(
            zip(
                table.chrom[mask].tolist(),
                table.start[mask].tolist(),
                map(bytes, table.seqs[mask]),
                map(bytes, table.labels[mask]),
                table.source[mask].tolist(),
                strict=True,
            )
        )
        assert got == want
        assert labels.shape == (mask.sum(), 2) and labels.dtype == np.uint8
        assert (ds.read("split", rows) == split_code).all()
        total += len(seqs)
        batches = list(ds.iter_batches(split, batch_size=4))
        assert sum(len(b[0]) for b in batches) == mask.sum()
        if batches:  # the batches are the split's rows, in row order
            assert np.array_equal(np.concatenate([b[0] for b in batches]), seqs)
            assert np.array_equal(np.concatenate([b[1] for b in batches]), labels)
    assert total == len(table) == len(ds)
    ds.close()
    assert not (tmp_path / "dataset.h5.tmp").exists()


def test_missing_truncated_and_wrong_version(tmp_path):
    with pytest.raises(InputError, match="no data set here"):
        Dataset(tmp_path)
    path = tmp_path / "dataset.h5"
    write_dataset(_table(n=2000, window=200), path)
    data = path.read_bytes()
    trunc = tmp_path / "trunc" / "dataset.h5"
    trunc.parent.mkdir()
    trunc.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match="truncated"):
        Dataset(trunc.parent)
    for version in (99, 0):  # a newer format, and an older one
        with h5py.File(path, "a") as f:
            f.attrs["format_version"] = version
        with pytest.raises(InputError, match=f"format version {version} is not supported"):
            Dataset(path)


def _damage(path, case):
    with h5py.File(path, "a") as f:
        if case == "a sequence code out of the alphabet":
            seqs = f["seqs"][:]
            seqs[3, 5] = 9
            f["seqs"][...] = seqs
        elif case == "a label that is not 0 or 1":
            labels = f["labels"][:]
            labels[0, 0] = 5
            f["labels"][...] = labels
        elif case == "a window moved":
            start = f["start"][:]
            start[7] += 1
            f["start"][...] = start
        elif case == "tasks renamed":
            f.attrs["tasks"] = json.dumps(["b", "a"])
        elif case == "tasks not JSON":
            f.attrs["tasks"] = "[a, b"
        elif case == "tasks one too many":
            f.attrs["tasks"] = json.dumps(["a", "b", "c"])
        elif case == "chroms one too few":
            f.attrs["chroms"] = json.dumps(["c1"])
        elif case == "chroms not a list":
            f.attrs["chroms"] = json.dumps({"c1": 1})
        elif case == "no checksum":
            del f.attrs["content_sha256"]
        elif case == "window not a number":
            f.attrs["window"] = "wide"


DAMAGE = {
    "a sequence code out of the alphabet": "content does not match its checksum (content_sha256)",
    "a label that is not 0 or 1": "content does not match its checksum (content_sha256)",
    "a window moved": "content does not match its checksum (content_sha256)",
    "tasks renamed": "content does not match its checksum (content_sha256)",
    "tasks not JSON": "attribute 'tasks' is missing or not a JSON list of names",
    "tasks one too many": "'labels' has shape (300, 2), expected (300, 3)",
    "chroms one too few": "attribute 'chroms' names fewer chromosomes than the windows use",
    "chroms not a list": "attribute 'chroms' is missing or not a JSON list of names",
    "no checksum": "attribute 'content_sha256' is missing",
    "window not a number": "attribute 'window' is not a number",
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_data_set_changed_after_prepare_is_refused_in_one_line(tmp_path, case):
    path = tmp_path / "dataset.h5"
    write_dataset(_table(n=300, window=40), path)
    Dataset(path).close()  # checked once, as it was written
    _damage(path, case)
    with pytest.raises(InputError) as e:
        Dataset(path)
    message = str(e.value)
    assert message.startswith(f"{path}: ") and DAMAGE[case] in message and "\n" not in message
    assert message.endswith("run 'peakcnn prepare' again")


def test_the_checksum_is_read_in_blocks_as_content_hash_computes_it(tmp_path, monkeypatch):
    import peakcnn.data.store as store

    path = tmp_path / "dataset.h5"
    table = _table(n=1000, window=50)
    digest = write_dataset(table, path)
    monkeypatch.setattr(store, "_HASH_BLOCK", 7 * 50)  # blocks of 7 rows, the last one short
    monkeypatch.setattr(store, "_VERIFIED", set())
    with Dataset(path) as ds:
        assert ds.sha256 == digest
    assert len(store._VERIFIED) == 1

"""Output paths that must be refused or followed: special files, symbolic links, inputs given again as
outputs, folder names, and what a failed command leaves behind."""

from __future__ import annotations

import json
import os
import stat

import pytest
import torch
from _apply_helpers import make_run, random_genome, tiny_model, write_fasta
from _train_helpers import make_dataset

import peakcnn.demo
import peakcnn.trainer
from peakcnn.cli import main

REGIONS = "chr1\t100\t300\tr1\nchr1\t900\t1100\tr2\n"
VCF = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\nchr1\t500\tv1\tA\tC\n"


@pytest.fixture
def files(tmp_path):
    """A two-task run, a genome, regions, sequences and a VCF in ``tmp_path``."""
    run = make_run(tmp_path, tiny_model(n_tasks=2), ["a", "b"])
    recs = random_genome(tmp_path / "g.fa", {"chr1": 2000})
    (tmp_path / "reg.bed").write_text(REGIONS)
    write_fasta(tmp_path / "s.fa", {"s1": recs["chr1"][:200]})
    ref = recs["chr1"][499]
    (tmp_path / "v.vcf").write_text(VCF.replace("\tA\tC", f"\t{ref}\t{'C' if ref == 'A' else 'A'}"))
    return {"run": str(run), "g": str(tmp_path / "g.fa"), "bed": str(tmp_path / "reg.bed")}


def _predict(f, out, *extra):
    return main(["predict", f["run"], "--genome", f["g"], "--bed", f["bed"], "--out", str(out), *extra])


def _one_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("peakcnn: error: ") and len(err.splitlines()) == 1, err
    return err


def _snapshot(folder) -> dict:
    return {p.name: (p.lstat().st_mode, p.read_bytes() if p.is_file() else None) for p in folder.iterdir()}


# -- special files and links --------------------------------------------------------------------------


def test_a_fifo_as_out_is_refused_and_stays_a_fifo(tmp_path, files, capsys):
    fifo = tmp_path / "fifo.tsv"
    os.mkfifo(fifo)
    commands = [
        ["predict", files["run"], "--genome", files["g"], "--bed", files["bed"], "--out", str(fifo)],
        ["scan", files["run"], "--genome", files["g"], "--out", str(tmp_path / "t.bedGraph"), "--peaks-out", str(fifo)],
        ["variants", files["run"], "--genome", files["g"], "--vcf", str(tmp_path / "v.vcf"), "--out", str(fifo)],
    ]
    for argv in commands:
        before = _snapshot(tmp_path)
        assert main(argv) == 2, argv[0]
        assert "not a regular file" in _one_error(capsys) and str(fifo) in argv
        assert stat.S_ISFIFO(fifo.lstat().st_mode), argv[0]
        assert _snapshot(tmp_path) == before, argv[0]  # nothing written, nothing replaced


def test_a_fifo_as_a_track_or_ism_file_is_refused(tmp_path, files, capsys):
    os.mkfifo(tmp_path / "t.a.bedGraph")  # the track of task a for --out t.bedGraph
    assert main(["scan", files["run"], "--genome", files["g"], "--out", str(tmp_path / "t.bedGraph")]) == 2
    assert "t.a.bedGraph: exists and is not a regular file" in _one_error(capsys)
    assert stat.S_ISFIFO((tmp_path / "t.a.bedGraph").lstat().st_mode)
    assert not (tmp_path / "t.b.bedGraph").exists()

    os.mkfifo(tmp_path / "m.png")
    argv = ["ism", files["run"], "--region", "chr1:500-600", "--genome", files["g"], "--out", str(tmp_path / "m")]
    assert main(argv) == 2
    assert "m.png: exists and is not a regular file" in _one_error(capsys)
    assert stat.S_ISFIFO((tmp_path / "m.png").lstat().st_mode)
    assert not (tmp_path / "m.npy").exists() and not (tmp_path / "m.tsv").exists()


def test_a_symlink_out_writes_its_target_and_stays_a_link(tmp_path, files):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "old.tsv").write_text("old\n")
    (tmp_path / "link.tsv").symlink_to(elsewhere / "old.tsv")
    assert _predict(files, tmp_path / "link.tsv") == 0
    assert (tmp_path / "link.tsv").is_symlink()
    assert (elsewhere / "old.tsv").read_text().startswith("chrom\tstart\tend\tname\ta\tb\n")
    assert sorted(p.name for p in elsewhere.iterdir()) == ["old.tsv"]  # no temporary file left beside it

    # a link to a file that does not exist yet creates the target; a scan track through a link likewise
    (tmp_path / "new.tsv").symlink_to(elsewhere / "new.tsv")
    assert _predict(files, tmp_path / "new.tsv") == 0
    assert (tmp_path / "new.tsv").is_symlink() and (elsewhere / "new.tsv").read_text().startswith("chrom")
    (tmp_path / "t.a.bedGraph").symlink_to(elsewhere / "track_a.bedGraph")
    argv = ["scan", files["run"], "--genome", files["g"], "--max-n-frac", "1"]  # the ends scored too
    assert main([*argv, "--out", str(tmp_path / "t.bedGraph")]) == 0
    assert (tmp_path / "t.a.bedGraph").is_symlink()
    assert (elsewhere / "track_a.bedGraph").read_text().startswith("chr1\t0\t")


def test_a_prepare_out_that_links_to_a_folder_fills_the_folder_and_stays_a_link(tmp_path, files, capsys):
    (tmp_path / "scratch").mkdir()
    (tmp_path / "data").symlink_to(tmp_path / "scratch")
    argv = ["-q", "prepare", "--genome", files["g"], "--peaks", files["bed"], "--window", "200"]
    assert main([*argv, "--out", str(tmp_path / "data")]) == 0
    assert (tmp_path / "data").is_symlink()
    assert sorted(os.listdir(tmp_path / "scratch")) == ["dataset.h5", "manifest.json", "windows.bed"]
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no old or temporary folder left
    assert main([*argv, "--out", str(tmp_path / "data"), "--force"]) == 0  # replaced in place, link kept
    assert (tmp_path / "data").is_symlink() and (tmp_path / "scratch" / "dataset.h5").exists()
    assert main([*argv, "--out", str(tmp_path / "reg.bed" / "ds")]) == 2
    assert "reg.bed is a file, so the folder cannot be made" in _one_error(capsys)


def test_a_symlink_loop_or_a_link_to_a_fifo_is_refused(tmp_path, files, capsys):
    (tmp_path / "l1.tsv").symlink_to(tmp_path / "l2.tsv")
    (tmp_path / "l2.tsv").symlink_to(tmp_path / "l1.tsv")
    assert _predict(files, tmp_path / "l1.tsv") == 2
    assert "symbolic link that leads to no file" in _one_error(capsys)
    assert (tmp_path / "l1.tsv").is_symlink() and (tmp_path / "l2.tsv").is_symlink()
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "lf.tsv").symlink_to(tmp_path / "fifo")
    assert _predict(files, tmp_path / "lf.tsv") == 2
    assert "not a regular file" in _one_error(capsys)
    assert (tmp_path / "lf.tsv").is_symlink() and stat.S_ISFIFO((tmp_path / "fifo").lstat().st_mode)


def test_atomic_write_bytes_follows_a_link_and_refuses_a_fifo(tmp_path):
    from peakcnn.errors import InputError
    from peakcnn.io.output import atomic_write_bytes

    (tmp_path / "target.json").write_text("{}")
    (tmp_path / "link.json").symlink_to(tmp_path / "target.json")
    atomic_write_bytes(tmp_path / "link.json", b"[1]")
    assert (tmp_path / "link.json").is_symlink() and (tmp_path / "target.json").read_bytes() == b"[1]"
    os.mkfifo(tmp_path / "fifo.json")
    with pytest.raises(InputError, match="not a regular file"):
        atomic_write_bytes(tmp_path / "fifo.json", b"[1]")
    assert stat.S_ISFIFO((tmp_path / "fifo.json").lstat().st_mode)


# -- outputs that are inputs --------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["bed", "genome", "genome index", "bed via a link", "bed via a hard link", "model"])
def test_predict_out_naming_an_input_is_refused(tmp_path, files, capsys, which):
    target = {
        "bed": files["bed"],
        "genome": files["g"],
        "genome index": files["g"] + ".fai",  # read with the genome, though never named
        "model": str(tmp_path / "run" / "model.json"),
    }.get(which)
    if which == "bed via a link":
        target = str(tmp_path / "alias.bed")
        os.symlink(files["bed"], target)
    if which == "bed via a hard link":
        target = str(tmp_path / "hard.bed")
        os.link(files["bed"], target)
    before = _snapshot(tmp_path)
    assert _predict(files, target) == 2
    err = _one_error(capsys)
    option = {"genome": "--genome", "genome index": "--genome's index", "model": "RUN"}.get(which, "--bed")
    assert f"--out is the same file as {option}" in err
    assert _snapshot(tmp_path) == before


def test_fasta_vcf_and_alias_inputs_are_not_overwritten(tmp_path, files, capsys):
    seqs = tmp_path / "s.fa"
    assert main(["predict", files["run"], "--fasta", str(seqs), "--out", str(seqs)]) == 2
    assert "--out is the same file as --fasta" in _one_error(capsys)
    vcf = tmp_path / "v.vcf"
    assert main(["variants", files["run"], "--genome", files["g"], "--vcf", str(vcf), "--out", str(vcf)]) == 2
    assert "--out is the same file as --vcf" in _one_error(capsys)
    alias = tmp_path / "al.tsv"
    alias.write_text("chr1\tc1\n")
    argv = ["ism", files["run"], "--region", "chr1:500-600", "--genome", files["g"], "--chrom-alias", str(alias)]
    assert main(argv + ["--out", str(tmp_path / "al")]) == 2
    assert "--out is the same file as --chrom-alias" in _one_error(capsys)
    argv = ["scan", files["run"], "--genome", files["g"], "--chrom-alias", str(alias), "--out", str(tmp_path / "t.bg")]
    assert main(argv + ["--peaks-out", str(alias)]) == 2
    assert "--peaks-out is the same file as --chrom-alias" in _one_error(capsys)
    assert seqs.read_text().startswith(">s1") and vcf.read_text().startswith("##fileformat")
    assert alias.read_text() == "chr1\tc1\n"
    assert not any(p.suffix in (".npy", ".png", ".bg") for p in tmp_path.iterdir())


def test_scan_outputs_that_are_the_same_file_are_refused_up_front(tmp_path, files, capsys):
    one = make_run(tmp_path, tiny_model(n_tasks=1), ["a"], "one")
    same = str(tmp_path / "tr.bedGraph")
    assert main(["scan", str(one), "--genome", files["g"], "--out", same, "--peaks-out", same]) == 2
    assert "--out and --peaks-out are the same file" in _one_error(capsys)
    # with two tasks the track of task a is tr.a.bedGraph
    peaks = str(tmp_path / "tr.a.bedGraph")
    assert main(["scan", files["run"], "--genome", files["g"], "--out", same, "--peaks-out", peaks]) == 2
    assert "--out (track of task 'a') and --peaks-out are the same file" in _one_error(capsys)
    assert not list(tmp_path.glob("*tr*"))


# -- names of folders ---------------------------------------------------------------------------------


def test_an_out_ending_in_a_separator_or_dash_is_refused(tmp_path, files, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _predict(files, "newdir" + os.sep) == 2
    assert "newdir/: names a folder; give a file name" in _one_error(capsys)
    assert _predict(files, "-") == 2
    assert "not written to standard output" in _one_error(capsys)
    assert main(["scan", files["run"], "--genome", files["g"], "--out", "tr.bw/"]) == 2
    assert "tr.bw/: names a folder" in _one_error(capsys)
    assert main(["scan", files["run"], "--genome", files["g"], "--out", "t.bw", "--peaks-out", "pk/"]) == 2
    assert "pk/: names a folder" in _one_error(capsys)
    assert not any((tmp_path / name).exists() for name in ("newdir", "-", "tr.bw", "pk", "t.a.bw"))


def test_an_out_in_a_missing_folder_or_under_a_file_says_which(tmp_path, files, capsys, monkeypatch):
    """A missing folder can be created; a file where a folder should be cannot, and the line says so."""
    monkeypatch.chdir(tmp_path)
    assert _predict(files, "nodir/p.tsv") == 2
    assert "nodir/p.tsv: folder nodir does not exist; create it or choose another" in _one_error(capsys)
    for out in ("reg.bed/p.tsv", "reg.bed/sub/p.tsv"):
        assert _predict(files, out) == 2
        assert f"{out}: reg.bed is a file, not a folder; choose another --out table path" in _one_error(capsys)
    assert (tmp_path / "reg.bed").read_text() == REGIONS and not (tmp_path / "nodir").exists()


@pytest.mark.parametrize("prefix", ["ism/", "ism"])
def test_ism_prefix_that_is_a_folder_is_refused(tmp_path, files, capsys, monkeypatch, prefix):
    monkeypatch.chdir(tmp_path)
    os.mkdir("ism")
    argv = ["ism", files["run"], "--region", "chr1:500-600", "--genome", files["g"], "--out", prefix]
    assert main(argv) == 2
    err = _one_error(capsys)
    assert "is a folder, not a prefix" in err and "ism/out" in err
    assert os.listdir("ism") == []
    assert main(argv[:-1] + ["ism/out", "--no-plot"]) == 0
    assert sorted(os.listdir("ism")) == ["out.npy", "out.tsv"]


# -- demo: checks before work -------------------------------------------------------------------------


def _no_work(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the demo started work although an option was wrong")

    monkeypatch.setattr(peakcnn.demo, "prepare_promoters", fail)


def test_demo_out_that_is_a_file_is_one_line(tmp_path, capsys, monkeypatch):
    _no_work(monkeypatch)
    (tmp_path / "p.bed").write_text("x\n")
    assert main(["demo", "--out", str(tmp_path / "p.bed")]) == 2
    assert "p.bed: is a file; give --out a folder name" in _one_error(capsys)
    assert (tmp_path / "p.bed").read_text() == "x\n"
    assert main(["demo", "--out", str(tmp_path / "p.bed" / "d")]) == 2
    assert "is a file, so the folder cannot be made" in _one_error(capsys)


def test_demo_does_not_train_over_a_run_it_did_not_make(tmp_path, files, capsys, monkeypatch):
    """The demo trains into OUT/run with --force; a user's run there (trained on another data set) was replaced."""
    _no_work(monkeypatch)
    out = tmp_path / "results"
    out.mkdir()
    os.rename(files["run"], out / "run")  # the user's run: model.json and weights, no config.json
    kept = _snapshot(out / "run")
    assert main(["demo", "--out", str(out)]) == 2
    assert _one_error(capsys) == (
        f"peakcnn: error: {out / 'run'}: holds a run the demo did not train (trained on an unknown data set); the "
        "demo replaces only its own run: choose another --out"
    )
    config = {"dataset": {"path": str(tmp_path / "mine" / "dataset.h5")}}
    (out / "run" / "config.json").write_text(json.dumps(config))
    assert main(["demo", "--out", str(out)]) == 2
    assert f"(trained on {tmp_path / 'mine' / 'dataset.h5'})" in _one_error(capsys)
    assert _snapshot(out / "run") == {**kept, "config.json": _snapshot(out / "run")["config.json"]}
    config["dataset"]["path"] = str((out / "dataset" / "dataset.h5").resolve())  # an earlier demo's run
    (out / "run" / "config.json").write_text(json.dumps(config))
    with pytest.raises(AssertionError, match="the demo started work"):
        main(["demo", "--out", str(out)])


def test_the_current_folder_as_out(tmp_path, files, capsys, monkeypatch):
    """A data set folder that is the current folder is reused when up to date, refused when it would be
    rebuilt (replaced as a whole, which the current folder cannot be); a file output named '.' is a folder."""
    (tmp_path / "data").mkdir()
    argv = ["-q", "prepare", "--genome", files["g"], "--peaks", files["bed"], "--window", "200"]
    assert main([*argv, "--out", str(tmp_path / "data")]) == 0
    monkeypatch.chdir(tmp_path / "data")
    before = _snapshot(tmp_path / "data")
    assert main([*argv, "--out", "."]) == 0  # up to date: reused in place
    assert main([*argv, "--out", ".", "--force", "--window", "300"]) == 2
    assert ".: is the current folder or holds it" in _one_error(capsys)
    assert _snapshot(tmp_path / "data") == before
    assert _predict(files, ".") == 2
    assert ".: is a folder; give a file name" in _one_error(capsys)


def test_check_not_current_folder_compares_the_folders_themselves(tmp_path, monkeypatch):
    from peakcnn.errors import InputError
    from peakcnn.io.output import check_not_current_folder

    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "a")
    monkeypatch.chdir(tmp_path / "a" / "b")
    for refused in (".", "..", str(tmp_path), str(tmp_path / "link"), "../../link/b"):
        with pytest.raises(InputError, match="is the current folder or holds it"):
            check_not_current_folder(refused)
    for allowed in ("new", "../c", str(tmp_path / "a" / "b" / "inside")):
        check_not_current_folder(allowed)
    (tmp_path / "a" / "c").mkdir()
    check_not_current_folder("../c")


def test_demo_replaces_only_its_own_data_set_and_knows_its_run_when_moved(tmp_path, capsys, monkeypatch):
    """OUT/dataset holding another data set is refused before any work (the demo has no --force to give);
    the demo's own from another version is rebuilt there (force); a demo folder moved elsewhere keeps its
    run, recognised by the content of the data set it was trained on."""
    calls = []
    monkeypatch.setattr(peakcnn.demo, "prepare_promoters", lambda *a, **kw: calls.append(kw) or 1 / 0)
    out = tmp_path / "results"
    (out / "dataset").mkdir(parents=True)
    manifest = {"tasks": ["root"], "params": {"window": 800}, "dataset_sha256": "a" * 64}
    (out / "dataset" / "manifest.json").write_text(json.dumps(manifest))
    assert main(["demo", "--out", str(out)]) == 2
    assert f"{out / 'dataset'}: holds a data set or files the demo did not prepare" in _one_error(capsys)
    assert not calls
    manifest["tasks"] = [peakcnn.demo.TASK]  # the demo's own, say of another peakcnn version
    (out / "dataset" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ZeroDivisionError):
        main(["demo", "--out", str(out)])
    assert calls == [{"force": True}]
    (out / "run").mkdir()
    config = {"dataset": {"path": "/elsewhere/results/dataset/dataset.h5", "sha256": "a" * 64}}
    (out / "run" / "config.json").write_text(json.dumps(config))  # the folder was moved here
    with pytest.raises(ZeroDivisionError):
        main(["demo", "--out", str(out)])
    config["dataset"]["sha256"] = "b" * 64
    (out / "run" / "config.json").write_text(json.dumps(config))
    assert main(["demo", "--out", str(out)]) == 2
    assert "holds a run the demo did not train" in _one_error(capsys)


def test_demo_refuses_an_evaluation_folder_it_could_not_replace_before_training(tmp_path, capsys, monkeypatch):
    """OUT/run/eval_test holding a file an evaluation does not write: the demo's evaluate step would refuse
    it after training (minutes; hours with --full), so the demo refuses it before any work."""
    _no_work(monkeypatch)
    folder = tmp_path / "results" / "run" / "eval_test"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    assert main(["demo", "--out", str(tmp_path / "results")]) == 2
    assert f"{folder}: holds files an evaluation did not write (notes.txt)" in _one_error(capsys)
    assert (folder / "notes.txt").read_text() == "mine"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_demo_checks_the_device_before_any_work(tmp_path, capsys, monkeypatch):
    _no_work(monkeypatch)
    assert main(["demo", "--out", str(tmp_path / "dm"), "--device", "cuda"]) == 2
    assert "--device cuda: no CUDA device" in _one_error(capsys)
    assert not (tmp_path / "dm").exists()
    assert capsys.readouterr().out == ""


# -- train: nothing left when no checkpoint was written -----------------------------------------------


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ds")
    make_dataset(folder, n=160, window=100, n_tasks=2)
    return str(folder)


def _train(dataset, out, *extra):
    return main(["-q", "train", dataset, "--out", str(out), "--arch", "small", "--epochs", "1", *extra])


def test_a_run_that_fails_before_its_first_checkpoint_leaves_nothing(tmp_path, dataset, capsys):
    assert _train(dataset, tmp_path / "R", "--lr", "1e30") == 2
    assert "no checkpoint was written" in _one_error(capsys)
    assert not (tmp_path / "R").exists()
    assert _train(dataset, tmp_path / "a" / "b" / "R", "--lr", "1e30") == 2  # the folders it made, too
    capsys.readouterr()
    assert list(tmp_path.iterdir()) == []


def test_a_failed_run_keeps_a_pre_existing_folder_and_its_other_files(tmp_path, dataset, capsys):
    run = tmp_path / "R"
    run.mkdir()
    (run / "notes.txt").write_text("mine\n")
    assert _train(dataset, run, "--lr", "1e30") == 2
    capsys.readouterr()
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]
    assert (run / "notes.txt").read_text() == "mine\n"
    assert _train(dataset, run) == 0  # no --force needed: nothing of the failed run is in the way
    assert json.loads((run / "last.json").read_text())["train_state"]["epoch"] == 1


def test_ctrl_c_in_the_first_epoch_leaves_nothing(tmp_path, dataset, capsys, monkeypatch):
    def interrupted(trainer, x, y):
        raise KeyboardInterrupt

    monkeypatch.setattr(peakcnn.trainer, "_train_step", interrupted)
    assert _train(dataset, tmp_path / "R") == 130
    assert "nothing was kept" in capsys.readouterr().err
    assert not (tmp_path / "R").exists()


def test_a_failure_after_the_first_checkpoint_keeps_the_run(tmp_path, dataset, capsys, monkeypatch):
    real, calls = peakcnn.trainer._train_step, {"n": 0}

    def nan_in_epoch_2(trainer, x, y):
        calls["n"] += 1
        loss, logits = real(trainer, x, y)
        return (torch.tensor(float("nan")) if trainer.epoch == 1 else loss), logits

    monkeypatch.setattr(peakcnn.trainer, "_train_step", nan_in_epoch_2)
    assert main(["-q", "train", dataset, "--out", str(tmp_path / "R"), "--arch", "small", "--epochs", "2"]) == 2
    assert "still holds epoch 1" in _one_error(capsys)
    names = {p.name for p in (tmp_path / "R").iterdir()}
    assert {"config.json", "last.json", "model.json", "history.csv"} <= names


# -- outputs that cannot be written -------------------------------------------------------------------

LONG = "x" * 300  # longer than a name may be on Linux and macOS file systems (255 bytes)


def _unwritable_commands(f, tmp_path, dataset, out: str) -> dict:
    return {
        "prepare": ["prepare", "--genome", f["g"], "--peaks", f["bed"], "--window", "200", "--out", out],
        "train": ["train", dataset, "--out", out, "--arch", "small", "--epochs", "1"],
        "evaluate": ["evaluate", f["run"], "--dataset", dataset, "--out", out],
        "predict": ["predict", f["run"], "--genome", f["g"], "--bed", f["bed"], "--out", out + ".tsv"],
        "scan": ["scan", f["run"], "--genome", f["g"], "--out", out + ".bedGraph"],
        "variants": ["variants", f["run"], "--genome", f["g"], "--vcf", str(tmp_path / "v.vcf"), "--out", out],
        "ism": ["ism", f["run"], "--region", "chr1:500-600", "--genome", f["g"], "--out", out, "--no-plot"],
        "attribute": ["attribute", f["run"], "--genome", f["g"], "--bed", f["bed"], "--out", out, "--shuffles", "2"],
        "ensemble": ["ensemble", f["run"], str(tmp_path / "run2"), "--out", out],
        "demo": ["demo", "--out", out],
    }


def _second_run(f, tmp_path):
    (tmp_path / "run2").mkdir()
    for p in os.scandir(f["run"]):
        (tmp_path / "run2" / p.name).write_bytes(open(p.path, "rb").read())


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs Linux sysfs, where no one can create files")
@pytest.mark.parametrize(
    "command",
    ["prepare", "train", "evaluate", "predict", "scan", "variants", "ism", "attribute", "ensemble", "demo"],
)
def test_an_out_in_a_folder_no_one_can_write_is_one_line_before_work(tmp_path, files, dataset, capsys, command):
    """``os.access`` says yes to root for /sys; the write is tried. pyBigWig, given such a path, crashed."""
    _second_run(files, tmp_path)
    argv = _unwritable_commands(files, tmp_path, dataset, "/sys/peakcnn-out")[command]
    assert main(argv) == 2
    assert "cannot write in folder /sys (" in _one_error(capsys)


@pytest.mark.parametrize(
    "command",
    ["prepare", "train", "evaluate", "predict", "scan", "variants", "ism", "attribute", "ensemble", "demo"],
)
def test_an_out_name_too_long_is_one_line_before_work(tmp_path, files, dataset, capsys, command):
    _second_run(files, tmp_path)
    before = sorted(os.listdir(tmp_path))
    argv = _unwritable_commands(files, tmp_path, dataset, str(tmp_path / LONG))[command]
    assert main(argv) == 2
    assert "name too long for the file system; choose a shorter" in _one_error(capsys)
    assert sorted(os.listdir(tmp_path)) == before


def test_a_bigwig_out_in_a_folder_no_one_can_write_does_not_crash(tmp_path, files):
    """pyBigWig ended the process (exit 139) on a path it could not open."""
    import subprocess
    import sys

    if not os.path.isdir("/sys/kernel"):
        pytest.skip("needs Linux sysfs")
    argv = ["scan", files["run"], "--genome", files["g"], "--out", "/sys/peakcnn-out.bw"]
    done = subprocess.run([sys.executable, "-m", "peakcnn", *argv], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "peakcnn: error: /sys/peakcnn-out.a.bw: cannot write in folder /sys (Permission denied); choose another "
        "--out (track of task 'a') path"
    ]


def test_a_write_that_fails_halfway_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    """Checkpoints and configs, tables and data sets are written under a temporary name and renamed: a disk
    that fills halfway through leaves the previous file as it was, and no temporary file."""
    from _train_helpers import synthetic_table

    import peakcnn.data.store
    import peakcnn.io.output
    from peakcnn.data.store import write_dataset
    from peakcnn.io.output import atomic_write_bytes, write_table

    class HalfWrite:
        """A file whose first write stores half its bytes, then finds the disk full."""

        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

    def half_open(path, mode="r", *args, **kwargs):
        return HalfWrite(open(path, mode, *args, **kwargs))

    def rows():
        yield ["1"]
        raise OSError(28, "No space left on device")

    make_dataset(tmp_path / "ds", n=40, window=100)
    (tmp_path / "c.json").write_bytes(b'{"old": 1}')
    (tmp_path / "t.tsv").write_text("old\n")
    before = _snapshot(tmp_path / "ds") | _snapshot(tmp_path)
    assert {"dataset.h5", "c.json", "t.tsv"} <= set(before)
    monkeypatch.setattr(peakcnn.io.output, "open", half_open, raising=False)
    monkeypatch.setattr(peakcnn.data.store, "open", half_open, raising=False)
    for write in (
        lambda: atomic_write_bytes(tmp_path / "c.json", b'{"new": 2}'),
        lambda: write_table(tmp_path / "t.tsv", ["a"], rows()),
        lambda: write_dataset(synthetic_table(n=40, window=100, seed=1), tmp_path / "ds" / "dataset.h5"),
    ):
        with pytest.raises(OSError, match="No space left"):
            write()
    assert _snapshot(tmp_path / "ds") | _snapshot(tmp_path) == before


def test_a_failed_write_names_the_users_file_not_the_temporary_one():
    import errno

    from peakcnn.io.output import os_error_message

    cases = {
        "/d/.p.tmp123.tsv": "/d/p.tsv",
        "/d/.p.tsv.tmp9.gz": "/d/p.tsv.gz",
        "/d/.x.tmp7": "/d/x",
        "/d/model.json.tmp": "/d/model.json",
        "/d/.ds.tmp-42": "/d/ds",
        "/d/plain.tsv": "/d/plain.tsv",
    }
    for name, shown in cases.items():
        e = OSError(errno.EACCES, "Permission denied", name)
        assert os_error_message(e) == f"{shown}: Permission denied; check its permissions or choose another path"
    e = OSError(errno.ENOSPC, "No space left on device", "/d/.t.tmp5.bw")
    assert os_error_message(e) == "/d/t.bw: No space left on device; free space or choose another path"
    assert os_error_message(OSError(errno.EIO, "Input/output error")) == "Input/output error"


@pytest.mark.parametrize(
    "command",
    ["prepare", "train", "evaluate", "predict", "scan", "variants", "ism", "attribute", "ensemble", "demo"],
)
def test_an_empty_out_is_refused_before_anything_is_written(tmp_path, files, dataset, capsys, monkeypatch, command):
    """``--out ""`` (an unset shell variable) is the current folder as a path: train wrote a run there."""
    _second_run(files, tmp_path)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    argv = _unwritable_commands(files, tmp_path, dataset, "")[command]
    argv = [a if a not in (".tsv", ".bedGraph") else "" for a in argv]  # the bare suffixes of an empty name
    assert main(argv) == 2
    assert "--out '': an empty name; give a file or folder name" in _one_error(capsys)
    assert os.listdir(tmp_path / "cwd") == []


def test_an_empty_input_name_is_refused(tmp_path, files, capsys):
    for argv, what in (
        (
            ["predict", files["run"], "--genome", "", "--bed", files["bed"], "--out", str(tmp_path / "p.tsv")],
            "--genome",
        ),
        (["evaluate", ""], "RUN"),
        (["ensemble", files["run"], "", "--out", str(tmp_path / "e")], "RUN"),
    ):
        assert main(argv) == 2
        assert f"{what} '': an empty name" in _one_error(capsys)


@pytest.mark.parametrize("failure", [KeyboardInterrupt, OSError])
def test_replace_folder_puts_the_previous_folder_back_when_the_second_rename_does_not_happen(
    tmp_path, monkeypatch, failure
):
    """Between moving the previous folder aside and moving the new one in, a failure or a signal (Ctrl-C):
    the previous folder is restored, not deleted with the aside copy."""
    from peakcnn.io import output

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "f.txt").write_text("previous")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "f.txt").write_text("new")
    real, calls = os.replace, []

    def second_fails(src, dst):
        calls.append(os.path.basename(src))
        if len(calls) == 2:
            raise failure
        real(src, dst)

    monkeypatch.setattr(output.os, "replace", second_fails)
    with pytest.raises(failure):
        output.replace_folder(tmp_path / "new", tmp_path / "out")
    monkeypatch.undo()
    assert calls[:2] == ["out", "new"]
    assert (tmp_path / "out" / "f.txt").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "out"]  # no aside copy left

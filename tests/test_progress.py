"""Progress of predict, variants and ism: counted by the library, drawn by the command line on a terminal."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from _apply_helpers import make_run, motif_model, random_genome, tiny_model, write_fasta

from peakcnn.cli import main
from peakcnn.inference import predict
from peakcnn.interpret.ism import ism, n_mutants
from peakcnn.sequence import codes_to_onehot, str_to_codes


def test_predict_reports_each_batch_once_scored():
    codes = np.random.default_rng(0).integers(0, 5, (10, 200)).astype(np.uint8)
    steps: list[int] = []
    for rc in (False, True):
        steps.clear()
        predict(tiny_model(), codes, batch_size=4, rc=rc, progress=steps.append)
        assert steps == [4, 4, 2]


def test_ism_reports_every_mutant_it_scores():
    x = codes_to_onehot(str_to_codes("ACGTN" * 8))[None]  # 8 N positions: 4 substitutions each
    steps: list[int] = []
    ism(tiny_model(window=40, pool_widths=[2, 2, 2]), x, 3, 33, batch_size=16, progress=steps.append)
    assert n_mutants(x, 3, 33) == 24 * 3 + 6 * 4
    assert sum(steps) == n_mutants(x, 3, 33) and max(steps) == 16


def _commands(tmp_path):
    random_genome(tmp_path / "g.fa", {"chr1": 2000})
    write_fasta(tmp_path / "q.fa", {"a": "ACGT" * 50, "b": "TTGCA" * 40, "c": "G" * 200})
    (tmp_path / "v.vcf").write_text("#CHROM\tPOS\tID\tREF\tALT\nchr1\t500\t.\tN\tC\nchr1\t900\t.\tN\tT\n")
    run = str(make_run(tmp_path, motif_model(), ["m"]))
    genome = ["--genome", str(tmp_path / "g.fa")]
    vcf, out = ["--vcf", str(tmp_path / "v.vcf")], ["--out", str(tmp_path / "out")]
    return {
        "predict": (["predict", run, "--fasta", str(tmp_path / "q.fa"), *out], "0/3 "),
        "variants": (["variants", run, *genome, *vcf, *out], "0/4 "),
        "ism": (["ism", run, *genome, "--region", "chr1:101-110", *out, "--no-plot"], "0/30 "),
        "attribute": (
            ["attribute", run, "--fasta", str(tmp_path / "q.fa"), *out, "--no-plot", "--shuffles", "2"],
            "0/3 ",
        ),
    }


@pytest.mark.parametrize("command", ["predict", "variants", "ism", "attribute"])
def test_the_bar_counts_every_window_and_is_cleared(tmp_path, monkeypatch, command):
    import tqdm

    bars = []

    class Recording(tqdm.tqdm):
        def close(self):
            bars.append((self.desc, self.n, self.total, self.leave, self.disable))
            super().close()

    monkeypatch.setattr(tqdm, "tqdm", Recording)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    argv, total = _commands(tmp_path)[command]
    assert main(argv) == 0
    n = int(total.strip().split("/")[1])
    assert (command, n, n, False, False) in bars


@pytest.mark.parametrize("command", ["predict", "variants", "ism", "attribute"])
def test_the_command_line_draws_a_bar_on_a_terminal_only(tmp_path, capsys, monkeypatch, command):
    argv, total = _commands(tmp_path)[command]
    assert main(argv) == 0
    assert total not in capsys.readouterr().err  # stderr is a file here: no bar in the log
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["-q", *argv]) == 0
    assert total not in capsys.readouterr().err  # --quiet: none either
    assert main([*argv, "--quiet"]) == 0
    assert total not in capsys.readouterr().err  # nor with --quiet after the command name
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert f"{command}: " in err and total in err  # the bar and its total (drawn at the start, cleared at the end)

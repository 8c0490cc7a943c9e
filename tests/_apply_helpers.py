"""Tiny models, genomes and runs shared by the predict/scan/variants/ISM tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from peakcnn.checkpoint import save_model
from peakcnn.model import DNASeqClassifier, ModelConfig

TINY = dict(window=200, conv_filters=[8, 8, 8], conv_widths=[5, 3, 3], pool_widths=[2, 2, 2], dense_units=[16])


def tiny_model(n_tasks: int = 2, seed: int = 0, **overrides) -> DNASeqClassifier:
    """Randomly initialised tiny model with non-trivial batch-norm statistics, in eval mode."""
    torch.manual_seed(seed)
    model = DNASeqClassifier(ModelConfig(n_tasks=n_tasks, **{**TINY, **overrides}))
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    return model.eval()


def _identity_bn(bn: torch.nn.BatchNorm1d) -> None:
    bn.running_mean.zero_()
    bn.running_var.fill_(1.0 - bn.eps)
    bn.weight.data.fill_(1.0)
    bn.bias.data.zero_()


def motif_model(motif: str = "TGCA", window: int = 200) -> DNASeqClassifier:
    """Hand-weighted detector: logit = 10 * [motif anywhere in the window] - 5.

    Layer 1 has one filter scoring +1 per matching base of ``motif`` with bias ``1 - len(motif)``, so its
    ReLU output is 1 exactly at a full match and 0 elsewhere; layers 2-3 pass it through (identity kernels)
    while max-pooling keeps it; the head sums the pooled map and maps 0 -> -5, 1 -> +5.
    """
    cfg = ModelConfig(
        window=window,
        conv_filters=[1, 1, 1],
        conv_widths=[5, 3, 3],
        pool_widths=[2, 2, 2],
        conv_dropout=[0, 0, 0],
        dense_units=[1],
        dense_dropout=0.0,
    )
    model = DNASeqClassifier(cfg)
    with torch.no_grad():
        convs = [m for m in model.trunk if isinstance(m, torch.nn.Conv1d)]
        convs[0].weight.zero_()
        for j, base in enumerate(motif):
            convs[0].weight[0, "ACGT".index(base), j] = 1.0
        convs[0].bias.fill_(1.0 - len(motif))
        for conv in convs[1:]:
            conv.weight.zero_()
            conv.weight[0, 0, 1] = 1.0
            conv.bias.zero_()
        for m in model.trunk:
            if isinstance(m, torch.nn.BatchNorm1d):
                _identity_bn(m)
        lin = [m for m in model.head if isinstance(m, torch.nn.Linear)]
        lin[0].weight.fill_(1.0)
        lin[0].bias.zero_()
        lin[1].weight.fill_(10.0)
        lin[1].bias.fill_(-5.0)
    return model.eval()


def make_run(tmp_path: Path, model: DNASeqClassifier, tasks: list[str], name: str = "run", **extra) -> Path:
    run = tmp_path / name
    run.mkdir()
    save_model(run, model, tasks, **extra)
    return run


def random_codes(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, n).astype(np.uint8)


def write_fasta(path: Path, records: dict[str, str], width: int = 60) -> Path:
    with open(path, "w") as f:
        for name, seq in records.items():
            f.write(f">{name}\n" + "\n".join(seq[i : i + width] for i in range(0, len(seq), width)) + "\n")
    return path


def random_genome(path: Path, lengths: dict[str, int], seed: int = 0) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    recs = {c: "".join(np.array(list("ACGT"))[rng.integers(0, 4, n)]) for c, n in lengths.items()}
    write_fasta(path, recs)
    return recs


def write_tensors(run: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Replace a run's model tensors by hand, recording their checksum as save_tensors does (as another
    tool editing the checkpoint would)."""
    import hashlib
    import json

    from safetensors.torch import save_file

    save_file(tensors, str(run / "model.safetensors"))
    meta = json.loads((run / "model.json").read_text())
    meta["tensors_sha256"] = hashlib.sha256((run / "model.safetensors").read_bytes()).hexdigest()
    (run / "model.json").write_text(json.dumps(meta))


def near_onehot(motif: str) -> np.ndarray:
    """``(K, 4)`` letter probabilities of ``motif``: 0.91 on its base, 0.03 on the others."""
    return np.array([[0.91 if b == c else 0.03 for b in "ACGT"] for c in motif])


def write_motif_db(path: Path, motifs: dict[str, str], extra_random: int = 30) -> Path:
    """A MEME file holding ``motifs`` (``"ID name"`` -> sequence, as near one-hot columns) and then
    ``extra_random`` random motifs 6-11 columns wide (``R0``, ``R1``, ...)."""
    rng = np.random.default_rng(1)
    matrices = {name: near_onehot(seq) for name, seq in motifs.items()}
    for k in range(extra_random):
        matrices[f"R{k} random"] = rng.dirichlet(np.full(4, 0.5), size=int(rng.integers(6, 12)))
    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", ""]
    for name, m in matrices.items():
        lines += [f"MOTIF {name}", f"letter-probability matrix: alength= 4 w= {len(m)} nsites= 20 E= 0"]
        lines += [" ".join(f"{v:.4f}" for v in row) for row in m] + [""]
    path.write_text("\n".join(lines))
    return path

"""The real-data benchmark script's own logic that runs without the real data."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "root_atac.py"


@pytest.fixture(scope="module")
def root_atac():
    spec = importlib.util.spec_from_file_location("root_atac_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_output_suffix_names_few_recipes_and_keeps_many_within_a_file_name(root_atac, tmp_path):
    assert root_atac.output_suffix(["all"]) == ""
    assert root_atac.output_suffix(["best", "founding"]) == "_best+founding"
    many = [name for name in root_atac.RECIPES if name.startswith("best_small")]
    assert len("+".join(many)) > 255  # would not fit in one file name
    suffix = root_atac.output_suffix(many)
    assert suffix == root_atac.output_suffix(list(many))  # the same pool, the same files
    others = {root_atac.output_suffix(many[::-1]), root_atac.output_suffix(many[:-1])}
    assert len(others) == 2 and suffix not in others  # another order or one recipe fewer: another file
    assert suffix.startswith(f"_{len(many)}recipes_")
    for name in (f"results{suffix}.json", f"ensemble_best_both{suffix}", f"learning_curves{suffix}.png"):
        (tmp_path / name).write_text("x")  # the file system accepts the name

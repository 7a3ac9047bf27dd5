"""The benchmark script runs at its tiny size and reports every row (its timings are not
judged here: CI machines are noisy; benchmarks/RESULTS.md holds the measured numbers)."""

import importlib.util
import math
import sys

import pytest

from conftest import REPO


def load_script():
    spec = importlib.util.spec_from_file_location(
        "run_benchmarks", REPO / "benchmarks" / "run_benchmarks.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_tiny_run_prints_every_row_with_a_finite_ratio(capsys, monkeypatch):
    monkeypatch.delenv("PILLOW_SIMD_PYTHON", raising=False)
    script = load_script()
    assert script.main(["--size", "tiny", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    rows = {
        line.split("|")[1].strip(): line.split("|")
        for line in out.splitlines()
        if line.startswith("| P")
    }
    expected = ["P1", "P12", "P12b", "P12c", "P14", "P2", "P2b", "P3", "P3b", "P4", "P5", "P6"]
    expected.append("P7")
    assert sorted(rows) == [*expected, "P9"]  # no P8; P12d only with $PILLOW_SIMD_PYTHON
    for cells in rows.values():
        ratio = float(cells[5])
        assert math.isfinite(ratio) and ratio > 0
        assert cells[7].strip() in {"yes", "NO"}
    # P7 is exact, not a timing: a 16 px store costs at most a fifth more than its pixels
    assert 1.0 < float(rows["P7"][5]) < 1.2


def test_unknown_row_is_refused_before_any_work(capsys):
    with pytest.raises(SystemExit):
        load_script().main(["--only", "P4,P5"])
    allowed = "allowed: P1, P2, P3, P4, P6, P8, P9, P12, P14"
    assert f"--only names P5; {allowed}" in capsys.readouterr().err

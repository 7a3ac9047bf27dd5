"""The numeric parity tests pass whatever SIMD kernels torch picks (issue #29).

CPUs differ (AVX2, AVX-512): torch picks a kernel family per CPU, float32 results differ in the
last bits between families, and iterative attacks amplify that. The parity tests therefore
compare in float64 from identical random starts. This test proves it on the machine at hand:
it reruns every test marked `parity` (DeepFool, attack parity, quantisation, metrics) in a
subprocess under ATEN_CPU_CAPABILITY=default, torch's plain kernels, where everything (the
fixture model's training included) is computed with other kernels than in this process.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from conftest import REPO

PARITY_FILES = [
    "tests/test_batched_deepfool.py",
    "tests/test_attack_parity.py",
    "tests/test_quantisation.py",
    "tests/test_classification_metrics.py",
]


@pytest.mark.slow
def test_parity_tests_pass_under_the_default_kernels():
    if torch.backends.cpu.get_cpu_capability() == "DEFAULT":
        pytest.skip("this run already uses torch's default kernels")
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    command = [sys.executable, "-m", "pytest", "-m", "parity", "-p", "no:cacheprovider"]
    result = subprocess.run(
        [*command, *PARITY_FILES], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )
    assert "torch CPU capability: DEFAULT" in result.stdout, result.stdout[-3000:]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.splitlines()[-1], result.stdout[-3000:]

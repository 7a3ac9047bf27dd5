"""White-box files in chunks (issue #35): a job SIGKILLed mid-attack resumes at its first
unfinished chunk and writes the same bytes as an uninterrupted one; K shard jobs gathered
write the same bytes as one job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest
import torch

from conftest import REPO
from robustsweep.atomic_output import partial_path
from robustsweep.evaluation.white_box import attack_own_model, attack_shard
from robustsweep.evaluation.white_box_parts import shard_chunks
from robustsweep.input_errors import InputError

CPU = torch.device("cpu")
# random start: every chunk draws, so a draw keyed to the job instead of the chunk would show
PGD = {"method": "pgd", "eps": 0.1, "alpha": 0.025, "steps": 3, "random_start": True}
BATCH = 64  # the digits test split is several chunks of this


def whole(tmp_path, digits_h5, trained_model, name="whole.h5"):
    out = tmp_path / name
    attack_own_model(out, trained_model, digits_h5, "pgd", PGD, BATCH, 7, CPU)
    return out


def test_shards_cover_every_chunk_once():
    for n, shards in ((10, 3), (1, 4), (640, 7), (65, 2)):
        ranges = [shard_chunks(n, BATCH, k, shards) for k in range(shards)]
        covered = [c for r in ranges for c in r]
        assert covered == list(range((n + BATCH - 1) // BATCH))


def test_three_shards_gathered_are_one_jobs_file_to_the_byte(tmp_path, digits_h5, trained_model):
    reference = whole(tmp_path, digits_h5, trained_model)
    assert not (tmp_path / "whole.h5.chunks").exists()  # the work file goes once written
    shards = [tmp_path / f"pgd.shard{k}of3.h5" for k in range(3)]
    for k, shard in enumerate(shards):
        attack_shard(shard, trained_model, digits_h5, "pgd", PGD, BATCH, 7, CPU, k, 3)
    with h5py.File(shards[1]) as h5:
        assert 0 < len(h5["parts/images"]) < len(h5py.File(reference)["white_box-pgd/images"])
    gathered = tmp_path / "gathered.h5"
    attack_own_model(gathered, trained_model, digits_h5, "pgd", PGD, BATCH, 7, CPU, shards=shards)
    assert gathered.read_bytes() == reference.read_bytes()
    # the chunks' draws are seeded: another seed moves pixels, so equality above is not vacuous
    other = tmp_path / "other.h5"
    attack_own_model(other, trained_model, digits_h5, "pgd", PGD, BATCH, 8, CPU)
    with h5py.File(other) as a, h5py.File(reference) as b:
        assert not np.array_equal(a["white_box-pgd/images"][()], b["white_box-pgd/images"][()])


def test_a_shard_from_another_split_is_refused(tmp_path, digits_h5, trained_model):
    shards = [tmp_path / f"s{k}.h5" for k in range(2)]
    for k, shard in enumerate(shards):
        attack_shard(shard, trained_model, digits_h5, "pgd", PGD, BATCH, 7, CPU, k, 2)
    with pytest.raises(InputError, match="another attack, run or shard split"):
        attack_own_model(
            tmp_path / "w.h5", trained_model, digits_h5, "pgd", PGD, BATCH, 7, CPU,
            shards=shards[::-1],
        )  # fmt: skip


CHILD = """
import os, signal, sys
from pathlib import Path
import torch
import robustsweep.evaluation.white_box_parts as parts
real, calls = parts._attack_chunk, []
def dying(*args, **kwargs):
    if len(calls) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    calls.append(1)
    return real(*args, **kwargs)
parts._attack_chunk = dying
from robustsweep.evaluation.white_box import attack_own_model
spec = {spec!r}
attack_own_model(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), "pgd", spec,
                 {batch}, 7, torch.device("cpu"))
"""


def test_a_sigkilled_job_resumes_to_the_same_bytes(tmp_path, digits_h5, trained_model, monkeypatch):
    reference = whole(tmp_path, digits_h5, trained_model)
    out = tmp_path / "killed.h5"
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow")}
    child = textwrap.dedent(CHILD.format(spec=PGD, batch=BATCH))
    died = subprocess.run(
        [sys.executable, "-c", child, str(out), str(trained_model), str(digits_h5)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
    work = out.with_name(out.name + ".chunks")
    assert not out.exists() and not partial_path(out).exists() and work.exists()
    with h5py.File(work) as h5:
        assert h5["parts/chunk_done"][()].tolist()[:4] == [True, True, True, False]

    import robustsweep.evaluation.white_box_parts as parts

    attacked, real = [], parts._attack_chunk
    monkeypatch.setattr(
        parts, "_attack_chunk", lambda *a, **k: attacked.append(a[1]) or real(*a, **k)
    )
    attack_own_model(out, trained_model, digits_h5, "pgd", PGD, BATCH, 7, CPU)
    n_chunks = -(-len(h5py.File(reference)["white_box-pgd/images"]) // BATCH)
    assert attacked == list(range(3, n_chunks))  # only the unfinished chunks ran
    assert out.read_bytes() == reference.read_bytes()
    assert not work.exists()


def test_shards_config_defaults_to_one_job_and_names_unknown_attacks():
    import yaml

    from robustsweep.input_errors import ConfigError
    from robustsweep.job_settings import white_box_settings, white_box_shards
    from robustsweep.study_config import validate_config

    tiny = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    config = validate_config(tiny)
    assert white_box_shards(config, "fgsm") == 1
    assert config["evaluation"]["attack_precision"] == "fp32"
    sharded = validate_config({**tiny, "evaluation": {**tiny["evaluation"], "shards": 4}})
    assert white_box_shards(sharded, "fgsm") == 4
    # not a setting: the file's settings (its identity) do not change with K
    assert white_box_settings(sharded, "fgsm") == white_box_settings(config, "fgsm")
    with pytest.raises(ConfigError, match="'evaluation.shards' names 'pgd'"):
        validate_config({**tiny, "evaluation": {**tiny["evaluation"], "shards": {"pgd": 2}}})


def test_bf16_on_the_cpu_is_float32_with_a_note(tmp_path, digits_h5, trained_model, capsys):
    reference = whole(tmp_path, digits_h5, trained_model)
    out = tmp_path / "bf16.h5"
    attack_own_model(out, trained_model, digits_h5, "pgd", PGD, BATCH, 7, CPU, precision="bf16")
    assert "its attack stays float32" in capsys.readouterr().out
    assert out.read_bytes() == reference.read_bytes()

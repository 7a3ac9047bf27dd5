"""`evaluation.shards` in the workflow (issue #35): K shard jobs and a gathering job write
the white-box file one job writes, byte for byte; the shard files are removed after."""

from __future__ import annotations

import re

import yaml

from conftest import REPO, snakemake

TINY = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
RUN = "results/runs/cnn/N10/draw0/standard"
TARGET = f"{RUN}/white_box/fgsm.h5"


def with_shards(shards) -> dict:
    # batch 64: the run's digits test images are several chunks
    attacks = {**TINY["attacks"], "batch_size": 64}
    return {**TINY, "attacks": attacks, "evaluation": {**TINY["evaluation"], "shards": shards}}


def test_three_shard_jobs_write_the_file_one_job_writes(tmp_path):
    result = snakemake(tmp_path, with_shards({"fgsm": 3}), TARGET)
    assert result.returncode == 0, result.stderr[-4000:]
    stats = result.stderr.split("Job stats:")[1].split("total")[0]
    assert re.search(r"^white_box_shard\s+3$", stats, re.M) and re.search(
        r"^white_box\s+1$", stats, re.M
    )
    target = tmp_path / TARGET
    sharded = target.read_bytes()
    assert not list((tmp_path / RUN / "white_box").glob("*.shard*"))  # temp: gone once gathered
    assert not list((tmp_path / RUN / "white_box").glob("*.chunks"))
    target.unlink()
    result = snakemake(tmp_path, with_shards(1), TARGET)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "white_box_shard" not in result.stderr
    assert target.read_bytes() == sharded

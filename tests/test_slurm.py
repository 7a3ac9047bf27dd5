"""The tiny study submitted through SLURM with profiles/slurm, on a one-node localhost cluster.

The cluster is started by tests/slurm/cluster.sh (installed with apt-get when missing and we
are root, as in CI). Without SLURM and without root the test is skipped, except under CI,
where it must run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, snakemake_command, tool_env

CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
TINY = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())


def _ensure_installed() -> None:
    if shutil.which("slurmctld") and shutil.which("munged"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run([str(CLUSTER), "install"], check=True, timeout=600)
        return
    message = "SLURM is not installed and installing it needs root and apt-get"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def slurm_env(tmp_path_factory):
    _ensure_installed()
    folder = tmp_path_factory.mktemp("slurm")
    subprocess.run([str(CLUSTER), "start", str(folder)], check=True, timeout=180)
    env = tool_env(slurm=True)
    env["SLURM_CONF"] = str(folder / "slurm.conf")
    yield env
    subprocess.run([str(CLUSTER), "stop", str(folder)], check=False, timeout=60)


def test_tiny_study_runs_through_slurm(slurm_env, tmp_path):
    config = {**TINY, "gpus_per_job": 0}  # the test node has no GPU
    command = [
        "timeout",
        "-s",
        "KILL",
        "900",
        *snakemake_command(tmp_path, config),
        "--workflow-profile",
        str(REPO / "profiles" / "slurm"),
        # no slurmdbd here: ask squeue for job states and submit without an account
        "--slurm-status-command",
        "squeue",
        "--slurm-no-account",
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--seconds-between-status-checks",
        "2",
        "--slurm-keep-successful-logs",
        # the test node is small: one core and 2 GB per job
        "--set-threads",
        "train_model=1",
        "adversarial_store=1",
        "--default-resources",
        "mem_mb=1500",
        "runtime=30",
        "--set-resources",
        "train_model:mem_mb=2000",
        "adversarial_store:mem_mb=2000",
        "logits_cache:mem_mb=2000",
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=slurm_env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    submitted = set(re.findall(r"SLURM (?:jobid|run ID)[^\d]*(\d+)", output))
    remote_rules = (
        "prepare_dataset",
        "train_model",
        "adversarial_store",
        "mine_natural_adversarial",
        "logits_cache",
        "evaluate_run",
    )
    remote_jobs = sum(len(re.findall(rf"^rule {rule}:", output, re.M)) for rule in remote_rules)
    assert remote_jobs > 0 and len(submitted) >= remote_jobs
    assert (tmp_path / "results" / "tables" / "tables.md").exists()
    slurm_logs = list(Path(tmp_path, ".snakemake", "slurm_logs").rglob("*.log"))
    assert slurm_logs, "the plugin wrote no SLURM job logs"


class _Resources(dict):
    """What the plugin reads of a job's resources: `.get` and attribute access."""

    __getattr__ = dict.get


def test_a_k_process_training_job_is_submitted_with_k_gpus_in_one_task():
    """The sbatch and srun options the plugin builds for train_model of a study with
    `data_parallel: 4`, from the profile's resources and the rule's `gpu` (no cluster)."""
    from types import SimpleNamespace

    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string
    from snakemake_executor_plugin_slurm_jobstep import get_cpu_setting, get_gpu_setting

    from robustsweep.job_settings import training_gpus
    from robustsweep.run_grid import Run
    from robustsweep.study_config import validate_config

    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    # the tiny study's sweep grid alone: its standard runs are what this test submits
    sweep = {"sweep": TINY["experiments"]["sweep"]}
    evaluation = {**TINY["evaluation"], "budget_sweep": {}}  # it sweeps the dropped experiment
    config = validate_config(
        {**TINY, "data_parallel": 4, "experiments": sweep, "evaluation": evaluation}
    )
    gpus = training_gpus(config, Run("cnn", 10, 0, "standard"))
    resources = _Resources(
        {**profile["default-resources"], **profile["set-resources"]["train_model"], "gpu": gpus}
    )
    job = SimpleNamespace(
        resources=resources, threads=profile["set-threads"]["train_model"], is_group=lambda: False
    )
    params = {
        "run_uuid": "x",
        "slurm_logfile": "log",
        "comment_str": "c",
        "account": "",
        "partition": "",
        "workdir": None,
    }
    submit = get_submit_command(job, params) + set_gres_string(job)
    assert "--gpus=4" in submit and "--cpus-per-task=8" in submit
    assert "--ntasks" not in submit  # one task: the job starts its 4 workers itself
    step = f"{get_cpu_setting(job, True)} {get_gpu_setting(job)}"
    assert step == "--cpus-per-task=8 --gpus=4"


def test_each_white_box_shard_is_its_own_gpu_job_and_the_gather_asks_for_none(tmp_path):
    """With `evaluation.shards`, the dry run plans K shard jobs per white-box file, each
    asking for the study's GPUs per job; the job that gathers them asks for none."""
    from conftest import snakemake

    config = {
        **TINY,
        "gpus_per_job": 1,
        "evaluation": {**TINY["evaluation"], "shards": 2},
    }
    target = "results/runs/cnn/N10/draw0/standard/white_box/fgsm.h5"
    result = snakemake(tmp_path, config, target, "-n", "--printshellcmds", "--verbose")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    jobs = re.split(r"\n(?=(?:local)?rule \w+:)", output)
    shards = [j for j in jobs if j.lstrip().startswith("rule white_box_shard:")]
    gather = [j for j in jobs if j.lstrip().startswith("rule white_box:")]
    assert len(shards) == 2 and len(gather) == 1
    assert all(re.search(r"resources:.*\bgpu=1\b", j) for j in shards), shards[0]
    assert re.search(r"resources:.*\bgpu=0\b", gather[0]), gather[0]
    assert "fgsm.shard0of2.h5" in gather[0] and "fgsm.shard1of2.h5" in gather[0]

"""Shared fixtures: a tiny prepared digits file and a small trained model, made once."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

import robustsweep.training.training_loop as training_module
from robustsweep.data.class_subsets import write_subset
from robustsweep.data.prepared_dataset import prepare_dataset
from robustsweep.stage_settings import TrainingRecipe
from robustsweep.training.training_loop import recipe, train_run

REPO = Path(__file__).resolve().parents[1]
FRACTIONS = {"train": 0.6, "test": 0.2, "pool": 0.2}


def with_change(config: dict, path: str, value) -> dict:
    """A deep copy of `config` with the dotted key `path` set to `value`."""
    config = copy.deepcopy(config)
    *parents, last = path.split(".")
    node = config
    for key in parents:
        node = node[key]
    node[last] = value
    return config


def snakemake_args(
    workdir: Path, configfiles: list[Path], *args: str, cores: int = 2, checkout: Path = REPO
) -> list[str]:
    """The workflow of `checkout` on the given config files (merged in order) with workdir as
    its folder."""
    return [
        "snakemake",
        "-s",
        str(checkout / "Snakefile"),
        "-d",
        str(workdir),
        "--configfile",
        *[str(path) for path in configfiles],
        "--cores",
        str(cores),
        *args,
    ]


def snakemake_command(
    workdir: Path, config: dict, *args: str, cores: int = 2, checkout: Path = REPO
) -> list[str]:
    """The workflow on `config` (written to workdir/study.yaml) with workdir as its folder."""
    (workdir / "study.yaml").write_text(yaml.safe_dump(config))
    return snakemake_args(workdir, [workdir / "study.yaml"], *args, cores=cores, checkout=checkout)


def tool_env(slurm: bool = False) -> dict[str, str]:
    """Environment for subprocesses: this interpreter's scripts (snakemake) first on PATH.

    Snakemake's SLURM executor plugin runs `scontrol show config` whenever snakemake starts.
    Where SLURM's client tools are installed but no controller answers (this machine after
    tests/test_slurm.py stops its cluster), that call waits about 9 s before failing. Runs that
    are not about SLURM get a stand-in `scontrol` that fails at once; the plugin then simply
    finds no MinJobAge, as it does on any machine without a controller.
    """
    env = dict(os.environ)
    folders = [str(Path(sys.executable).parent)]
    if not slurm:
        folders.insert(0, str(_failing_scontrol()))
    env["PATH"] = os.pathsep.join([*folders, env.get("PATH", "")])
    return env


def _failing_scontrol() -> Path:
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"robustsweep-no-slurm-{os.getuid()}"
    stub = folder / "scontrol"
    if not stub.exists():
        folder.mkdir(exist_ok=True)
        stub.write_text("#!/bin/sh\necho 'no SLURM controller in this test' >&2\nexit 1\n")
        stub.chmod(0o755)
    return folder


def snakemake(
    workdir: Path, config: dict, *args: str, checkout: Path = REPO
) -> subprocess.CompletedProcess:
    command = snakemake_command(workdir, config, *args, checkout=checkout)
    return subprocess.run(command, capture_output=True, text=True, env=tool_env(), timeout=900)


def planned(workdir: Path, config: dict, checkout: Path = REPO) -> dict[str, int]:
    """Rule -> job count of a dry run; empty when there is nothing to do."""
    result = snakemake(workdir, config, "-n", checkout=checkout)
    assert result.returncode == 0, result.stderr + result.stdout
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return {}
    block = text.split("Job stats:")[1].split("total")[0]
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)$", block, re.M)}


def place_cifar_c(folder: Path) -> None:
    """Empty stand-ins for the CIFAR-10-C and CIFAR-100-C releases where xu2024 and
    xu2024_cifar100 expect them: a dry run only checks that the files are there."""
    from robustsweep.data.corruptions import ALL_CORRUPTIONS

    for release in (folder / "resources" / "CIFAR-10-C", folder / "resources" / "CIFAR-100-C"):
        release.mkdir(parents=True)
        for name in ["labels", *ALL_CORRUPTIONS]:
            (release / f"{name}.npy").touch()


def kill_at_epoch(monkeypatch, epoch: int) -> None:
    """Make training die (as a SIGKILL would, mid-run) when it reaches `epoch`."""
    real_epoch = training_module._train_epoch

    def dying_epoch(*args):
        if args[-1] == epoch:
            raise KeyboardInterrupt("killed")
        return real_epoch(*args)

    monkeypatch.setattr(training_module, "_train_epoch", dying_epoch)


def record_epochs(monkeypatch) -> list[int]:
    """Undo kill_at_epoch and list the epochs that run from now on."""
    monkeypatch.undo()
    epochs_run: list[int] = []
    real_epoch = training_module._train_epoch
    monkeypatch.setattr(
        training_module,
        "_train_epoch",
        lambda *args: epochs_run.append(args[-1]) or real_epoch(*args),
    )
    return epochs_run


@pytest.fixture(scope="session")
def digits_h5(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "dataset.h5"
    prepare_dataset(path, {"source": "digits", "image_size": 16, "splits": FRACTIONS}, seed=0)
    return path


@pytest.fixture(scope="session")
def all_classes_subset(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("subsets") / "N10.json"
    write_subset(path, range(10), [str(c) for c in range(10)], 10, 0, 0)
    return path


FIXTURE_RECIPE = recipe(epochs=8, lr=3e-3, restart_epochs=8)


def train_small_cnn(
    folder: Path,
    dataset: Path,
    subset: Path,
    defence: dict | None = None,
    recipe: TrainingRecipe = FIXTURE_RECIPE,
    width: int = 8,
    stores: dict[str, Path] | None = None,
    clean_copy: Path | None = None,
    draw: int = 0,
) -> Path:
    """Train a small-CNN run on one CPU thread; returns its weights file."""
    torch.set_num_threads(1)
    train_run(
        folder / "weights.safetensors",
        folder / "epochs.csv",
        dataset,
        subset,
        {"architecture": "small_cnn", "width": width},
        recipe,
        defence or {"method": "standard"},
        stores or {},
        draw,
        torch.device("cpu"),
        clean_copy,
    )
    return folder / "weights.safetensors"


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory, digits_h5, all_classes_subset) -> Path:
    """A small CNN trained on all ten digits (about 95 % clean accuracy), the surrogate."""
    weights = train_small_cnn(tmp_path_factory.mktemp("model"), digits_h5, all_classes_subset)
    assert json.loads(all_classes_subset.read_text())["class_ids"] == list(range(10))
    return weights


@pytest.fixture(scope="session")
def attack_batch(digits_h5, trained_model):
    """The trained digits model with frozen weights and 96 test images (floats) with labels:
    what the attack tests attack."""
    from robustsweep.data.prepared_dataset import load_split
    from robustsweep.models.inference import to_float
    from robustsweep.models.trained_models import load_model

    model, _ = load_model(trained_model)
    for p in model.parameters():
        p.requires_grad_(False)
    split = load_split(digits_h5, "test")
    return model, to_float(split.images[:96], "cpu"), torch.as_tensor(split.labels[:96])


def pytest_report_header() -> str:
    """Which SIMD kernel family torch uses here: float32 results differ in the last bits
    between them (tests/test_cpu_kernels.py reruns the parity tests under another one)."""
    return f"torch CPU capability: {torch.backends.cpu.get_cpu_capability()}"

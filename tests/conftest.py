"""Shared fixtures: a tiny prepared digits file and a small trained model, made once."""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path

import pytest
import torch
import yaml

from robustsweep.class_subsets import write_subset
from robustsweep.prepared_dataset import prepare_dataset
from robustsweep.training import Recipe, train_run

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


def snakemake_command(workdir: Path, config: dict, *args: str, cores: int = 2) -> list[str]:
    """The workflow on `config` (written to workdir/study.yaml) with workdir as its folder."""
    (workdir / "study.yaml").write_text(yaml.safe_dump(config))
    return [
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--configfile",
        str(workdir / "study.yaml"),
        "--cores",
        str(cores),
        *args,
    ]


def tool_env() -> dict[str, str]:
    """Environment for subprocesses: this interpreter's scripts (snakemake) first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


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


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory, digits_h5, all_classes_subset) -> Path:
    """A small CNN trained on all ten digits (about 95 % clean accuracy), the attack source."""
    folder = tmp_path_factory.mktemp("model")
    torch.set_num_threads(1)
    train_run(
        folder / "weights.safetensors",
        folder / "epochs.csv",
        digits_h5,
        all_classes_subset,
        "small_cnn",
        {"width": 8},
        Recipe(epochs=8, lr=3e-3, restart_epochs=8),
        {"method": "standard"},
        {},
        0,
        torch.device("cpu"),
    )
    assert json.loads(all_classes_subset.read_text())["class_ids"] == list(range(10))
    return folder / "weights.safetensors"

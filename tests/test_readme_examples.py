"""The README's "Extending" examples work as written: each registers a method that runs."""

from __future__ import annotations

import re
import sys
import types

import numpy as np
import pytest
import torch

from conftest import REPO
from robustsweep.attacks.methods import ATTACK_METHODS
from robustsweep.data.sources import DATASET_SOURCES
from robustsweep.models.architectures import ARCHITECTURES
from robustsweep.models.networks import build_model, feature_stages
from robustsweep.training.defences import DEFENCES


def examples() -> list[str]:
    section = (REPO / "README.md").read_text().split("\n## Extending\n")[1].split("\n## ")[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


@pytest.fixture
def registered():
    """Run an example's code as a module would run, and forget what it registered after."""
    registries = (ATTACK_METHODS, DEFENCES, ARCHITECTURES, DATASET_SOURCES)
    before = {id(r): dict(r._entries) for r in registries}

    def run(code: str) -> dict:
        module = types.ModuleType("readme_example")
        sys.modules[module.__name__] = module  # dataclasses look their module up
        exec(compile(code, "README.md", "exec"), module.__dict__)  # noqa: S102 - our README
        return module.__dict__

    yield run
    sys.modules.pop("readme_example", None)
    for registry in registries:
        registry._entries.clear()
        registry._entries.update(before[id(registry)])


def test_there_is_an_example_per_kind():
    kinds = [re.search(r"@(\w+)\.register", code).group(1) for code in examples()]
    assert kinds == ["ATTACK_METHODS", "DEFENCES", "ARCHITECTURES", "DATASET_SOURCES"]


def test_attack_example_stays_within_its_budget(registered, attack_batch):
    registered(examples()[0])
    method = ATTACK_METHODS._entries["uniform_noise"].target(name="uniform_noise", eps=0.05)
    model, images, labels = attack_batch
    delta = method.build(model, 10)(images, labels) - images
    assert 0 < delta.abs().max() <= 0.05 + 1e-6 and method.budget() == ("Linf", 0.05)


def test_defence_example_trains(registered):
    registered(examples()[1])
    method = DEFENCES._entries["logit_squeezing"].target(name="logit_squeezing")
    trainer = method.build(None)
    model = build_model({"architecture": "small_cnn", "width": 4}, 3)
    loss, logits = trainer.loss(
        model, torch.rand(4, 3, 16, 16), torch.tensor([0, 1, 2, 0]), torch.arange(4), None
    )
    loss.backward()
    assert torch.isfinite(loss) and logits.shape == (4, 3)


def test_architecture_example_builds_with_its_stages(registered):
    registered(examples()[2])
    architecture = ARCHITECTURES._entries["wide_cnn"].target(name="wide_cnn", width=8)
    model = build_model(architecture, 5)
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 5)
    assert len(feature_stages(model)) == 1


def test_dataset_source_example_reads_its_file(registered, tmp_path):
    registered(examples()[3])
    path = tmp_path / "data.npz"
    images = np.zeros((6, 8, 8, 3), np.uint8)
    np.savez(path, images=images, labels=np.array([0, 1, 2, 0, 1, 2]))
    source = DATASET_SOURCES._entries["npz"].target(name="npz", path=str(path))
    source.check("dataset", None)
    raw = source.load(8)
    assert source.class_count() == 3 and raw.images.shape == (6, 8, 8, 3)

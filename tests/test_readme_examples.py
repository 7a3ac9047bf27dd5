"""The examples of the README and of every docs/ page work as written: every Python example
runs (the "Extending" ones each register a method that then builds and runs), and every
YAML example is valid YAML."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import REPO
from robustsweep.attacks.methods import ATTACK_METHODS
from robustsweep.data.sources import DATASET_SOURCES
from robustsweep.models.architectures import ARCHITECTURES
from robustsweep.models.networks import build_model, feature_stages
from robustsweep.training.defences import DEFENCES


def pages() -> list[Path]:
    """The README and every page of docs/."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def blocks(language: str) -> list[tuple[str, str]]:
    """(page, code) of every fenced block in `language` on every page."""
    found = []
    for page in pages():
        for code in re.findall(rf"```{language}\n(.*?)```", page.read_text(), re.S):
            found.append((page.relative_to(REPO).as_posix(), code))
    return found


def example(name: str) -> str:
    """The Python example that registers `name`."""
    (code,) = [code for _, code in blocks("python") if f'.register("{name}")' in code]
    return code


@pytest.fixture
def registered():
    """Run an example's code as a module would run, and forget what it registered after."""
    registries = (ATTACK_METHODS, DEFENCES, ARCHITECTURES, DATASET_SOURCES)
    before = {id(r): dict(r._entries) for r in registries}

    def run(code: str, page: str = "docs/extending.md") -> dict:
        module = types.ModuleType("docs_example")
        sys.modules[module.__name__] = module  # dataclasses look their module up
        exec(compile(code, page, "exec"), module.__dict__)  # noqa: S102 - our docs
        return module.__dict__

    yield run
    sys.modules.pop("docs_example", None)
    for registry in registries:
        registry._entries.clear()
        registry._entries.update(before[id(registry)])


@pytest.mark.parametrize(
    "page, code", blocks("python"), ids=lambda v: v if v.endswith(".md") else ""
)
def test_every_python_example_of_every_page_runs(registered, page, code):
    registered(code, page)


@pytest.mark.parametrize("page, code", blocks("yaml"), ids=lambda v: v if v.endswith(".md") else "")
def test_every_yaml_example_of_every_page_is_yaml(page, code):
    assert yaml.safe_load(code) is not None


def test_there_is_an_example_per_kind():
    kinds = {
        re.search(r"@(\w+)\.register", code).group(1)
        for _, code in blocks("python")
        if ".register(" in code
    }
    assert kinds >= {"ATTACK_METHODS", "DEFENCES", "ARCHITECTURES", "DATASET_SOURCES"}


def test_attack_example_stays_within_its_budget(registered, attack_batch):
    registered(example("uniform_noise"))
    method = ATTACK_METHODS._entries["uniform_noise"].target(name="uniform_noise", eps=0.05)
    model, images, labels = attack_batch
    delta = method.build(model, 10)(images, labels) - images
    assert 0 < delta.abs().max() <= 0.05 + 1e-6 and method.budget() == ("Linf", 0.05)


def test_defence_example_trains(registered):
    registered(example("logit_squeezing"))
    method = DEFENCES._entries["logit_squeezing"].target(name="logit_squeezing")
    trainer = method.build(None)
    model = build_model({"architecture": "small_cnn", "width": 4}, 3)
    loss, logits = trainer.loss(
        model, torch.rand(4, 3, 16, 16), torch.tensor([0, 1, 2, 0]), torch.arange(4), None
    )
    loss.backward()
    assert torch.isfinite(loss) and logits.shape == (4, 3)


def test_architecture_example_builds_with_its_stages(registered):
    registered(example("wide_cnn"))
    architecture = ARCHITECTURES._entries["wide_cnn"].target(name="wide_cnn", width=8)
    model = build_model(architecture, 5)
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 5)
    assert len(feature_stages(model)) == 1


def test_dataset_source_example_reads_its_file(registered, tmp_path):
    registered(example("npz"))
    path = tmp_path / "data.npz"
    images = np.zeros((6, 8, 8, 3), np.uint8)
    np.savez(path, images=images, labels=np.array([0, 1, 2, 0, 1, 2]))
    source = DATASET_SOURCES._entries["npz"].target(name="npz", path=str(path))
    source.check("dataset", None)
    raw = source.load(8)
    assert source.class_count() == 3 and raw.images.shape == (6, 8, 8, 3)

"""Every registered method of every registry: found without importing, declares typed and
documented parameters, and builds and runs on the digits.

A new method file joins these tests by being registered; nothing here lists the methods."""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from robustsweep.attacks.methods import ATTACK_METHODS
from robustsweep.data.corruptions import ALL_CORRUPTIONS, CORRUPTIONS
from robustsweep.data.patterns import NATURAL_PATTERNS, apply_pattern
from robustsweep.data.sources import DATASET_SOURCES, source_of
from robustsweep.models.architectures import ARCHITECTURES
from robustsweep.models.networks import build_model, feature_stages
from robustsweep.registry import StudyFacts, parameter_fields, parameter_schema
from robustsweep.reporting.figures import FIGURES
from robustsweep.reporting.tables import TABLES, TableContext
from robustsweep.training.defences import DEFENCES, TrainingContext

CPU = torch.device("cpu")
# the columns of a run's metrics.csv (run_evaluation.py), for tables of a study without runs
METRIC_COLUMNS = [
    "model", "train_classes", "draw", "defence", "pretrained_weights", "architecture",
    "parameters", "test_set", "pattern", "severity", "predicted_classes", "trial", "n_images",
    "accuracy", "precision", "recall", "loss", "auc", "ap", "accuracy_all_images",
    "consistency", "detector_accuracy",
    "zero_gradient_fraction", "huge_eps_accuracy", "forward_disagreement", "masking_flags",
    "activation_elements",
    "feature_map", "epochs", "train_loss", "train_accuracy", "checkpoint", "checkpoint_epoch",
    "best_epoch", "val_accuracy_best", "val_pgd_best", "val_accuracy_last", "val_pgd_last",
    "overfitting", "validation_curve",
]  # fmt: skip
REGISTRIES = {
    "attack": ATTACK_METHODS,
    "defence": DEFENCES,
    "architecture": ARCHITECTURES,
    "dataset source": DATASET_SOURCES,
    "corruption source": CORRUPTIONS,
    "natural pattern": NATURAL_PATTERNS,
    "figure": FIGURES,
    "table": TABLES,
}


@pytest.mark.parametrize("registry", REGISTRIES.values(), ids=REGISTRIES.keys())
def test_the_index_read_from_source_is_what_the_modules_register(registry):
    for module in sorted(set(registry.index.values())):
        importlib.import_module(module)
    assert set(registry._entries) == set(registry.index)
    assert registry.names()  # no empty registry


@pytest.mark.parametrize("registry", REGISTRIES.values(), ids=REGISTRIES.keys())
def test_every_parameter_is_typed_documented_and_has_a_valid_default(
    registry, tmp_path, monkeypatch
):
    # a CIFAR study whose corruption release lies where `cifar_c` looks by default
    monkeypatch.chdir(tmp_path)
    release = tmp_path / "resources" / "CIFAR-10-C"
    release.mkdir(parents=True)
    for name in ["labels", *ALL_CORRUPTIONS]:
        (release / f"{name}.npy").touch()
    facts = StudyFacts(attacks=("fgsm",), dataset="cifar10")
    for name in registry.index:
        target = registry.get(name).target
        if not isinstance(target, type):
            continue  # patterns and figures are functions without parameters
        schema = parameter_schema(target, registry.key, [name])
        for field in parameter_fields(target):
            declared = schema["properties"][field.name]
            assert declared.get("description"), f"{name}.{field.name} has no doc"
            assert "type" in declared or "enum" in declared or "anyOf" in declared, field.name
        # the defaults alone make a valid spec wherever nothing is required
        if schema["required"] == [registry.key]:
            example = f"{name}resnet18" if name in registry.prefixes else name
            method = registry.spec({registry.key: example}, "test", facts)
            assert method.name == example


def attack_spec(name: str) -> dict:
    """The method's defaults, with its iteration counts cut for a fast test."""
    spec = {"method": name}
    fields = {f.name for f in parameter_fields(ATTACK_METHODS.get(name).target)}
    spec |= {key: value for key, value in {"steps": 3, "n_queries": 30}.items() if key in fields}
    return spec


@pytest.mark.parametrize("name", ATTACK_METHODS.names())
def test_every_attack_runs_within_its_budget_on_the_digits(name, attack_batch):
    model, images, labels = attack_batch
    images, labels = images[:24], labels[:24]
    method = ATTACK_METHODS.spec(attack_spec(name), "attacks.methods.x", StudyFacts(16))
    torch.manual_seed(0)
    adversarial = method.build(model, 10)(images, labels)
    assert adversarial.shape == images.shape
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    delta = (adversarial - images).flatten(1)
    assert delta.abs().max() > 0, "the attack changed nothing"
    if (budget := method.budget()) is not None:
        norm, eps = budget
        size = delta.abs().max(1).values if norm == "Linf" else delta.norm(dim=1)
        assert size.max() <= eps + 1e-5


def defence_context(name, digits_h5, all_classes_subset, trained_model, tmp_path_factory):
    """What the defence needs: a train-split FGSM store, and the clean copy's weights."""
    from robustsweep.attacks.adversarial_store import generate_store
    from robustsweep.data.prepared_dataset import load_split

    method = DEFENCES.get(name).target
    store = tmp_path_factory.getbasetemp() / "registry-train-fgsm.h5"
    if not store.exists():
        fgsm = {"method": "fgsm", "eps": 0.1}
        generate_store(store, digits_h5, "train", trained_model, "fgsm", fgsm, 512, 0, CPU)
    indices = torch.from_numpy(load_split(digits_h5, "train").indices)
    clean_copy = trained_model if method.needs_clean_copy else None
    return TrainingContext(CPU, indices, {"fgsm": store}, clean_copy, 16)


@pytest.mark.parametrize("name", DEFENCES.names())
def test_every_defence_trains_a_step_on_the_digits(
    name, digits_h5, all_classes_subset, trained_model, tmp_path_factory
):
    from robustsweep.data.prepared_dataset import load_split
    from robustsweep.models.inference import to_float

    spec = {"method": name, "ratio": 0.5, "attacks": ["fgsm"], "steps": 2}
    fields = {f.name for f in parameter_fields(DEFENCES.get(name).target)}
    spec = {key: value for key, value in spec.items() if key == "method" or key in fields}
    method = DEFENCES.spec(spec, "defences.x", StudyFacts(16, ("fgsm",)))
    context = defence_context(name, digits_h5, all_classes_subset, trained_model, tmp_path_factory)
    trainer = method.build(context)
    torch.manual_seed(0)
    model = build_model({"architecture": "small_cnn", "width": 8}, 10)
    trainer.prepare(model)
    split = load_split(digits_h5, "train")
    images, targets = to_float(split.images[:32], CPU), torch.as_tensor(split.labels[:32])
    loss, logits, *scored_against = trainer.loss(
        model.train(), images, targets, torch.arange(32), torch.Generator()
    )
    loss.backward()
    # a defence may score other targets than the batch's (the detector: every clean image
    # real, plus its drawn adversarial twins)
    truth = scored_against[0] if scored_against else targets
    assert math.isfinite(loss.item()) and logits.shape == (len(truth), 10)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("name", ARCHITECTURES.names())
def test_every_architecture_builds_and_answers_for_its_classes(name):
    spec = {"architecture": name.replace("<name>", "resnet18")}
    architecture = ARCHITECTURES.spec(spec, "models.m", StudyFacts(32))
    torch.manual_seed(0)
    model = build_model(architecture, 7).eval()
    with torch.no_grad():
        logits = model(torch.rand(2, 3, 32, 32))
    assert logits.shape == (2, 7) and torch.isfinite(logits).all()
    stages = feature_stages(model)
    assert stages and all(isinstance(stage, torch.nn.Module) for stage in stages)


def source_sample(name: str, tmp_path, monkeypatch) -> dict:
    """A small copy of each source in its real on-disk format."""
    from imagenet_trees import write_tree
    from test_dataset_sources import WNIDS, cifar_spec, write_fake_cifar

    if name == "digits":
        return {"source": "digits", "image_size": 16}
    if name in ("cifar10", "cifar100"):
        write_fake_cifar(tmp_path, name, monkeypatch)
        return cifar_spec(tmp_path, name, download=False)
    if name == "imagefolder":
        write_tree(tmp_path / "tree", WNIDS, per_class=2)
        return {"source": "imagefolder", "root": str(tmp_path / "tree"), "image_size": 16}
    raise AssertionError(f"no sample for dataset source '{name}': add one to this test")


@pytest.mark.parametrize("name", DATASET_SOURCES.names())
def test_every_dataset_source_checks_counts_and_loads(name, tmp_path, monkeypatch):
    spec = source_sample(name, tmp_path, monkeypatch)
    DATASET_SOURCES.spec(dict(spec), "dataset", StudyFacts(spec.get("image_size", 32)))
    source, size = source_of(spec), spec.get("image_size", 32)
    raw = source.load(size)
    assert raw.images.dtype == np.uint8 and raw.images.shape[1:] == (size, size, 3)
    assert len(raw.images) == len(raw.labels)
    assert set(np.unique(raw.labels)) <= set(range(source.class_count()))
    assert len(raw.class_names) == source.class_count()


def corruption_sample(name: str, tmp_path, monkeypatch) -> tuple[dict, Path, str]:
    """(spec, prepared dataset, dataset source) for each corruption source, in its real
    on-disk formats, two corruptions at two severities."""
    from test_corruptions import write_release
    from test_dataset_sources import cifar_spec, write_fake_cifar

    from robustsweep.data.prepared_dataset import load_split, prepare_dataset

    spec = {"source": name, "names": ["gaussian_noise", "fog"], "severities": [1, 4]}
    dataset = tmp_path / "dataset.h5"
    if name == "imagecorruptions":
        prepare_dataset(dataset, {"source": "digits", "image_size": 8, "splits": SPLITS}, 0)
        return spec, dataset, "digits"
    if name == "cifar_c":
        write_fake_cifar(tmp_path / "cifar", "cifar10", monkeypatch)
        prepare_dataset(dataset, cifar_spec(tmp_path / "cifar", download=False), 0)
        labels = load_split(dataset, "test").labels
        write_release(tmp_path / "release", labels, spec["names"])
        return {**spec, "root": str(tmp_path / "release")}, dataset, "cifar10"
    raise AssertionError(f"no sample for corruption source '{name}': add one to this test")


SPLITS = {"train": 0.5, "test": 0.1, "pool": 0.4}


@pytest.mark.parametrize("name", CORRUPTIONS.names())
def test_every_corruption_source_corrupts_the_whole_test_split(name, tmp_path, monkeypatch):
    import h5py

    from robustsweep.data.corruption_set import open_corruption_set, write_corruption_set
    from robustsweep.data.prepared_dataset import load_split

    spec, dataset, source = corruption_sample(name, tmp_path, monkeypatch)
    CORRUPTIONS.spec(dict(spec), "corruptions", StudyFacts(32, dataset=source))
    write_corruption_set(tmp_path / "corrupted.h5", dataset, spec, seed=0)
    test = load_split(dataset, "test")
    with h5py.File(tmp_path / "corrupted.h5") as h5:
        data = open_corruption_set(h5)
        images = data.images[()]
        assert images.shape == (4 * len(test.labels), *test.images.shape[1:])
        assert images.dtype == np.uint8
        assert set(zip(data.corruption, data.severity, strict=True)) == {
            (c, s) for c in ("gaussian_noise", "fog") for s in (1, 4)
        }
        np.testing.assert_array_equal(data.index, np.tile(test.indices, 4))
    assert (images != np.tile(test.images, (4, 1, 1, 1))).any()


@pytest.mark.parametrize("name", NATURAL_PATTERNS.names())
def test_every_pattern_keeps_the_image_format_and_changes_the_image(name, digits_h5):
    from robustsweep.data.prepared_dataset import load_split

    image = load_split(digits_h5, "pool").images[0]
    out = apply_pattern(name, image, 0.7, 0, 0)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert (out != image).any()


@pytest.mark.parametrize("name", TABLES.names())
def test_every_table_writes_a_titled_section_even_without_its_runs(name):
    import pandas as pd

    empty = pd.DataFrame(columns=METRIC_COLUMNS)
    text = TABLES.get(name).target(empty, TableContext(pool_size=10))
    assert isinstance(text, str) and isinstance(TABLES.get(name).order, int)


@pytest.mark.parametrize("name", FIGURES.names())
def test_every_figure_has_a_caption(name):
    from robustsweep.reporting.figures import caption

    assert len(caption(name)) > 20


def test_a_method_module_imports_no_torch_until_it_builds():
    import subprocess
    import sys

    code = (
        "import sys; from robustsweep.registry import *; "
        "from robustsweep.attacks.methods import ATTACK_METHODS as A; "
        "from robustsweep.training.defences import DEFENCES as D; "
        "from robustsweep.models.architectures import ARCHITECTURES as M; "
        "from robustsweep.data.sources import DATASET_SOURCES as S; "
        "[r.get(n) for r in (A, D, M, S) for n in r.index]; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

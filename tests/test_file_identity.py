"""Files verified before use (issue #18): every data file carries what it was made for and a
content digest; a job's inputs are checked against the identities the workflow plans."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml

from conftest import REPO
from robustsweep.attacks.adversarial_store import generate_store
from robustsweep.data.prepared_dataset import prepare_dataset
from robustsweep.file_identity import (
    plan_outputs,
    recorded_digest,
    seal_h5,
    verify_file,
    verify_inputs,
)
from robustsweep.input_errors import FileCheckError
from robustsweep.models.networks import build_model
from robustsweep.models.trained_models import load_model, save_model
from robustsweep.planned_files import job_identities, planned_identity
from robustsweep.run_grid import Run
from robustsweep.study_config import validate_config

TINY = validate_config(yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text()))
FRACTIONS = {"train": 0.6, "test": 0.2, "pool": 0.2}


def error_of(call, *args) -> str:
    with pytest.raises(FileCheckError) as caught:
        call(*args)
    message = str(caught.value)
    assert "\n" not in message
    return message


def weights_path(folder: Path, run: Run) -> Path:
    return folder / TINY["results"] / run.folder / "weights.safetensors"


def save_planned_weights(folder: Path, run: Run, width: int) -> Path:
    """Weights written as the workflow's train job for `run` writes them (identity planned
    from the tiny study), without training: only the file matters here."""
    path = weights_path(folder, run)
    relative = f"{TINY['results']}/{run.folder}/weights.safetensors"
    plan_outputs({str(path): planned_identity(TINY, relative)})
    try:
        model = build_model({"architecture": "small_cnn", "width": width}, run.n)
        save_model(path, model, "small_cnn", {"width": width}, list(range(run.n)))
    finally:
        plan_outputs({})
    return path


def expected_for(path: str) -> dict:
    return planned_identity(TINY, path)


def test_planned_identities_name_what_each_file_is_for():
    run = "runs/cnn/N3/draw0/standard"
    weights = expected_for(f"results/{run}/weights.safetensors")
    assert weights["kind"] == "weights" and weights["run"] == run
    assert weights["image_size"] == 16 and len(weights["settings_sha256"]) == 64
    # N is not a training setting: the run folder tells N3 from N10, the settings digest
    # tells a defence (or recipe) from another
    same_settings = expected_for("results/runs/cnn/N10/draw0/standard/weights.safetensors")
    assert same_settings["settings_sha256"] == weights["settings_sha256"]
    defended = expected_for("results/runs/cnn/N10/draw0/offline/weights.safetensors")
    assert defended["settings_sha256"] != weights["settings_sha256"]
    store = expected_for("results/store/test/fgsm.h5")
    assert (store["kind"], store["split"], store["attack"]) == ("store", "test", "fgsm")
    assert expected_for("results/tables/metrics.csv") is None
    corrupted = expected_for("results/data/corruptions.h5")
    assert corrupted["kind"] == "corruptions" and corrupted["image_size"] == 16
    job = job_identities(
        TINY,
        {
            "weights": f"results/{run}/weights.safetensors",
            "stores__fgsm": "results/store/test/fgsm.h5",
        },
        {"output": f"results/{run}/logits.h5"},
    )
    assert job["expect"]["stores"]["fgsm"] == store and job["expect"]["weights"] == weights
    assert job["identity"][f"results/{run}/logits.h5"]["kind"] == "logits"


def test_weights_of_another_run_are_refused_naming_both_runs(tmp_path):
    """A run's weights.safetensors replaced by another run's (another width): the job that
    reads it stops instead of evaluating it under the wrong name."""
    mine, theirs = Run("cnn", 3, 0, "standard"), Run("cnn", 10, 0, "standard")
    save_planned_weights(tmp_path, mine, width=4)
    other = save_planned_weights(tmp_path / "elsewhere", theirs, width=8)
    target = weights_path(tmp_path, mine)
    target.write_bytes(other.read_bytes())
    expected = expected_for(f"results/{mine.folder}/weights.safetensors")
    assert error_of(verify_file, target, expected) == (
        f"{target}: this weights file was made for run 'runs/cnn/N10/draw0/standard', not "
        "'runs/cnn/N3/draw0/standard'; delete it and rerun the workflow to retrain it"
    )


def flip(path: Path, offset: int, count: int) -> None:
    data = bytearray(path.read_bytes())
    for k in range(offset, offset + count):
        data[k] ^= 0xFF
    path.write_bytes(bytes(data))


def test_64_bytes_flipped_in_a_weights_file_are_found(tmp_path):
    run = Run("cnn", 3, 0, "standard")
    path = save_planned_weights(tmp_path, run, width=4)
    expected = expected_for(f"results/{run.folder}/weights.safetensors")
    verify_file(path, expected)
    model, _ = load_model(path)
    flip(path, path.stat().st_size - 200, 64)
    # the tensors still load (safetensors has no checksum): only the digest sees the change
    damaged, _ = load_model(path)
    assert any(
        not torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), damaged.state_dict().values(), strict=True)
    )
    assert "content does not match its sha256 (altered or damaged after it was written)" in (
        error_of(verify_file, path, expected)
    )


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """A real gn store made for a 32 px study, and the 16 px study's dataset."""
    folder = tmp_path_factory.mktemp("stores")
    for size in (16, 32):
        prepare_dataset(
            folder / f"dataset{size}.h5",
            {"source": "digits", "image_size": size, "splits": FRACTIONS},
            seed=0,
        )
    source = folder / "source.safetensors"
    save_model(
        source,
        build_model({"architecture": "small_cnn", "width": 4}, 10),
        "small_cnn",
        {"width": 4},
        list(range(10)),
    )
    spec = {"method": "gn", "std": 0.1}
    store = folder / "results" / "store" / "test" / "gn.h5"
    planned = planned_identity(
        {**TINY, "dataset": {**TINY["dataset"], "image_size": 32}}, "results/store/test/gn.h5"
    )
    plan_outputs({str(store): {**planned, "attack": "gn"}})
    try:
        generate_store(
            store, folder / "dataset32.h5", "test", source, "gn", spec, 256, 0, torch.device("cpu")
        )
    finally:
        plan_outputs({})
    return folder, store


def test_a_store_of_32_px_images_in_a_16_px_study_is_refused(stores):
    folder, store = stores
    expected = {"kind": "store", "split": "test", "attack": "gn", "image_size": 16}
    assert error_of(verify_file, store, expected) == (
        f"{store}: this adversarial store holds 32 px images, not this study's 16 px; "
        "delete it and rerun the workflow to regenerate it"
    )
    # and made from another prepared dataset than the job's: the lineage check names both
    paths = {"dataset": folder / "dataset16.h5", "stores": {"gn": store}}
    dataset = {"kind": "dataset", "image_size": 16}
    message = error_of(
        verify_inputs, paths, {"dataset": dataset, "stores": {"gn": {"kind": "store"}}}
    )
    assert message.startswith(f"{store}: this adversarial store was made from another prepared")
    assert f"than {folder / 'dataset16.h5'}" in message


def test_4_kb_flipped_inside_a_store_are_found(stores, tmp_path):
    _, original = stores
    store = tmp_path / "gn.h5"
    store.write_bytes(original.read_bytes())
    expected = {"kind": "store", "image_size": 32}
    verify_file(store, expected)
    with h5py.File(store) as h5:
        offset = h5["gn/images"].id.get_offset()
    flip(store, offset + 10_000, 4096)
    with h5py.File(store) as h5:  # HDF5 reads the damaged pixels without complaint
        assert h5["gn/images"].shape[0] > 0
    assert "adversarial store content does not match its sha256" in error_of(
        verify_file, store, expected
    )


def test_missing_unsealed_and_truncated_files_get_their_own_words(tmp_path, stores):
    expected = {"kind": "store"}
    assert error_of(verify_file, tmp_path / "no.h5", expected) == (
        f"{tmp_path / 'no.h5'}: adversarial store is missing; rerun the workflow to make it"
    )
    assert error_of(verify_file, tmp_path / "no.h5", {"kind": "corruptions"}).startswith(
        f"{tmp_path / 'no.h5'}: corrupted test set is missing"
    )
    with h5py.File(tmp_path / "plain.h5", "w") as h5:
        h5["x"] = np.arange(3)
    assert "carries no identity or content digest (written by an older robustsweep" in (
        error_of(verify_file, tmp_path / "plain.h5", expected)
    )
    _, store = stores
    (tmp_path / "cut.h5").write_bytes(store.read_bytes()[:5000])
    assert "adversarial store is corrupt or truncated" in error_of(
        verify_file, tmp_path / "cut.h5", expected
    )


def test_seal_covers_attributes_and_recorded_digest_is_the_checked_one(tmp_path):
    path = tmp_path / "logits.h5"
    with h5py.File(path, "w") as h5:
        h5.create_group("clean")["logits"] = np.ones((4, 3), np.float32)
        h5.attrs["class_ids"] = [0, 1, 2]
        seal_h5(h5, {"kind": "logits"})
    seal = verify_file(path, {"kind": "logits"})
    assert recorded_digest(path) == seal.actual
    with h5py.File(path, "a") as h5:  # a changed attribute is a changed file
        h5.attrs["class_ids"] = [0, 1, 3]
    assert "content does not match" in error_of(verify_file, path, {"kind": "logits"})


def test_subset_json_is_sealed_and_checked(tmp_path):
    from robustsweep.data.class_subsets import write_subset

    path = tmp_path / "draw0.json"
    write_subset(path, range(10), [str(c) for c in range(10)], 3, 0, 0, "ab" * 32)
    seal = verify_file(path, {"kind": "subset"})
    assert seal.identity["dataset_sha256"] == "ab" * 32
    payload = json.loads(path.read_text())
    payload["class_ids"] = [0, 1, 2]
    path.write_text(json.dumps(payload))
    assert "class subset content does not match" in error_of(verify_file, path, {"kind": "subset"})

import json

import h5py
import numpy as np
import pytest
import torch

import robustsweep.attacks.adversarial_store as store_module
from robustsweep.atomic_output import partial_path
from robustsweep.attacks.adversarial_store import generate_store
from robustsweep.attacks.store_file import read_store
from robustsweep.attacks.success_report import REPORT_FIELDS, read_report
from robustsweep.data.prepared_dataset import load_split
from robustsweep.input_errors import StoreError
from robustsweep.models.inference import to_float
from robustsweep.models.trained_models import load_model
from robustsweep.provenance import file_sha256

CPU = torch.device("cpu")
PGD = {"method": "pgd", "eps": 0.1, "alpha": 0.025, "steps": 5}
FGSM = {"method": "fgsm", "eps": 0.1}


def make(path, digits_h5, model, spec, name, batch_size=64, split="test"):
    generate_store(path, digits_h5, split, model, name, spec, batch_size, 0, CPU)
    return read_store(path)


def test_store_round_trips_images_and_provenance(tmp_path, digits_h5, trained_model):
    stored = make(tmp_path / "pgd.h5", digits_h5, trained_model, PGD, "pgd")
    clean = load_split(digits_h5, "test")
    np.testing.assert_array_equal(stored.clean_index, clean.indices)
    np.testing.assert_array_equal(stored.label, clean.labels)
    assert stored.images.dtype == np.uint8 and stored.images.shape == clean.images.shape
    assert stored.attack == "pgd" and stored.attrs["method"] == "pgd"
    assert json.loads(stored.attrs["params"]) == {"eps": 0.1, "alpha": 0.025, "steps": 5}
    assert stored.attrs["split"] == "test" and stored.attrs["complete"]
    assert stored.attrs["source_weights_sha256"] == file_sha256(trained_model)
    assert "torchattacks" in json.loads(stored.attrs["versions"])
    # the perturbation stays within eps after rounding: 0.1 is 25.5 grey levels, so 25
    delta = np.abs(stored.images.astype(int) - clean.images.astype(int)).max()
    assert delta == 25
    # source_pred is the surrogate's prediction on the stored (quantised) images
    model, _ = load_model(trained_model)
    with torch.no_grad():
        pred = model(to_float(stored.images, CPU)).argmax(1).numpy()
    np.testing.assert_array_equal(stored.source_pred, pred)
    assert not partial_path(tmp_path / "pgd.h5").exists()


def test_store_reports_its_success_against_the_surrogate(tmp_path, digits_h5, trained_model):
    spec = {"method": "deepfool", "steps": 30}
    stored = make(tmp_path / "df.h5", digits_h5, trained_model, spec, "deepfool")
    clean = load_split(digits_h5, "test")
    model, _ = load_model(trained_model)
    with torch.no_grad():
        clean_pred = model(to_float(clean.images, CPU)).argmax(1).numpy()
    correct = clean_pred == clean.labels
    with h5py.File(tmp_path / "df.h5") as h5:
        records = {name: h5["deepfool"][name][()] for name in ("clean_pred", "repaired", "l2")}
    np.testing.assert_array_equal(records["clean_pred"], clean_pred)
    attrs = stored.attrs
    assert attrs["n_images"] == len(clean.labels) and attrs["n_attacked"] == correct.sum()
    # float64 on both sides (numpy means of the same 0/1 values): approx's default rel 1e-6
    assert attrs["clean_accuracy"] == pytest.approx(correct.mean())
    # success after rounding is what the stored images do to the source, correct images only
    rounded = (stored.source_pred != stored.label)[correct].mean()
    assert attrs["success_rounded"] == pytest.approx(rounded) and rounded >= 0.95
    assert attrs["success_float"] == 1.0
    assert attrs["repair_needed"] == records["repaired"].sum() > 0
    delta = (stored.images.astype(float) - clean.images.astype(float)) / 255
    l2 = np.sqrt((delta.reshape(len(delta), -1) ** 2).sum(1))
    # the stored norms are the same float64 arithmetic on integer differences: default rtol 1e-7
    np.testing.assert_allclose(records["l2"], l2)
    assert attrs["l2_median"] == pytest.approx(np.median(l2[correct]))
    assert attrs["budget_norm"] == "" and np.isnan(attrs["budget_eps"]) and not attrs["baseline"]
    assert read_report(tmp_path / "df.h5")["success_rounded"] == attrs["success_rounded"]


def test_a_store_without_a_report_names_the_fix(tmp_path, digits_h5, trained_model):
    out = tmp_path / "old.h5"
    make(out, digits_h5, trained_model, FGSM, "fgsm")
    with h5py.File(out, "a") as h5:
        del h5["fgsm"].attrs["success_rounded"]
    with pytest.raises(StoreError, match="no success report.*delete it and rerun"):
        read_report(out)


def test_pgd_is_never_weaker_than_fgsm_on_the_surrogate(tmp_path, digits_h5, trained_model):
    clean = load_split(digits_h5, "test")
    fgsm = make(tmp_path / "fgsm.h5", digits_h5, trained_model, FGSM, "fgsm")
    pgd = make(tmp_path / "pgd.h5", digits_h5, trained_model, {**PGD, "steps": 10}, "pgd")
    clean_model, _ = load_model(trained_model)
    with torch.no_grad():
        clean_acc = (
            clean_model(to_float(clean.images, CPU)).argmax(1).numpy() == clean.labels
        ).mean()
    fgsm_acc = (fgsm.source_pred == fgsm.label).mean()
    pgd_acc = (pgd.source_pred == pgd.label).mean()
    assert clean_acc > 0.8
    assert pgd_acc <= fgsm_acc < clean_acc


def test_interrupted_generation_resumes_to_the_same_store(
    tmp_path, digits_h5, trained_model, monkeypatch
):
    reference = make(tmp_path / "whole.h5", digits_h5, trained_model, PGD, "pgd")
    real_chunk, calls = store_module._attack_chunk, []

    def dying_chunk(*args, **kwargs):
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")
        calls.append(1)
        return real_chunk(*args, **kwargs)

    out = tmp_path / "resumed.h5"
    monkeypatch.setattr(store_module, "_attack_chunk", dying_chunk)
    with pytest.raises(KeyboardInterrupt):
        generate_store(out, digits_h5, "test", trained_model, "pgd", PGD, 64, 0, CPU)
    assert not out.exists() and partial_path(out).exists()
    with h5py.File(partial_path(out)) as h5:
        assert h5["pgd/chunk_done"][()].sum() == 3

    attacked = []
    monkeypatch.setattr(
        store_module, "_attack_chunk", lambda *a, **k: attacked.append(a[9]) or real_chunk(*a, **k)
    )
    resumed = make(out, digits_h5, trained_model, PGD, "pgd")
    assert attacked == [3, 4, 5]  # only the unfinished chunks ran
    np.testing.assert_array_equal(resumed.images, reference.images)
    np.testing.assert_array_equal(resumed.source_pred, reference.source_pred)
    for key in REPORT_FIELDS:  # the report comes from per-image records kept on disk
        assert resumed.attrs[key] == reference.attrs[key], key


def test_partial_file_from_other_settings_is_not_reused(tmp_path, digits_h5, trained_model):
    out = tmp_path / "s.h5"
    make(out, digits_h5, trained_model, FGSM, "fgsm")
    out.rename(partial_path(out))  # pretend a different attack left this behind
    stored = make(out, digits_h5, trained_model, {"method": "fgsm", "eps": 0.05}, "fgsm")
    assert json.loads(stored.attrs["params"]) == {"eps": 0.05}


def test_incomplete_and_truncated_stores_are_refused(tmp_path, digits_h5, trained_model):
    out = tmp_path / "s.h5"
    make(out, digits_h5, trained_model, {"method": "gn", "std": 0.1}, "gn")
    with h5py.File(out, "a") as h5:
        h5["gn"].attrs["complete"] = False
    with pytest.raises(StoreError, match="incomplete.*delete it and rerun"):
        read_store(out)
    data = out.read_bytes()
    out.write_bytes(data[: len(data) // 3])
    with pytest.raises(StoreError, match="corrupt or truncated"):
        read_store(out)


def test_disk_full_names_the_file_and_keeps_what_was_written(
    tmp_path, digits_h5, trained_model, monkeypatch
):
    import errno

    real_chunk, calls = store_module._attack_chunk, []

    def filling_disk(*args, **kwargs):
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        calls.append(1)
        return real_chunk(*args, **kwargs)

    out = tmp_path / "gn.h5"
    monkeypatch.setattr(store_module, "_attack_chunk", filling_disk)
    with pytest.raises(StoreError, match=r"disk full while writing .*gn\.h5\.partial.*free space"):
        generate_store(
            out, digits_h5, "test", trained_model, "gn", {"method": "gn", "std": 0.1}, 64, 0, CPU
        )
    assert not out.exists()
    with h5py.File(partial_path(out)) as h5:
        assert h5["gn/chunk_done"][()].tolist() == [True, True, False, False, False, False]
    monkeypatch.setattr(store_module, "_attack_chunk", real_chunk)
    resumed = make(out, digits_h5, trained_model, {"method": "gn", "std": 0.1}, "gn")
    assert resumed.attrs["complete"] and not partial_path(out).exists()


def test_a_batch_too_big_for_the_device_is_attacked_in_halves():
    import torch

    from robustsweep.attacks.attack_batches import attack_in_parts

    sizes = []

    def attacker(images, targets):
        sizes.append(len(images))
        if len(images) > 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return images + targets[:, None]

    images, targets = torch.zeros(10, 2), torch.arange(10.0)
    out = attack_in_parts(attacker, images, targets)
    assert torch.equal(out, targets[:, None].expand(10, 2))  # rows stay in order
    assert max(s for s in sizes if s <= 3) == 3 and sizes[0] == 10

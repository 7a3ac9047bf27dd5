"""`dataset.test_split: held_out`: tan2022 tests on 5,000 of CIFAR-10's 50,000 training images,
not on the official test set (which then becomes the pool)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from test_dataset_sources import cifar_spec, write_fake_cifar

from conftest import REPO
from robustsweep.data.prepared_dataset import load_split, prepare_dataset
from robustsweep.input_errors import ConfigError
from robustsweep.study_config import validate_config


def test_held_out_tests_on_training_images_and_pools_the_official_test_set(tmp_path, monkeypatch):
    write_fake_cifar(tmp_path, "cifar10", monkeypatch)  # 60 training rows, then 12 test rows
    out = tmp_path / "dataset.h5"
    spec = cifar_spec(tmp_path, splits={"train": 0.9, "test": 0.1, "pool": 0.2})
    prepare_dataset(out, spec | {"test_split": "held_out"}, seed=0)
    test, train, pool = (load_split(out, name) for name in ("test", "train", "pool"))
    assert pool.indices.tolist() == list(range(60, 72))  # the official test batch, whole
    assert sorted(train.indices.tolist() + test.indices.tolist()) == list(range(60))
    # 45k/5k within each class: the fake batch has 10, 10, 5, 5, ... images per class
    per_class = np.bincount(np.concatenate([train.labels, test.labels]))
    np.testing.assert_array_equal(np.bincount(train.labels), np.round(0.9 * per_class))


def test_held_out_splits_must_sum_to_one_over_train_and_test():
    config = yaml.safe_load((REPO / "studies" / "tan2022.yaml").read_text())
    config["dataset"] |= {"test_split": "held_out", "splits": {"train": 0.9, "test": 0.2}}
    with pytest.raises(ConfigError, match="held_out: train and test divide"):
        validate_config(config)

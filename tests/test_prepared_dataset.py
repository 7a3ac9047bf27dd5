import h5py
import numpy as np
from sklearn.datasets import load_digits

from robustsweep.data.prepared_dataset import load_class_names, load_split, stratified_splits


def test_splits_are_disjoint_complete_and_stratified(digits_h5):
    with h5py.File(digits_h5) as h5:
        labels = h5["labels"][()]
        splits = {name: h5[f"splits/{name}"][()] for name in ("train", "test", "pool")}
        assert h5["images"].dtype == np.uint8 and h5["images"].shape[1:] == (16, 16, 3)
    union = np.concatenate(list(splits.values()))
    assert len(union) == len(set(union.tolist())) == len(labels) == 1797
    for indices in splits.values():
        counts = np.bincount(labels[indices], minlength=10)
        assert counts.min() > 0
    share = len(splits["train"]) / len(labels)
    # a stratified split rounds each class's share to whole images (~180 images per class: 0.006 at
    # most)
    assert abs(share - 0.6) < 0.01


def test_splits_depend_only_on_seed():
    labels = np.repeat(np.arange(3), 10)
    fractions = {"train": 0.5, "test": 0.3, "pool": 0.2}
    a, b = stratified_splits(labels, fractions, 1), stratified_splits(labels, fractions, 1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    c = stratified_splits(labels, fractions, 2)
    assert not np.array_equal(a["train"], c["train"])


def test_pixels_are_rounded_digits(tmp_path):
    from robustsweep.data.prepared_dataset import prepare_dataset

    path = tmp_path / "d8.h5"
    spec = {"source": "digits", "image_size": 8, "splits": {"train": 0.6, "test": 0.2, "pool": 0.2}}
    prepare_dataset(path, spec, 0)
    split = load_split(path, "train")
    raw = load_digits().images[split.indices]
    # at the native size, interpolation is the identity: 0..16 -> 0..255, rounded
    np.testing.assert_array_equal(split.images[..., 0], np.round(raw / 16 * 255).astype(np.uint8))
    assert np.array_equal(split.images[..., 0], split.images[..., 2])
    assert load_class_names(path) == [str(d) for d in range(10)]

"""White-box rows at M < N: the attack on the M-restricted classifier itself against the N-way
head's images scored by that classifier (transfer), and how metrics.csv labels each.

The reference is a property of linear models, not our own output: for a linear classifier
restricted to M = 2 classes the margin between the two logits is linear in the image, so FGSM
on that classifier (every pixel moved by eps against the margin's gradient, then clipped) is
the worst perturbation in the L-inf ball: no image from another attack of the same budget,
the N-way head's included, can fool the restricted classifier where FGSM on it did not.
"""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import torch
from torch import nn

from robustsweep.data.class_subsets import choose_trial_classes
from robustsweep.evaluation.logits_file import write_test_set
from robustsweep.evaluation.run_evaluation import evaluate_run
from robustsweep.evaluation.white_box import restricted_classifier, white_box_images
from robustsweep.set_names import restricted_set

CLASSES = [1, 3, 4, 6]  # the run's N = 4 class ids
SPEC = {"method": "fgsm", "eps": 4 / 255}  # a multiple of 1/255: uint8 rounding is exact
SEED = 0


def linear_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, len(CLASSES)))
    return model.eval().requires_grad_(False)


def images_and_labels(n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
    # labels: the model's own clean answer, so the clean accuracy is 100 % and every miss
    # below is the attack's doing
    with torch.no_grad():
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
        labels = np.asarray(CLASSES)[linear_model()(x).argmax(1).numpy()]
    return images, labels


def argmax_classes(logits: np.ndarray, columns: list[int]) -> np.ndarray:
    return np.asarray(columns)[logits.argmax(1)]


def test_restricted_white_box_is_never_more_accurate_than_the_n_way_transfer():
    model, device = linear_model(), torch.device("cpu")
    images, labels = images_and_labels()
    adversarial, _, _ = white_box_images(model, CLASSES, images, labels, SPEC, 64, SEED, device)
    strictly_lower = 0
    for trial in range(3):
        chosen = choose_trial_classes(CLASSES, 2, SEED, trial)
        mine = np.isin(labels, chosen)
        restricted = restricted_classifier(model, CLASSES, chosen)
        _, logits_m, _ = white_box_images(
            restricted, chosen, images[mine], labels[mine], SPEC, 64, SEED, device
        )
        own = argmax_classes(logits_m, chosen) == labels[mine]
        with torch.no_grad():
            x = torch.from_numpy(adversarial[mine]).permute(0, 3, 1, 2).float() / 255
            transfer = argmax_classes(restricted(x).numpy(), chosen) == labels[mine]
        assert not (own & ~transfer).any()  # per image: restricted right => transfer right
        assert own.mean() <= transfer.mean()
        strictly_lower += int(own.mean() < transfer.mean())
    assert strictly_lower  # the N-way attack is not the M-way one: the rows differ


def test_evaluation_labels_restricted_rows_and_n_way_transfer_rows(tmp_path):
    model, device = linear_model(), torch.device("cpu")
    images, labels = images_and_labels(120)
    index = np.arange(len(labels))
    logits_path, white_path = tmp_path / "logits.h5", tmp_path / "fgsm.h5"
    with h5py.File(logits_path, "w") as h5:
        write_test_set(h5, "clean", model, None, images, labels, device, index)
        write_test_set(h5, "natural", model, None, images, labels, device, None)
        h5.attrs.update(class_ids=CLASSES, architecture="linear", parameters=772)
    adversarial, logits, _ = white_box_images(model, CLASSES, images, labels, SPEC, 64, 0, device)
    with h5py.File(white_path, "w") as h5:
        group = write_test_set(
            h5, "white_box-fgsm", model, None, adversarial, labels, device, index
        )
        group.attrs["spec"] = '{"eps": 0.0156862745, "method": "fgsm"}'
        for trial in range(2):
            chosen = choose_trial_classes(CLASSES, 2, SEED, trial)
            mine = np.isin(labels, chosen)
            restricted = restricted_classifier(model, CLASSES, chosen)
            _, logits_m, _ = white_box_images(
                restricted, chosen, images[mine], labels[mine], SPEC, 64, SEED, device
            )
            write_test_set(
                h5,
                restricted_set("fgsm", 2, trial),
                restricted,
                None,
                images[mine],
                labels[mine],
                device,
                index[mine],
                logits=logits_m,
            )
    output = tmp_path / "metrics.csv"
    run = {"model": "linear", "train_classes": 4, "draw": 0, "defence": "standard"}
    evaluate_run(output, logits_path, run, [2, 4], 2, SEED, white_box={"fgsm": white_path})
    rows = pd.read_csv(output, keep_default_na=False, na_values=[""])
    white = rows[rows.test_set == "white_box-fgsm"].set_index(
        ["white_box_head", "predicted_classes"]
    )
    assert sorted(set(white.index)) == [
        ("attacked", 4),
        ("n_way_transfer", 2),
        ("restricted", 2),
    ]
    restricted_rows = white.loc[("restricted", 2)].set_index("trial")
    transfer_rows = white.loc[("n_way_transfer", 2)].set_index("trial")
    assert list(restricted_rows.index) == [0, 1] == list(transfer_rows.index)
    assert (restricted_rows.accuracy <= transfer_rows.accuracy).all()
    assert (restricted_rows.n_images == transfer_rows.n_images).all()  # the same images
    assert rows[rows.test_set == "clean"].white_box_head.isna().all()

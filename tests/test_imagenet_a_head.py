"""`evaluation.imagenet_a_head`: a pretrained ImageNet model sliced to the study's classes is
scored by the argmax over those classes' logits (sliced, Lee et al.'s and Hendrycks et al.'s
protocol) or by the 1000-way argmax (full), right only when it is the image's own class. On a
stand-in checkpoint (random weights in the torch cache, as tests/test_pretrained_weights.py
makes them) the reference is computed here from the unsliced network itself."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from imagenet_trees import export_stand_in_run, write_stand_in_weights

from robustsweep.data.imagenet_classes import imagenet_a_synsets
from robustsweep.data.prepared_dataset import load_split
from robustsweep.evaluation.logits_file import write_test_set
from robustsweep.evaluation.run_evaluation import evaluate_run
from robustsweep.models.trained_models import load_model, read_card

WNIDS = list(imagenet_a_synsets()[:4])


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    """A mobilenet_v3_small run on 3 of 4 ImageNet-A classes, from stand-in weights (made
    once for both heads: the export is the slow part)."""
    tmp_path = tmp_path_factory.mktemp("stand_in")
    home = tmp_path / "torch"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.hub, "get_dir", lambda: str(home / "hub"))
        write_stand_in_weights(home, "mobilenet_v3_small")
        return export_stand_in_run(tmp_path, WNIDS)


@pytest.mark.parametrize("head", ["sliced", "full"])
def test_full_head_scores_an_image_wrong_when_its_argmax_is_outside_the_classes(
    stand_in, tmp_path, head
):
    weights, dataset = stand_in
    model, _ = load_model(weights)
    card = read_card(weights)
    split = load_split(dataset, "train")
    own = np.isin(split.labels, card.class_ids)
    images = split.images[own]
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        full = model.model(x).numpy()  # the unsliced network: all 1000 logits
    sliced = full[:, card.logit_positions]
    # labels: each image's sliced argmax, so the sliced accuracy is 100 % by construction and
    # only the 1000-way protocol can score an image wrong
    labels = np.asarray(card.class_ids)[sliced.argmax(1)]
    outside = ~np.isin(full.argmax(1), card.logit_positions)
    assert outside.any()  # random weights over 1000 classes: most argmaxes fall outside
    cache = tmp_path / f"logits_{head}.h5"
    with h5py.File(cache, "w") as h5:
        for name in ("clean", "natural"):
            write_test_set(h5, name, model, None, images, labels, "cpu", imagenet_head=head)
        h5.attrs.update(
            class_ids=card.class_ids,
            architecture=card.architecture,
            parameters=card.parameters,
            logit_positions=json.dumps(card.logit_positions),
            imagenet_a_head=head,
        )
        assert ("logits_1000" in h5["natural"]) == (head == "full")
        np.testing.assert_array_equal(h5["natural/argmax_1000"][()], full.argmax(1))
    output = tmp_path / f"metrics_{head}.csv"
    run = {"model": "mobilenet", "train_classes": 3, "draw": 0, "defence": "standard"}
    evaluate_run(output, cache, run, [3], 1, 0)
    row = pd.read_csv(output).query("test_set == 'natural' and pattern == 'all'").iloc[0]
    right_1000 = full.argmax(1) == np.asarray(card.logit_positions)[sliced.argmax(1)]
    assert not (right_1000 & outside).any()  # an answer outside the classes is never right
    assert row.accuracy_sliced == 1.0
    # exact counts over the same images: accuracies are k / n in both, printed to 6 digits
    assert row.accuracy_full_head == pytest.approx(right_1000.mean(), abs=1e-6)
    assert row.accuracy_full_head <= 1 - outside.mean() + 1e-6
    expected = right_1000.mean() if head == "full" else 1.0
    assert row.accuracy == pytest.approx(expected, abs=1e-6)

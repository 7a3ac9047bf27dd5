"""Robust validation every epoch, best and last checkpoints, and the overfitting flag
(training/robust_validation.py, issue #30 parts 3-5)."""

import math

import foolbox
import numpy as np
import pandas as pd
import pytest
import torch

from robustsweep.evaluation.checkpoint_summary import checkpoint_summary
from robustsweep.stage_settings import ValidationSettings
from robustsweep.training.robust_validation import (
    Budget,
    ValidationImages,
    collapse_note,
    held_out_positions,
    robust_count,
    validate,
)
from robustsweep.training.training_loop import recipe, trained_positions

CHECKS = recipe().validation  # the schema's defaults


def settings(**values) -> ValidationSettings:
    return recipe(validation=values).validation


def test_held_out_images_are_seeded_sized_and_never_trained_on():
    held = held_out_positions(1000, 0.1, seed=7)
    assert len(held) == 100 and len(set(held)) == 100
    np.testing.assert_array_equal(held, held_out_positions(1000, 0.1, seed=7))
    assert not np.array_equal(held, held_out_positions(1000, 0.1, seed=8))
    labels = np.arange(1000) % 10
    trained = trained_positions(labels, [0, 1, 2], held)
    assert not set(trained) & set(held)
    # every image of the classes is either trained on or held out
    assert set(trained) | (set(held) & set(np.flatnonzero(labels < 3))) == set(
        np.flatnonzero(labels < 3)
    )


def test_robust_images_keep_the_check_within_its_share_of_the_epoch():
    # standard training: 1 pass per image; 10,000 images x 0.05 = 500 passes; PGD-10 and
    # FGSM take 10 + 2 passes an image: 41 images
    class Standard:
        pass

    class PGD:
        eps, steps = 8 / 255, 10

    assert robust_count(CHECKS, 5000, 10_000, Standard()) == 41
    # PGD-10 training: 11 passes per image, 5,500 passes: 458 images
    assert robust_count(CHECKS, 5000, 10_000, PGD()) == 458
    # never more than robust_images or than the validation images
    assert robust_count(settings(robust_images=100), 5000, 10_000, PGD()) == 100
    assert robust_count(CHECKS, 30, 10_000, PGD()) == 30


def rows(pgd, fgsm):
    return [
        {"epoch": e, "val_pgd_accuracy": p, "val_fgsm_accuracy": f}
        for e, (p, f) in enumerate(zip(pgd, fgsm, strict=True))
    ]


def test_collapse_is_pgd_falling_while_fgsm_holds():
    # catastrophic overfitting (Wong et al. Fig. 1): PGD 0.45 -> 0.02, FGSM 0.50 -> 0.85
    log = rows([0.30, 0.45, 0.02], [0.40, 0.50, 0.85])
    note = collapse_note(log, CHECKS)
    assert note.startswith("epoch 2:") and "0.020 < 0.5 x its best 0.450" in note
    # the flag looks at the last epoch only
    assert collapse_note(log[:2], CHECKS) == ""
    # PGD and FGSM fall together: the model lost accuracy, not robustness to PGD alone
    assert collapse_note(rows([0.45, 0.02], [0.50, 0.10]), CHECKS) == ""
    # a fall smaller than collapse_min_drop (0.2) from a low best: nothing to lose
    assert collapse_note(rows([0.15, 0.01], [0.3, 0.3]), CHECKS) == ""
    # robust overfitting (Rice et al.: 0.52 -> 0.44) only with a fraction near 1
    slide = rows([0.52, 0.44], [0.55, 0.56])
    assert collapse_note(slide, CHECKS) == ""
    assert collapse_note(slide, settings(collapse_fraction=0.9, collapse_min_drop=0.05))
    # NaN epochs (no robust images) are never flagged
    assert collapse_note(rows([0.5, math.nan], [0.5, math.nan]), CHECKS) == ""


def test_validate_scores_clean_pgd_and_fgsm_as_independent_code(attack_batch):
    model, images, labels = attack_batch
    data = ValidationImages((images * 255).round().to(torch.uint8), labels, robust=40)
    x = data.images.float() / 255
    eps = 0.1
    scores = validate(model, data, Budget(eps, eps / 4, 5), seed=0, epoch=3, batch_size=32)
    with torch.no_grad():
        clean = (model(x).argmax(1) == labels).double().mean().item()
    assert scores["val_accuracy"] == pytest.approx(clean, abs=1e-12)  # a count over 96
    fmodel = foolbox.PyTorchModel(model.eval(), bounds=(0, 1))
    _, adversarial, _ = foolbox.attacks.FGSM()(fmodel, x[:40], labels[:40], epsilons=eps)
    with torch.no_grad():
        fgsm = (model(adversarial).argmax(1) == labels[:40]).double().mean().item()
    # the two FGSMs agree up to pixels whose gradient sign flips in float32 rounding: a few
    # images at most of 40 (0.05)
    assert scores["val_fgsm_accuracy"] == pytest.approx(fgsm, abs=0.05)
    # PGD with a random start is at least as strong as FGSM here, and a repeat (same epoch)
    # draws the same start
    assert scores["val_pgd_accuracy"] <= scores["val_fgsm_accuracy"] + 0.05
    again = validate(model, data, Budget(eps, eps / 4, 5), seed=0, epoch=3, batch_size=32)
    assert again == scores


def log_frame(**columns):
    return pd.DataFrame(columns)


def test_metrics_rows_name_the_checkpoint_and_print_best_beside_last():
    log = log_frame(
        epoch=[0, 1, 2, 3],
        loss=[1.0, 0.8, 0.6, 0.5],
        accuracy=[0.5, 0.6, 0.7, 0.8],
        val_accuracy=[0.5, 0.7, 0.8, 0.85],
        val_pgd_accuracy=[0.2, 0.4, 0.35, 0.01],
        val_fgsm_accuracy=[0.3, 0.5, 0.5, 0.9],
        overfitting=[None, None, None, "epoch 3: ..."],
        selected=[False, True, False, False],
        last_weights=[False, False, True, False],  # early stop: epoch 3 flagged, 2 kept
        checkpoint=["best_robust"] * 4,
    )
    summary = checkpoint_summary(log)
    assert summary["checkpoint"] == "best_robust" and summary["checkpoint_epoch"] == 1
    assert summary["best_epoch"] == 1 and summary["val_pgd_best"] == 0.4
    assert summary["val_pgd_last"] == 0.35 and summary["val_accuracy_last"] == 0.8
    assert summary["overfitting"] == "epoch 3: ..."
    assert summary["validation_curve"].startswith("[[0, 0.5, 0.2, 0.3], [1, 0.7, 0.4, 0.5]")
    # a pretrained run's log has no validation: the columns are empty, the checkpoint last
    empty = checkpoint_summary(log_frame(epoch=[], loss=[], accuracy=[]))
    assert empty["checkpoint"] == "last" and math.isnan(empty["val_pgd_best"])

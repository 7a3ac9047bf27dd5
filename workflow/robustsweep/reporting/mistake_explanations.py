"""Grad-CAM figure panels of a model's most confident mistakes (zhu2025, Figs. 4-9).

For one run: the K natural adversarial images it gets wrong with the highest confidence
(found from its cached logits, no forward pass), each explained for the class it predicted,
which is what made it wrong: the image with true and predicted class, Grad-CAM over the image,
Guided Backprop and Guided Grad-CAM (class_activation_maps.py). The last row is zhu2025's
Fig. 9, the white-to-black gradient edge image, explained for whatever the model predicts.
Grad-CAM differentiates the class logit or, as zhu2025's Eq. 1 does, its softmax probability
(`explanations.grad_cam_score`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from scipy.special import softmax

from robustsweep.atomic_output import atomic_path
from robustsweep.evaluation.logits_file import read_logits
from robustsweep.stage_settings import ExplainSettings, FigureStyle

COLUMNS = ("image", "Grad-CAM", "Guided Backprop", "Guided Grad-CAM")


@dataclass(frozen=True)
class Mistake:
    """One misclassified image: its row in the natural set, true and predicted class ids
    (dataset labels) and the model's confidence in the prediction."""

    row: int
    label: int
    predicted: int
    confidence: float


def confident_mistakes(logits: np.ndarray, labels: np.ndarray, class_ids: list[int], k: int):
    """The k mistakes with the highest softmax confidence, most confident first; ties keep
    the natural set's order, so the choice is the same on every machine."""
    probabilities = softmax(logits.astype(np.float64), axis=1)
    predicted = np.asarray(class_ids)[probabilities.argmax(1)]
    confidence = probabilities.max(1)
    wrong = np.flatnonzero(predicted != labels)
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][:k]
    return [Mistake(int(i), int(labels[i]), int(predicted[i]), float(confidence[i])) for i in order]


def display_name(class_name: str) -> str:
    """A WordNet id's first lemma ('n01498041' -> 'stingray'); other names as they are."""
    from robustsweep.data.imagenet_classes import lemmas

    try:
        return lemmas().get(class_name, class_name)
    except ModuleNotFoundError:
        return class_name


def _panel_row(
    axes, model, layer, image: np.ndarray, target: int, title: str, score: str = "logit"
) -> None:
    """Draw one image and its three maps for class `target` into a row of axes."""
    from pytorch_grad_cam.utils.image import show_cam_on_image

    from robustsweep.reporting.class_activation_maps import explain

    x = torch.from_numpy(image).permute(2, 0, 1).float().div(255.0)
    maps = explain(model, layer, x, target, score)
    rgb = image.astype(np.float32) / 255.0
    pictures = (rgb, show_cam_on_image(rgb, maps.cam, use_rgb=True), maps.guided, maps.guided_cam)
    for ax, picture in zip(axes, pictures, strict=True):
        ax.imshow(picture)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].set_ylabel(title, fontsize=7, rotation=0, ha="right", va="center")


def explain_stage(
    *,
    settings: ExplainSettings,
    weights: Path,
    logits: Path,
    natural: Path,
    dataset: Path,
    output: Path,
) -> None:
    draw_explanations(
        output,
        weights,
        logits,
        natural,
        dataset,
        settings.top_k,
        settings.style,
        settings.grad_cam_score,
    )


def draw_explanations(
    output: Path,
    weights: Path,
    logits_path: Path,
    natural: Path,
    dataset: Path,
    top_k: int,
    style: FigureStyle,
    grad_cam_score: str = "logit",
) -> None:
    """Write the figure: a row per confident mistake, then the gradient-edge row."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from robustsweep.data.natural_adversarial import read_natural_images
    from robustsweep.data.prepared_dataset import load_class_names
    from robustsweep.models.networks import feature_stages
    from robustsweep.models.trained_models import load_model
    from robustsweep.reporting.class_activation_maps import gradient_edge_image

    sets, attrs = read_logits(logits_path)
    class_ids = attrs["class_ids"]
    mistakes = confident_mistakes(sets["natural"].logits, sets["natural"].labels, class_ids, top_k)
    names = [display_name(name) for name in load_class_names(dataset)]
    images = read_natural_images(natural, [mistake.row for mistake in mistakes])
    with h5py.File(dataset, "r") as prepared:
        size = int(prepared.attrs["image_size"])
    model, _card = load_model(weights, "cpu")
    layer = feature_stages(model)[-1]
    position = {c: i for i, c in enumerate(class_ids)}
    figure, axes = plt.subplots(
        len(mistakes) + 1, len(COLUMNS), figsize=(8, 2.1 * (len(mistakes) + 1)), squeeze=False
    )
    for row, mistake, image in zip(axes, mistakes, images, strict=False):
        title = (
            f"true: {names[mistake.label]}\npredicted: {names[mistake.predicted]}\n"
            f"({mistake.confidence:.0%})"
        )
        _panel_row(row, model, layer, image, position[mistake.predicted], title, grad_cam_score)
    edge = gradient_edge_image(size)
    with torch.no_grad():
        x = torch.from_numpy(edge).permute(2, 0, 1).float().div(255.0)[None]
        guess = int(model(x).argmax(1))
    edge_title = f"gradient edge\npredicted: {names[class_ids[guess]]}"
    _panel_row(axes[-1], model, layer, edge, guess, edge_title, grad_cam_score)
    for ax, column in zip(axes[0], COLUMNS, strict=True):
        ax.set_title(column, fontsize=8)
    figure.tight_layout()
    with atomic_path(output) as tmp:
        figure.savefig(tmp, dpi=style.dpi, format=style.format, bbox_inches="tight")
    plt.close(figure)

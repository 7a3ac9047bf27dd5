"""Tiny ImageNet-style trees and stand-in pretrained weights, written in the real formats.

Class folders are WordNet ids holding JPEGs; a class's images share a colour (so a small
network can learn them); torchvision's pretrained weights are a state dict saved under the
file name of the weights' URL in $TORCH_HOME/hub/checkpoints, where torchvision looks."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
from PIL import Image

COLOURS = [(220, 40, 40), (40, 200, 60), (50, 60, 220), (230, 210, 40), (160, 50, 200)]


def write_tree(root: Path, wnids: list[str], per_class: int, seed: int = 0) -> None:
    """root/<wnid>/<wnid>_<k>.JPEG: noisy images of a class colour, varied sizes."""
    rng = np.random.default_rng(seed)
    for label, wnid in enumerate(wnids):
        (root / wnid).mkdir(parents=True, exist_ok=True)
        for k in range(per_class):
            shape = (36 + 4 * (k % 3), 44, 3)
            noise = rng.integers(-40, 41, size=shape)
            pixels = np.clip(np.asarray(COLOURS[label % len(COLOURS)]) + noise, 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(root / wnid / f"{wnid}_{k}.JPEG")


def write_skeleton(root: Path, wnids) -> None:
    """One empty .JPEG per class folder: enough for validation and a dry run."""
    for wnid in wnids:
        (root / wnid).mkdir(parents=True, exist_ok=True)
        (root / wnid / "0.JPEG").touch()


def stand_in_weights_file(torch_home: Path, name: str, weights: str = "DEFAULT") -> Path:
    """Where torchvision's `weights` (a member name) of `name` live under torch_home."""
    from torchvision.models import get_model_weights

    url = get_model_weights(name)[weights].url
    return torch_home / "hub" / "checkpoints" / Path(urlparse(url).path).name


def write_stand_in_weights(
    torch_home: Path, name: str, seed: int = 0, weights: str = "DEFAULT"
) -> dict:
    """A randomly initialised 1000-class network's state dict, saved as the file of the
    pretrained `weights`."""
    from torchvision import models

    torch.manual_seed(seed)
    state = models.get_model(name, weights=None).state_dict()
    path = stand_in_weights_file(torch_home, name, weights)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


def export_stand_in_run(folder: Path, wnids: list[str]) -> tuple[Path, Path]:
    """A mobilenet_v3_small run on classes 2, 0 and 3 of a 5-images-per-class ImageNet tree of
    `wnids`, exported from stand-in weights already in the torch cache
    (`write_stand_in_weights`): its weights file and its dataset."""
    import json

    from robustsweep.data.prepared_dataset import prepare_dataset
    from robustsweep.models.pretrained_weights import export_pretrained

    write_tree(folder / "train", wnids, per_class=5)  # 3 train, 1 test, 1 pool per class
    dataset = folder / "dataset.h5"
    spec = {
        "source": "imagefolder",
        "root": str(folder / "train"),
        "image_size": 32,
        "storage": "files",
        "splits": {"train": 0.6, "test": 0.2, "pool": 0.2},
    }
    prepare_dataset(dataset, spec, seed=0)
    subset = folder / "subset.json"
    subset.write_text(json.dumps({"class_ids": [2, 0, 3]}))
    weights = folder / "weights.safetensors"
    model_spec = {"architecture": "mobilenet_v3_small", "pretrained": True}
    export_pretrained(weights, folder / "epochs.csv", dataset, subset, model_spec)
    return weights, dataset

"""Trained weights on disk: safetensors with the recipe needed to rebuild the model.

safetensors cannot run code on load (unlike pickle), so weights from anywhere are safe to read.
The metadata header carries the architecture, its options and the class ids each output
logit stands for, so a weights file is self-describing. A pretrained ImageNet model also
records which of its 1000 logits it keeps (`logit_positions`) and whose weights it carries.
A run trained with tan2022's detector head also holds the detector and the frozen clean
copy it reads (tensor names prefixed `detector.` and `clean_copy.`), described by the
card's `detector` entry. A run whose outputs are not its classes (ho2024's binary
real-vs-adversarial detector) names them in `outputs`. The header also carries the seal
(file_identity.py): the run the file was trained for and a sha256 of the whole file, checked
before any job uses it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from safetensors.torch import save_file
from torch import nn

from robustsweep.atomic_output import atomic_path
from robustsweep.file_identity import SEAL_KEYS, identity_for, sealed_tensor_metadata
from robustsweep.input_errors import WeightsError
from robustsweep.models.networks import build_model, parameter_count


@dataclass(frozen=True)
class ModelCard:
    """What a weights file is: enough to rebuild it and to interpret its logits."""

    architecture: str
    options: dict
    class_ids: list[int]
    parameters: int
    detector: dict | None = None
    logit_positions: list[int] | None = None
    pretrained_weights: str | None = None  # the library weights it holds as published
    outputs: list[str] | None = None  # output names when not the classes (a detector's)

    @property
    def model_spec(self) -> dict:
        """The config's model spec this was built from: {architecture: name, options...}."""
        return {"architecture": self.architecture, **self.options}

    def to_metadata(self) -> dict[str, str]:
        return {"robustsweep": json.dumps(self.__dict__, sort_keys=True)}

    @classmethod
    def from_metadata(cls, metadata: dict[str, str] | None, path: Path) -> ModelCard:
        if not metadata or "robustsweep" not in metadata:
            raise WeightsError(
                f"{path}: not a robustsweep weights file (no model card in its header); "
                "delete it and rerun the training rule"
            )
        fields = json.loads(metadata["robustsweep"])
        # weights written before the field was renamed (it was `weights_source`) still load
        if "weights_source" in fields:
            fields["pretrained_weights"] = fields.pop("weights_source")
        return cls(**{k: v for k, v in fields.items() if k not in SEAL_KEYS})


EXTRA_PREFIXES = ("detector.", "clean_copy.")


def save_model(
    path: Path,
    model: nn.Module,
    architecture: str,
    options: dict,
    class_ids: list[int],
    extras: tuple[dict, dict | None] = ({}, None),
    logit_positions: list[int] | None = None,
    pretrained_weights: str | None = None,
    facts: dict | None = None,
    outputs: list[str] | None = None,
) -> ModelCard:
    """Write weights (plus a defence's extra tensors) and card atomically, sealed with the
    identity planned for `path` plus `facts` (image size, dataset digest); returns the card."""
    tensors, detector = extras
    card = ModelCard(
        architecture,
        dict(options),
        [int(c) for c in class_ids],
        parameter_count(model),
        detector,
        logit_positions,
        pretrained_weights,
        outputs,
    )
    state = {k: v.detach().cpu().contiguous() for k, v in {**model.state_dict(), **tensors}.items()}
    identity = identity_for("weights", path, **(facts or {}))
    metadata = sealed_tensor_metadata(state, card.to_metadata(), identity)
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return card


def _unreadable(path: Path, error: Exception) -> WeightsError:
    return WeightsError(
        f"{path}: weights file is truncated or corrupt ({error}); delete it "
        "and rerun the workflow to retrain it"
    )


def read_card(path: Path) -> ModelCard:
    """Read only the header, without loading tensors."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata()
    except SafetensorError as error:
        raise _unreadable(path, error) from error
    return ModelCard.from_metadata(metadata, path)


def load_model(path: Path, device: str = "cpu") -> tuple[nn.Module, ModelCard]:
    """Rebuild the model from its card and load the weights, in eval mode on `device`."""
    card = read_card(path)
    outputs = len(card.outputs) if card.outputs else len(card.class_ids)
    model = build_model(card.model_spec, outputs, card.logit_positions)
    model.load_state_dict(_tensors(path, ""))
    return model.to(device).eval(), card


def _tensors(path: Path, prefix: str) -> dict:
    """The tensors under `prefix` (prefix stripped); "" means the model's own, so a detector
    run's file is read once in parts, each loader taking only what it rebuilds."""
    from safetensors import SafetensorError, safe_open

    def wanted(key: str) -> bool:
        return key.startswith(prefix) if prefix else not key.startswith(EXTRA_PREFIXES)

    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            return {k[len(prefix) :]: handle.get_tensor(k) for k in handle.keys() if wanted(k)}  # noqa: SIM118
    except SafetensorError as error:
        raise _unreadable(path, error) from error


def load_detector(path: Path, device: str = "cpu", card: ModelCard | None = None):
    """(clean copy, its feature taps, detector) of a detector-head run, or None for others."""
    from robustsweep.training.adversarial_detector import AdversarialDetector, FeatureTaps

    card = card or read_card(path)
    if card.detector is None:
        return None
    clean_copy = build_model(card.model_spec, len(card.class_ids))
    clean_copy.load_state_dict(_tensors(path, "clean_copy."))
    spec = card.detector
    shapes = [tuple(s) for s in spec["shapes"]]
    detector = AdversarialDetector(shapes, spec["dim"], spec["layers"], spec["grid"])
    detector.load_state_dict(_tensors(path, "detector."))
    clean_copy, detector = clean_copy.to(device).eval(), detector.to(device).eval()
    return clean_copy, FeatureTaps(clean_copy, spec["levels"]), detector

"""Pretrained ImageNet-1k models as runs: weights through the libraries' own APIs and caches.

A model with `pretrained` in its config is not trained: its "training" job fetches the
library's weights (torchvision: the torch hub cache, `$TORCH_HOME/hub/checkpoints`; timm: the
Hugging Face cache, `$HF_HOME`), keeps the logits of the run's classes (their positions among
ImageNet's 1000, found from the WordNet ids of the class folders) and writes the usual
self-describing safetensors file, so evaluation, attacks and Grad-CAM treat it like any run.
With no network and no cached copy the job stops with one line naming the weights and the
folder to put them in.

A model with `init_weights` is trained, but starts from the library's weights (pre-train then
fine-tune, ho2024): `load_backbone` copies every tensor except the classifier head, which keeps
its fresh initialisation for the study's classes.

torchvision's own loader would call torch.load with pickle enabled on older releases; the
checkpoint is read here with `weights_only=True` instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlparse

import pandas as pd
import torch

from robustsweep.atomic_output import atomic_path
from robustsweep.data.imagenet_classes import imagenet_synsets
from robustsweep.data.prepared_dataset import dataset_image_size, load_class_names
from robustsweep.file_identity import recorded_digest
from robustsweep.input_errors import InputError, WeightsError
from robustsweep.models.architectures import Architecture, architecture_of
from robustsweep.models.networks import build_model
from robustsweep.models.trained_models import save_model

EPOCH_COLUMNS = ["epoch", "loss", "accuracy", "lr", "seconds"]


def logit_positions(class_names: list[str]) -> list[int]:
    """Position of each class (a WordNet id) among a pretrained model's 1000 logits."""
    order = {wnid: k for k, wnid in enumerate(imagenet_synsets())}
    unknown = [name for name in class_names if name not in order]
    if unknown:
        raise InputError(
            f"class(es) {', '.join(unknown[:5])} are not ImageNet-1k WordNet ids, so a "
            "pretrained ImageNet model has no logit for them; name the class folders by "
            "WordNet id (n01440764, ...) or train the model instead (remove 'pretrained')"
        )
    return [order[name] for name in class_names]


def torchvision_weights(name: str, which: bool | str):
    """The torchvision weights enum member: DEFAULT for `true`, else the named one."""
    from torchvision.models import get_model_weights

    weights = get_model_weights(name)
    key = "DEFAULT" if which is True else str(which)
    try:
        return weights[key]
    except KeyError:
        allowed = ", ".join(["DEFAULT", *weights.__members__])
        raise InputError(
            f"torchvision has no weights '{key}' for {name}; allowed values of 'pretrained': "
            f"true, {allowed}"
        ) from None


def torchvision_state_dict(name: str, which: bool | str) -> tuple[dict, str]:
    """The state dict of torchvision's ImageNet weights, from the torch hub cache (fetched
    into it when missing), read without pickle; and the weights' name for the record."""
    weights = torchvision_weights(name, which)
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    file = folder / Path(urlparse(weights.url).path).name
    if not file.exists():
        folder.mkdir(parents=True, exist_ok=True)
        try:
            # writes to a temporary file in `folder` and renames it: never half a checkpoint
            torch.hub.download_url_to_file(weights.url, str(file), progress=False)
        except (URLError, OSError) as error:
            raise WeightsError(
                f"pretrained weights {weights} are not in the torch cache and cannot be "
                f"downloaded ({type(error).__name__}); put {file.name} from {weights.url} "
                f"into {folder} (or set TORCH_HOME to a folder whose hub/checkpoints has it)"
            ) from error
    return torch.load(file, map_location="cpu", weights_only=True), str(weights)


def timm_state_dict(name: str) -> tuple[dict, str]:
    """The state dict of timm's default pretrained weights for `name` (Hugging Face cache)."""
    import timm

    try:
        net = timm.create_model(name, pretrained=True)
    except Exception as error:  # timm/huggingface_hub raise many kinds when offline
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise WeightsError(
            f"pretrained timm weights for '{name}' are not in the Hugging Face cache and "
            f"cannot be downloaded ({reason[:120]}); on a machine with internet run "
            f"`python -c \"import timm; timm.create_model('{name}', pretrained=True)\"` and "
            "copy its Hugging Face cache folder (HF_HOME, default ~/.cache/huggingface) here"
        ) from error
    if net.num_classes != 1000:
        raise InputError(
            f"timm model '{name}' has {net.num_classes} outputs, not ImageNet-1k's 1000; "
            "choose an ImageNet-1k checkpoint (e.g. a name ending in .in1k)"
        )
    return net.state_dict(), f"timm:{net.pretrained_cfg.get('hf_hub_id') or name}"


def pretrained_state_dict(architecture: Architecture) -> tuple[dict, str]:
    """The network's ImageNet-1k state dict and a name for the weights used."""
    if architecture.weights_library == "timm":
        return timm_state_dict(architecture.name.removeprefix("timm:"))
    return torchvision_state_dict(architecture.name, architecture.pretrained_weights)


def head_prefix(net: torch.nn.Module) -> str:
    """The state-dict prefix of a torchvision classifier's last layer ("fc." for ResNets)."""
    last = [name for name, module in net.named_modules() if isinstance(module, torch.nn.Linear)]
    if not last:
        raise InputError(f"{type(net).__name__} has no linear classifier head to re-initialise")
    return last[-1] + "."


def load_backbone(model: torch.nn.Module, architecture: Architecture) -> str:
    """Fine-tuning's start: the library's ImageNet weights in every layer of `model` (a
    build_model result) but the classifier head, which keeps its fresh initialisation for the
    run's classes. Any other mismatch (a changed stem or stage) stops with one line, since
    those layers would silently start from scratch. Returns the weights' name."""
    net = model.net
    state, weights_name = torchvision_state_dict(architecture.name, architecture.initial_weights)
    head = head_prefix(net)
    backbone = {k: v for k, v in state.items() if not k.startswith(head)}
    own = net.state_dict()
    reshaped = sorted(k for k, v in backbone.items() if k in own and own[k].shape != v.shape)
    missing, unexpected = (
        sorted(set(own) - set(backbone) - {k for k in own if k.startswith(head)}),
        sorted(set(backbone) - set(own)),
    )
    if reshaped or missing or unexpected:
        first = (reshaped or missing or unexpected)[0]
        raise InputError(
            f"{weights_name} do not fit the configured {architecture.name} (layer '{first}' "
            "differs, e.g. a small_input_stem or strides that are not the published network's); "
            "use small_input_stem: false and the default strides with init_weights"
        )
    net.load_state_dict(backbone, strict=False)
    print(f"{weights_name}: fine-tuning from every layer but the head ({head.rstrip('.')})")
    return weights_name


def export_pretrained(
    weights_out: Path, log_out: Path, dataset: Path, subset: Path, model_spec: dict
) -> None:
    """Write a pretrained run: the library's weights, answering for the subset's classes."""
    class_ids = json.loads(Path(subset).read_text())["class_ids"]
    names = load_class_names(dataset)
    positions = logit_positions([names[c] for c in class_ids])
    architecture = architecture_of(model_spec)
    state, weights_name = pretrained_state_dict(architecture)
    model = build_model(architecture, len(class_ids), positions)
    model.model.net.load_state_dict(state)
    save_model(
        Path(weights_out),
        model,
        architecture.name,
        architecture.options(),
        class_ids,
        logit_positions=positions,
        pretrained_weights=weights_name,
        facts={
            "image_size": dataset_image_size(dataset),
            "dataset_sha256": recorded_digest(dataset),
        },
    )
    print(f"{weights_name}: logits of {len(positions)} of ImageNet's 1000 classes kept")
    with atomic_path(log_out) as tmp:
        pd.DataFrame(columns=EPOCH_COLUMNS).to_csv(tmp, index=False)

"""ImageNet-1k's classes in logit order and ImageNet-A's 200 among them (zhu2025).

The WordNet ids come from the lists timm ships with its package data (timm/data/_info), the
ones its ImageNet-A/R evaluation uses, never from a list typed into our code. They are read
from the files without importing timm (which imports torch), because config validation runs
before any job at every Snakemake start.

ImageNet-A's folders are WordNet ids, and an ImageFolder labels them in sorted order; timm's
`imagenet_a_synsets.txt` is that sorted order and `imagenet_a_indices.txt` the position of each
among the 1000 logits of an ImageNet-1k model, so logits[:, positions] are ImageNet-A's 200
classes in folder-label order.
"""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec
from pathlib import Path

# `dataset.classes` shorthands: a named class list instead of an explicit one
NAMED_CLASS_LISTS = ("imagenet-1k", "imagenet-a")


def _timm_info(name: str) -> list[str]:
    """The lines of one of timm's package-data files."""
    spec = find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("timm is not installed; run `make env`")
    path = Path(spec.submodule_search_locations[0]) / "data" / "_info" / name
    return path.read_text().splitlines()


@cache
def imagenet_synsets() -> tuple[str, ...]:
    """The 1000 ImageNet-1k WordNet ids, in the order of a pretrained model's logits."""
    return tuple(_timm_info("imagenet_synsets.txt"))


@cache
def imagenet_a_synsets() -> tuple[str, ...]:
    """ImageNet-A's 200 WordNet ids in folder-label (sorted) order."""
    return tuple(_timm_info("imagenet_a_synsets.txt"))


@cache
def imagenet_a_positions() -> tuple[int, ...]:
    """For each ImageNet-A label, the index of its class among the 1000 ImageNet logits."""
    return tuple(int(i) for i in _timm_info("imagenet_a_indices.txt"))


def named_class_list(name: str) -> list[str]:
    """The WordNet ids of a `dataset.classes` shorthand."""
    lists = {"imagenet-1k": imagenet_synsets, "imagenet-a": imagenet_a_synsets}
    return list(lists[name]())


@cache
def lemmas() -> dict[str, str]:
    """WordNet id -> its first lemma ('n01498041' -> 'stingray'), for figure labels."""
    pairs = (line.split("\t", 1) for line in _timm_info("imagenet_synset_to_lemma.txt"))
    return {wnid: lemma.split(",")[0].strip() for wnid, lemma in pairs}

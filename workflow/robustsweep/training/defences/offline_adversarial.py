"""`offline_adversarial`: replace a fraction of each batch with stored adversarial images.

tan2022's sampler (Sec. 3.2, Fig. 3): every sample is swapped, with probability `ratio`, for
the stored adversarial version of the same clean image under one of `attacks`. Which attack is
drawn with a "dynamic probability with a bounded range": with `attack_bounds` {attack: [low,
high]}, each batch draws a weight per attack uniformly within its bounds and picks attacks in
proportion to the weights, so the mix changes from batch to batch within the configured
range; without bounds every attack is equally likely (the authors' code: fixed equal weights).
A swapped-in image gets the recipe's augmentation too (its own draw: the clean image's crop is
discarded with it), as the authors' transform applies to whichever image a sample loads. All
draws come from the epoch's seeded generator (under data parallelism, each process's own, for
its share of the batch: same distribution, other draws). The stores live on the training
device as uint8, so mixing costs one gather.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from robustsweep.input_errors import ConfigError
from robustsweep.registry import REQUIRED, mapping, names, number
from robustsweep.training.defences import DEFENCES, DefenceMethod
from robustsweep.training.defences.interface import DefenceTrainer

if TYPE_CHECKING:
    import torch
    from torch import nn

BOUNDS_SCHEMA = {
    "type": ["object", "null"],
    "additionalProperties": {
        "type": "array",
        "items": {"type": "number", "minimum": 0},
        "minItems": 2,
        "maxItems": 2,
    },
}


@dataclass(frozen=True, kw_only=True)
class StoreSampling(DefenceMethod):
    """tan2022's sampler settings, shared with the detector head."""

    ratio: float = number(REQUIRED, minimum=0, maximum=1, doc="share of samples swapped")
    attacks: list[str] = names(REQUIRED, doc="stored attacks (names under attacks.methods)")
    attack_bounds: dict | None = mapping(
        None, schema=BOUNDS_SCHEMA, doc="attack -> [low, high] weight drawn per batch"
    )

    def stores_needed(self) -> tuple[str, ...]:
        return tuple(self.attacks)

    def check(self, key, study) -> None:
        """Every attack is configured; attack_bounds names exactly the defence's attacks,
        each with 0 <= low <= high and high > 0."""
        configured = ", ".join(sorted(study.attacks)) or "none"
        for attack in self.attacks:
            if attack not in study.attacks:
                raise ConfigError(
                    f"config key '{key}.attacks' names '{attack}', which is not under "
                    f"'attacks.methods'; allowed values: {configured}"
                )
        bounds = self.attack_bounds
        if bounds is None:
            return
        if set(bounds) != set(self.attacks):
            raise ConfigError(
                f"config key '{key}.attack_bounds' names {sorted(bounds)} but '{key}.attacks' "
                f"is {sorted(self.attacks)}; give one [low, high] per attack"
            )
        for attack, (low, high) in bounds.items():
            if not 0 <= low <= high or high <= 0:
                raise ConfigError(
                    f"config key '{key}.attack_bounds.{attack}' is [{low}, {high}]; it needs "
                    "0 <= low <= high and high > 0"
                )

    def sampler(self, context) -> StoreSampler:
        """Load the train-split stores, checked row by row against the train split."""
        import numpy as np
        import torch

        from robustsweep.attacks.store_file import read_store
        from robustsweep.input_errors import StoreError

        expected = context.train_indices.cpu().numpy()
        stacks = []
        for name in self.attacks:
            samples = read_store(context.store_paths[name])
            if not np.array_equal(samples.clean_index, expected):
                raise StoreError(
                    f"{context.store_paths[name]}: store rows do not match the train "
                    "split; it was made from another prepared dataset: delete it and rerun"
                )
            stacks.append(torch.from_numpy(samples.images).permute(0, 3, 1, 2))
        bounds = None
        if self.attack_bounds is not None:
            bounds = torch.tensor(
                [self.attack_bounds[name] for name in self.attacks], dtype=torch.float64
            )
        stored = torch.stack(stacks).to(context.device)
        return StoreSampler(stored, self.ratio, bounds, context.augmentation)


@DEFENCES.register("offline_adversarial")
class OfflineAdversarial(StoreSampling):
    data_parallel = True  # verified: tests/test_data_parallel.py

    def build(self, context) -> OfflineAdversarialTrainer:
        return OfflineAdversarialTrainer(self.sampler(context))


class StoreSampler:
    """Draws which samples of a batch are swapped for stored adversarial versions."""

    def __init__(
        self,
        stored: torch.Tensor,
        ratio: float,
        bounds: torch.Tensor | None = None,
        augmentation: Callable | None = None,
    ):
        self.stored = stored  # (n_attacks, n_train, C, H, W) uint8 on the device
        self.ratio = ratio
        self.bounds = bounds  # (n_attacks, 2) low/high weights, or None for uniform
        self.augmentation = augmentation  # (uint8 images, generator) -> images, or None

    def choose(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Which of n samples become adversarial, and under which attack (CPU tensors)."""
        import torch

        swap = torch.rand(n, generator=generator) < self.ratio
        if self.bounds is None:
            return swap, torch.randint(len(self.stored), (n,), generator=generator)
        low, high = self.bounds[:, 0], self.bounds[:, 1]
        weights = low + (high - low) * torch.rand(len(low), generator=generator)
        which = torch.multinomial(weights, n, replacement=True, generator=generator)
        return swap, which

    def mix(
        self, images: torch.Tensor, positions: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch with the drawn samples swapped for stored adversarial versions
        (augmented as the recipe augments clean ones), and a bool mask (on the images'
        device) of which ones were swapped."""
        swap, which = self.choose(len(images), generator)
        swap_dev = swap.to(images.device)
        if swap.any():
            chosen = self.stored[which[swap].to(images.device), positions[swap_dev]]
            if self.augmentation is not None:
                chosen = self.augmentation(chosen, generator)
            images = images.clone()
            images[swap_dev] = chosen.float().div_(255.0)
        return images, swap_dev


class OfflineAdversarialTrainer(DefenceTrainer):
    autocast_safe = True  # no attack inside the loss

    def __init__(self, sampler: StoreSampler):
        self.sampler = sampler

    def loss(
        self,
        model: nn.Module,
        images: torch.Tensor,
        targets: torch.Tensor,
        positions: torch.Tensor,
        generator: torch.Generator,
    ):
        from torch.nn.functional import cross_entropy

        images, _ = self.sampler.mix(images, positions, generator)
        logits = model(images)
        return cross_entropy(logits, targets), logits

"""`offline_adversarial`: replace a fraction of each batch with stored adversarial images.

Seed 001's sampler (Sec. 3.2, Fig. 3): every sample is swapped, with probability `ratio`, for
the stored adversarial version of the same clean image under one of `attacks`. Which attack is
drawn with a "dynamic probability with a bounded range": with `attack_bounds` {attack: [low,
high]}, each batch draws a weight per attack uniformly within its bounds and picks attacks in
proportion to the weights, so the mix changes from batch to batch within the configured
range; without bounds every attack is equally likely. All draws come from the epoch's seeded
generator. The stores live on the training device as uint8, so mixing costs one gather.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from robustsweep.defences.interface import Defence

if TYPE_CHECKING:
    import torch
    from torch import nn

PARAMETERS = frozenset({"ratio", "attacks", "attack_bounds"})


def stores_needed(spec) -> list[str]:
    return list(spec["attacks"])


def check(name: str, spec) -> None:
    """attack_bounds names exactly the defence's attacks, each with 0 <= low <= high, high > 0."""
    from robustsweep.input_errors import ConfigError

    bounds = spec.get("attack_bounds")
    if bounds is None:
        return
    key = f"defences.{name}.attack_bounds"
    if set(bounds) != set(spec["attacks"]):
        raise ConfigError(
            f"config key '{key}' names {sorted(bounds)} but 'defences.{name}.attacks' is "
            f"{sorted(spec['attacks'])}; give one [low, high] per attack"
        )
    for attack, (low, high) in bounds.items():
        if not 0 <= low <= high or high <= 0:
            raise ConfigError(
                f"config key '{key}.{attack}' is [{low}, {high}]; it needs 0 <= low <= high "
                "and high > 0"
            )


class OfflineAdversarial(Defence):
    autocast_safe = True  # no attack inside the loss

    def __init__(self, stored: torch.Tensor, ratio: float, bounds: torch.Tensor | None = None):
        self.stored = stored  # (n_attacks, n_train, C, H, W) uint8 on the device
        self.ratio = ratio
        self.bounds = bounds  # (n_attacks, 2) low/high weights, or None for uniform

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
        """The batch with the drawn samples swapped for stored adversarial versions, and a
        bool mask (on the images' device) of which ones were swapped."""
        swap, which = self.choose(len(images), generator)
        swap_dev = swap.to(images.device)
        if swap.any():
            chosen = self.stored[which[swap].to(images.device), positions[swap_dev]]
            images = images.clone()
            images[swap_dev] = chosen.float().div_(255.0)
        return images, swap_dev

    def loss(
        self,
        model: nn.Module,
        images: torch.Tensor,
        targets: torch.Tensor,
        positions: torch.Tensor,
        generator: torch.Generator,
    ):
        from torch.nn.functional import cross_entropy

        images, _ = self.mix(images, positions, generator)
        logits = model(images)
        return cross_entropy(logits, targets), logits


def build(params: dict, context) -> OfflineAdversarial:
    """Load the train-split stores and check they line up with the train split row by row."""
    import numpy as np
    import torch

    from robustsweep.adversarial_store import read_store

    expected = context.train_indices.cpu().numpy()
    stacks = []
    for name in params["attacks"]:
        samples = read_store(context.store_paths[name])
        if not np.array_equal(samples.clean_index, expected):
            raise ValueError(
                f"{context.store_paths[name]}: store rows do not match the train "
                "split; it was made from another prepared dataset, rerun it"
            )
        stacks.append(torch.from_numpy(samples.images).permute(0, 3, 1, 2))
    bounds = params.get("attack_bounds")
    if bounds is not None:
        bounds = torch.tensor([bounds[name] for name in params["attacks"]], dtype=torch.float64)
    stored = torch.stack(stacks).to(context.device)
    return OfflineAdversarial(stored, float(params["ratio"]), bounds)

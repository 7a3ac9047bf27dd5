"""Defence methods: config `method` names to training rules, one module per defence.

A defence turns a training batch into a loss (`DefenceTrainer`, interface.py). That one
interface covers plain training, offline adversarial mixing from the store, online
adversarial training (PGD-AT, fast FGSM-RS, TRADES, MART, ALP, FAT, AWP, xue2024's sign-init
mixing), whose losses differ in more than their inputs, and tan2022's detector head, which
trains a second network beside the model. Each module declares the defence's typed
parameters and what the workflow must provide: the train-split stores it reads, and whether it
starts from the run's `standard` twin (its clean copy), which then becomes a job dependency. A
defence may also bring its own training recipe (`training` beside its parameters,
job_settings.run_recipe).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from robustsweep.registry import Method, Registry

if TYPE_CHECKING:  # torch stays unimported until training: the Snakefile plans with this
    import torch

    from robustsweep.training.batch_augmentation import BatchAugmentation
    from robustsweep.training.defences.interface import DefenceTrainer

# `training` beside a defence's parameters is its own recipe override (study_config.py)
DEFENCES = Registry("defence method", __name__, beside=("training",))


class DefenceMethod(Method):
    """Parameters of one defence; `build` makes its trainer for a run."""

    # reads the `standard` run of the same (model, N, draw): a job dependency
    needs_clean_copy: ClassVar[bool] = False
    # names of the model's outputs when they are not the run's classes (a binary detector's
    # ("real", "adversarial")); None: one output per class
    output_names: ClassVar[tuple[str, ...] | None] = None
    # trains under data parallelism (tests/test_data_parallel.py checks it against the
    # one-process reference); the config refuses data_parallel > 1 for the others
    data_parallel: ClassVar[bool] = False

    def stores_needed(self) -> tuple[str, ...]:
        """Attack names whose train-split store this defence reads (drives rule inputs)."""
        return ()

    def build(self, context: TrainingContext) -> DefenceTrainer:
        raise NotImplementedError


@dataclass
class TrainingContext:
    """What a defence may need besides the batch: the device, the train split's stores and,
    for defences that compare against one, the weights of the run's clean copy; the recipe's
    augmentation, for the stored images a defence swaps in (None: none)."""

    device: torch.device
    train_indices: torch.Tensor  # row in the prepared dataset of each train-split position
    store_paths: dict[str, Path] = field(default_factory=dict)
    clean_copy: Path | None = None
    image_size: int = 32
    augmentation: BatchAugmentation | None = None

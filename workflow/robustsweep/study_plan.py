"""Expanding a validated config into the study's jobs: which runs exist and where files go.

Torch-free, because the Snakefile uses it to build the DAG.
"""

from __future__ import annotations

from dataclasses import dataclass

from robustsweep.dataset_sources import class_count


@dataclass(frozen=True, order=True)
class Run:
    """One training job: a model trained on N classes (draw `seed`) with a defence."""

    model: str
    n: int
    seed: int
    defence: str

    @property
    def folder(self) -> str:
        return f"runs/{self.model}/N{self.n}/seed{self.seed}/{self.defence}"

    def identity(self) -> dict:
        """The columns that tag every metric row of this run."""
        return {
            "model": self.model,
            "n_train_classes": self.n,
            "seed": self.seed,
            "defence": self.defence,
        }


def pool_size(config: dict) -> int:
    return class_count(config["dataset"])


def experiment_runs(config: dict) -> list[Run]:
    """Every (model, N, seed, defence) of every experiment grid, once, in a stable order."""
    runs = {
        Run(model, n, seed, defence)
        for grid in config["experiments"].values()
        for model in grid["models"]
        for n in grid["train_classes"]
        for seed in grid["seeds"]
        for defence in grid["defences"]
    }
    return sorted(runs)


def support_run(config: dict, role: str) -> Run:
    """The all-class standard run that serves as attack source or mining reference."""
    section = (
        config["attacks"]["source"]
        if role == "source"
        else config["natural_adversarial"]["reference"]
    )
    return Run(section["model"], pool_size(config), section["seed"], "standard")


def predicted_class_values(config: dict, run: Run) -> list[int]:
    """The M values to evaluate a run at: those of every experiment the run belongs to."""
    values: set[int] = set()
    for grid in config["experiments"].values():
        if (
            run.model in grid["models"]
            and run.n in grid["train_classes"]
            and run.seed in grid["seeds"]
            and run.defence in grid["defences"]
        ):
            values.update(m for m in grid["predicted_classes"] if m <= run.n)
    return sorted(values)


def explanation_run(config: dict, model: str) -> Run | None:
    """The run whose mistakes explain `model`: its all-class standard run of lowest seed."""
    pool = pool_size(config)
    runs = [
        run
        for run in experiment_runs(config)
        if run.model == model and run.n == pool and run.defence == "standard"
    ]
    return min(runs, key=lambda run: run.seed, default=None)

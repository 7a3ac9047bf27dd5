"""The study's run grid: which training runs exist (model, N, draw, defence), which support
runs serve them (the surrogates of the attacks and of mining), which sets each run is attacked
with, and at which M values each is evaluated. Where their files go: results_layout.py.

Torch-free, because the Snakefile uses it to build the DAG.
"""

from __future__ import annotations

from dataclasses import dataclass

from robustsweep.data.sources import source_of
from robustsweep.results_layout import run_folder, store_file, white_box_file
from robustsweep.set_names import STORE_SET, WHITE_BOX_SET


@dataclass(frozen=True, order=True)
class Run:
    """One training job: a model trained on N classes (class draw and seed `draw`) with a
    defence."""

    model: str
    n: int
    draw: int
    defence: str

    @property
    def folder(self) -> str:
        return run_folder(self.model, self.n, self.draw, self.defence)

    def columns(self) -> dict:
        """The columns that tag every metric row of this run."""
        return {
            "model": self.model,
            "train_classes": self.n,
            "draw": self.draw,
            "defence": self.defence,
        }


@dataclass(frozen=True, order=True)
class AttackedSet:
    """A set of attacked images with a success report: a store (crafted on the surrogate,
    per split) or a white-box set (a run's model attacked itself, test split)."""

    origin: str  # results_layout.STORE_SET (the surrogate's) or WHITE_BOX_SET (the run's own)
    split: str
    attack: str
    run: Run  # the attacked model's run

    @property
    def file(self) -> str:
        """Its file, relative to the results folder."""
        if self.origin == STORE_SET:
            return store_file(self.split, self.attack)
        return white_box_file(self.run.folder, self.attack)

    def columns(self) -> dict:
        """The columns of its row in the attack table."""
        return {"origin": self.origin, "split": self.split, "attack": self.attack} | (
            self.run.columns()
        )


def pool_size(config: dict) -> int:
    return source_of(config["dataset"]).class_count()


def experiment_runs(config: dict) -> list[Run]:
    """Every (model, N, draw, defence) of every experiment grid, once, in a stable order."""
    runs = {
        Run(model, n, draw, defence)
        for grid in config["experiments"].values()
        for model in grid["models"]
        for n in grid["train_classes"]
        for draw in grid["draws"]
        for defence in grid["defences"]
    }
    return sorted(runs)


def budget_sweep_runs(config: dict) -> set[Run]:
    """Runs swept over budgets (`evaluation.budget_sweep`): those of the listed experiments
    (all when none are listed), detectors excepted (no class logits to attack); none while
    the sweep has no budgets."""
    from robustsweep.training.defences import DEFENCES

    sweep = config["evaluation"]["budget_sweep"]
    if not sweep["eps"]:
        return set()
    names = sweep["experiments"] or list(config["experiments"])
    return {
        Run(model, n, draw, defence)
        for name in names
        for grid in [config["experiments"][name]]
        for model in grid["models"]
        for n in grid["train_classes"]
        for draw in grid["draws"]
        for defence in grid["defences"]
        if DEFENCES.build(config["defences"][defence]).output_names is None
    }


def surrogate_run(config: dict, section: str) -> Run:
    """The all-class standard run `<section>.surrogate` names: the model the stores are
    crafted on (section attacks) or that mines natural adversarial images (natural_adversarial)."""
    surrogate = config[section]["surrogate"]
    return Run(surrogate["model"], pool_size(config), surrogate["draw"], "standard")


def train_store_attacks(config: dict) -> list[str]:
    """Attacks whose train-split store some run's defence reads."""
    from robustsweep.training.defences import DEFENCES

    names: set[str] = set()
    for run in experiment_runs(config):
        names.update(DEFENCES.build(config["defences"][run.defence]).stores_needed())
    return sorted(names)


def attacked_sets(config: dict) -> list[AttackedSet]:
    """Every store and white-box set of the study, in a stable order."""
    sets = []
    if config["attacks"]["methods"]:
        surrogate = surrogate_run(config, "attacks")
        methods = config["attacks"]["methods"]
        sets += [AttackedSet(STORE_SET, "test", a, surrogate) for a in methods]
        sets += [AttackedSet(STORE_SET, "train", a, surrogate) for a in train_store_attacks(config)]
    sets += [
        AttackedSet(WHITE_BOX_SET, "test", attack, run)
        for run in experiment_runs(config)
        for attack in config["evaluation"]["white_box"]
    ]
    return sorted(sets)


def surrogate_runs(config: dict) -> list[Run]:
    """The surrogates: the attacks' (when the study attacks) and the miner's (when it mines)."""
    runs = []
    if config["attacks"]["methods"]:
        runs.append(surrogate_run(config, "attacks"))
    if "root" not in config["natural_adversarial"]:
        runs.append(surrogate_run(config, "natural_adversarial"))
    return runs


def predicted_class_values(config: dict, run: Run) -> list[int]:
    """The M values to evaluate a run at: those of every experiment the run belongs to."""
    values: set[int] = set()
    for grid in config["experiments"].values():
        if (
            run.model in grid["models"]
            and run.n in grid["train_classes"]
            and run.draw in grid["draws"]
            and run.defence in grid["defences"]
        ):
            values.update(m for m in grid["predicted_classes"] if m <= run.n)
    return sorted(values)


def explanation_run(config: dict, model: str) -> Run | None:
    """The run whose mistakes explain `model`: its all-class standard run of lowest draw."""
    pool = pool_size(config)
    runs = [
        run
        for run in experiment_runs(config)
        if run.model == model and run.n == pool and run.defence == "standard"
    ]
    return min(runs, key=lambda run: run.draw, default=None)

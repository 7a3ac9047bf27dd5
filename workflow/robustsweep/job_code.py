"""Which code each job runs, as its rule's `code` and `methods` params (content digests,
code_digest.py): the stage's modules, and the registered methods the job selects (its attack,
defence, architecture, dataset source, natural patterns or figure).

Torch-free, because the Snakefile uses it to build the DAG.
"""

from __future__ import annotations

from robustsweep.cli import STAGES
from robustsweep.code_digest import PACKAGE, method_code, stage_code
from robustsweep.registry import Registry
from robustsweep.run_grid import Run, surrogate_run

# stage -> the package module its stage function is in (relative to the package), from the
# CLI's stage table: the module whose closure the job's `code` digests
STAGE_MODULES = {
    stage: target.split(":")[0].removeprefix(f"{PACKAGE}.") for stage, target in STAGES.items()
}


def method_module(registry: Registry, name: str) -> str:
    return registry.index[registry.resolve(name)]


def architecture_module(config: dict, model: str) -> str:
    from robustsweep.models.architectures import ARCHITECTURES

    return method_module(ARCHITECTURES, config["models"][model]["architecture"])


def job_code(stage: str, *method_modules: str) -> dict[str, str]:
    """The `code` and `methods` params of a job of `stage` that runs these method modules."""
    module = STAGE_MODULES[stage]
    return {"code": stage_code(module), "methods": method_code(method_modules, module)}


def corruption_code(config: dict) -> dict[str, str]:
    from robustsweep.data.corruptions import CORRUPTIONS

    return job_code("corrupt", method_module(CORRUPTIONS, config["corruptions"]["source"]))


def prepare_code(config: dict) -> dict[str, str]:
    from robustsweep.data.sources import DATASET_SOURCES

    return job_code("prepare", method_module(DATASET_SOURCES, config["dataset"]["source"]))


def mining_code(config: dict) -> dict[str, str]:
    from robustsweep.data.patterns import NATURAL_PATTERNS

    patterns = [
        method_module(NATURAL_PATTERNS, p) for p in config["natural_adversarial"]["patterns"]
    ]
    surrogate = surrogate_run(config, "natural_adversarial").model
    return job_code("mine", *patterns, architecture_module(config, surrogate))


def attack_code(config: dict, stage: str, attack: str, model: str) -> dict[str, str]:
    """A store job (model: the surrogate), a white-box or budget-sweep job (model: the
    run's)."""
    from robustsweep.attacks.methods import ATTACK_METHODS

    method = config["attacks"]["methods"][attack]["method"]
    return job_code(
        stage, method_module(ATTACK_METHODS, method), architecture_module(config, model)
    )


def train_code(config: dict, run: Run) -> dict[str, str]:
    from robustsweep.training.defences import DEFENCES

    defence = method_module(DEFENCES, config["defences"][run.defence]["method"])
    return job_code("train", defence, architecture_module(config, run.model))


def model_code(config: dict, stage: str, model: str) -> dict[str, str]:
    """A job that loads a run's model and runs no other method (logits, explanations)."""
    return job_code(stage, architecture_module(config, model))


def tables_code() -> dict[str, str]:
    """The tables job writes every registered table: each table module is its method."""
    from robustsweep.reporting.tables import TABLES

    return job_code("tables", *sorted(set(TABLES.index.values())))


def figure_code(figure: str) -> dict[str, str]:
    from robustsweep.reporting.figures import FIGURES

    return job_code("figure", method_module(FIGURES, figure))

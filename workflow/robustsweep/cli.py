"""`python -m robustsweep <stage> '<settings JSON>' '<job JSON>'`: run one pipeline stage.

Each Snakemake rule makes exactly one such call. The settings are the stage's dataclass
(stage_settings.py) as JSON, built by the Snakefile from the validated config, so the rule's
tracked params and the call see the same values. The job JSON holds the paths (inputs and
outputs by name; a name -> path mapping for several stores), where to compute (device,
threads) and other untracked values (the git commit): data, never words for the shell to
split. The stage function receives all of it
keyword-only.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from robustsweep.input_errors import InputError

# stage -> "module:function"; the function's `settings` annotation names its dataclass
STAGES: dict[str, str] = {
    "prepare": "robustsweep.data.prepared_dataset:prepare_stage",
    "corrupt": "robustsweep.data.corruption_set:corrupt_stage",
    "subset": "robustsweep.data.class_subsets:subset_stage",
    "mine": "robustsweep.data.natural_adversarial:mine_stage",
    "natural-index": "robustsweep.data.natural_adversarial:index_stage",
    "store": "robustsweep.attacks.adversarial_store:store_stage",
    "train": "robustsweep.training.training_loop:train_stage",
    "logits": "robustsweep.evaluation.logits_cache:logits_stage",
    "white-box": "robustsweep.evaluation.white_box:white_box_stage",
    "evaluate": "robustsweep.evaluation.run_evaluation:evaluate_stage",
    "collect": "robustsweep.reporting.metric_table:collect_stage",
    "tables": "robustsweep.reporting.tables:tables_stage",
    "figure": "robustsweep.reporting.figures:figure_stage",
    "explain": "robustsweep.reporting.mistake_explanations:explain_stage",
    "record": "robustsweep.provenance:record_stage",
}


def stage_function(stage: str):
    module, function = STAGES[stage].split(":")
    return getattr(importlib.import_module(module), function)


def as_paths(value):
    """JSON paths to Path objects: a string, a list of them, or a name -> path mapping."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {name: Path(path) for name, path in value.items()}
    if isinstance(value, list):
        return [Path(path) for path in value]
    return Path(value)


def run_stage(stage: str, settings_json: str, job_json: str) -> None:
    from robustsweep.stage_settings import Compute, from_mapping

    function = stage_function(stage)
    job = json.loads(job_json)
    paths = {name: as_paths(value) for name, value in job.get("paths", {}).items()}
    if "compute" in job:
        paths["compute"] = Compute(**job["compute"])
    paths.update(job.get("values", {}))
    annotation = function.__annotations__.get("settings")
    if isinstance(annotation, str):  # postponed annotations: resolve the one we need
        annotation = eval(annotation, function.__globals__)  # noqa: S307 - our own source
    settings_type = annotation
    if settings_type is None:
        function(**paths)
    else:
        function(settings=from_mapping(settings_type, json.loads(settings_json)), **paths)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or argv[0] not in STAGES:
        print(
            f"usage: python -m robustsweep <stage> '<settings JSON>' '<job JSON>'; "
            f"stages: {', '.join(STAGES)}",
            file=sys.stderr,
        )
        return 2
    try:
        run_stage(*argv)
    except (InputError, FileNotFoundError) as error:
        # Problems with inputs get one line naming the file and the fix; bugs keep tracebacks.
        print(f"robustsweep {argv[0]}: {error}", file=sys.stderr)
        return 1
    return 0

"""`python -m robustsweep <stage> '<settings JSON>' '<job JSON>' [<log>]`: run one pipeline stage.

Each Snakemake rule makes exactly one such call. The settings are the stage's dataclass
(stage_settings.py) as JSON, built by job_settings.py (through rule_arguments.py) from the
validated config, so the rule's tracked params and the call see the same values. The job
JSON holds the paths (inputs and outputs by name; a name -> path mapping for several
stores), where to compute (device, threads) and other untracked values (the git commit):
data, never words for the shell to split. The stage function receives all of it
keyword-only.

Before the stage runs, every input the job JSON names under `expect` is verified (its content
digest and identity, file_identity.py), and the identities planned for its outputs under
`identity` are handed to their writers. With a log file, the job writes its log itself: the
first line is written before any work, so a disk too full for the log stops the job at once,
and a one-line error goes to the log and to the console Snakemake shows (also when the log
cannot take it).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import socket
import sys
from pathlib import Path
from typing import TextIO

from robustsweep.deferred_imports import DEFERRED, defer
from robustsweep.disk_space import disk_full_message, is_disk_full
from robustsweep.file_identity import plan_outputs, verify_inputs
from robustsweep.input_errors import InputError

# stage -> "module:function"; the function's `settings` annotation names its dataclass
STAGES: dict[str, str] = {
    "prepare": "robustsweep.data.prepared_dataset:prepare_stage",
    "corrupt": "robustsweep.data.corruption_set:corrupt_stage",
    "subset": "robustsweep.data.class_subsets:subset_stage",
    "mine": "robustsweep.data.natural_adversarial:mine_stage",
    "natural_index": "robustsweep.data.natural_adversarial:index_stage",
    "store": "robustsweep.attacks.adversarial_store:store_stage",
    "train": "robustsweep.training.training_loop:train_stage",
    "logits": "robustsweep.evaluation.logits_cache:logits_stage",
    "white_box": "robustsweep.evaluation.white_box:white_box_stage",
    "budget_sweep": "robustsweep.evaluation.budget_sweep:budget_sweep_stage",
    "white_box_shard": "robustsweep.evaluation.white_box:white_box_shard_stage",
    "evaluate": "robustsweep.evaluation.run_evaluation:evaluate_stage",
    "collect": "robustsweep.reporting.metric_table:collect_stage",
    "collect_attacks": "robustsweep.reporting.attack_table:collect_attacks_stage",
    "tables": "robustsweep.reporting.tables:tables_stage",
    "figure": "robustsweep.reporting.figures:figure_stage",
    "explain": "robustsweep.reporting.mistake_explanations:explain_stage",
    "record": "robustsweep.provenance:record_stage",
}

# stage names of earlier releases (hyphenated) -> their snake_case names (issue #32): a script
# or a hand-written rule that still calls one is told the new name in one line
RENAMED_STAGES = {name.replace("_", "-"): name for name in STAGES if "_" in name}


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

    defer(*DEFERRED)  # loaded on first use: a job pays only for what its stage runs
    job = json.loads(job_json)
    verify_inputs(job.get("paths", {}), job.get("expect", {}))
    plan_outputs(job.get("identity", {}))
    function = stage_function(stage)
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


def log_to(log: Path, stage: str) -> TextIO:
    """Send this process's output (fds 1 and 2, so C libraries' too) to `log`, after writing
    its first line; return a handle on the console Snakemake shows. A log that cannot be
    written (a full disk) stops the job here with one line on the console."""
    console = os.fdopen(os.dup(2), "w", buffering=1)
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        handle = open(log, "w", buffering=1)  # noqa: SIM115 - kept open as the process's output
        handle.write(f"robustsweep {stage} on {socket.gethostname()}, pid {os.getpid()}\n")
        handle.flush()
        os.fsync(handle.fileno())
    except OSError as error:
        console.write(
            f"robustsweep {stage}: cannot write the job's log {log} ({error.strerror or error}); "
            "free space there and rerun the workflow\n"
        )
        raise SystemExit(1) from None
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(handle.fileno(), 1)
    os.dup2(handle.fileno(), 2)
    return console


def report(stage: str, message: str, console: TextIO | None) -> int:
    """Print the one-line error to stderr: with a log, to the log (if it takes it: fd 2 is
    the log) and to the console."""
    line = f"robustsweep {stage}: {message}"
    if console is None:
        print(line, file=sys.stderr)
        return 1
    with contextlib.suppress(OSError):  # the log's disk may be full
        sys.stderr.flush()
        os.write(2, (line + "\n").encode())
    console.write(line + "\n")
    return 1


def outputs_of(job_json: str) -> list[str]:
    try:
        return list(json.loads(job_json).get("outputs", []))
    except ValueError:
        return []


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["methods"]:  # the method reference (docs/methods.md), not a stage
        from robustsweep.method_reference import main as print_method_reference

        return print_method_reference()
    if argv and argv[0] in RENAMED_STAGES:
        print(
            f"robustsweep: stage '{argv[0]}' is now called '{RENAMED_STAGES[argv[0]]}'; "
            "call it by that name",
            file=sys.stderr,
        )
        return 2
    if len(argv) not in (3, 4) or argv[0] not in STAGES:
        print(
            f"usage: python -m robustsweep <stage> '<settings JSON>' '<job JSON>' [<log file>]; "
            f"stages: {', '.join(STAGES)}",
            file=sys.stderr,
        )
        return 2
    stage = argv[0]
    console = log_to(Path(argv[3]), stage) if len(argv) == 4 else None
    try:
        run_stage(*argv[:3])
    except (InputError, FileNotFoundError) as error:
        # Problems with inputs get one line naming the file and the fix; bugs keep tracebacks.
        return report(stage, str(error), console)
    except OSError as error:
        if not is_disk_full(error):
            raise
        return report(stage, disk_full_message(error, outputs_of(argv[2])), console)
    return 0

"""The rules' arguments (robustsweep/rule_arguments.py), tested without Snakemake: the
job-dependent inputs, the tracked params and the job JSON each rule hands to its command."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
import yaml

from conftest import REPO
from robustsweep.cli import RENAMED_STAGES, STAGES, main
from robustsweep.job_code import STAGE_MODULES, train_code
from robustsweep.rule_arguments import StudyRules, grouped_paths
from robustsweep.run_grid import Run
from robustsweep.study_config import validate_config


@pytest.fixture(scope="module")
def config() -> dict:
    return validate_config(yaml.safe_load((REPO / "config.yaml").read_text()))


def run_wildcards(run: Run, **more) -> SimpleNamespace:
    return SimpleNamespace(
        model=run.model, n=str(run.n), draw=str(run.draw), defence=run.defence, **more
    )


OFFLINE = Run("small_cnn", 10, 0, "offline_adversarial")


def test_stage_modules_are_derived_from_the_cli_stage_table():
    assert list(STAGE_MODULES) == list(STAGES)
    assert STAGE_MODULES["white_box_shard"] == "evaluation.white_box"
    assert STAGE_MODULES["record"] == "provenance"


def test_every_rule_calls_a_cli_stage_and_every_stage_is_snake_case():
    called = set()
    for path in [REPO / "Snakefile", *(REPO / "rules").glob("*.smk")]:
        called |= set(re.findall(r"\"python -m robustsweep (\w+) ", path.read_text()))
    assert called == set(STAGES)
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", stage) for stage in STAGES)


def test_a_defence_reading_train_stores_gets_them_as_named_inputs(config):
    rules = StudyRules(config)
    stores = rules.train_stores(run_wildcards(OFFLINE))
    assert stores == {
        f"stores__{name}": f"results/store/train/{name}.h5" for name in ("cw", "fgsm", "pgd")
    }
    assert rules.train_stores(run_wildcards(Run("small_cnn", 10, 0, "standard"))) == {}


def test_white_box_inputs_follow_the_configured_attacks_and_shards(config):
    rules = StudyRules(config)
    run = Run("resnet18", 10, 0, "standard")
    folder = "results/runs/resnet18/N10/draw0/standard"
    assert rules.white_box_files(run_wildcards(run)) == {
        "white_box__fgsm": f"{folder}/white_box/fgsm.h5",
        "white_box__pgd": f"{folder}/white_box/pgd.h5",
    }
    assert rules.white_box_shard_files(run_wildcards(run, attack="pgd")) == {}
    sharded = StudyRules({**config, "evaluation": {**config["evaluation"], "shards": {"pgd": 2}}})
    wildcards = run_wildcards(run, attack="pgd")
    assert sharded.white_box_shard_files(wildcards) == {
        f"shards__{k}": f"{folder}/white_box/pgd.shard{k}of2.h5" for k in range(2)
    }
    assert sharded.white_box_gpus(wildcards) == 0  # gathering attacks nothing
    assert rules.white_box_gpus(wildcards) == config["gpus_per_job"]


def test_only_swept_runs_get_a_budget_sweep_input(config):
    rules = StudyRules(config)
    swept = Run("small_cnn", 10, 0, "offline_adversarial")  # experiment `defences`
    assert rules.budget_sweep_file(run_wildcards(swept)) == {
        "budget_sweep": "results/runs/small_cnn/N10/draw0/offline_adversarial/budget_sweep.h5"
    }
    assert rules.budget_sweep_file(run_wildcards(Run("small_cnn", 3, 1, "standard"))) == {}


def test_params_are_the_jobs_settings_and_code(config):
    rules = StudyRules(config)
    params = rules.params("train")
    wildcards = run_wildcards(OFFLINE)
    code = train_code(config, OFFLINE)
    assert params["code"](wildcards) == code["code"]
    assert params["methods"](wildcards) == code["methods"]
    assert "training/defences/offline_adversarial.py" in code["methods"]
    assert json.loads(params["settings"](wildcards))["draw"] == 0
    # a job of a stage without wildcards gets its settings all the same
    assert rules.params("collect")["settings"](None) == "{}"
    assert rules.settings("record") == rules.params("record")["settings"](None)


def test_a_hyphenated_stage_of_earlier_releases_is_named_in_one_line(capsys):
    assert RENAMED_STAGES["white-box"] == "white_box"
    assert RENAMED_STAGES["white-box-shard"] == "white_box_shard"
    assert main(["white-box", "{}", "{}"]) == 2
    error = capsys.readouterr().err
    assert error == (
        "robustsweep: stage 'white-box' is now called 'white_box'; call it by that name\n"
    )
    # negative control: an unknown stage gets the usage line instead
    assert main(["whitebox", "{}", "{}"]) == 2
    assert capsys.readouterr().err.startswith("usage:")


def test_every_stage_has_settings_and_code(config):
    rules = StudyRules(config)
    wildcards = run_wildcards(OFFLINE, attack="pgd", split="test", figure="accuracy_vs_m")
    for stage in STAGES:
        if stage in ("corrupt", "natural_index"):
            continue  # the default study has no corruptions and mines its natural set
        assert rules.code(stage, wildcards)["code"]
        json.loads(rules.settings(stage, wildcards))
    # a stage without an entry is an error, not digests that leave its methods out
    with pytest.raises(KeyError):
        rules.code("unknown_stage", wildcards)


def test_the_job_json_groups_named_paths_and_carries_identities(config):
    rules = StudyRules(config)
    output = {"output": "results/store/test/pgd.h5"}
    inputs = {"dataset": "results/data/dataset.h5", "stores__a": "s/a.h5"}
    job = json.loads(rules.job(FakeFiles(inputs), FakeFiles(output), threads=2))
    assert job["paths"] == {
        "dataset": "results/data/dataset.h5",
        "stores": {"a": "s/a.h5"},
        "output": "results/store/test/pgd.h5",
    }
    assert job["expect"]["dataset"]["kind"] == "dataset"
    assert job["identity"]["results/store/test/pgd.h5"]["kind"] == "store"
    assert job["compute"]["threads"] == 2
    assert grouped_paths({"x__1": ["a", "b"]}) == {"x": {"1": ["a", "b"]}}


def test_final_outputs_name_every_figure_and_table(config):
    from robustsweep.reporting.figures import FIGURES

    outputs = StudyRules(config).final_outputs()
    assert outputs[:4] == [
        "results/study_record.json",
        "results/tables/metrics.csv",
        "results/tables/attacks.csv",
        "results/tables/tables.md",
    ]
    assert {f"results/figures/{name}.png" for name in FIGURES.names()} <= set(outputs)


class FakeFiles(dict):
    """A Snakemake named list: iterating gives the paths."""

    def __iter__(self):
        return iter(self.values())


def test_the_store_job_expects_the_surrogates_weights_as_one_checked_path(config):
    rules = StudyRules(config)
    surrogate = rules.surrogate_weights()
    assert surrogate == "results/runs/small_cnn/N10/draw100/standard/weights.safetensors"
    output = FakeFiles({"output": "results/store/test/pgd.h5"})
    job = json.loads(rules.job(FakeFiles({"surrogate": surrogate}), output, threads=1))
    assert job["paths"]["surrogate"] == surrogate
    assert job["expect"]["surrogate"]["kind"] == "weights"
    attacks_nothing = {**config, "attacks": {**config["attacks"], "methods": {}}}
    assert StudyRules(attacks_nothing).surrogate_weights() == []


def test_a_figures_caption_and_wildcard_come_from_its_registration():
    from robustsweep.reporting.figures import FIGURES, caption

    assert re.fullmatch(StudyRules.figure_pattern(), "accuracy_vs_m")
    assert not re.fullmatch(StudyRules.figure_pattern(), "accuracy_vs_q")
    assert set(StudyRules.figure_pattern().split("|")) == set(FIGURES.names())
    wildcards = SimpleNamespace(figure="accuracy_vs_m")
    assert StudyRules.figure_caption(wildcards) == caption("accuracy_vs_m")


def test_every_job_hands_its_stage_exactly_the_arguments_the_stage_function_takes(tmp_path):
    """The rules' input and output names are the stage functions' keyword arguments (cli.py
    passes the job JSON's paths, values and compute by name): read from the commands of a dry
    run of the tiny study (sharded, with explanations), against each function's signature."""
    import inspect
    import shlex
    import subprocess

    from conftest import snakemake_command, tool_env
    from robustsweep.cli import stage_function

    config = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    config["evaluation"]["shards"] = {"fgsm": 2}
    config["explanations"] = {"models": ["cnn"]}
    command = snakemake_command(tmp_path, config, "-n", "-p")
    result = subprocess.run(command, capture_output=True, text=True, env=tool_env(), check=True)
    seen = set()
    for line in (result.stdout + result.stderr).splitlines():
        call = line.partition("python -m robustsweep ")[2]
        if not call:
            continue
        words = shlex.split(call)  # stage, settings JSON, job JSON, log
        stage, job = words[0], json.loads(words[2])
        given = {*job.get("paths", {}), *job.get("values", {}), *(["compute"] * ("compute" in job))}
        parameters = inspect.signature(stage_function(stage)).parameters
        taken = set(parameters) - {"settings"}
        required = {n for n in taken if parameters[n].default is inspect.Parameter.empty}
        # every name the job gives is an argument, and every argument without a default is
        # given (an optional one, e.g. a defence's clean_copy, only where the job has it)
        assert given <= taken, (stage, sorted(given - taken))
        assert required <= given, (stage, sorted(required - given))
        seen.add(stage)
    # the tiny study mines its natural set and has no corruptions: those two are checked by
    # the zhu2025 and xu2024 study runs (tests/test_zhu2025.py, make test-studies)
    assert seen == set(STAGES) - {"corrupt", "natural_index"}

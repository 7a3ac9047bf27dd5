"""End to end: the Snakemake workflow on a tiny config, then what reruns after edits."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import (
    REPO,
    planned,
    snakemake,
    snakemake_args,
    snakemake_command,
    tool_env,
    with_change,
)

TINY = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
# a space in the results folder: every path reaches the jobs as data, never split by a shell
RESULTS = TINY["results"] = "my results"
# Any config edit also rewrites the study record (resolved config, versions, commit).
FIGURE_RULES = {"figure": 9, "study_record": 1, "all": 1}
# what a new store or white-box set adds: its success report, the tables and the figures
REPORTING = {"collect_metrics": 1, "collect_attacks": 1, "paper_tables": 1, **FIGURE_RULES}


def changed(path: str, value) -> dict:
    return with_change(TINY, path, value)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL Snakemake and every job it started, and wait until all of them are gone."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("study")
    result = snakemake(workdir, TINY)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


def test_study_produces_tables_figures_and_logs(finished):
    results = finished / RESULTS
    metrics = pd.read_csv(results / "tables" / "metrics.csv")
    runs = metrics[["model", "train_classes", "draw", "defence"]].drop_duplicates()
    assert len(runs) == 3  # (cnn, 3, 0, standard), (cnn, 10, 0, standard|offline)
    assert set(metrics.test_set) == {
        "clean",
        "natural",
        "attack-fgsm",  # transfer, from the store
        "attack-gn",
        "white_box-fgsm",  # evaluation.white_box: each model attacked itself
        "worst-store",  # right under every stored attack, per image
        "worst-all",  # ... and under the white-box one too
        "budget-fgsm",  # evaluation.budget_sweep, on the `defended` runs
    }
    sweep = metrics[metrics.test_set == "budget-fgsm"]
    assert sorted(set(sweep.severity)) == [0.0, 0.1, 0.3] and set(sweep.train_classes) == {10}
    assert (results / "runs/cnn/N3/draw0/standard/per_image.csv").exists()
    assert set(metrics[metrics.train_classes == 10].predicted_classes) == {2, 10}
    assert metrics.accuracy.between(0, 1).all()
    attacked = metrics.test_set.str.startswith(("attack-", "white_box-", "worst-"))
    assert metrics[attacked].consistency.between(0, 1).all()
    assert metrics[~attacked].consistency.isna().all()
    tables = (results / "tables" / "tables.md").read_text()
    assert "Table 1" in tables and "Table 2: cnn" in tables and "Tables 3-5: cnn" in tables
    assert "Consistent accuracy" in tables and "white_box-fgsm" in tables
    for figure in (
        "accuracy_vs_n",
        "accuracy_vs_m",
        "model_metrics",
        "robust_accuracy",
        "attack_success",
        "budget_sweep",
    ):
        assert (results / "figures" / f"{figure}.png").read_bytes()[:4] == b"\x89PNG"
    # every store and white-box set reports its success; tables.md shows it
    attacks = pd.read_csv(results / "tables" / "attacks.csv")
    assert sorted(zip(attacks.origin, attacks.split, attacks.attack, strict=True)) == [
        *[("store", "test", name) for name in ("fgsm", "gn")],
        ("store", "train", "fgsm"),
        *[("white_box", "test", "fgsm")] * 3,
    ]
    fgsm = attacks[attacks.attack == "fgsm"]
    assert (fgsm.linf_max <= 0.1).all() and fgsm.success_rounded.notna().all()
    assert "## Stored attacks" in tables and "### White-box sets" in tables
    training_log = (results / "logs" / "train_model" / "cnn_N3_draw0_standard.log").read_text()
    assert "training: 100%" in training_log
    assert (
        "fgsm/test: 100%" in (results / "logs" / "adversarial_store" / "test_fgsm.log").read_text()
    )
    assert not list(results.rglob("*.partial")) and not list(results.rglob("checkpoint.pt"))
    # only the attacks a defence trains on are generated over the train split
    assert sorted(p.name for p in (results / "store" / "train").iterdir()) == ["fgsm.h5"]
    # robust validation every epoch, both checkpoints kept, the selection in every row
    for log in results.glob("runs/*/*/*/*/epochs.csv"):
        epochs = pd.read_csv(log)
        assert list(epochs.epoch) == [0, 1]
        assert epochs.val_accuracy.between(0, 1).all()
        assert epochs.val_pgd_accuracy.between(0, 1).all()
        assert epochs.val_fgsm_accuracy.between(0, 1).all()
        assert list(epochs.selected) == [False, True]  # checkpoint: last
        assert log.with_name("last.safetensors").exists()
    assert (metrics.checkpoint == "last").all() and (metrics.checkpoint_epoch == 1).all()
    assert "## Checkpoints and robust validation" in tables and "## Overfitting checks" in tables
    assert (results / "figures" / "validation_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_tables_read_as_words_fit_120_characters_and_bound_their_intervals(finished):
    from test_tables_layout import check_tables_md

    tables = finished / RESULTS / "tables"
    text = (tables / "tables.md").read_text()
    check_tables_md(text)
    assert "no runs in this study produce" not in text
    assert "\nNo run of this study produces these sections: " in text  # e.g. ho2024's tables
    assert "| cnn · offline" in text  # a (model, defence) label as words
    page = (tables / "tables.html").read_text()
    alignment_rows = re.findall(r"^\|[-:| ]+\|$", text, flags=re.MULTILINE)
    assert page.count("<table>") == len(alignment_rows) and "<h2>Robust accuracy" in page
    # evaluation.white_box_below_n: restricted in the tiny study: each white-box row at M < N
    # says which classifier was attacked, and only M = N rows are in the white-box table
    metrics = pd.read_csv(tables / "metrics.csv", keep_default_na=False, na_values=[""])
    white = metrics[metrics.test_set == "white_box-fgsm"]
    heads = white.groupby("white_box_head").predicted_classes.agg(set).to_dict()
    assert heads == {"attacked": {3, 10}, "n_way_transfer": {2}, "restricted": {2}}
    assert len(white[white.white_box_head == "restricted"]) == 2 * 2  # 2 runs x 2 trials


def test_every_data_file_is_sealed_for_what_it_is_and_logs_come_first(finished):
    """Each dataset, subset, store, weights, logits and white-box file verifies against the
    identity the workflow plans for its path (what the next job checks)."""
    from robustsweep.file_identity import verify_file
    from robustsweep.planned_files import planned_identity
    from robustsweep.results_folder import LOCK_NAME
    from robustsweep.study_config import validate_config

    config, results = validate_config(TINY), finished / RESULTS
    kinds = []
    for path in sorted(results.rglob("*")):
        expected = planned_identity(config, f"{RESULTS}/{path.relative_to(results)}")
        if expected is not None:
            kinds.append(verify_file(path, expected).identity["kind"])
    assert sorted(set(kinds)) == sorted(
        [
            "dataset",
            "natural_adversarial",
            "subset",
            "store",
            "weights",
            "logits",
            "white_box",
            "budget_sweep",
        ]
    )
    # each run's selected and last weights (training.checkpoint), and the surrogate's
    assert kinds.count("weights") == 8 and kinds.count("store") == 3
    owner = json.loads((results / LOCK_NAME).read_text())
    assert owner["checkout"] == str(REPO.resolve()) and owner["workdir"] == str(finished)
    log = (results / "logs" / "prepare_dataset.log").read_text()
    assert log.startswith("robustsweep prepare on ")


def test_a_second_writer_from_another_clone_is_refused_with_one_line(finished, tmp_path):
    """While another Snakemake (here: a process in another folder holding the lock for
    another clone) writes the results folder, this one stops before its first job."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from robustsweep.results_folder import lock_results_folder; "
            "lock_results_folder(sys.argv[1], '/elsewhere/clone'); print('locked', flush=True); "
            "time.sleep(300)",
            str(finished / RESULTS),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**tool_env(), "PYTHONPATH": str(REPO / "workflow")},
        cwd=tmp_path,
    )
    subset = finished / RESULTS / "subsets" / "N3" / "draw0.json"
    before = subset.read_bytes()
    try:
        assert holder.stdout.readline().strip() == "locked"
        target = f"{RESULTS}/subsets/N3/draw0.json"
        result = snakemake(finished, TINY, "--forcerun", "class_subset", target)
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode != 0
    refusals = [line for line in result.stderr.splitlines() if line.startswith("robustsweep:")]
    assert refusals == [
        f"robustsweep: results folder '{RESULTS}' is being written by another Snakemake "
        f"(checkout /elsewhere/clone, working folder {tmp_path}, pid {holder.pid} on "
        f"{socket.gethostname()}); wait for it to finish or set `results` to another folder"
    ]
    assert subset.read_bytes() == before


def test_results_carry_config_versions_and_commit(finished):
    record = json.loads((finished / RESULTS / "study_record.json").read_text())
    assert record["config"]["experiments"]["sweep"]["train_classes"] == [3, 10]
    assert record["config"]["training"]["optimizer"] == "adamw"  # defaults resolved
    assert record["versions"]["torch"] and record["versions"]["torchattacks"]
    assert re.fullmatch(r"([0-9a-f]{40}(-dirty)?|unknown)", record["git_commit"])


def test_same_config_gives_identical_tables_in_another_folder(finished, tmp_path):
    result = snakemake(tmp_path, TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    for table in ("metrics.csv", "tables.md"):
        assert (tmp_path / RESULTS / "tables" / table).read_bytes() == (
            finished / RESULTS / "tables" / table
        ).read_bytes()


def clean_and_background_runs(tmp_path: Path, config: dict, target: str):
    """Build `target` uninterrupted in one folder; start building it in another, in its own
    process group so that the test can kill Snakemake and all its jobs at once."""
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    clean.mkdir()
    killed.mkdir()
    assert snakemake(clean, config, target).returncode == 0
    command = snakemake_command(killed, config, target, cores=1)
    process = subprocess.Popen(
        command,
        env=tool_env(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return clean, killed, process


def resume(killed: Path, config: dict, target: str) -> None:
    """What a user does after a kill: unlock the folder and run the same command again."""
    assert snakemake(killed, config, "--unlock").returncode == 0
    result = snakemake(killed, config, target)
    assert result.returncode == 0, result.stderr[-3000:]


def test_killed_training_job_resumes_from_its_checkpoint(tmp_path):
    """SIGKILL the whole job mid-training; the rerun resumes and ends where a clean run ends."""
    config = changed("training.epochs", 60)
    target = f"{RESULTS}/runs/cnn/N3/draw0/standard/weights.safetensors"
    clean, killed, process = clean_and_background_runs(tmp_path, config, target)
    checkpoint = killed / target.replace("weights.safetensors", "checkpoint.pt")
    deadline = time.time() + 300
    while not checkpoint.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    kill_group(process)
    assert checkpoint.exists() and not (killed / target).exists()
    resume(killed, config, target)
    log = (killed / RESULTS / "logs/train_model/cnn_N3_draw0_standard.log").read_text()
    assert "resuming from" in log
    assert (killed / target).read_bytes() == (clean / target).read_bytes()


def chunks_done(partial: Path) -> int:
    """Chunks a running generation has flushed (read without HDF5's lock; 0 if unreadable)."""
    import h5py

    try:
        with h5py.File(partial, "r", locking=False) as h5:
            return int(h5["cw/chunk_done"][()].sum())
    except (OSError, KeyError):
        return 0


def test_killed_store_generation_resumes_at_the_first_unfinished_chunk(tmp_path):
    """SIGKILL the workflow during a slow attack; the rerun finishes the same store."""
    from robustsweep.attacks.store_file import read_store

    config = changed("attacks.batch_size", 16)
    config["attacks"]["methods"]["cw"] = {"method": "cw", "c": 1.0, "steps": 150, "lr": 0.01}
    target = f"{RESULTS}/store/test/cw.h5"
    clean, killed, process = clean_and_background_runs(tmp_path, config, target)
    partial = killed / (target + ".partial")
    deadline = time.time() + 300
    while chunks_done(partial) < 2 and time.time() < deadline and process.poll() is None:
        time.sleep(0.1)
    kill_group(process)
    assert not (killed / target).exists()
    done = chunks_done(partial)
    assert 0 < done < 23
    resume(killed, config, target)
    log = (killed / RESULTS / "logs/adversarial_store/test_cw.log").read_text()
    assert f"at chunk {done}: {done} of 23 chunks already done" in log
    resumed, reference = read_store(killed / target), read_store(clean / target)
    assert (resumed.images == reference.images).all()
    assert (resumed.source_pred == reference.source_pred).all()


def test_report_collects_the_figures(finished):
    result = snakemake(finished, TINY, "--report", "report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (finished / "report.html").stat().st_size > 10_000


def test_complete_study_has_nothing_to_do(finished):
    assert planned(finished, TINY) == {}


def test_figure_option_reruns_only_figures(finished):
    assert planned(finished, changed("figures.dpi", 80)) == FIGURE_RULES


def test_min_success_redraws_the_attack_table_without_rerunning_attacks(finished):
    plan = planned(finished, changed("attacks.min_success", 0.5))
    assert plan == {
        "collect_attacks": 1,
        "paper_tables": 1,
        "figure": 1,
        "study_record": 1,
        "all": 1,
    }


def test_adding_n_adds_only_the_new_run(finished):
    plan = planned(finished, changed("experiments.sweep.train_classes", [3, 5, 10]))
    assert plan == {
        "class_subset": 1,
        "train_model": 1,
        "logits_cache": 1,
        "white_box": 1,
        "evaluate_run": 1,
        **REPORTING,
    }


def test_training_option_reruns_training_and_what_follows_only(finished):
    plan = planned(finished, changed("training.epochs", 3))
    assert "prepare_dataset" not in plan and "class_subset" not in plan
    # three study runs plus the shared surrogate run; the stores and the mined set
    # depend on that run, so they follow it
    assert plan["train_model"] == 4 and plan["logits_cache"] == 3 and plan["white_box"] == 3
    assert plan["adversarial_store"] == 3 and plan["mine_natural_adversarial"] == 1


@pytest.fixture(scope="module")
def moved(finished, tmp_path_factory) -> tuple[Path, Path]:
    """A copy of the checkout in another folder, and a copy of the finished study's folder
    (results and Snakemake's records) beside it: what a user has after moving both."""
    root = tmp_path_factory.mktemp("moved")
    checkout = root / "checkout"
    skip = (".git", ".venv", "results", ".snakemake", "__pycache__", "*.egg-info", "resources")
    shutil.copytree(REPO, checkout, ignore=shutil.ignore_patterns(*skip, ".*_cache"))
    workdir = root / "study"
    shutil.copytree(finished, workdir)
    return checkout, workdir


@contextmanager
def edited(path: Path, text: str = "\n_EDITED = True  # code that changes nothing it computes\n"):
    """The file with `text` appended (created if new), restored (or removed) afterwards. The
    default is a line of code: a comment alone would change no digest (code_digest.py)."""
    original = path.read_text() if path.exists() else None
    path.write_text((original or "") + text)
    try:
        yield
    finally:
        if original is None:
            path.unlink()
        else:
            path.write_text(original)


def test_moved_checkout_and_results_have_nothing_to_do(moved):
    checkout, workdir = moved
    assert planned(workdir, TINY, checkout) == {}


def package_file(checkout: Path, name: str) -> Path:
    return checkout / "workflow" / "robustsweep" / name


@pytest.mark.parametrize("unused", ["training/defences/mart.py", "data/sources/cifar.py"])
def test_editing_a_method_the_study_does_not_use_reruns_nothing(moved, unused):
    checkout, workdir = moved
    with edited(package_file(checkout, unused)):
        assert planned(workdir, TINY, checkout) == {}


def test_editing_the_figure_code_reruns_only_figures_and_says_which_module(moved):
    checkout, workdir = moved
    with edited(package_file(checkout, "reporting/figures/__init__.py")):
        assert planned(workdir, TINY, checkout) == {"figure": 9, "all": 1}
        result = snakemake(workdir, TINY, "-n", checkout=checkout)
    reasons = [line for line in result.stdout.splitlines() if "Params have changed" in line]
    assert reasons and all("reporting/figures/__init__.py=" in line for line in reasons)
    with edited(package_file(checkout, "reporting/figures/accuracy_vs_m.py")):
        assert planned(workdir, TINY, checkout) == {"figure": 1, "all": 1}


def test_editing_a_table_module_reruns_only_the_tables(moved):
    checkout, workdir = moved
    with edited(package_file(checkout, "reporting/tables/reproduction.py")):
        assert planned(workdir, TINY, checkout) == {"paper_tables": 1, "all": 1}


def test_editing_masking_checks_reruns_logits_not_training_or_attacks(moved):
    checkout, workdir = moved
    with edited(package_file(checkout, "evaluation/gradient_masking.py")):
        plan = planned(workdir, TINY, checkout)
    assert plan["logits_cache"] == 3 and plan["evaluate_run"] == 3
    expensive = {"train_model", "adversarial_store", "white_box", "mine_natural_adversarial"}
    assert not expensive & set(plan)


NEW_ATTACK = """
from robustsweep.attacks.methods import ATTACK_METHODS, AttackMethod
from robustsweep.registry import number


@ATTACK_METHODS.register("uniform_noise")
class UniformNoise(AttackMethod):
    eps: float = number(0.1, exclusive_minimum=0, maximum=1)
    black_box = True

    def budget(self):
        return "Linf", self.eps

    def build(self, model, n_classes):
        import torch

        return lambda x, y: (x + self.eps * (2 * torch.rand_like(x) - 1)).clamp(0, 1)
"""


def test_adding_an_attack_adds_only_its_jobs(moved):
    checkout, workdir = moved
    with edited(package_file(checkout, "attacks/methods/uniform_noise.py"), NEW_ATTACK):
        assert planned(workdir, TINY, checkout) == {}  # registered, not used: nothing
        config = changed("attacks.methods.uniform", {"method": "uniform_noise"})
        as_store = planned(workdir, config, checkout)
        config["evaluation"]["white_box"] = ["fgsm", "uniform"]
        as_white_box = planned(workdir, config, checkout)
    # its test-split store, then the forward passes and metrics of every run
    assert as_store == {"adversarial_store": 1, "logits_cache": 3, "evaluate_run": 3, **REPORTING}
    # white-box: one attack job per run on top
    assert as_white_box == {**as_store, "white_box": 3}


# The Snakefile's wiring: a schema error and a file check, each stopping before any job. The
# cross-key rules (N and M against the pool, duplicate draws, ...) give the same one line
# through the same validate_config; tests/test_study_config.py checks each of them without a
# Snakemake start.
@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("training.epoch", 3, "unknown config key 'epoch' under 'training'"),
        (
            "dataset",
            {"source": "imagefolder", "root": "no/such/folder"},
            "dataset folder 'no/such/folder' (config key 'dataset.root') does not exist",
        ),
        # the results-folder checks run in the Snakefile too (the others: test_bad_inputs.py)
        ("results", "/", "results folder '/' is the filesystem root"),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path, path, value, message):
    result = snakemake(tmp_path, changed(path, value), "-n")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "robustsweep config error" in line]
    assert len(errors) == 1 and message in errors[0]
    assert not (tmp_path / RESULTS).exists()


def test_a_key_given_twice_in_the_study_file_stops_before_any_job(tmp_path):
    """YAML would keep the second `training` block only, dropping lr and restart_epochs."""
    study = (REPO / "tests" / "configs" / "tiny.yaml").read_text()
    study += "training: {epochs: 3}\n"
    (tmp_path / "study.yaml").write_text(study)
    line = study.splitlines().index("training: {epochs: 2, lr: 0.003, restart_epochs: 2}") + 1
    result = subprocess.run(
        snakemake_args(tmp_path, [tmp_path / "study.yaml"], "-n"),
        capture_output=True,
        text=True,
        env=tool_env(),
        timeout=300,
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "robustsweep config error" in line]
    assert errors == [
        f"robustsweep config error: config file '{tmp_path / 'study.yaml'}' gives key "
        f"'training' twice at the top level (lines {line} and {len(study.splitlines())}); "
        "YAML would keep only the second: merge them into one"
    ]

"""Data-parallel training (training/data_parallel.py) with 2 gloo processes on the CPU.

The reference is data parallelism written out by hand in one process: each global batch of
the seeded epoch is split into the ranks' shares (numpy's array_split), each share's mean
loss is weighted by its size and back-propagated into one gradient, and BatchNorm normalises
each share with its own statistics, running statistics being rank 0's (DDP's behaviour on
the CPU, where torch has no SyncBatchNorm). The two can differ only in floating-point order:
the ranks' gradients are summed by gloo instead of accumulated by autograd.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file
from torch.nn.functional import cross_entropy

from conftest import REPO
from robustsweep.file_identity import read_seal
from robustsweep.input_errors import ConfigError
from robustsweep.job_settings import train_settings, training_gpus, training_processes
from robustsweep.models.architectures import architecture_of
from robustsweep.models.networks import build_model
from robustsweep.run_grid import Run
from robustsweep.stage_settings import Compute, TrainSettings
from robustsweep.study_config import validate_config
from robustsweep.training.batch_augmentation import BatchAugmentation
from robustsweep.training.data_parallel import KILL_WORKER
from robustsweep.training.defences import DEFENCES, TrainingContext
from robustsweep.training.defences.awp import EPS as AWP_EPS
from robustsweep.training.defences.awp import AwpTrainer, add_to_weights, perturbed_weights
from robustsweep.training.training_loop import (
    epoch_generator,
    images_on_device,
    make_optimizer,
    make_scheduler,
    rank_seeds,
    recipe,
    train_stage,
)

MODEL = {"architecture": "small_cnn", "width": 4}  # the tiny study's model
RECIPE = recipe(epochs=2, lr=3e-3, restart_epochs=2)  # the tiny study's recipe, batch 100
SEED = 0
CPU = torch.device("cpu")


def hand_data_parallel(*arguments, **options) -> dict[str, torch.Tensor]:
    """`one_process_data_parallel` computed with one thread, as each worker computes (the
    launcher gives each its share of the job's threads): a multi-threaded convolution sums in
    another order, which Adam's first step turns into sign flips of near-zero gradients
    (measured: a 2-thread reference of a crop_flip step 6e-3 off in a few weights)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return one_process_data_parallel(*arguments, **options)
    finally:
        torch.set_num_threads(threads)


def one_process_data_parallel(
    dataset, subset, processes: int, defence: dict | None = None, training=RECIPE, stores=None
) -> dict[str, torch.Tensor]:
    """The weights K data-parallel processes with per-rank BatchNorm reach, in one process.
    With a `defence`, each share's loss is the defence's, drawing from that rank's own
    generator and global random state (seeded as the training loop seeds them), with the
    train-split `stores` {attack: path} and the recipe's augmentation. AWP's weight
    perturbation is the one of the global batch's gradient, its proxy normalising each share
    with the share's BatchNorm statistics."""
    class_ids = json.loads(subset.read_text())["class_ids"]
    torch.manual_seed(SEED)
    model = build_model(architecture_of(MODEL), len(class_ids))
    cpu = torch.device("cpu")
    data = images_on_device(dataset, class_ids, training, cpu)
    trainer = None
    if defence is not None:
        augmentation = BatchAugmentation.of(training)
        context = TrainingContext(
            cpu, data.indices, stores or {}, None, data.image_size, augmentation
        )
        trainer = DEFENCES.build(defence).build(context)
        trainer.prepare(model)
    optimizer = make_optimizer(list(model.parameters()), training)
    scheduler = make_scheduler(optimizer, training, -(-data.count // training.batch_size))
    for epoch in range(training.epochs):
        model.train()
        if trainer is not None:
            trainer.start_epoch(epoch)
        generator = epoch_generator(SEED, epoch)
        draws = [generator] if processes == 1 else []
        states = []
        for rank in range(processes):
            torch.manual_seed(rank_seeds(SEED, epoch, rank)[0])
            states.append(torch.get_rng_state())
            if processes > 1:
                draws.append(torch.Generator().manual_seed(rank_seeds(SEED, epoch, rank)[1]))
        for images, targets, positions in data.epoch(generator):
            x = images.float() / 255
            start = {name: b.clone() for name, b in model.named_buffers()}
            optimizer.zero_grad()
            if isinstance(trainer, AwpTrainer):
                kept = hand_awp_step(model, trainer, x, targets, processes, states, start)
                model.load_state_dict(kept, strict=False)
                optimizer.step()
                trainer.after_step(model)
                scheduler.step()
                continue
            for rank, part in enumerate(np.array_split(np.arange(len(x)), processes)):
                model.load_state_dict(start, strict=False)  # rank 0's buffers, broadcast
                torch.set_rng_state(states[rank])
                if trainer is None:
                    loss = cross_entropy(model(x[part]), targets[part])
                else:
                    loss, _ = trainer.loss(
                        model, x[part], targets[part], positions[part], draws[rank]
                    )
                states[rank] = torch.get_rng_state()
                (loss * len(part) / len(x)).backward()
                if rank == 0:
                    kept = {name: b.clone() for name, b in model.named_buffers()}
            model.load_state_dict(kept, strict=False)
            optimizer.step()
            scheduler.step()
    return model.state_dict()


def hand_awp_step(model, trainer, x, targets, processes, states, start) -> dict:
    """AWP's step under K processes, in one: each rank attacks its share; the perturbation
    direction is that of the shares' gradients summed with weights share/batch (the global
    batch's mean-loss gradient); each share's loss is taken on the perturbed weights.
    Returns rank 0's buffers after its forward pass; the gradient is accumulated in `model`."""
    parts = np.array_split(np.arange(len(x)), processes)
    adversarial, crafted = [], []
    for rank, part in enumerate(parts):
        model.load_state_dict(start, strict=False)
        torch.set_rng_state(states[rank])
        adversarial.append(trainer.attack(model, x[part], targets[part]))
        states[rank] = torch.get_rng_state()
        # an attack in train mode (AWP on AT) moves the rank's BatchNorm running statistics
        crafted.append({name: b.clone() for name, b in model.named_buffers()})
    proxy = copy.deepcopy(model)
    named = perturbed_weights(proxy)
    total = [torch.zeros_like(p) for _, p in named]
    for rank, part in enumerate(parts):
        proxy.load_state_dict(model.state_dict())
        proxy.train()
        objective = trainer.objective(proxy, x[part], adversarial[rank], targets[part])[0]
        grads = torch.autograd.grad(objective, [p for _, p in named])
        for sum_, grad in zip(total, grads, strict=True):
            sum_ += grad * (len(part) / len(x))
    weights = dict(perturbed_weights(model))
    trainer.pending = {
        name: grad * (weights[name].detach().norm() / (grad.norm() + AWP_EPS))
        for (name, _), grad in zip(named, total, strict=True)
    }
    add_to_weights(model, trainer.pending, trainer.method.gamma)
    for rank, part in enumerate(parts):
        model.load_state_dict(crafted[rank], strict=False)
        loss, _ = trainer.objective(model, x[part], adversarial[rank], targets[part])
        (loss * len(part) / len(x)).backward()
        if rank == 0:
            kept = {name: b.clone() for name, b in model.named_buffers()}
    return kept


def train(
    folder, dataset, subset, processes: int, defence=None, training=RECIPE, stores=None
) -> None:
    torch.set_num_threads(1)
    train_stage(
        settings=TrainSettings(
            model=MODEL, recipe=training, defence=defence or {"method": "standard"}, draw=SEED
        ),
        compute=Compute(device="cpu", threads=processes, processes=processes),
        dataset=dataset,
        subset=subset,
        weights=folder / "weights.safetensors",
        epoch_log=folder / "epochs.csv",
        stores=stores,
    )


def test_two_processes_take_the_global_batch_step_and_resume_after_a_lost_worker(
    tmp_path, digits_h5, all_classes_subset, monkeypatch, capfd
):
    # the hand reference with one process is the training loop itself (same order of
    # operations, so equal to the last bit)
    single = tmp_path / "single"
    train(single, digits_h5, all_classes_subset, 1)
    alone = load_file(single / "weights.safetensors")
    for name, value in hand_data_parallel(digits_h5, all_classes_subset, 1).items():
        torch.testing.assert_close(alone[name], value, rtol=0, atol=0, msg=name)
    expected = hand_data_parallel(digits_h5, all_classes_subset, 2)

    whole = tmp_path / "whole"
    train(whole, digits_h5, all_classes_subset, 2)
    weights = load_file(whole / "weights.safetensors")
    # 22 AdamW steps from the same start: gloo's sum of the two gradients and autograd's
    # accumulation round differently in the last bits (float32 eps 1.2e-7), which Adam's
    # normalisation carries into the weights: measured 1.5e-7 at most (9e-7 relative),
    # while per-rank against global BatchNorm statistics moves weights by up to 4e-2
    for name, value in expected.items():
        if value.is_floating_point():
            torch.testing.assert_close(weights[name], value, rtol=1e-5, atol=2e-6, msg=name)
        else:
            assert torch.equal(weights[name], value), name
    epochs = (whole / "epochs.csv").read_text().splitlines()
    # against one process, the only difference is BatchNorm's statistics (of 50 images
    # instead of 100): the epoch log's accuracy and loss agree closely (measured 1e-3, 2e-3)
    last, last_alone = (
        [float(v) for v in (folder / "epochs.csv").read_text().splitlines()[-1].split(",")[1:3]]
        for folder in (whole, single)
    )
    assert last == pytest.approx(last_alone, abs=0.02)
    assert len(epochs) == 1 + RECIPE.epochs  # one row per epoch: only rank 0 writes it
    # the process count, which changes BatchNorm's statistics on the CPU, is on record
    column = epochs[0].split(",").index("data_parallel")
    assert {row.split(",")[column] for row in epochs[1:]} == {"2"}
    # robust validation ran in both processes, each on its share, and the counts were summed:
    # the same images as one process, scored with weights that differ by BatchNorm's batch
    validation = [pd.read_csv(folder / "epochs.csv") for folder in (whole, single)]
    for measure in ("val_accuracy", "val_pgd_accuracy", "val_fgsm_accuracy"):
        assert validation[0][measure].between(0, 1).all()
        # 97 validation images clean, 2 attacked: one image is 0.01 and 0.5 of them; the
        # weights' difference (above) moves a few predictions at most
        assert validation[0][measure].iloc[-1] == pytest.approx(
            validation[1][measure].iloc[-1], abs=0.05 if measure == "val_accuracy" else 0.5
        )
    assert read_seal(whole / "weights.safetensors").identity["data_parallel"] == 2
    assert read_seal(single / "weights.safetensors").identity["data_parallel"] == 1
    assert not (whole / "checkpoint.pt").exists()
    first = capfd.readouterr()
    assert first.out.count("training with 2 data-parallel processes (gloo)") == 1

    # worker 1 dies after epoch 0's checkpoint: the job fails, nothing final is written
    killed = tmp_path / "killed"
    monkeypatch.setenv(KILL_WORKER, "1:0")
    with pytest.raises(SystemExit) as stopped:
        train(killed, digits_h5, all_classes_subset, 2)
    assert "training worker 1 of 2 failed (signal SIGKILL)" in str(stopped.value)
    assert not (killed / "weights.safetensors").exists()
    assert not (killed / "epochs.csv").exists()
    saved = torch.load(killed / "checkpoint.pt", weights_only=True)
    assert saved["epoch"] == 0

    # the rerun resumes after epoch 0 (rank 0 says so, once) and ends where the whole run did
    monkeypatch.delenv(KILL_WORKER)
    capfd.readouterr()
    train(killed, digits_h5, all_classes_subset, 2)
    resumed = capfd.readouterr()
    assert resumed.out.count("after epoch 0") == 1
    again = load_file(killed / "weights.safetensors")
    for name, value in weights.items():
        torch.testing.assert_close(again[name], value, rtol=0, atol=0, msg=name)
    rows = [line.split(",")[:3] for line in (killed / "epochs.csv").read_text().splitlines()]
    assert rows == [line.split(",")[:3] for line in epochs]


def test_an_attack_in_the_loss_runs_on_each_share_with_the_ranks_own_draws(
    tmp_path, digits_h5, all_classes_subset
):
    """PGD-AT with 2 processes: each rank attacks its share through DDP, its random start
    drawn from its own seed; the hand reference attacks each share in turn. One step (the
    whole train split is one batch): PGD's sign steps turn float-order differences in the
    weights into different pixel steps, so after several steps the two drift apart (5e-3
    after 11) while the first step agrees to float order. Ranks drawing the same random
    start, or attacking the whole batch, move it by far more."""
    defence = {"method": "pgd_at", "eps": 8 / 255, "alpha": 2 / 255, "steps": 2}
    one_step_like_the_hand_reference(tmp_path, digits_h5, all_classes_subset, defence)


ONE_STEP = recipe(epochs=1, batch_size=1200, lr=3e-3, restart_epochs=2)


def one_step_like_the_hand_reference(
    folder, dataset, subset, defence, training=ONE_STEP, stores=None
) -> dict[str, torch.Tensor]:
    """Returns the 2-process run's weights (checked against the hand reference)."""
    train(folder, dataset, subset, 2, defence, training, stores)
    weights = load_file(folder / "weights.safetensors")
    expected = hand_data_parallel(dataset, subset, 2, defence, training, stores)
    torch.manual_seed(SEED)
    classes = len(json.loads(subset.read_text())["class_ids"])
    initial = build_model(architecture_of(MODEL), classes).state_dict()
    moved = 0.0
    for name, value in expected.items():
        if value.is_floating_point():
            torch.testing.assert_close(weights[name], value, rtol=1e-5, atol=2e-6, msg=name)
            moved = max(moved, (value - initial[name]).abs().max().item())
    assert moved > 1e-3  # the step moved the weights far beyond the tolerance
    return weights


# Every online defence allowed under data parallelism, at small budgets (one step each, about
# a second): FAT's early stop gives the ranks different numbers of forward passes (through
# DDP, each a collective, they deadlocked), TRADES and MART take two forward passes through
# DDP before one backward, AWP's perturbation needs the global batch's gradient and the
# unwrapped module's parameter names.
ONLINE = {
    "fat": {"method": "fat", "eps": 8 / 255, "alpha": 2 / 255, "steps": 4, "tau": 1},
    "trades": {"method": "trades", "eps": 8 / 255, "alpha": 2 / 255, "steps": 2},
    "mart": {"method": "mart", "eps": 8 / 255, "alpha": 2 / 255, "steps": 2},
    "alp": {"method": "alp", "eps": 8 / 255, "alpha": 2 / 255, "steps": 2},
    # xu2024's (rcm's) ALP: clean and adversarial halves in two passes, untargeted
    "alp_two_passes": {
        "method": "alp",
        "eps": 8 / 255,
        "alpha": 2 / 255,
        "steps": 2,
        "joint_batchnorm": False,
        "target": "true_class",
    },
    "fgsm_rs": {"method": "fgsm_rs", "eps": 8 / 255},
    "sign_init_mix": {"method": "sign_init_mix", "eps": 8 / 255, "steps": 2},
    "awp": {"method": "awp", "eps": 8 / 255, "alpha": 2 / 255, "steps": 2},
}


@pytest.mark.parametrize("defence", list(ONLINE))
def test_an_online_defence_takes_the_global_batch_step_under_two_processes(
    defence, tmp_path, digits_h5, all_classes_subset
):
    one_step_like_the_hand_reference(tmp_path, digits_h5, all_classes_subset, ONLINE[defence])


@pytest.fixture(scope="module")
def train_fgsm_store(tmp_path_factory, digits_h5, trained_model) -> dict[str, Path]:
    """A train-split FGSM store of the digits, written once: what offline_adversarial swaps
    in (the stage gets it as `stores`, as the workflow passes the study's stores)."""
    from robustsweep.attacks.adversarial_store import generate_store

    store = tmp_path_factory.mktemp("stores") / "train-fgsm.h5"
    fgsm = {"method": "fgsm", "eps": 0.1}
    generate_store(store, digits_h5, "train", trained_model, "fgsm", fgsm, 512, 0, CPU)
    return {"fgsm": store}


def test_offline_adversarial_swaps_each_share_with_the_ranks_own_draws(
    tmp_path, digits_h5, all_classes_subset, train_fgsm_store, monkeypatch
):
    """tan2022's sampler under 2 processes: each rank swaps samples of its share for their
    stored versions (and augments them) with draws from its own generator; the hand reference
    swaps each share in turn with the replayed per-rank generators. One step with crop_flip,
    so the swapped images' augmentation is drawn there too. Had the ranks drawn alike (each
    share swapped at the same offsets, as from one shared seed), the step would differ by
    far more than the tolerance."""
    defence = {"method": "offline_adversarial", "ratio": 0.5, "attacks": ["fgsm"]}
    training = recipe(
        epochs=1, batch_size=1200, lr=3e-3, restart_epochs=2, augmentation="crop_flip"
    )
    args = (digits_h5, all_classes_subset, defence, training, train_fgsm_store)
    weights = one_step_like_the_hand_reference(tmp_path, *args)
    # the reference with every rank seeded as rank 0: same-offset swaps in both shares
    own = rank_seeds
    monkeypatch.setattr(
        sys.modules[__name__], "rank_seeds", lambda seed, epoch, rank: own(seed, epoch, 0)
    )
    alike = hand_data_parallel(
        digits_h5, all_classes_subset, 2, defence, training, train_fgsm_store
    )
    apart = max(
        (weights[name] - value).abs().max().item()
        for name, value in alike.items()
        if value.is_floating_point()
    )
    assert apart > 1e-4


class Wrapper(torch.nn.Module):
    """Stands for DDP: the model as `.module`, counting the forward passes through it."""

    def __init__(self, module):
        super().__init__()
        self.module, self.passes = module, 0

    def forward(self, x):
        self.passes += 1
        return self.module(x)


@pytest.mark.parametrize("defence", list(ONLINE))
def test_no_attack_runs_through_the_ddp_wrapper(defence, monkeypatch):
    """Only the loss's own forward passes (one, or two with a clean and an adversarial one)
    go through DDP, whatever the attack does: an attack's passes through it would be
    collectives, and FAT's data-dependent early stop would deadlock the ranks."""
    from robustsweep.ranks import Ranks
    from robustsweep.training import data_parallel

    monkeypatch.setattr(data_parallel, "ranks", lambda: Ranks(0, 2))
    monkeypatch.setattr(data_parallel, "global_mean_gradients", lambda grads, count: grads)
    torch.manual_seed(0)
    inner = build_model(architecture_of(MODEL), 10)
    x, y = torch.rand(6, 1, 8, 8), torch.arange(6)
    context = TrainingContext(torch.device("cpu"), torch.arange(6), {}, None, 8, None)
    spec = {**ONLINE[defence], "steps": 3} if "steps" in ONLINE[defence] else ONLINE[defence]
    trainer = DEFENCES.build(spec).build(context)
    trainer.prepare(inner)
    trainer.start_epoch(0)
    wrapper = Wrapper(inner)
    trainer.loss(wrapper, x, y, torch.arange(6), torch.Generator().manual_seed(0))
    # ALP's default (Kannan et al.) passes concat(clean, adversarial) through once
    assert wrapper.passes == (2 if defence in {"trades", "mart", "alp_two_passes"} else 1)


def test_every_defence_allowed_under_data_parallelism_is_verified_here():
    allowed = {name for name in DEFENCES.names() if DEFENCES.get(name).target.data_parallel}
    verified = {"standard", "pgd_at", "offline_adversarial"} | {
        spec["method"] for spec in ONLINE.values()
    }
    assert allowed == verified


def test_bad_input_in_a_worker_is_one_line_without_the_resume_advice(tmp_path, digits_h5, capfd):
    """Every rank meets the InputError; rank 0 prints it and the workers exit with
    INPUT_ERROR_EXIT, which the launcher passes on without "worker failed ... rerun"."""
    subset = tmp_path / "subset.json"
    subset.write_text(json.dumps({"class_ids": [42]}))  # no train image has class 42
    with pytest.raises(SystemExit) as stopped:
        train(tmp_path, digits_h5, subset, 2)
    assert stopped.value.code == 1
    error = capfd.readouterr().err
    assert error.count("robustsweep train: the train split holds no images of the run's") == 1
    assert "training worker" not in error and "rerun" not in error
    assert list(tmp_path.iterdir()) == [subset]


CLAIM_K = """
import sys
from robustsweep.gpu_allocation import job_gpu_names
print(",".join(job_gpu_names(0, int(sys.argv[1]))), flush=True)
sys.stdin.read()
"""


def test_a_k_process_job_claims_k_devices(tmp_path):
    """Four simulated GPUs: a 2-process job takes 0,1, the next takes 2,3, a third shares
    two (and says so); asking for more processes than GPUs is refused in one line."""
    import os

    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "workflow"),
        "ROBUSTSWEEP_GPUS": "0,1,2,3",
        "ROBUSTSWEEP_GPU_LOCKS": str(tmp_path / "locks"),
    }

    def start(count: int) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", CLAIM_K, str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    jobs = [start(2)]
    try:
        assert jobs[0].stdout.readline().startswith("GPUs 0,1 of 4 claimed for this job's 2")
        assert jobs[0].stdout.readline().strip() == "0,1"
        jobs.append(start(2))
        assert jobs[1].stdout.readline().startswith("GPUs 2,3 of 4 claimed")
        assert jobs[1].stdout.readline().strip() == "2,3"
        jobs.append(start(2))
        assert "(2 shared with other robustsweep jobs)" in jobs[2].stdout.readline()
        too_many = start(5)
        _, error = too_many.communicate("", timeout=60)
        assert too_many.returncode != 0
        assert "asks for 5 data-parallel processes, one per GPU, but 4 GPU(s)" in error
    finally:
        for job in jobs:
            job.kill()
            job.wait()


TINY = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
# the tiny study with a detector head beside its defences: data parallelism refuses it
DETECTOR = {"method": "detector_head", "ratio": 0.5, "attacks": ["fgsm"]}
DETECTED = {
    **TINY["experiments"]["defended"],
    "defences": [*TINY["experiments"]["defended"]["defences"], "detector"],
}
WITH_DETECTOR = {
    **TINY,
    "defences": {**TINY["defences"], "detector": DETECTOR},
    "experiments": {**TINY["experiments"], "defended": DETECTED},
}


def test_processes_and_gpus_come_from_the_study_or_the_model():
    config = validate_config(
        {
            **TINY,
            "data_parallel": 2,
            "models": {"cnn": {**TINY["models"]["cnn"], "data_parallel": 4}},
        }
    )
    run = Run("cnn", 10, 0, "standard")
    assert training_processes(config, run) == 4 and training_gpus(config, run) == 4
    # the count is placement: the training job's tracked settings do not carry it
    assert "data_parallel" not in json.loads(train_settings(config, run))["model"]
    plain = validate_config({**TINY, "data_parallel": 2, "gpus_per_job": 0})
    assert training_processes(plain, run) == 2 and training_gpus(plain, run) == 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"data_parallel": 3},
            "batches of 100 images on 3 data-parallel processes ('data_parallel')",
        ),
        ({"data_parallel": 0}, "data_parallel"),
        (
            {"models": {"cnn": {**TINY["models"]["cnn"], "data_parallel": 0}}},
            "'models.cnn.data_parallel' must be a whole number of processes >= 1, got 0",
        ),
        (
            {"models": {"cnn": {**TINY["models"]["cnn"], "data_parallel": 8}}},
            "set 'training.batch_size' to a multiple of 8 or 'models.cnn.data_parallel'",
        ),
        (
            {
                "data_parallel": 2,
                "models": {"cnn": {**TINY["models"]["cnn"], "training": {"batch_size": 101}}},
            },
            "set 'models.cnn.training.batch_size' to a multiple of 2 or 'data_parallel'",
        ),
        (
            {"data_parallel": 2, **WITH_DETECTOR},
            "defence 'detector' (detector_head) is not verified under data parallelism, "
            "but its runs of cnn train on 2 processes ('data_parallel'); set 'data_parallel' "
            "to 1",
        ),
    ],
)
def test_a_bad_process_count_names_its_key(change, expected):
    with pytest.raises(ConfigError) as caught:
        validate_config({**TINY, **change})
    assert expected in str(caught.value)


def test_file_index_shares_are_the_one_process_batches_split(tmp_path):
    """A file-index epoch under 2 processes: each rank decodes only its share, and the shares
    are image_files.training_batches' global batches (same order, same per-image
    augmentation) cut in two; a last batch of 1 < 2 images is left out."""
    from imagenet_trees import write_tree

    from robustsweep.data.image_files import training_batches

    wnids = ["n01", "n02", "n03"]
    write_tree(tmp_path, wnids, per_class=3)  # 9 images: batches of 4, 4 and 1
    paths = sorted(str(path) for path in tmp_path.rglob("*.JPEG"))
    labels = np.asarray([wnids.index(path.split("/")[-2]) for path in paths])
    torch.set_num_threads(1)  # decode in this process

    def epoch(batches):
        return list(batches(paths, labels, 16, "imagenet", 4, torch.Generator().manual_seed(7)))

    whole = epoch(training_batches)
    assert [len(rows) for _x, _y, rows in whole] == [4, 4, 1]
    for rank in range(2):
        shares = epoch(lambda *arguments, rank=rank: training_batches(*arguments, share=(rank, 2)))
        assert len(shares) == 2
        for (x, y, rows), (gx, gy, grows) in zip(shares, whole, strict=False):
            part = slice(2 * rank, 2 * rank + 2)
            assert torch.equal(rows, grows[part]) and torch.equal(y, gy[part])
            assert torch.equal(x, gx[part])


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_the_backend_follows_the_device():
    from robustsweep.training.data_parallel import _backend

    assert _backend("auto") == "gloo" and _backend("cpu") == "gloo"
    with pytest.raises(ConfigError, match="device: 'cuda:1' pins one GPU"):
        _backend("cuda:1")
    with pytest.raises(ConfigError, match="no CUDA device is visible"):
        _backend("cuda")


def test_no_two_random_streams_of_a_run_share_a_seed():
    """Each rank's global and own seeds, over 8 ranks and 200 epochs, as torch's CPU
    generator keeps them (32 bits): all distinct, except that rank 0's global seed is the
    one-process seed the epoch generator shares (the one-process run's draws)."""
    seeds = [rank_seeds(3, epoch, rank) for rank in range(8) for epoch in range(200)]
    kept = [seed % 2**32 for pair in seeds for seed in pair]
    assert len(set(kept)) == len(kept)
    assert rank_seeds(3, 5, 0)[0] == epoch_generator(3, 5).initial_seed()

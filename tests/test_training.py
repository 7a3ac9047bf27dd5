import json

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

from conftest import kill_at_epoch, record_epochs, train_small_cnn
from robustsweep.data.class_subsets import write_subset
from robustsweep.models.trained_models import load_model, read_card
from robustsweep.training.defences.offline_adversarial import (
    OfflineAdversarialTrainer,
    StoreSampler,
)
from robustsweep.training.training_loop import recipe

CPU = torch.device("cpu")
RECIPE = recipe(epochs=3, lr=3e-3, restart_epochs=2)


def train(folder, digits_h5, subset, settings=RECIPE, draw=0):
    return train_small_cnn(folder, digits_h5, subset, recipe=settings, width=4, draw=draw)


def test_trained_model_learns_and_logs_each_epoch(trained_model):
    log = pd.read_csv(trained_model.with_name("epochs.csv"))
    assert list(log.epoch) == list(range(8))
    assert log.loss.iloc[-1] < 0.6 * log.loss.iloc[0]
    assert log.accuracy.iloc[-1] > 0.8
    assert not trained_model.with_name("checkpoint.pt").exists()


def test_n_class_model_has_n_outputs_for_the_chosen_classes(tmp_path, digits_h5):
    subset = tmp_path / "N3.json"
    write_subset(subset, range(10), [str(c) for c in range(10)], 3, 0, 1)
    weights = train(tmp_path, digits_h5, subset)
    model, card = load_model(weights)
    assert card.class_ids == json.loads(subset.read_text())["class_ids"]
    assert model(torch.zeros(2, 3, 16, 16)).shape == (2, 3)
    assert card.architecture == "small_cnn" and card.parameters > 0


def test_same_draw_gives_identical_weights(tmp_path, digits_h5, all_classes_subset):
    a = train(tmp_path / "a", digits_h5, all_classes_subset)
    b = train(tmp_path / "b", digits_h5, all_classes_subset)
    assert a.read_bytes() == b.read_bytes()


def test_killed_training_resumes_from_its_checkpoint(
    tmp_path, digits_h5, all_classes_subset, monkeypatch
):
    whole = train(tmp_path / "whole", digits_h5, all_classes_subset)
    kill_at_epoch(monkeypatch, 2)
    folder = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        train(folder, digits_h5, all_classes_subset)
    assert (folder / "checkpoint.pt").exists() and not (folder / "weights.safetensors").exists()
    epochs_run = record_epochs(monkeypatch)
    resumed = train(folder, digits_h5, all_classes_subset)
    assert epochs_run == [2]
    assert resumed.read_bytes() == whole.read_bytes()


def test_checkpoint_of_another_recipe_is_not_resumed(
    tmp_path, digits_h5, all_classes_subset, monkeypatch
):
    folder = tmp_path / "run"
    kill_at_epoch(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        train(folder, digits_h5, all_classes_subset, recipe(epochs=3, lr=1e-3))
    epochs_run = record_epochs(monkeypatch)
    train(folder, digits_h5, all_classes_subset)
    assert epochs_run == [0, 1, 2]


def test_truncated_checkpoint_stops_with_the_fix_and_writes_no_weights(
    tmp_path, digits_h5, all_classes_subset, monkeypatch
):
    from robustsweep.input_errors import WeightsError

    folder = tmp_path / "run"
    kill_at_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        train(folder, digits_h5, all_classes_subset)
    checkpoint = folder / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    monkeypatch.undo()
    with pytest.raises(WeightsError) as caught:
        train(folder, digits_h5, all_classes_subset)
    message = str(caught.value)
    assert message.startswith(f"{checkpoint}: training checkpoint is truncated or corrupt (")
    assert message.endswith("delete it and rerun the workflow to restart this run from epoch 0")
    assert "\n" not in message
    assert not (folder / "weights.safetensors").exists() and checkpoint.exists()


def test_weights_without_a_model_card_are_refused(tmp_path):
    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(1)}, str(path))
    from robustsweep.input_errors import WeightsError

    with pytest.raises(WeightsError, match="not a robustsweep weights file"):
        read_card(path)


def test_offline_sampler_swaps_the_configured_share_with_stored_images():
    n = 4000
    stored = torch.stack(
        [
            torch.full((n, 1, 2, 2), 50, dtype=torch.uint8),
            torch.full((n, 1, 2, 2), 200, dtype=torch.uint8),
        ]
    )
    seen = {}

    class Probe(torch.nn.Module):
        def forward(self, images):
            seen["images"] = images
            return torch.zeros(len(images), 2, requires_grad=True)

    trainer = OfflineAdversarialTrainer(StoreSampler(stored, ratio=0.25))
    positions = torch.arange(n)
    images = torch.ones(n, 1, 2, 2)
    trainer.loss(
        Probe(),
        images,
        torch.zeros(n, dtype=torch.long),
        positions,
        torch.Generator().manual_seed(0),
    )
    values = seen["images"][:, 0, 0, 0].numpy()
    share_adv = np.mean(values < 1)
    # Bernoulli(0.25) swaps over the batch: 0.03 is over 4 standard errors for this n
    assert abs(share_adv - 0.25) < 0.03
    per_attack = [np.mean(np.isclose(values, v / 255)) for v in (50, 200)]
    # two attacks drawn with equal probability among the swapped images: over 4 standard errors
    assert abs(per_attack[0] - per_attack[1]) < 0.04
    assert torch.equal(images, torch.ones(n, 1, 2, 2))  # the caller's batch is not modified


@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.75])
def test_bounded_dynamic_sampler_keeps_ratio_and_attack_shares_within_bounds(ratio):
    bounds = {"fgsm": [0.1, 0.3], "deepfool": [0.2, 0.4], "cw": [0.5, 0.5]}
    stored = torch.zeros(3, 1, 1, 1, 1, dtype=torch.uint8)
    sampler = StoreSampler(stored, ratio, torch.tensor(list(bounds.values())))
    generator = torch.Generator().manual_seed(7)
    batches = [sampler.choose(2000, generator) for _ in range(100)]
    swapped = torch.cat([swap for swap, _ in batches]).float().mean().item()
    # 200,000 Bernoulli(ratio) swaps: standard error below 0.0012, so 0.01 is over 8
    assert abs(swapped - ratio) < 0.01
    shares = np.array([np.bincount(which.numpy(), minlength=3) / 2000 for _, which in batches])
    # per batch, attack a's probability is w_a / sum(w) with each w within its bounds
    lowest = [0.1 / (0.1 + 0.4 + 0.5), 0.2 / (0.2 + 0.3 + 0.5), 0.5 / (0.5 + 0.3 + 0.4)]
    highest = [0.3 / (0.3 + 0.2 + 0.5), 0.4 / (0.4 + 0.1 + 0.5), 0.5 / (0.5 + 0.1 + 0.2)]
    sampling_noise = 4 * np.sqrt(0.25 / 2000)
    assert (shares.min(0) > np.array(lowest) - sampling_noise).all()
    assert (shares.max(0) < np.array(highest) + sampling_noise).all()
    assert (shares.std(0)[:2] > 0.03).all()  # the mix moves from batch to batch
    # the mean of 100 batch shares whose weights move within their bounds: their spread over 100
    # batches leaves the mean within ~0.01
    np.testing.assert_allclose(shares.mean(0), [0.2, 0.3, 0.5], atol=0.02)
    again = StoreSampler(stored, ratio, torch.tensor(list(bounds.values())))
    replay = again.choose(2000, torch.Generator().manual_seed(7))
    assert all(torch.equal(a, b) for a, b in zip(replay, batches[0], strict=True))


def test_attack_bounds_must_match_the_attacks():
    from robustsweep.input_errors import ConfigError
    from robustsweep.registry import StudyFacts
    from robustsweep.training.defences import DEFENCES

    def check_defence(name, spec):
        DEFENCES.spec(spec, f"defences.{name}", StudyFacts(attacks=("fgsm", "cw")))

    spec = {"method": "offline_adversarial", "ratio": 0.5, "attacks": ["fgsm", "cw"]}
    check_defence("mix", spec | {"attack_bounds": {"fgsm": [0.1, 0.3], "cw": [0.2, 0.2]}})
    with pytest.raises(ConfigError, match="names \\['fgsm'\\] but 'defences.mix.attacks'"):
        check_defence("mix", spec | {"attack_bounds": {"fgsm": [0.1, 0.3]}})
    with pytest.raises(ConfigError, match="'defences.mix.attack_bounds.cw' is \\[0.5, 0.2\\]"):
        check_defence("mix", spec | {"attack_bounds": {"fgsm": [0, 1], "cw": [0.5, 0.2]}})


def test_truncated_weights_name_the_file_and_the_fix(tmp_path, trained_model):
    from robustsweep.input_errors import WeightsError

    broken = tmp_path / "weights.safetensors"
    data = trained_model.read_bytes()
    for size in (5, len(data) // 2):
        broken.write_bytes(data[:size])
        with pytest.raises(WeightsError, match="truncated or corrupt.*delete it and rerun"):
            load_model(broken)


def test_bf16_autocast_trains_as_well_as_float32(tmp_path, digits_h5, all_classes_subset):
    logs = {}
    for precision in ("fp32", "bf16"):
        settings = recipe(epochs=4, lr=3e-3, restart_epochs=4, precision=precision)
        train(tmp_path / precision, digits_h5, all_classes_subset, settings)
        logs[precision] = pd.read_csv(tmp_path / precision / "epochs.csv")
    bf16, fp32 = logs["bf16"].accuracy, logs["fp32"].accuracy
    assert bf16.iloc[-1] > bf16.iloc[0] + 0.15  # it learns (a width-4 CNN, four epochs) ...
    # bf16's 8-bit mantissa changes the trajectory: 0.05 is a few percent of 1078 training images
    assert abs(bf16.iloc[-1] - fp32.iloc[-1]) < 0.05  # ... as fast as in float32
    # the runs differ: autocast really engaged
    assert not np.allclose(logs["bf16"].loss, logs["fp32"].loss)


def test_bf16_is_kept_out_of_losses_that_attack(capsys):
    from robustsweep.training.defences.online_attack import AdversarialCrossEntropy
    from robustsweep.training.defences.standard import StandardTrainer
    from robustsweep.training.training_loop import use_bf16

    assert use_bf16("bf16", CPU, StandardTrainer())
    assert not use_bf16("auto", CPU, StandardTrainer())  # auto: only on a GPU with bf16
    assert not use_bf16("bf16", CPU, AdversarialCrossEntropy.__new__(AdversarialCrossEntropy))
    assert "float32 kept" in capsys.readouterr().out


@pytest.mark.parametrize("augmentation", ["crop_flip", "random_resized_crop"])
def test_augmentation_changes_training_but_stays_seeded(
    tmp_path, digits_h5, all_classes_subset, augmentation
):
    plain = recipe(epochs=1, lr=3e-3, restart_epochs=1)
    augmented = recipe(epochs=1, lr=3e-3, restart_epochs=1, augmentation=augmentation)
    losses = []
    for name, settings in (("plain", plain), ("a", augmented), ("b", augmented)):
        train(tmp_path / name, digits_h5, all_classes_subset, settings)
        losses.append(pd.read_csv(tmp_path / name / "epochs.csv").loss.iloc[0])
    assert losses[1] == losses[2] and losses[0] != losses[1]


def test_multistep_schedule_multiplies_the_lr_from_each_milestone_on():
    from robustsweep.training.training_loop import make_optimizer, make_scheduler

    schedule = recipe(
        optimizer="sgd", lr=0.1, scheduler="multistep", lr_milestones=[2, 4], lr_factors=[0.1, 0.01]
    )
    optimizer = make_optimizer([torch.nn.Parameter(torch.zeros(1))], schedule)
    scheduler = make_scheduler(optimizer, schedule, steps_per_epoch=3)
    lrs = []
    for _ in range(6 * 3):  # six epochs of three steps, stepped per batch as training does
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    per_epoch = [lrs[3 * e : 3 * e + 3] for e in range(6)]
    expected = [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    for epoch, values in enumerate(per_epoch):
        # learning rates by float64 multiplication: approx's default rel 1e-6
        assert values == pytest.approx([expected[epoch]] * 3), epoch
    assert optimizer.param_groups[0]["nesterov"] is True  # the default; xu2024 turns it off
    plain = make_optimizer(
        [torch.nn.Parameter(torch.zeros(1))], recipe(nesterov=False, optimizer="sgd")
    )
    assert plain.param_groups[0]["nesterov"] is False

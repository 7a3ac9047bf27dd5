import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import with_change
from robustsweep.input_errors import ConfigError
from robustsweep.run_grid import Run, experiment_runs, predicted_class_values, surrogate_run
from robustsweep.study_config import validate_config

REPO = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((REPO / "config.yaml").read_text())


def changed(path: str, value) -> dict:
    return with_change(DEFAULT, path, value)


def error_of(config) -> str:
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_default_config_is_valid_and_gets_defaults():
    config = validate_config(
        {"experiments": {"e": {"models": ["small_cnn"], "train_classes": [10], "draws": [0]}}}
    )
    assert config["training"]["optimizer"] == "adamw"
    assert config["training"]["lr"] == 0.001 and config["training"]["batch_size"] == 100
    assert config["experiments"]["e"]["defences"] == ["standard"]
    assert config["dataset"]["splits"] == {"train": 0.6, "test": 0.2, "pool": 0.2}
    validate_config(DEFAULT)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "training.optimiser",
            "sgd",
            "unknown config key 'optimiser' under 'training'; allowed keys: augmentation, "
            "batch_size, checkpoint, crop_ratio, crop_scale, epochs, lr, lr_factors, "
            "lr_milestones, momentum, nesterov, optimizer",
        ),
        (
            "training.epochs",
            "ten",
            "config key 'training.epochs' must be of type integer, got 'ten'",
        ),
        ("training.lr", "1e-3", "got '1e-3' (YAML reads 1e-3 as text: write 1.0e-3 or 0.001)"),
        (
            "experiments.class_sweep.train_classes",
            [3, 12],
            "'experiments.class_sweep.train_classes' has N=12, larger than the class pool "
            "(10 classes of digits); allowed values: 2..10",
        ),
        (
            "experiments.architectures.predicted_classes",
            [2, 12],
            "'experiments.architectures.predicted_classes' has M=12, larger than N=10",
        ),
        (
            "experiments.class_sweep.draws",
            [0, 1, 1],
            "'experiments.class_sweep.draws' lists [1] more than once; list each value once",
        ),
        (
            "experiments.class_sweep.models",
            ["vgg99"],
            "names 'vgg99', which is not defined under 'models'; "
            "allowed values: resnet18, small_cnn",
        ),
        (
            "dataset.source",
            "mnist",
            "config key 'dataset.source' is 'mnist', not a registered dataset source; "
            "allowed values: cifar10, cifar100, digits, imagefolder",
        ),
        (
            "attacks.methods.fgsm",
            {"method": "fgsmm", "eps": 0.1},
            "config key 'attacks.methods.fgsm.method' is 'fgsmm', not a registered attack "
            "method; allowed values: autoattack, bim, cw, deepfool",
        ),
        (
            "attacks.methods.fgsm",
            {"method": "fgsm", "epsilon": 0.1},
            "unknown config key 'epsilon' under 'attacks.methods.fgsm'; allowed keys: eps, method",
        ),
        (
            "defences.offline_adversarial",
            {"method": "offline_adversarial", "ratio": 0.5, "attacks": ["nope"]},
            "'defences.offline_adversarial.attacks' names 'nope'",
        ),
        ("defences.madry", {"method": "pgd_at_typo"}, "'defences.madry.method' is 'pgd_at_typo'"),
        (
            "attacks.methods.pgd",
            {"method": "pgd", "eps": "8/255"},
            "config key 'attacks.methods.pgd.eps' must be of type number, got '8/255' (write "
            "the value, e.g. 0.0313725 for 8/255)",
        ),
        (
            "attacks.methods.pgd",
            {"method": "pgd", "eps": 2.0},
            "config key 'attacks.methods.pgd.eps' is 2.0; it must be > 0 and <= 1",
        ),
        (
            "defences.madry",
            {"method": "pgd_at", "eps": float("nan")},
            "config key 'defences.madry.eps' must be a finite number, got nan",
        ),
        (
            "experiments.class_sweep.seeds",
            [0],
            "config key 'experiments.class_sweep.seeds' is now called 'draws'",
        ),
        (
            "models.small_cnn",
            {"architecture": "small_cnn", "depth": 3},
            "unknown config key 'depth' under 'models.small_cnn'",
        ),
    ],
)
def test_bad_config_names_the_key_and_allowed_values(path, value, expected):
    assert expected in error_of(changed(path, value))


@pytest.mark.parametrize(
    ("section", "old"), [("attacks", "source"), ("natural_adversarial", "reference")]
)
def test_old_surrogate_keys_are_refused_naming_the_new_one(section, old):
    """The model the stores are crafted on and the model that mines natural adversarial
    images were `attacks.source` and `natural_adversarial.reference`: one role, one word."""
    config = copy.deepcopy(DEFAULT)
    config[section][old] = config[section].pop("surrogate")
    assert error_of(config) == (
        f"config key '{section}.{old}' is now called 'surrogate' (the all-class standard "
        "model the stored attacks are crafted on and natural adversarial images are mined "
        "with is the surrogate); rename it"
    )
    # negative control: under the new key the same section is valid
    validate_config(DEFAULT)


def test_source_stays_the_dataset_and_corruption_key():
    """`source` is where images come from: dataset.source and corruptions.source keep it,
    and nothing there is taken for the old surrogate key."""
    config = validate_config(changed("corruptions", {"source": "imagecorruptions"}))
    assert config["dataset"]["source"] == "digits"
    assert config["corruptions"]["source"] == "imagecorruptions"
    assert "surrogate" not in config["dataset"] and "surrogate" not in config["corruptions"]


def test_m_must_fit_the_smallest_n_of_its_grid():
    config = changed("experiments.class_sweep.predicted_classes", [4])
    assert (
        "M=4, larger than N=3 in 'experiments.class_sweep.train_classes'; allowed values: "
        "2..3" in error_of(config)
    )


def test_folder_names_cannot_escape_through_names():
    config = changed("models", {"../x": {"architecture": "small_cnn"}})
    assert "must start with a letter" in error_of(config)


def test_plan_expands_experiments_once():
    config = validate_config(DEFAULT)
    runs = experiment_runs(config)
    assert len(runs) == len(set(runs)) == 17
    assert Run("small_cnn", 3, 2, "standard") in runs
    assert predicted_class_values(config, Run("small_cnn", 10, 0, "standard")) == [2, 4, 6, 8, 10]
    assert predicted_class_values(config, Run("small_cnn", 5, 0, "standard")) == []
    assert surrogate_run(config, "attacks") == Run("small_cnn", 10, 100, "standard")


def test_validation_does_not_import_torch():
    code = (
        "import sys, yaml; from robustsweep.study_config import validate_config; "
        f"validate_config(yaml.safe_load(open({str(REPO / 'config.yaml')!r}))); "
        "import robustsweep.reporting.figures, robustsweep.rule_arguments; "
        "import robustsweep.code_digest; "
        "print('torch' in sys.modules, 'seaborn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_results_folder_that_cannot_be_created_is_refused(tmp_path):
    from robustsweep.atomic_output import check_output_folder

    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="is a file, not a folder; set `results`"):
        check_output_folder(blocker / "results")
    check_output_folder(tmp_path / "new" / "results")
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_yaml_number_hint_only_for_text_that_is_a_number():
    assert error_of(changed("training.epochs", "ten")).endswith("got 'ten'")
    assert "YAML reads 1e-3" in error_of(changed("training.weight_decay", "5e-4"))


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        # attack rows of issue #18: each once gave a complete store that was wrong
        (
            "attacks.methods.pgd",
            {"method": "pgd", "eps": -0.1},
            "config key 'attacks.methods.pgd.eps' is -0.1; it must be > 0 and <= 1",
        ),
        (
            "attacks.methods.pgd",
            {"method": "pgd", "eps": NAN},
            "config key 'attacks.methods.pgd.eps' must be a finite number, got nan",
        ),
        (
            "attacks.methods.pgd",
            {"method": "pgd", "steps": 0},
            "config key 'attacks.methods.pgd.steps' is 0; it must be >= 1",
        ),
        # defence rows
        (
            "defences.madry",
            {"method": "pgd_at", "eps": 2.0},
            "config key 'defences.madry.eps' is 2.0; it must be > 0 and <= 1",
        ),
        (
            "defences.trades",
            {"method": "trades", "beta": NAN},
            "config key 'defences.trades.beta' must be a finite number, got nan",
        ),
        (
            "defences.offline_adversarial",
            {"method": "offline_adversarial", "ratio": NAN, "attacks": ["fgsm"]},
            "config key 'defences.offline_adversarial.ratio' must be a finite number, got nan",
        ),
        ("training.lr", INF, "config key 'training.lr' must be a finite number, got inf"),
        ("training.lr", NAN, "config key 'training.lr' must be a finite number, got nan"),
        (
            "natural_adversarial.severity",
            NAN,
            "config key 'natural_adversarial.severity' must be a finite number, got nan",
        ),
        # NaN where only the method types the key, too
        (
            "models.small_cnn.width",
            NAN,
            "config key 'models.small_cnn.width' must be a finite number, got nan",
        ),
        # splits are not rescaled behind the study's back
        (
            "dataset.splits",
            {"train": 0.8, "test": 0.5, "pool": 0.3},
            "config key 'dataset.splits' sums to 1.6 (train 0.8 + test 0.5 + pool 0.3); the "
            "shares must sum to 1, e.g. {train: 0.5, test: 0.3125, pool: 0.1875}",
        ),
        # a bad name is placed in its section, not at "(the) top level"
        (
            "models",
            {"my model": {"architecture": "small_cnn"}},
            "name 'my model' under 'models' must start with a letter and use only letters, "
            "digits and underscores",
        ),
        (
            "attacks.methods",
            {"fgsm-1": {"method": "fgsm"}},
            "name 'fgsm-1' under 'attacks.methods' must start with a letter",
        ),
    ],
)
def test_issue_18_values_are_refused_with_the_key(path, value, expected):
    assert expected in error_of(changed(path, value))


def test_cifar_splits_divide_the_training_set_and_defaults_are_rescaled_on_record():
    cifar = {"source": "cifar10", "root": "resources/cifar"}
    config = validate_config(changed("dataset", cifar))
    assert (
        config["dataset"]["splits"]["train"] == 0.75 and config["dataset"]["splits"]["pool"] == 0.25
    )
    given = changed("dataset", {**cifar, "splits": {"train": 0.9, "pool": 0.2}})
    assert error_of(given) == (
        "config key 'dataset.splits' sums to 1.1 (train 0.9 + pool 0.2) (the test split is the "
        "source's official test set, so train and pool divide the training images); the shares "
        "must sum to 1, e.g. {train: 0.8182, pool: 0.1818}"
    )
    validate_config(changed("dataset", {**cifar, "splits": {"train": 0.9, "pool": 0.1}}))


def test_home_folder_is_expanded_in_results_and_folders():
    config = validate_config(changed("results", "~/studies/digits/"))
    assert config["results"] == str(Path.home() / "studies" / "digits")


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path):
    from robustsweep.config_files import check_config_files

    study = tmp_path / "study.yaml"
    study.write_text(
        "training:\n  lr: 0.01\n  restart_epochs: 4\n"
        "models:\n  cnn: {architecture: small_cnn}\n"
        "training:\n  epochs: 3\n"
    )
    with pytest.raises(ConfigError) as caught:
        check_config_files([study])
    assert str(caught.value) == (
        f"config file '{study}' gives key 'training' twice at the top level (lines 1 and 6); "
        "YAML would keep only the second: merge them into one"
    )
    study.write_text("attacks:\n  methods:\n    pgd: {method: pgd, eps: 0.03, eps: 0.3}\n")
    with pytest.raises(ConfigError, match="gives key 'eps' twice under 'attacks.methods.pgd'"):
        check_config_files([study])
    study.write_text("training:\n  lr: 0.01\nmodels: {}\n")
    check_config_files([study])


def with_vgg_recipe(**recipe) -> dict:
    """The default study with a third model that brings its own training recipe."""
    config = changed("models.vgg", {"architecture": "small_cnn", "width": 8, "training": recipe})
    config["experiments"]["architectures"]["models"].append("vgg")
    return config


def test_a_model_recipe_override_changes_only_that_models_training():
    import json

    from robustsweep.job_settings import train_settings

    base = validate_config(with_vgg_recipe())
    config = validate_config(with_vgg_recipe(epochs=53, lr=0.01))
    for run in experiment_runs(config):
        settings = json.loads(train_settings(config, run))
        before = json.loads(train_settings(base, run))
        assert "training" not in settings["model"]  # the override is not the model's option
        if run.model == "vgg":
            assert settings["recipe"]["epochs"] == 53 and settings["recipe"]["lr"] == 0.01
            changes = {
                k for k in settings["recipe"] if settings["recipe"][k] != before["recipe"][k]
            }
            assert changes == {"epochs", "lr"}
        else:  # the other models' jobs keep their exact settings: nothing of theirs reruns
            assert settings == before
    assert config["models"]["vgg"]["training"] == {"epochs": 53, "lr": 0.01}


@pytest.mark.parametrize(
    ("recipe", "expected"),
    [
        (
            {"epoch": 53},
            "unknown config key 'epoch' under 'models.vgg.training'; allowed keys: "
            "augmentation, batch_size, checkpoint, crop_ratio, crop_scale, epochs,",
        ),
        (
            {"augmentation": "random_resized_crop", "crop_scale": [1.0, 0.45]},
            "config key 'training.crop_scale' is [1.0, 0.45] in the recipe of vgg with "
            "standard; give [low, high] with low <= high, e.g. [0.45, 1.0]",
        ),
        ({"crop_ratio": [1.5, 0.5]}, "config key 'training.crop_ratio' is [1.5, 0.5]"),
        (
            {"crop_scale": [0.0, 1.0]},
            "config key 'models.vgg.training.crop_scale[0]' is 0.0; it must be > 0 and <= 1",
        ),
        (
            {"crop_scale": [0.5, 1.5]},
            "config key 'models.vgg.training.crop_scale[1]' is 1.5; it must be > 0 and <= 1",
        ),
        ({"crop_ratio": [0.75]}, "config key 'models.vgg.training.crop_ratio' has 1 item(s)"),
        ({"epochs": 0}, "config key 'models.vgg.training.epochs' is 0; it must be >= 1"),
        (
            {"scheduler": "multistep", "lr_milestones": [100, 105], "lr_factors": [0.1]},
            "config key 'training.lr_factors' has 1 value(s) for 2 lr_milestones in the recipe "
            "of vgg with standard; scheduler multistep needs one factor per milestone",
        ),
        (
            {"scheduler": "multistep", "lr_milestones": [105, 100], "lr_factors": [0.1, 0.01]},
            "config key 'training.lr_milestones' is [105, 100] in the recipe of vgg with "
            "standard; list the epochs in ascending order",
        ),
    ],
)
def test_a_bad_recipe_override_names_its_key(recipe, expected):
    assert expected in error_of(with_vgg_recipe(**recipe))


def test_model_and_defence_overrides_may_not_disagree():
    config = with_vgg_recipe(epochs=53)
    config["defences"]["offline_adversarial"]["training"] = {"epochs": 20}
    config["experiments"]["defences"]["models"].append("vgg")
    assert error_of(config) == (
        "config keys 'models.vgg.training.epochs' and 'defences.offline_adversarial.training."
        "epochs' disagree for the runs of vgg with offline_adversarial; set 'epochs' in one of "
        "them"
    )
    config["defences"]["offline_adversarial"]["training"] = {"epochs": 53, "lr": 0.01}
    validate_config(config)  # agreeing keys, or different keys, are fine


def test_corruption_options_without_a_source_are_refused():
    assert error_of(changed("corruptions", {"names": ["fog"]})) == (
        "config key 'corruptions' has options but no 'source'; add 'source: imagecorruptions' "
        "(generated) or 'source: cifar_c' (the release), or remove it"
    )
    config = validate_config(changed("corruptions", {"source": "imagecorruptions"}))
    assert len(config["corruptions"]["names"]) == 15
    assert config["corruptions"]["severities"] == [1, 2, 3, 4, 5]


def test_a_defence_overrides_single_validation_keys_of_the_study():
    from robustsweep.job_settings import run_recipe
    from robustsweep.stage_settings import TrainingRecipe

    config = with_change(DEFAULT, "training.validation", {"steps": 7, "split": "train"})
    config["defences"]["offline_adversarial"]["training"] = {
        "checkpoint": "best_robust",
        "validation": {"early_stop": True},
    }
    config = validate_config(config)
    run = Run("small_cnn", 10, 0, "offline_adversarial")
    recipe = TrainingRecipe.from_section(run_recipe(config, run))
    assert recipe.checkpoint == "best_robust"
    assert recipe.validation.early_stop and recipe.validation.steps == 7
    assert recipe.validation.split == "train" and recipe.validation.robust_cost == 0.03

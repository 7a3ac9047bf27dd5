from pathlib import Path

from robustsweep.stage_sources import stage_sources


def names(*modules):
    package = Path(stage_sources("atomic_output")[0]).parent
    return {str(Path(path).relative_to(package)) for path in stage_sources(*modules)}


def test_figure_stage_tracks_figure_code_but_not_training_code():
    assert names("figures") == {
        "figures.py",
        "paper_tables.py",
        "atomic_output.py",
        "input_errors.py",
    }


def test_imports_are_followed_transitively_and_into_subpackages():
    training = names("training")
    assert {
        "training.py",
        "defences/__init__.py",
        "defences/offline_adversarial.py",
        "adversarial_store.py",
        "attack_registry.py",
    } <= training
    assert "figures.py" not in training and "cli.py" not in training


def test_several_modules_are_united():
    assert names("class_subsets", "prepared_dataset") == {
        "class_subsets.py",
        "prepared_dataset.py",
        "atomic_output.py",
        "input_errors.py",
        "dataset_sources/__init__.py",
        "dataset_sources/cifar.py",
        "dataset_sources/digits.py",
        "dataset_sources/image_folder.py",
        "imagenet_classes.py",
        "image_files.py",
    }

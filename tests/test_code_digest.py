"""A job's code dependency is the content of exactly the modules it runs."""

from pathlib import Path

from robustsweep.code_digest import (
    PACKAGE_DIR,
    closure,
    file_digest,
    method_code,
    stage_code,
    stage_files,
)


def names(*modules):
    return {str(path.relative_to(PACKAGE_DIR)) for path in stage_files(*modules)}


def test_figure_stage_tracks_figure_code_but_not_training_code():
    figures = names("reporting.figures")
    assert {"reporting/figures/__init__.py", "reporting/metric_table.py", "registry.py"} <= figures
    assert not any(name.startswith(("training/", "attacks/", "models/")) for name in figures)
    # the registered figures themselves are each job's `methods`, not the stage's
    assert "reporting/figures/accuracy_vs_m.py" not in figures


def test_imports_are_followed_transitively_and_into_subpackages():
    training = names("training.training_loop")
    assert {
        "training/training_loop.py",
        "training/defences/__init__.py",
        "training/defences/interface.py",
        "models/networks.py",
        "models/trained_models.py",
        "data/prepared_dataset.py",
        "data/image_files.py",
    } <= training
    assert "reporting/figures/__init__.py" not in training and "cli.py" not in training


def test_no_registered_method_is_in_any_stage_closure():
    from robustsweep.job_code import STAGE_MODULES

    every_stage = set().union(*(names(module) for module in STAGE_MODULES.values()))
    method_folders = (
        "attacks/methods/",
        "training/defences/",
        "models/architectures/",
        "data/sources/",
        "data/patterns/",
        "reporting/figures/",
    )
    methods = {
        name
        for name in every_stage
        if name.startswith(method_folders) and not name.endswith("__init__.py")
    }
    # registries import methods by name at run time, so a stage closes over none of them
    # (image_folder's helpers are imported by the natural adversarial index on purpose)
    assert methods <= {"data/sources/image_folder.py", "training/defences/interface.py"}


def test_method_code_follows_a_method_into_what_it_imports_and_not_the_stage():
    code = method_code(["robustsweep.training.defences.detector_head"], "training.training_loop")
    listed = {item.split("=")[0] for item in code.split()}
    # the detector builds on the store sampler, which reads the store's file format
    assert listed == {
        "training/defences/detector_head.py",
        "training/defences/offline_adversarial.py",
        "attacks/__init__.py",
        "attacks/store_file.py",
    }
    assert method_code([], "training.training_loop") == "none"


def test_digests_are_of_content_not_place(tmp_path):
    code = stage_code("reporting.metric_table")
    assert str(PACKAGE_DIR) not in code and "reporting/metric_table.py=" in code
    digest = dict(item.split("=") for item in code.split())["reporting/metric_table.py"]
    assert digest == file_digest(PACKAGE_DIR / "reporting" / "metric_table.py")


def test_docstrings_comments_and_layout_do_not_count_but_code_does(tmp_path):
    original = tmp_path / "original.py"
    original.write_text(
        '"""A module."""\n\nLIMIT = 3  # a comment\n\n\n'
        'def f(x):\n    """Why."""\n    return x + LIMIT\n'
    )
    reworded = tmp_path / "reworded.py"
    reworded.write_text(
        '"""The same module, its docs reworded."""\n# a new comment\nLIMIT = 3\n\n'
        'def f(x):\n    """Why, at length."""\n\n    return (x + LIMIT)\n'
    )
    changed = tmp_path / "changed.py"
    changed.write_text(original.read_text().replace("LIMIT = 3", "LIMIT = 4"))
    message = tmp_path / "message.py"  # a string that is not a docstring is code
    message.write_text(original.read_text() + 'NAME = "logits cache"\n')
    assert file_digest(original) == file_digest(reworded)
    assert len({file_digest(p) for p in (original, changed, message)}) == 3


def test_closure_has_no_wiring_modules():
    assert not {"robustsweep.cli", "robustsweep.__main__", "robustsweep"} & closure(
        "evaluation.white_box"
    )
    assert Path(PACKAGE_DIR / "cli.py").exists()

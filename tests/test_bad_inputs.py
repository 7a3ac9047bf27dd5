"""No silent wrong results (issue #18): each input that once gave a complete-looking wrong
result, or stopped badly, now works or stops with one line naming the problem and the fix.
Config rows are in test_study_config.py; file identities in test_file_identity.py; the
Snakemake-level rows (a space in `results`, the lock between clones) in test_workflow.py."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from imagenet_trees import write_tree
from PIL import Image

from conftest import REPO
from robustsweep.input_errors import ConfigError, ImageFileError, InputError

WNIDS = ["n01440764", "n01443537", "n01484850"]


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


# -- class trees walked without following links out of the class ----------------------------


def folder_spec(root: Path, **extra) -> dict:
    return {
        "source": "imagefolder",
        "root": str(root),
        "image_size": 16,
        "storage": "files",
        "splits": {"train": 0.5, "test": 0.25, "pool": 0.25},
    } | extra


@pytest.mark.parametrize(("target", "problem"), [("..", "loop"), (".", "loop")])
def test_a_class_folder_linking_to_its_parent_or_itself_is_refused(tmp_path, target, problem):
    """Followed, a link to `..` labelled 960 other classes' images as this class."""
    from robustsweep.data.prepared_dataset import prepare_dataset

    root = tmp_path / "imgs"
    write_tree(root, WNIDS, per_class=4)
    link = root / WNIDS[1] / "more"
    link.symlink_to(target)
    with pytest.raises(ConfigError) as caught:
        prepare_dataset(tmp_path / "dataset.h5", folder_spec(root), seed=0)
    assert one_line(caught) == (
        f"class folder '{WNIDS[1]}' in '{root}': '{link}' leads back up the class tree (a "
        f"{problem}) ({os.path.realpath(link)}), so its images would be labelled "
        f"'{WNIDS[1]}'; remove the link or replace it with a folder of this class's own images"
    )
    assert not (tmp_path / "dataset.h5").exists()


def test_links_into_another_class_are_refused_and_outside_folders_followed(tmp_path):
    from robustsweep.data.sources.image_folder import image_paths

    root, extra = tmp_path / "imgs", tmp_path / "extra"
    write_tree(root, WNIDS, per_class=2)
    write_tree(extra, WNIDS[:1], per_class=3)
    (root / WNIDS[0] / "more").symlink_to(extra / WNIDS[0])  # outside the tree: followed
    found = image_paths(root, {name: k for k, name in enumerate(WNIDS)})
    assert np.bincount([label for _, label in found]).tolist() == [5, 2, 2]
    (root / WNIDS[2] / "sneaky").symlink_to(root / WNIDS[1])
    with pytest.raises(ConfigError, match="/sneaky' leads into another part of"):
        image_paths(root, {name: k for k, name in enumerate(WNIDS)})
    (root / WNIDS[2] / "sneaky").unlink()
    shutil.rmtree(root / WNIDS[2])
    (root / WNIDS[2]).symlink_to(root / WNIDS[1])  # a class folder that is another class's
    with pytest.raises(ConfigError, match=f"'{WNIDS[2]}' in .* the same folder as class folder"):
        image_paths(root, {name: k for k, name in enumerate(WNIDS)})


@pytest.mark.parametrize("where", ["another class", "the same class", "the test tree"])
def test_an_image_linked_from_a_second_place_is_refused_by_its_target(tmp_path, where):
    """A file symlink into another class stored the same pixels under two labels (one in the
    test split, one in the pool), silently; two links to one file count it twice."""
    from robustsweep.data.prepared_dataset import prepare_dataset

    root, test_root = tmp_path / "imgs", tmp_path / "val"
    write_tree(root, WNIDS, per_class=4)
    target = root / WNIDS[1] / f"{WNIDS[1]}_2.JPEG"
    spec = folder_spec(root)
    if where == "another class":
        link = root / WNIDS[0] / "borrowed.JPEG"
        owner = f"class '{WNIDS[1]}'"
    elif where == "the same class":
        link, owner = root / WNIDS[1] / "again.png", "the same class"
    else:
        write_tree(test_root, WNIDS, per_class=2)
        link = test_root / WNIDS[1] / "copy.JPEG"
        owner = "the same class"
        spec = folder_spec(root, test_root=str(test_root))
    link.symlink_to(target)
    with pytest.raises(ConfigError) as caught:
        prepare_dataset(tmp_path / "dataset.h5", spec, seed=0)
    message = one_line(caught)
    assert message.startswith(
        f"image '{link}' of class '{WNIDS[1] if where != 'another class' else WNIDS[0]}' is a "
        f"link to {target}, which is also indexed as '{target}' of {owner}, so "
    )
    assert message.endswith("; remove the link (or replace it with a copy if it really is both)")
    assert not (tmp_path / "dataset.h5").exists()


def test_image_links_to_files_outside_the_tree_are_followed(tmp_path):
    from robustsweep.data.sources.image_folder import image_paths

    root, extra = tmp_path / "imgs", tmp_path / "extra"
    write_tree(root, WNIDS, per_class=2)
    write_tree(extra, WNIDS[:1], per_class=2)
    for k in range(2):
        (root / WNIDS[2] / f"more_{k}.JPEG").symlink_to(extra / WNIDS[0] / f"{WNIDS[0]}_{k}.JPEG")
    found = image_paths(root, {name: k for k, name in enumerate(WNIDS)})
    assert np.bincount([label for _, label in found]).tolist() == [2, 2, 4]


def test_validation_of_a_looping_class_folder_terminates(tmp_path):
    from robustsweep.data.sources.image_folder import _has_image

    (tmp_path / "cls").mkdir()
    (tmp_path / "cls" / "self").symlink_to(".")
    assert _has_image(tmp_path / "cls") is False  # the loop is not entered twice


# -- images decoded faithfully, and every one checked at prepare time ------------------------


def test_a_16_bit_grey_png_is_scaled_not_clipped(tmp_path):
    """convert('RGB') clipped every 16-bit value above 255: a white image."""
    from robustsweep.data.image_files import rgb_image

    wide = (np.arange(16 * 16, dtype=np.uint32).reshape(16, 16) * 257).astype(np.uint16)
    Image.fromarray(wide).save(tmp_path / "grey16.png")
    assert Image.open(tmp_path / "grey16.png").mode == "I;16"
    pixels = np.asarray(rgb_image(str(tmp_path / "grey16.png")))
    expected = np.round(wide.astype(np.float64) * 255 / 65535).astype(np.uint8)  # = 0..255
    np.testing.assert_array_equal(pixels[..., 0], expected)
    np.testing.assert_array_equal(pixels[..., 2], expected)


@pytest.mark.parametrize("storage", ["files", "pixels"])
@pytest.mark.parametrize("damage", ["truncated", "not an image"])
def test_a_bad_image_is_named_by_the_prepare_job(tmp_path, storage, damage):
    """Named with its path before anything trains (with storage: files it used to surface
    as `OSError: Truncated File Read` in a later job, after training)."""
    from robustsweep.data.prepared_dataset import prepare_dataset

    root = tmp_path / "imgs"
    write_tree(root, WNIDS, per_class=4)
    bad = root / WNIDS[2] / f"{WNIDS[2]}_1.JPEG"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"not a JPEG at all")
    with pytest.raises(ImageFileError) as caught:
        prepare_dataset(tmp_path / "dataset.h5", folder_spec(root, storage=storage), seed=0)
    message = one_line(caught)
    assert message.startswith(f"image {bad} cannot be decoded (")
    assert message.endswith("; replace the file or move it out of the class folder, and rerun")


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height 8-bit grey pixels and holds none: what a
    decompression bomb's header says (its real data, 0.9 MB of zlib for 30000 x 30000, would
    not change what Pillow does: it refuses from the header)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.mark.parametrize("storage", ["files", "pixels"])
def test_a_decompression_bomb_is_named_with_the_limit_by_the_prepare_job(tmp_path, storage):
    """It used to end the prepare job in a PIL.Image.DecompressionBombError traceback, the
    file unnamed."""
    from PIL import Image

    from robustsweep.data.image_files import rgb_image
    from robustsweep.data.prepared_dataset import prepare_dataset

    root = tmp_path / "imgs"
    write_tree(root, WNIDS, per_class=4)
    bomb = root / WNIDS[1] / "bomb.png"
    bomb.write_bytes(png_header(30000, 30000))
    limit = 2 * Image.MAX_IMAGE_PIXELS  # Pillow refuses (rather than warns) above twice it
    with pytest.raises(ImageFileError) as caught:
        prepare_dataset(tmp_path / "dataset.h5", folder_spec(root, storage=storage), seed=0)
    assert one_line(caught) == (
        f"image {bomb} cannot be decoded (Image size (900000000 pixels) exceeds limit of "
        f"{limit} pixels, could be decompression bomb DOS attack.); replace the file or move it "
        "out of the class folder, and rerun"
    )
    assert not (tmp_path / "dataset.h5").exists()
    with pytest.raises(ImageFileError, match=f"image {bomb} cannot be decoded .* {limit} pix"):
        rgb_image(str(bomb))  # the training jobs' decoder names it too


# -- a file index seals each image's size and modification time (#31) ------------------------


@pytest.mark.parametrize("change", ["replaced", "touched", "deleted"])
def test_an_image_changed_after_prepare_stops_every_reader_of_the_file_index(tmp_path, change):
    """The index used to seal only the list of paths: a replaced image was read as if nothing
    had changed."""
    from robustsweep.data.prepared_dataset import load_split, load_split_files, prepare_dataset
    from robustsweep.input_errors import FileCheckError

    root = tmp_path / "imgs"
    write_tree(root, WNIDS, per_class=4)
    dataset = tmp_path / "dataset.h5"
    prepare_dataset(dataset, folder_spec(root), seed=0)
    test = load_split_files(dataset, "test")
    assert len(load_split(dataset, "test").images) == len(test.paths)  # unchanged: read
    image = Path(test.paths[1])
    before = image.stat()
    if change == "replaced":  # another image of the class, as a user might swap one in
        shutil.copyfile(root / WNIDS[0] / f"{WNIDS[0]}_0.JPEG", image)
        os.utime(image, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    elif change == "touched":
        os.utime(image, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    else:
        image.unlink()
    for reader in (load_split_files, load_split):
        with pytest.raises(FileCheckError) as caught:
            reader(dataset, "test")
        message = one_line(caught)
        problem = "is gone" if change == "deleted" else "changed after the index was made ("
        assert message.startswith(f"{dataset}: image {image} {problem}")
        assert message.endswith(
            "; the file index no longer describes the image tree: restore the image, or delete "
            "the prepared dataset and rerun the workflow (it indexes the tree again, and reruns "
            "what was made from it)"
        )
    load_split_files(dataset, "train")  # a split without the image is still read


def test_an_indexed_natural_adversarial_image_changed_after_indexing_is_refused(tmp_path):
    from robustsweep.data.natural_adversarial import index_natural_folder, read_natural_images
    from robustsweep.data.prepared_dataset import prepare_dataset
    from robustsweep.input_errors import FileCheckError

    root, natural = tmp_path / "imgs", tmp_path / "imagenet-a"
    write_tree(root, WNIDS, per_class=4)
    write_tree(natural, WNIDS[:2], per_class=2, seed=1)
    prepare_dataset(tmp_path / "dataset.h5", folder_spec(root), seed=0)
    index = tmp_path / "natural.h5"
    index_natural_folder(index, tmp_path / "dataset.h5", natural, "imagenet-a")
    assert len(read_natural_images(index)) == 4
    changed = natural / WNIDS[1] / f"{WNIDS[1]}_0.JPEG"
    changed.write_bytes(changed.read_bytes() + b"\0")
    assert len(read_natural_images(index, [0, 1])) == 2  # the rows asked for are unchanged
    with pytest.raises(FileCheckError, match=f"{index}: image {changed} changed after the ind"):
        read_natural_images(index)


# -- empty is an error -------------------------------------------------------------------------


def test_a_class_without_test_images_stops_the_prepare_job(tmp_path):
    """3 images at 0.6 : 0.2 : 0.2 are cut at 1.8 and 2.4, both rounding to 2: no test image."""
    from robustsweep.data.prepared_dataset import prepare_dataset

    root = tmp_path / "imgs"
    write_tree(root, WNIDS[:2], per_class=10)
    write_tree(root, WNIDS[2:], per_class=3)
    spec = folder_spec(root, splits={"train": 0.6, "test": 0.2, "pool": 0.2})
    with pytest.raises(ConfigError) as caught:
        prepare_dataset(tmp_path / "dataset.h5", spec, seed=0)
    assert one_line(caught) == (
        f"class '{WNIDS[2]}' gets no test images: its 3 image(s) split by 'dataset.splits' "
        "{'train': 0.6, 'test': 0.2, 'pool': 0.2} leave none for test; raise "
        "'dataset.splits.test' or add images to the class"
    )
    assert not (tmp_path / "dataset.h5").exists()


def test_a_filter_that_keeps_nothing_stops_mining(tmp_path, digits_h5, trained_model):
    """max_confidence 0.05 is below any 10-class softmax maximum: the set would be empty."""
    from robustsweep.data.natural_adversarial import mine_natural_adversarial

    output = tmp_path / "natural.h5"
    with pytest.raises(InputError) as caught:
        mine_natural_adversarial(
            output, digits_h5, trained_model, ["defocus_blur"], 0.7, 1, 0, torch.device("cpu"), 0.05
        )
    assert "the natural adversarial set would be empty" in one_line(caught)
    assert "raise 'natural_adversarial.max_confidence'" in str(caught.value)
    assert not output.exists()


def test_an_empty_split_stops_its_store(tmp_path, digits_h5, trained_model):
    from robustsweep.attacks.adversarial_store import generate_store
    from robustsweep.input_errors import StoreError

    dataset = tmp_path / "dataset.h5"
    shutil.copy(digits_h5, dataset)
    with h5py.File(dataset, "a") as h5:
        del h5["splits/test"]
        h5["splits/test"] = np.zeros(0, np.int64)
    output = tmp_path / "gn.h5"
    with pytest.raises(StoreError) as caught:
        generate_store(
            output,
            dataset,
            "test",
            trained_model,
            "gn",
            {"method": "gn", "std": 0.1},
            64,
            0,
            torch.device("cpu"),
        )
    assert one_line(caught).startswith("the test split holds no images, so the store")
    assert not output.exists() and not Path(f"{output}.partial").exists()


def test_a_missing_store_is_called_missing(tmp_path):
    from robustsweep.attacks.store_file import read_store
    from robustsweep.input_errors import StoreError

    with pytest.raises(StoreError) as caught:
        read_store(tmp_path / "fgsm.h5")
    assert one_line(caught) == (
        f"{tmp_path / 'fgsm.h5'}: adversarial store is missing; rerun the workflow to make it"
    )


# -- a checkpoint that is not ours does not invite an unsafe load ------------------------------


def test_checkpoint_error_never_advises_weights_only_false(tmp_path):
    from robustsweep.input_errors import WeightsError
    from robustsweep.training.training_loop import _load_checkpoint

    checkpoint = tmp_path / "checkpoint.pt"
    torch.save({"model": torch.nn.Linear(2, 2)}, checkpoint)  # a pickled module, not tensors
    with pytest.raises(WeightsError) as caught:
        _load_checkpoint(checkpoint, "fingerprint")
    assert one_line(caught) == (
        f"{checkpoint}: training checkpoint is truncated or corrupt (it holds Python objects "
        "besides tensors, which robustsweep never unpickles); delete it and rerun the workflow "
        "to restart this run from epoch 0"
    )
    assert "weights_only" not in str(caught.value)


# -- disk full and the job's own log -----------------------------------------------------------


def test_no_room_for_the_prepared_dataset_stops_before_writing(tmp_path, monkeypatch):
    import robustsweep.disk_space as disk_space
    from robustsweep.data.prepared_dataset import prepare_dataset

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(disk_space.shutil, "disk_usage", lambda path: usage._replace(free=10**6))
    spec = {
        "source": "digits",
        "image_size": 16,
        "splits": {"train": 0.6, "test": 0.2, "pool": 0.2},
    }
    with pytest.raises(disk_space.DiskFullError) as caught:
        prepare_dataset(tmp_path / "dataset.h5", spec, seed=0)
    assert one_line(caught).startswith(
        f"not enough free space for {tmp_path / 'dataset.h5'} (1797 images): it needs about "
    )
    assert "1 MB are free on" in str(caught.value)
    assert not list(tmp_path.iterdir())


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow")}
    return subprocess.run(
        [sys.executable, "-m", "robustsweep", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def test_disk_full_while_writing_is_one_line_in_the_log_and_on_the_console(tmp_path, monkeypatch):
    """Any write that meets ENOSPC (here: the subset writer) ends the job with one line."""
    from robustsweep import cli as cli_module

    def full_disk(**kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(kwargs["output"]))

    monkeypatch.setattr(cli_module, "stage_function", lambda stage: full_disk)
    log = tmp_path / "logs" / "subset.log"
    job = {"paths": {"output": str(tmp_path / "s.json")}, "outputs": [str(tmp_path / "s.json")]}
    console = tmp_path / "console.txt"
    with open(console, "w") as stream:
        saved = os.dup(2)
        os.dup2(stream.fileno(), 2)
        try:
            code = cli_module.main(["subset", "{}", json.dumps(job), str(log)])
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    assert code == 1
    expected = f"robustsweep subset: disk full while writing {tmp_path / 's.json'} ("
    assert console.read_text().startswith(expected) and len(console.read_text().splitlines()) == 1
    lines = log.read_text().splitlines()
    assert lines[0].startswith("robustsweep subset on ") and lines[-1].startswith(expected)


def test_a_log_that_cannot_be_written_stops_the_job_on_the_console(tmp_path):
    """/dev/full answers every write with ENOSPC, like a full disk."""
    result = cli("subset", "{}", json.dumps({"paths": {}}), "/dev/full", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "robustsweep subset: cannot write the job's log /dev/full (No space left on device); "
        "free space there and rerun the workflow\n"
    )


def test_the_cli_verifies_inputs_before_the_stage_runs(tmp_path):
    expected = {"dataset": {"kind": "dataset", "image_size": 16}}
    job = {"paths": {"dataset": str(tmp_path / "dataset.h5")}, "expect": expected}
    result = cli("subset", "{}", json.dumps(job), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        f"robustsweep subset: {tmp_path / 'dataset.h5'}: prepared dataset is missing; rerun "
        "the workflow to make it\n"
    )


# -- one results folder, one writer ------------------------------------------------------------

HOLD_LOCK = """
import sys, time
from robustsweep.results_folder import lock_results_folder
lock_results_folder(sys.argv[1], sys.argv[2])
print("locked", flush=True)
time.sleep(600)
"""


def test_a_second_writer_is_refused_and_a_dead_writers_lock_taken_over(tmp_path):
    from robustsweep.results_folder import LOCK_NAME, lock_results_folder, unlock_results_folder

    results, other_clone = tmp_path / "results", tmp_path / "other_clone"
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow")}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(results), str(other_clone)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError) as caught:
            lock_results_folder(results, REPO)
        message = one_line(caught)
        assert message.startswith(
            f"results folder '{results}' is being written by another Snakemake (checkout "
            f"{other_clone}, working folder {Path.cwd()}, pid {holder.pid} on "
        )
        assert message.endswith("wait for it to finish or set `results` to another folder")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    lock_results_folder(results, REPO)  # the killed writer's lock file is simply taken over
    owner = json.loads((results / LOCK_NAME).read_text())
    assert owner["pid"] == os.getpid() and owner["checkout"] == str(REPO.resolve())
    unlock_results_folder(results)


def test_results_may_not_be_the_root_the_checkout_or_a_foreign_folder(tmp_path):
    from robustsweep.results_folder import check_results_folder

    def refused(folder) -> str:
        with pytest.raises(ConfigError) as caught:
            check_results_folder(folder, REPO)
        return one_line(caught)

    assert refused("/") == (
        "results folder '/' is the filesystem root; set `results` to a folder of its own "
        "(e.g. results)"
    )
    assert refused(str(REPO)).startswith(f"results folder '{REPO}' is the workflow's checkout")
    assert refused(str(REPO.parent)).startswith(f"results folder '{REPO.parent}' holds the")
    (tmp_path / "thesis.tex").write_text("")
    assert refused(str(tmp_path)) == (
        f"results folder '{tmp_path}' already holds files robustsweep did not write "
        "(thesis.tex); set `results` to a new or empty folder, or to one a study wrote"
    )
    check_results_folder(REPO / "results", REPO)  # the default, inside the checkout
    (tmp_path / "study" / "data").mkdir(parents=True)
    (tmp_path / "study" / "data" / "dataset.h5").write_bytes(b"")
    (tmp_path / "study" / "notes.txt").write_text("")
    check_results_folder(tmp_path / "study", REPO)  # a folder a study wrote
    (tmp_path / "stopped" / "logs").mkdir(parents=True)
    check_results_folder(tmp_path / "stopped", REPO)  # one stopped before its first output


# -- several GPUs on one machine ---------------------------------------------------------------

CLAIM = """
import sys
from robustsweep.gpu_allocation import job_gpu_index
job_gpu_index(0)
sys.stdin.read()
"""


def test_each_gpu_job_claims_its_own_device_and_a_dead_jobs_device_is_freed(tmp_path):
    """Four simulated GPUs: four concurrent jobs get four devices, a fifth shares one, and a
    device whose job was killed goes to the next job."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "workflow"),
        "ROBUSTSWEEP_GPUS": "0,1,2,3",
        "ROBUSTSWEEP_GPU_LOCKS": str(tmp_path / "locks"),
    }

    def start() -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-c", CLAIM],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        return process

    jobs = [start() for _ in range(4)]
    try:
        lines = [job.stdout.readline() for job in jobs]
        claimed = sorted(int(line.split("cuda:")[1].split()[0]) for line in lines)
        assert claimed == [0, 1, 2, 3] and all("claimed for this job" in line for line in lines)
        extra = start()
        assert extra.stdout.readline().startswith("all 4 GPUs are held by other robustsweep jobs")
        extra.kill()
        victim = next(job for job, line in zip(jobs, lines, strict=True) if "cuda:2 " in line)
        victim.kill()
        victim.wait()
        late = start()
        assert late.stdout.readline().startswith("GPU cuda:2 (device 2) of 4 claimed")
        jobs.append(late)
    finally:
        for job in jobs:
            job.kill()
            job.wait()


def test_one_visible_gpu_needs_no_claim(monkeypatch):
    from robustsweep.gpu_allocation import job_gpu_index, visible_gpus

    monkeypatch.delenv("ROBUSTSWEEP_GPUS", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1")
    assert visible_gpus(2) == ["3", "1"] and visible_gpus(1) == ["3"]
    assert job_gpu_index(1) == 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_one_line():
    from robustsweep.compute_device import select_device

    with pytest.raises(InputError) as caught:
        select_device("cuda")
    assert one_line(caught) == (
        "device: 'cuda' was requested but no CUDA device is visible; set device: auto or "
        "device: cpu in the config"
    )


def test_make_run_names_a_missing_study_file_in_one_line(tmp_path):
    """Snakemake opens --configfile before the Snakefile (a traceback there): `make run
    STUDY=...` names the missing file first. `-o env` keeps make from rebuilding .venv."""
    study = tmp_path / "my_study.yaml"
    make = ["make", "-s", "-C", str(REPO), "-o", "env", "run"]
    result = subprocess.run([*make, f"STUDY={study}"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        f"robustsweep config error: config file '{study}' not found (STUDY); give the path of "
        "a study YAML, e.g. studies/tan2022.yaml"
    )
    assert "Traceback" not in result.stderr and result.stdout == ""


# -- a study file is data: nothing in it runs, even under `snakemake -n` (issue #31) ----------

TAG = '!!python/object/apply:os.system ["touch {marker}"]'
YTE = "__use_yte__: true\nseed: \"?__import__('pathlib').Path('{marker}').touch() or 0\"\n"


@pytest.mark.parametrize(
    ("added", "expected"),
    [
        (
            YTE,
            "sets '__use_yte__' (line {line}), which would make Snakemake evaluate its ?-values "
            "as Python (YTE templating); a study file is data that others run, so robustsweep "
            "never evaluates one: remove '__use_yte__' and write the values out (computed by a "
            "script of your own, if they must be computed)",
        ),
        (
            f"seed: {TAG}\n",
            "line {line} carries the tag '!!python/object/apply:os.system', which asks YAML to "
            "build a Python object; a study file is plain data (mappings, lists, numbers, "
            "strings): remove the tag",
        ),
    ],
    ids=["yte", "python-tag"],
)
def test_a_study_file_that_would_run_code_is_refused_before_snakemake_reads_it(
    tmp_path, added, expected
):
    """Snakemake loads --configfile before the Snakefile: the default workflow profile's
    check runs first, so the expression is never evaluated (the marker file stays absent)."""
    from conftest import snakemake_args, tool_env

    marker = tmp_path / "pwned"
    study = tmp_path / "study.yaml"
    text = (REPO / "tests" / "configs" / "tiny.yaml").read_text()
    study.write_text(text + added.format(marker=marker))
    result = subprocess.run(
        snakemake_args(tmp_path, [study], "-n"),
        capture_output=True,
        text=True,
        env=tool_env(),
        timeout=300,
    )
    assert not marker.exists()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    line = len(text.splitlines()) + 1
    assert result.stderr.splitlines()[-1] == (
        f"robustsweep config error: config file '{study}' " + expected.format(line=line)
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["study.yaml"]


def test_a_missing_study_file_is_one_line_from_snakemake_too(tmp_path):
    from conftest import snakemake_args, tool_env

    study = tmp_path / "my_study.yaml"
    result = subprocess.run(
        snakemake_args(tmp_path, [study], "-n"),
        capture_output=True,
        text=True,
        env=tool_env(),
        timeout=300,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"robustsweep config error: config file '{study}' not found (--configfile); give the "
        "path of a study YAML, e.g. studies/tan2022.yaml"
    )


def test_both_workflow_profiles_run_the_study_file_check_first():
    """profiles/slurm replaces profiles/default when named, so it carries the same check."""
    import yaml

    guards = [
        yaml.safe_load((REPO / "profiles" / name / "config.yaml").read_text())
        for name in ["default", "slurm"]
    ]
    for guard in guards:
        assert guard["__use_yte__"] is True
        assert guard["__definitions__"][-1] == "refuse_code_in_config_files()"
    assert guards[0]["__definitions__"] == guards[1]["__definitions__"]


def test_the_snakefile_check_refuses_templating_and_tags_too(tmp_path):
    """For runs without the workflow profiles (`--workflow-profile none`), the Snakefile's
    own check of the files; merge keys and anchors stay plain data."""
    from robustsweep.config_files import check_config_files

    study = tmp_path / "study.yaml"
    study.write_text("base: &b {lr: 0.1}\ntraining:\n  <<: *b\n  epochs: !!int 3\n")
    check_config_files([study])
    study.write_text("training:\n  epochs: !!python/name:os.system\n")
    with pytest.raises(ConfigError, match="line 2 carries the tag '!!python/name:os.system'"):
        check_config_files([study])
    study.write_text("{__use_yte__: false}\n")
    with pytest.raises(ConfigError, match="sets '__use_yte__' \\(line 1\\)"):
        check_config_files([study])


# -- config values that used to pass the dry run and fail in a job or in Snakemake (#31) ------


def dry_run(workdir: Path, study_text: str, env: dict | None = None, *args: str):
    from conftest import snakemake_args, tool_env

    (workdir / "study.yaml").write_text(study_text)
    return subprocess.run(
        snakemake_args(workdir, [workdir / "study.yaml"], *args),
        capture_output=True,
        text=True,
        env={**tool_env(), **(env or {})},
        timeout=300,
    )


def assert_nothing_written(folder: Path) -> None:
    """Only the study file (and Snakemake's own .snakemake, made before the Snakefile runs)."""
    assert {path.name for path in folder.iterdir()} - {".snakemake"} == {"study.yaml"}


def tiny_with(**blocks: str) -> str:
    """The tiny study with some top-level keys' blocks replaced (as YAML text, so that 1.2e+17
    stays the float a user would write)."""
    rows, key = [], None
    for row in (REPO / "tests" / "configs" / "tiny.yaml").read_text().splitlines():
        if not row.startswith(" "):
            key = row.split(":")[0]
            if key in blocks:
                rows.append(blocks[key])
        if key not in blocks:
            rows.append(row)
    return "\n".join(rows) + "\n"


SWEEP = "experiments:\n  sweep: {{models: [cnn], train_classes: [3], draws: [{draw}]}}"


@pytest.mark.parametrize(
    ("draw", "shown"), [("1.2e+17", "1.2e+17"), ("120000000000000000", None), ("1.0e+23", "1e+23")]
)
def test_a_draw_whose_generator_key_overflows_is_refused_by_the_config_check(tmp_path, draw, shown):
    """torch.Generator().manual_seed(draw * 1_000_003 + epoch) raised `Overflow when unpacking
    long long` in the training job; 1e23 ended in Snakemake's PeriodicWildcardError."""
    result = dry_run(tmp_path, tiny_with(experiments=SWEEP.format(draw=draw)))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"robustsweep config error: config key 'experiments.sweep.draws[0]' is "
        f"{shown or draw}; it must be >= 0 and <= 1000000000000"
    )
    assert_nothing_written(tmp_path)


def test_the_largest_draw_allowed_seeds_every_generator_it_keys():
    """The bound of the schema's seeds holds for the largest keys made from a draw: the last
    epoch of the last data-parallel rank (a million epochs, 1024 ranks, far beyond any study)."""
    from robustsweep.config_schema import load_schema
    from robustsweep.training.training_loop import epoch_generator, rank_seeds

    largest = load_schema()["$defs"]["seed"]["maximum"]
    epoch_generator(largest, 10**6)
    for seed in rank_seeds(largest, 10**6, 1023):
        torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
    with pytest.raises((RuntimeError, ValueError), match="Overflow"):  # what the bound prevents
        epoch_generator(largest * 10**7, 0)
    torch.manual_seed(0)


@pytest.mark.parametrize("mistake", ["braces", "home"])
def test_a_results_path_with_braces_or_a_home_of_dotfiles_is_refused(tmp_path, mistake):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("")
    (home / ".profile").write_text("")
    work = tmp_path / "work"
    work.mkdir()
    results = {"braces": "/some/path/res{draw}", "home": "~"}[mistake]
    # Snakemake keeps its source cache in XDG_CACHE_HOME (~/.cache): elsewhere for the test
    env = {"HOME": str(home), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = dry_run(work, tiny_with(results=f'results: "{results}"'), env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        result.stderr.splitlines()[-1]
        == {
            "braces": (
                "robustsweep config error: results folder '/some/path/res{draw}' has braces, which "
                "Snakemake reads as wildcards in every output path; braces are not allowed in the "
                "results path: rename the folder"
            ),
            "home": (
                f"robustsweep config error: results folder '{home}' already holds files "
                "robustsweep did not write (.bashrc, .profile); set `results` to a new or empty "
                "folder, or to one a study wrote"
            ),
        }[mistake]
    )
    assert sorted(path.name for path in home.iterdir()) == [".bashrc", ".profile"]
    assert_nothing_written(work)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_a_machine_without_it_stops_before_any_job(tmp_path):
    """The dry run passes (it does not know where jobs will run); a run on this machine stops
    in `onstart`, before the data jobs, instead of failing every training job after them."""
    result = dry_run(tmp_path, tiny_with(results="results: res\ndevice: cuda"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "robustsweep" in line]
    assert lines == [
        "robustsweep config error: config key 'device' is 'cuda', but this machine has no CUDA "
        f"device that torch can use (torch {torch.__version__}, "
        + (f"CUDA {torch.version.cuda} build" if torch.version.cuda else "a CPU-only build")
        + "); set device: auto (GPU when present, else CPU) or device: cpu, or run the study "
        "where the GPU is"
    ]
    assert not (tmp_path / "res").exists()
    assert_nothing_written(tmp_path)

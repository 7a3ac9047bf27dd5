"""robustsweep's overhead against the bare libraries, as ratios measured side by side (issue #6).

    python benchmarks/run_benchmarks.py                 # full size: the numbers in RESULTS.md
    python benchmarks/run_benchmarks.py --size tiny     # seconds; what CI runs so this cannot rot
    python benchmarks/run_benchmarks.py --only P5,P9 --make-run

Every ratio compares our code with the hand-written or library baseline in the same process,
on the same data and model, from the median of several alternating repetitions, so a noisy
machine moves both sides alike. P8 (`make run` end to end) takes minutes and runs only with
--make-run. Prints one markdown table: id, measure, ours, baseline, ratio, target, met.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from robustsweep.attacks.adversarial_store import generate_store  # noqa: E402
from robustsweep.attacks.methods import build_attack  # noqa: E402
from robustsweep.compute_device import select_device  # noqa: E402
from robustsweep.data.class_subsets import write_subset  # noqa: E402
from robustsweep.data.prepared_dataset import load_split, prepare_dataset  # noqa: E402
from robustsweep.evaluation.logits_file import TestSetLogits  # noqa: E402
from robustsweep.evaluation.run_evaluation import sweep_rows  # noqa: E402
from robustsweep.models.inference import forward, to_float  # noqa: E402
from robustsweep.models.networks import build_model  # noqa: E402
from robustsweep.models.trained_models import load_model, save_model  # noqa: E402
from robustsweep.training.defences import DEFENCES, TrainingContext  # noqa: E402
from robustsweep.training.robust_validation import (  # noqa: E402
    ValidationImages,
    budget,
    clean_count,
    robust_count,
    validation_images,
)
from robustsweep.training.training_loop import (  # noqa: E402
    _train_epoch,
    _validation_row,
    images_on_device,
    make_optimizer,
    recipe,
    train_run,
)


def build_defence(spec: dict, context: TrainingContext):
    return DEFENCES.build(spec).build(context)


@dataclass(frozen=True)
class Size:
    """How big each measurement is; `full` is what RESULTS.md reports."""

    repeats: int
    image_size: int  # digits upscaled to this (P2-P5, P7, P9)
    sweep_images: int  # P1: ImageNet-A-like test set of 200 classes
    sweep_image_size: int
    deepfool_images: int
    save_image_size: int  # P3: attack.save() rewrites everything so far at every batch
    train_model: str
    configs: tuple[str, ...]  # P6: config files dry-run, relative to the repository
    decode_images: int = 400  # P12: ImageNet-sized JPEGs decoded per epoch
    decode_workers: int = 2  # P12: DataLoader workers (and processes of the bare loops)


SIZES = {
    "tiny": Size(
        repeats=2,
        image_size=16,
        sweep_images=64,
        sweep_image_size=32,
        deepfool_images=8,
        save_image_size=16,
        train_model="small_cnn",
        configs=("config.yaml",),
        decode_images=24,
    ),
    "full": Size(
        repeats=5,
        image_size=32,
        sweep_images=1000,
        sweep_image_size=224,
        deepfool_images=128,
        save_image_size=128,
        train_model="resnet18",
        configs=("studies/tan2022.yaml", "studies/zhu2025.yaml"),
    ),
}


@dataclass(frozen=True)
class Row:
    id: str
    measure: str
    ours: float
    baseline: float
    ratio: float
    target: str
    note: str = ""

    def met(self) -> str:
        op, bound = self.target.split()
        return (
            "yes"
            if (self.ratio <= float(bound) if op == "<=" else self.ratio >= float(bound))
            else "NO"
        )


def median_seconds(*runs: Callable[[], object], repeats: int) -> list[float]:
    """Median wall time of each callable, alternating them so drift hits all alike."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for run, bucket in zip(runs, times, strict=True):
            start = time.perf_counter()
            run()
            bucket.append(time.perf_counter() - start)
    return [statistics.median(bucket) for bucket in times]


class Workspace:
    """A prepared digits dataset and a small trained surrogate, made once per script run."""

    def __init__(self, folder: Path, size: Size, device: torch.device):
        self.folder, self.size, self.device = folder, size, device
        self.dataset = self.digits(size.image_size)
        self.subset = folder / "N10.json"
        write_subset(self.subset, range(10), [str(c) for c in range(10)], 10, 0, 0)
        self.surrogate = folder / "surrogate.safetensors"
        short = recipe(epochs=4, lr=3e-3, restart_epochs=4)
        standard = {"method": "standard"}
        train_run(
            self.surrogate,
            folder / "surrogate.csv",
            self.dataset,
            self.subset,
            {"architecture": "small_cnn", "width": 16},
            short,
            standard,
            {},
            100,
            device,
        )

    def digits(self, image_size: int) -> Path:
        path = self.folder / f"digits-{image_size}.h5"
        if not path.exists():
            splits = {"train": 0.6, "test": 0.2, "pool": 0.2}
            spec = {"source": "digits", "image_size": image_size, "splits": splits}
            prepare_dataset(path, spec, seed=0)
        return path


def p1_sweep(ws: Workspace) -> Row:
    """Forward pass + every (M, trial) metric set from its logits, against the forward pass."""
    size, classes = ws.size, list(range(200))
    rng = np.random.default_rng(0)
    images = rng.integers(
        0, 256, (size.sweep_images, size.sweep_image_size, size.sweep_image_size, 3), np.uint8
    )
    labels = rng.integers(0, 200, size.sweep_images)
    model = (
        build_model({"architecture": "resnet18", "small_input_stem": False}, 200)
        .eval()
        .to(ws.device)
    )
    predicted_classes = list(range(20, 201, 20))

    def sweep() -> None:
        data = TestSetLogits(forward(model, images, ws.device, 250), labels, None)
        sweep_rows("clean", data, classes, predicted_classes, 3, 0)

    base, ours = median_seconds(
        lambda: forward(model, images, ws.device, 250), sweep, repeats=max(2, size.repeats // 2)
    )
    return Row(
        "P1",
        "M x trials sweep (incl. its forward pass) / one forward pass",
        ours,
        base,
        ours / base,
        "<= 1.05",
        f"{size.sweep_images} images, 200 classes, M 20..200 x 3",
    )


def success_forwards(model, clean: torch.Tensor, adversarial: torch.Tensor) -> None:
    """The forward passes a store's success report needs per batch (quantisation.py): the
    model on the clean images, on the attack's float output and on the rounded images."""
    with torch.no_grad():
        for images in (clean, adversarial, (adversarial * 255).round() / 255):
            model(images)


def p2_p7_store(ws: Workspace) -> list[Row]:
    """Store generation against bare torchattacks; bytes on disk against raw uint8. P2b gives
    the baseline the three forward passes per image a success report needs (clean, float and
    stored predictions), to compare the rest: rounding, repair, records and writes."""
    spec = {"method": "pgd", "eps": 0.1, "alpha": 0.025, "steps": 10}
    batch = 128
    split = load_split(ws.dataset, "train")
    model, _ = load_model(ws.surrogate, str(ws.device))
    for p in model.parameters():
        p.requires_grad_(False)
    attack = build_attack(model, spec, 10)
    output = ws.folder / "store-pgd.h5"

    def bare(with_forwards: bool) -> Callable[[], None]:
        def run() -> None:
            for start in range(0, len(split.labels), batch):
                x = to_float(split.images[start : start + batch], ws.device)
                y = torch.as_tensor(split.labels[start : start + batch], device=ws.device)
                adversarial = attack(x, y).detach()
                if with_forwards:
                    success_forwards(model, x, adversarial)

        return run

    def ours() -> None:
        output.unlink(missing_ok=True)
        generate_store(output, ws.dataset, "train", ws.surrogate, "pgd", spec, batch, 0, ws.device)

    base, base_forwards, mine = median_seconds(
        bare(False), bare(True), ours, repeats=ws.size.repeats
    )
    raw = split.images.nbytes
    n = len(split.labels)
    return [
        Row(
            "P2",
            "store generation images/s / bare torchattacks PGD-10",
            n / mine,
            n / base,
            base / mine,
            ">= 0.95",
            f"{n} images, batch {batch}",
        ),
        Row(
            "P2b",
            "the same, the baseline with the success report's 3 forward passes per image",
            n / mine,
            n / base_forwards,
            base_forwards / mine,
            ">= 0.95",
            f"{n} images, batch {batch}",
        ),
        Row(
            "P7",
            "bytes on disk per stored image / raw uint8 size",
            output.stat().st_size,
            raw,
            output.stat().st_size / raw,
            "<= 1.05",
            f"{split.images.shape[1]} px, labels included",
        ),
    ]


def p3_save(ws: Workspace) -> list[Row]:
    """torchattacks' attack.save() against our store, same 20 batches.

    attack.save() concatenates and re-saves everything so far as float32 after every batch;
    our store writes each batch once as uint8, plus three forward passes for the success
    report (the surrogate's predictions on the clean, float and stored images), which
    attack.save(verbose=False) does not record. The attack (Gaussian noise) and model (a
    two-channel CNN) are cheap so persisting is most of the time; P3b subtracts each side's
    necessary compute (the bare attack loop, and for ours also the three forward passes) to
    compare the persisting alone."""
    spec = {"method": "gn", "std": 0.01}
    dataset = ws.digits(ws.size.save_image_size)
    split = load_split(dataset, "train")
    batch = -(-len(split.labels) // 20)
    surrogate = ws.folder / "tiny-surrogate.safetensors"
    tiny = build_model({"architecture": "small_cnn", "width": 2}, 10)
    save_model(surrogate, tiny, "small_cnn", {"width": 2}, list(range(10)))
    model, _ = load_model(surrogate, str(ws.device))
    attack = build_attack(model, spec, 10)
    # uint8 images turned into [0, 1] floats per batch, as any loader of images on disk does
    # and as our store does: neither side gets its conversion for free
    pixels, labels = torch.from_numpy(split.images), torch.as_tensor(split.labels)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(pixels, labels),
        batch_size=batch,
        collate_fn=lambda items: (
            to_float(torch.stack([x for x, _ in items]), "cpu"),
            torch.stack([y for _, y in items]),
        ),
    )
    output = ws.folder / "store-gn.h5"

    def theirs() -> None:
        attack.save(loader, save_path=str(ws.folder / "torchattacks.pt"), verbose=False)

    def ours() -> None:
        output.unlink(missing_ok=True)
        generate_store(output, dataset, "train", surrogate, "gn", spec, batch, 0, ws.device)

    def attack_only(with_forwards: bool) -> Callable[[], None]:
        def run() -> None:
            for x, y in loader:
                x = x.to(ws.device)
                adversarial = attack(x, y.to(ws.device))
                if with_forwards:
                    success_forwards(model, x, adversarial)

        return run

    base, mine, bare, bare_forwards = median_seconds(
        theirs, ours, attack_only(False), attack_only(True), repeats=ws.size.repeats
    )
    setting = f"20 batches of {batch}, {ws.size.save_image_size} px, Gaussian noise, 2-channel CNN"
    their_saving, our_saving = base - bare, max(mine - bare_forwards, 1e-9)
    return [
        Row("P3", "torchattacks attack.save() time / our store's time", mine, base,
            base / mine, ">= 10", setting),
        Row("P3b", "the same, persisting only (minus each side's attack and forward passes)",
            our_saving, their_saving, their_saving / our_saving, ">= 10", setting),
    ]  # fmt: skip


def _epoch_setup(ws: Workspace):
    split = load_split(ws.dataset, "train")
    images = torch.from_numpy(split.images).permute(0, 3, 1, 2).contiguous().to(ws.device)
    targets = torch.as_tensor(split.labels, device=ws.device)
    # resnet18's ImageNet stem: a tenth of the 32 px stem's work, so loop overhead shows more
    options = {"width": 16} if ws.size.train_model == "small_cnn" else {"small_input_stem": False}
    spec = {"architecture": ws.size.train_model, **options}
    return split, images, targets, build_model(spec, 10).to(ws.device)


def _minimal_epoch(model, optimizer, images, targets, batch, swap=None, stored=None) -> None:
    """The hand-written baseline: shuffle, slice, (mix), forward, backward, step."""
    model.train()
    order = torch.randperm(len(targets), device=targets.device)
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        x = images[idx].float().div_(255.0)
        if swap is not None:
            mask = swap[idx]
            x[mask] = stored[idx[mask]].float().div_(255.0)
        loss = torch.nn.functional.cross_entropy(model(x), targets[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def p4_p5_training(ws: Workspace) -> list[Row]:
    """Our epoch (standard; offline mixing read from the stores) against a minimal loop."""
    split, images, targets, model = _epoch_setup(ws)
    epoch_recipe = recipe(epochs=1, batch_size=100, lr=1e-3)
    optimizer = make_optimizer(list(model.parameters()), epoch_recipe)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    data = images_on_device(ws.dataset, list(range(10)), epoch_recipe, ws.device)
    fgsm = {"method": "fgsm", "eps": 0.1}
    store = ws.folder / "train-fgsm.h5"
    generate_store(store, ws.dataset, "train", ws.surrogate, "fgsm", fgsm, 256, 0, ws.device)
    context = TrainingContext(ws.device, torch.from_numpy(split.indices), {"fgsm": store})
    offline = {"method": "offline_adversarial", "ratio": 0.5, "attacks": ["fgsm"]}
    standard = build_defence({"method": "standard"}, context)
    stored = build_defence(offline, context).sampler.stored[0]
    swap = torch.rand(len(targets), device=ws.device) < 0.5

    def our_epoch(defence) -> None:
        _train_epoch(model, defence, optimizer, scheduler, data, 0, False, 0)

    def our_store_epoch() -> None:  # reading the HDF5 store is part of it
        our_epoch(build_defence(offline, context))

    def minimal(mixed: bool) -> Callable[[], None]:
        return lambda: _minimal_epoch(
            model, optimizer, images, targets, 100, *((swap, stored) if mixed else ())
        )

    reps = ws.size.repeats
    base5, ours5 = median_seconds(minimal(False), lambda: our_epoch(standard), repeats=reps)
    base4, ours4 = median_seconds(minimal(True), our_store_epoch, repeats=reps)
    n, name = len(targets), ws.size.train_model
    return [
        Row(
            "P4",
            "epoch reading the store / same epoch from in-memory tensors",
            ours4,
            base4,
            ours4 / base4,
            "<= 1.05",
            f"{name}, {n} images, half swapped (FGSM store)",
        ),
        Row(
            "P5",
            "our training loop samples/s / minimal PyTorch loop",
            n / ours5,
            n / base5,
            base5 / ours5,
            ">= 0.95",
            f"{name}, {n} images, batch 100",
        ),
    ]


def no_slurm_env() -> dict[str, str]:
    """Snakemake's SLURM plugin asks `scontrol` at every start; where SLURM's client is
    installed without a reachable controller, that waits about 9 s. The benchmark measures
    the workflow, so a failing stand-in takes its place (as in the tests)."""
    folder = Path(tempfile.mkdtemp(prefix="no-slurm-"))
    stub = folder / "scontrol"
    stub.write_text("#!/bin/sh\nexit 1\n")
    stub.chmod(0o755)
    return os.environ | {"PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"}


def imagenet_skeleton(folder: Path) -> Path:
    """ImageNet-1k train/val and ImageNet-A as WordNet-id folders with one empty JPEG each
    (what zhu2025's validation reads), and an overlay pointing the study at them."""
    import yaml

    from robustsweep.data.imagenet_classes import imagenet_a_synsets, imagenet_synsets

    for tree, wnids in (("train", imagenet_synsets()), ("val", imagenet_synsets())) + (
        ("imagenet-a", imagenet_a_synsets()),
    ):
        for wnid in wnids:
            (folder / tree / wnid).mkdir(parents=True)
            (folder / tree / wnid / "0.JPEG").touch()
    overlay = folder / "roots.yaml"
    roots = {"root": str(folder / "train"), "test_root": str(folder / "val")}
    natural = {"root": str(folder / "imagenet-a")}
    overlay.write_text(yaml.safe_dump({"dataset": roots, "natural_adversarial": natural}))
    return overlay


def p6_dry_run(ws: Workspace) -> Row:
    """`snakemake -n` of the paper studies (seconds, not a ratio)."""
    extra = {}  # zhu2025 validates ImageNet's folders: give it a skeleton of them
    if any(Path(config).stem == "zhu2025" for config in ws.size.configs):
        extra["zhu2025"] = [str(imagenet_skeleton(ws.folder / "imagenet"))]
    started = time.perf_counter()
    jobs = 0
    for config in ws.size.configs:
        workdir = ws.folder / f"dry-{Path(config).stem}"
        workdir.mkdir()
        command = [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(workdir),
            "--configfile",
            str(REPO / config),
            *extra.get(Path(config).stem, []),
            "-n",
            "--quiet",
            "rules",
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, check=True, env=no_slurm_env()
        )
        totals = [line for line in result.stdout.splitlines() if line.startswith("total")]
        jobs += int(totals[0].split()[-1])
    seconds = time.perf_counter() - started
    return Row(
        "P6",
        "snakemake -n of the studies, seconds",
        seconds,
        1.0,
        seconds,
        "<= 20",
        f"{', '.join(Path(c).stem for c in ws.size.configs)}: {jobs} jobs",
    )


def p8_make_run(ws: Workspace) -> Row:
    """The default study end to end on 2 cores, environment built (seconds)."""
    workdir = ws.folder / "make-run"
    workdir.mkdir()
    started = time.perf_counter()
    # every rule calls `python -m robustsweep`: this interpreter's folder goes first on PATH
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(workdir),
            "--configfile",
            str(REPO / "config.yaml"),
            "--cores",
            "2",
            "--quiet",
        ],
        check=True,
        capture_output=True,
        env=os.environ | {"PATH": path},
    )
    minutes = (time.perf_counter() - started) / 60
    return Row(
        "P8", "make run on the default study, minutes", minutes, 1.0, minutes, "<= 10", "2 cores"
    )


def p9_deepfool(ws: Workspace) -> Row:
    """Our batched DeepFool (foolbox's semantics) against torchattacks' per-image loop, same
    inputs: ours stops an image once it is fooled, torchattacks' runs until it is on the
    boundary or out of steps."""
    import torchattacks

    from robustsweep.attacks.batched_deepfool import BatchedDeepFool

    split = load_split(ws.dataset, "test")
    n = ws.size.deepfool_images
    model, _ = load_model(ws.surrogate, str(ws.device))
    x, y = (
        to_float(split.images[:n], ws.device),
        torch.as_tensor(split.labels[:n], device=ws.device),
    )
    ours, theirs = BatchedDeepFool(model, 50, 0.02), torchattacks.DeepFool(model, 50, 0.02)
    base, mine = median_seconds(
        lambda: theirs(x, y), lambda: ours(x, y), repeats=max(2, ws.size.repeats // 2)
    )
    return Row(
        "P9",
        "DeepFool images/s / torchattacks DeepFool",
        n / mine,
        n / base,
        base / mine,
        ">= 5",
        f"{n} images, 50 steps, small CNN",
    )


def imagenet_like_jpegs(folder: Path, n: int) -> list[str]:
    """n photographs the size and quality of ImageNet's JPEGs (about 500 x 375, a third of
    them portrait, quality 90): crops of scikit-learn's two sample photographs at random
    offsets and scales, so the decoder sees real image content, not flat colour or noise."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(0)
    photos = load_sample_images().images
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n):
        photo = photos[k % len(photos)]
        scale = rng.uniform(0.6, 1.0)
        height, width = int(photo.shape[0] * scale), int(photo.shape[1] * scale)
        top = rng.integers(0, photo.shape[0] - height + 1)
        left = rng.integers(0, photo.shape[1] - width + 1)
        image = Image.fromarray(photo[top : top + height, left : left + width])
        image = image.resize((375, 500) if k % 3 == 0 else (500, 375), Image.Resampling.BILINEAR)
        paths.append(str(folder / f"{k:05d}.JPEG"))
        image.save(paths[-1], quality=90)
    return paths


def bare_loop(paths: list[str], seeds: list[int], decoder: str, size: int) -> None:
    """What a hand-written loader does per image, seeded as ours is (so both sides resize
    the same crops), batches of 64 stacked: `pil` opens, converts to RGB and applies
    torchvision's RandomResizedCrop, flip and PILToTensor; `torchvision.io` decodes the file's
    bytes with decode_jpeg and applies the v2 crop and flip to the uint8 tensor."""
    from PIL import Image
    from torchvision import transforms as v1
    from torchvision.io import decode_jpeg, read_file
    from torchvision.transforms import v2

    torch.set_num_threads(1)  # as in a DataLoader worker
    if decoder == "pil":
        crop = v1.Compose([v1.RandomResizedCrop(size, antialias=True), v1.RandomHorizontalFlip()])
    else:
        crop = v2.Compose([v2.RandomResizedCrop(size, antialias=True), v2.RandomHorizontalFlip()])
    batch = []
    for path, seed in zip(paths, seeds, strict=True):
        torch.default_generator.manual_seed(seed)
        if decoder == "pil":
            with Image.open(path) as image:
                batch.append(v1.functional.pil_to_tensor(crop(image.convert("RGB"))))
        else:
            batch.append(crop(decode_jpeg(read_file(path))))
        if len(batch) == 64 or path == paths[-1]:
            torch.stack(batch)
            batch = []


def in_processes(workers: int, run: Callable[..., None], paths: list[str], seeds, *args) -> None:
    """run(paths, seeds, *args) over the images in `workers` forked processes, a contiguous
    share each (the bare loop's parallelism: no queues, no batches sent back)."""
    if workers == 1:
        return run(paths, seeds, *args)
    import multiprocessing

    context = multiprocessing.get_context("fork")
    shares = np.array_split(np.arange(len(paths)), workers)
    processes = [
        context.Process(
            target=run, args=([paths[i] for i in share], [seeds[i] for i in share], *args)
        )
        for share in shares
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        assert process.exitcode == 0, f"a bare loop process failed ({process.exitcode})"


PILLOW_ONLY = """
import json, sys, time
import numpy as np
from PIL import Image
paths, crops = json.load(open(sys.argv[1]))
start = time.perf_counter()
for path, (top, left, height, width, flip) in zip(paths, crops):
    with Image.open(path) as image:
        image = image.convert("RGB").crop((left, top, left + width, top + height))
        image = image.resize((%d, %d), Image.Resampling.BILINEAR)
        np.asarray(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if flip else image)
print(time.perf_counter() - start)
"""


def pillow_simd_row(ws: Workspace, paths: list[str], seeds: list[int], size: int) -> Row:
    """pillow-simd (a separate interpreter named by $PILLOW_SIMD_PYTHON: it replaces Pillow,
    so it cannot share this environment) against this environment's Pillow, the same
    Pillow-only loop (decode, crop, resize, flip, to array) in a fresh process each."""
    from PIL import Image

    from robustsweep.data.image_files import crop_and_flip

    crops = []
    for path, seed in zip(paths, seeds, strict=True):
        with Image.open(path) as image:
            torch.default_generator.manual_seed(seed)
            crops.append(crop_and_flip(image.height, image.width))
    job = ws.folder / "pillow-only.json"
    job.write_text(json.dumps([paths, crops]))
    script = PILLOW_ONLY % (size, size)
    interpreters = {"pillow": sys.executable, "simd": os.environ["PILLOW_SIMD_PYTHON"]}
    seconds: dict[str, list[float]] = {name: [] for name in interpreters}
    for _ in range(ws.size.repeats):
        for name, python in interpreters.items():
            command = [python, "-c", script, str(job)]
            output = subprocess.run(command, capture_output=True, text=True, check=True)
            seconds[name].append(float(output.stdout))
    simd, pillow = (statistics.median(seconds[name]) for name in ("simd", "pillow"))
    n = len(paths)
    return Row(
        "P12d",
        "pillow-simd images/s / Pillow, the same Pillow-only loop, 1 core",
        n / simd,
        n / pillow,
        pillow / simd,
        ">= 1.0",
        f"{n} JPEGs, {size} px crops; not adopted (see RESULTS.md)",
    )


def p12_decoding(ws: Workspace) -> list[Row]:
    """The file-index loader of a training epoch (`training_batches`: our decoder, imagenet
    augmentation, W DataLoader workers) against bare loops doing the same work in W
    processes; per core. P12c: a single-core job, decoding in its own process."""
    from robustsweep.data.image_files import train_transform, training_batches

    size, workers = 224, ws.size.decode_workers
    train_transform(size, "imagenet")  # imports torchvision's v2 (a job pays it once) untimed
    paths = imagenet_like_jpegs(ws.folder / "jpegs", ws.size.decode_images)
    labels = np.zeros(len(paths), np.int64)
    # training_batches draws its epoch's seed first from the generator: the same crops here
    seed = int(torch.randint(0, 2**62, (1,), generator=torch.Generator().manual_seed(0)))
    seeds = [seed + row for row in range(len(paths))]

    def ours(threads: int) -> Callable[[], None]:
        def run() -> None:
            previous = torch.get_num_threads()
            torch.set_num_threads(threads)  # loader_workers: the job's threads
            try:
                generator = torch.Generator().manual_seed(0)
                for _ in training_batches(paths, labels, size, "imagenet", 64, generator):
                    pass
            finally:
                torch.set_num_threads(previous)

        return run

    def bare(decoder: str, processes: int) -> Callable[[], None]:
        return lambda: in_processes(processes, bare_loop, paths, seeds, decoder, size)

    timings = median_seconds(
        ours(workers), bare("pil", workers), bare("torchvision.io", workers),
        ours(1), bare("pil", 1),
        repeats=ws.size.repeats,
    )  # fmt: skip
    mine, pil, tvio, mine_one, pil_one = (len(paths) / t for t in timings)
    setting = f"{len(paths)} JPEGs ~500x375 q90 -> {size} px crops, "
    rows = [
        Row("P12", "file-index loader images/s per core / bare PIL+torchvision loop",
            mine / workers, pil / workers, mine / pil, ">= 0.95",
            setting + f"{workers} workers vs {workers} processes"),
        Row("P12b", "the same / bare torchvision.io decode_jpeg + v2 loop",
            mine / workers, tvio / workers, mine / tvio, ">= 0.95",
            setting + f"{workers} workers vs {workers} processes"),
        Row("P12c", "the same, 1 core: decoding in the job's process / bare PIL loop",
            mine_one, pil_one, mine_one / pil_one, ">= 0.95", setting + "1 process each"),
    ]  # fmt: skip
    if os.environ.get("PILLOW_SIMD_PYTHON"):
        rows.append(pillow_simd_row(ws, paths, seeds, size))
    return rows


def p14_validation(ws: Workspace) -> Row:
    """A default-study epoch with its robust validation against the same epoch without it:
    the default study's recipe (AdamW, batch 100), its standard defence and its models'
    sizes, validation as the schema's defaults give it (the pool, PGD-10 and FGSM on as many
    images as robust_cost allows). Interleaved, so the shared machine's load hits both."""
    _, _, _, model = _epoch_setup(ws)
    epoch_recipe = recipe(epochs=1, batch_size=100, lr=3e-3)
    optimizer = make_optimizer(list(model.parameters()), epoch_recipe)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    data = images_on_device(ws.dataset, list(range(10)), epoch_recipe, ws.device)
    context = TrainingContext(ws.device, data.indices)
    method = DEFENCES.build({"method": "standard"})
    standard = method.build(context)
    checks = epoch_recipe.validation
    images, targets = validation_images(ws.dataset, list(range(10)), checks, 0, ws.device)
    sizes = (len(images), data.count, method)
    count, clean = robust_count(checks, *sizes), clean_count(checks, *sizes)
    held_out = ValidationImages(images, targets, count, clean)
    check = budget(checks, method)

    def epoch() -> None:
        _train_epoch(model, standard, optimizer, scheduler, data, 0, False, 0)

    def validated_epoch() -> None:
        epoch()
        _validation_row(model, held_out, check, 0, 0, epoch_recipe.batch_size)

    base, ours = median_seconds(epoch, validated_epoch, repeats=ws.size.repeats)
    return Row(
        "P14",
        "default-study epoch with robust validation / the same epoch without",
        ours,
        base,
        ours / base,
        "<= 1.10",
        f"{ws.size.train_model}, {data.count} training images; of {len(images)} validation "
        f"images {clean} clean, {count} under PGD-10 and FGSM",
    )


BENCHMARKS: dict[str, Callable[[Workspace], Row | list[Row]]] = {
    "P1": p1_sweep,
    "P2": p2_p7_store,  # also P2b and P7
    "P3": p3_save,  # also P3b
    "P4": p4_p5_training,  # also P5
    "P6": p6_dry_run,
    "P8": p8_make_run,
    "P9": p9_deepfool,
    "P12": p12_decoding,  # also P12b, P12c and, with $PILLOW_SIMD_PYTHON, P12d
    "P14": p14_validation,
}


def table(rows: list[Row]) -> str:
    lines = [
        "| id | measure | ours | baseline | ratio | target | met | setting |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: r.id):
        lines.append(
            f"| {r.id} | {r.measure} | {r.ours:.4g} | {r.baseline:.4g} | {r.ratio:.3f} | "
            f"{r.target} | {r.met()} | {r.note} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument(
        "--only",
        help="comma-separated ids, e.g. P1,P9 (P2 gives P2b and P7, P4 gives P5, P12 gives P12b-d)",
    )
    parser.add_argument("--make-run", action="store_true", help="also P8 (minutes)")
    parser.add_argument("--device", default="auto", help="auto (a GPU when present), cpu, cuda")
    args = parser.parse_args(argv)
    device = select_device(args.device)
    chosen = args.only.split(",") if args.only else [k for k in BENCHMARKS if k != "P8"]
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:  # before any work: a full run takes a quarter of an hour
        parser.error(
            f"--only names {', '.join(unknown)}; allowed: {', '.join(BENCHMARKS)} "
            "(P2 also gives P2b and P7, P3 gives P3b, P4 gives P5, P12 gives P12b-d)"
        )
    if args.make_run and "P8" not in chosen:
        chosen.append("P8")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="robustsweep-bench-") as tmp:
        workspace = Workspace(Path(tmp), SIZES[args.size], device)
        for key in chosen:
            print(f"running {key} ...", file=sys.stderr, flush=True)
            result = BENCHMARKS[key](workspace)
            result = result if isinstance(result, list) else [result]
            for row in result:  # as they come: a full run takes a quarter of an hour
                print(f"  {row.id}: ratio {row.ratio:.3f} (target {row.target})", file=sys.stderr)
            rows += result
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(
        f"robustsweep benchmarks, size {args.size}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, device {name}\n"
    )
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

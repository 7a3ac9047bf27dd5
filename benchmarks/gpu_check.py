"""Every CUDA path of robustsweep, checked in one command on an offline GPU node (issue #35).

    python benchmarks/gpu_check.py          # on the GPU node (make gpu-check): < 8 min, 1 H100
    python benchmarks/gpu_check.py --cpu    # tiny sizes on the CPU: what the test suite runs

Needs only what a site's GPU image has (torch, torchvision, h5py, pandas, scikit-learn and
their dependencies) plus the wheels `make gpu-wheels` downloads on a networked machine
(torchattacks and the few pure-Python packages the package imports), installed there with
`pip install --no-index --find-links gpu-wheels gpu-wheels/*.whl`. No Snakemake, no config
schema: it calls the package's stage code directly, on the digits that ship inside
scikit-learn and on synthetic data, so it needs no download.

Checks, one line each (ok / FAIL / skip, seconds, what was measured), then a summary:
  a short training of every registered defence; data parallelism over all visible GPUs (2+);
  nvJPEG decoding of a generated JPEG index; bf16 autocast (training and a white-box attack,
  row P13 against float32); an adversarial store and a white-box file, each with the GPU's
  busy fraction (kernel time over wall time, from the profiler's CUDA activity); the
  white-box file again from 2 shards (same bytes?); AutoAttack on 500 images; rows P10
  (CIFAR-sized training, ours / a minimal loop) and P11 (PGD-10 store images/s / bare
  torchattacks). Exit status 1 when a check failed.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

# What a GPU node's site image has: these distributions and their dependencies
NODE_HAS = ("torch", "torchvision", "h5py", "pandas", "scikit-learn")
# what it needs beyond them (`make gpu-wheels`), as distribution -> import name: every module
# this check imports, found by running it with only NODE_HAS importable (tests/test_gpu_check.py)
NODE_WHEELS = {
    "torchattacks": "torchattacks",
    "safetensors": "safetensors",
    "tqdm": "tqdm",
    "pyyaml": "yaml",
}

# robustsweep imports come inside the checks: an import that fails on the node is one
# check's failure with its reason, not a traceback before the first line


@dataclass(frozen=True)
class Sizes:
    image_size: int  # digits rescaled to this (CIFAR's 32 on the GPU)
    width: int  # small_cnn width of the defence runs
    epochs: int  # of each defence's run
    standard_epochs: int  # of the standard run every attack check attacks
    train_share: float  # of the digits (1797 images)
    test_share: float  # 0.3 gives the 539 images AutoAttack runs on
    autoattack_eps: float
    p10_images: int  # synthetic CIFAR-sized training images
    p10_model: str
    p10_batch: int
    p11_split: str  # the store's split; the bare loop attacks the same images
    p11_batch: int
    repeats: int


GPU = Sizes(32, 16, 1, 15, 0.6, 0.3, 8 / 255, 20_000, "resnet18", 512, "train", 1024, 3)
# the CPU mode: seconds per check; AutoAttack with a budget every image breaks in APGD-CE
CPU = Sizes(8, 4, 1, 3, 0.1, 0.05, 0.3, 128, "small_cnn", 64, "test", 64, 1)
PGD10 = {"method": "pgd", "eps": 8 / 255, "alpha": 2 / 255, "steps": 10, "random_start": True}
FGSM = {"method": "fgsm", "eps": 8 / 255}


@dataclass
class Result:
    name: str
    status: str  # ok, FAIL, skip
    seconds: float
    detail: str


class Check:
    """The prepared data and models every check shares, and the lines printed so far."""

    def __init__(self, folder: Path, sizes: Sizes, device: torch.device):
        self.folder, self.sizes, self.device = folder, sizes, device
        self.results: list[Result] = []
        self.rows: list[str] = []
        self.weights: dict[str, Path] = {}

    def run(self, name: str, body: Callable[[], str | None]) -> None:
        """One check: its line as soon as it ends; an exception is its FAIL line."""
        start = time.perf_counter()
        try:
            detail = body() or ""
            status = "skip" if detail.startswith("skip:") else "ok"
            detail = detail.removeprefix("skip:").strip()
        except Exception as error:  # noqa: BLE001 - every failure is one line, then go on
            status, detail = "FAIL", f"{type(error).__name__}: {error}"
            traceback.print_exc(file=sys.stderr)
        seconds = time.perf_counter() - start
        result = Result(name, status, seconds, detail)
        self.results.append(result)
        print(f"{status:4} {name:34} {seconds:7.1f} s  {detail}", flush=True)

    # -- shared inputs -------------------------------------------------------------------

    def digits(self) -> Path:
        from robustsweep.data.class_subsets import write_subset
        from robustsweep.data.prepared_dataset import prepare_dataset

        path = self.folder / "digits.h5"
        if not path.exists():
            train, test = self.sizes.train_share, self.sizes.test_share
            splits = {"train": train, "test": test, "pool": round(1 - train - test, 6)}
            spec = {"source": "digits", "image_size": self.sizes.image_size, "splits": splits}
            prepare_dataset(path, spec, seed=0)
            write_subset(self.folder / "N10.json", range(10), [str(c) for c in range(10)], 10, 0, 0)
        return path

    def train(self, name: str, defence: dict, precision: str = "auto", **extra) -> Path:
        from robustsweep.training.training_loop import train_run

        weights = self.folder / f"{name}.safetensors"
        model = {"architecture": "small_cnn", "width": self.sizes.width}
        epochs = self.sizes.standard_epochs if name == "standard" else self.sizes.epochs
        short = recipe(epochs=epochs, lr=3e-3, restart_epochs=epochs, precision=precision)
        train_run(
            weights,
            self.folder / f"{name}.csv",
            self.digits(),
            self.folder / "N10.json",
            model,
            short,
            defence,
            extra.get("stores", {}),
            0,
            self.device,
            extra.get("clean_copy"),
        )
        self.weights[name] = weights
        return weights


def recipe(**values):
    """A training recipe with the schema's defaults, read without jsonschema (which the
    GPU node need not have): the `training` section's flat `default`s."""
    import yaml

    from robustsweep.stage_settings import TrainingRecipe, from_mapping

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    return from_mapping(
        TrainingRecipe, {**schema_defaults(schema["properties"]["training"]), **values}
    )


def schema_defaults(node: dict):
    """A schema node's default, with the defaults of an object's properties filled in (as the
    config check's defaulting validator does: `training.validation` is such an object)."""
    properties = node.get("properties")
    if properties is None:
        return node.get("default", NO_DEFAULT)
    filled = {key: schema_defaults(child) for key, child in properties.items()}
    filled = {key: value for key, value in filled.items() if value is not NO_DEFAULT}
    return {**filled, **(node.get("default") or {})}


NO_DEFAULT = object()


@contextlib.contextmanager
def busy_fraction(device: torch.device, out: dict):
    """GPU kernel time over wall time of the block (torch.profiler, CUDA activity only, so
    the profiler adds no per-operator CPU work); `out["busy"]` is None on the CPU."""
    if device.type != "cuda":
        yield
        out["busy"] = None
        return
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize(device)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        start = time.perf_counter()
        yield
        torch.cuda.synchronize(device)
        wall = time.perf_counter() - start
    kernel_us = 0.0
    for event in prof.key_averages():
        if event.device_type == torch.autograd.DeviceType.CUDA:
            kernel_us += getattr(event, "self_device_time_total", None) or getattr(
                event, "self_cuda_time_total", 0.0
            )
    out["busy"] = kernel_us / 1e6 / wall


def busy_text(out: dict) -> str:
    busy = out.get("busy")
    return "" if busy is None else f"; GPU busy {100 * busy:.0f} % (target >= 90 %)"


# -- the checks ---------------------------------------------------------------------------


def check_device(c: Check) -> str:
    import torchvision

    versions = f"torch {torch.__version__}, torchvision {torchvision.__version__}"
    if c.device.type != "cuda":
        return f"cpu mode ({versions}, {torch.get_num_threads()} threads)"
    props = torch.cuda.get_device_properties(c.device)
    return (
        f"{props.name}, {props.total_memory / 2**30:.0f} GiB, capability "
        f"{props.major}.{props.minor}, {torch.cuda.device_count()} visible, CUDA "
        f"{torch.version.cuda}, bf16 {torch.cuda.is_bf16_supported()}; {versions}"
    )


def defence_specs() -> dict[str, dict]:
    """Every registered defence, with the parameters a short check needs (a train store of
    FGSM images for the offline ones, 2 attack steps for the online ones)."""
    from robustsweep.registry import parameter_fields
    from robustsweep.training.defences import DEFENCES

    wanted = {"ratio": 0.5, "attacks": ["fgsm"], "steps": 2}
    specs = {}
    for name in DEFENCES.names():
        fields = {f.name for f in parameter_fields(DEFENCES.get(name).target)}
        specs[name] = {"method": name, **{k: v for k, v in wanted.items() if k in fields}}
    return specs


def check_store(c: Check, split: str, spec: dict, name: str) -> Callable[[], str]:
    def body() -> str:
        from robustsweep.attacks.adversarial_store import generate_store

        out: dict = {}
        path = c.folder / f"store-{split}-{name}.h5"
        with busy_fraction(c.device, out):
            report = generate_store(
                path, c.digits(), split, c.weights["standard"], name, spec, 512, 0, c.device
            )
        return (
            f"{name} on the {split} split, success {report['success_rounded']:.2f}{busy_text(out)}"
        )

    return body


def check_training(c: Check, name: str, spec: dict) -> Callable[[], str]:
    def body() -> str:
        import pandas as pd

        from robustsweep.training.defences import DEFENCES

        method = DEFENCES.build(spec)
        stores = {a: c.folder / "store-train-fgsm.h5" for a in method.stores_needed()}
        clean = c.weights.get("standard") if method.needs_clean_copy else None
        out: dict = {}
        with busy_fraction(c.device, out) if name == "standard" else contextlib.nullcontext():
            c.train(name, spec, stores=stores, clean_copy=clean)
        log = pd.read_csv(c.folder / f"{name}.csv")
        loss = float(log.iloc[-1].get("loss", float("nan")))
        if not math.isfinite(loss):
            raise RuntimeError(f"final training loss {loss}")
        return f"{len(log)} epoch(s), final loss {loss:.3f}{busy_text(out)}"

    return body


def check_bf16_training(c: Check) -> str:
    if c.device.type != "cuda" or not torch.cuda.is_bf16_supported():
        return "skip: needs a GPU with bf16"
    c.train("standard_bf16", {"method": "standard"}, precision="bf16")
    return "standard defence under bf16 autocast trained"


def check_data_parallel(c: Check) -> str:
    count = torch.cuda.device_count() if c.device.type == "cuda" else 0
    if count < 2:
        return f"skip: {count} GPU(s) visible, data parallelism needs 2 or more"
    from robustsweep.training.data_parallel import launch
    from robustsweep.training.training_loop import train_run

    model = {"architecture": "resnet18"}  # BatchNorm, made SyncBatchNorm over NCCL
    arguments = (
        c.folder / "ddp.safetensors",
        c.folder / "ddp.csv",
        c.digits(),
        c.folder / "N10.json",
        model,
        recipe(epochs=1, lr=3e-3, batch_size=256),
        {"method": "standard"},
        {},
        0,
        None,
    )
    launch(train_run, arguments, count, "cuda", 4 * count)
    return f"resnet18, {count} processes over NCCL, 1 epoch"


def check_nvjpeg(c: Check) -> str:
    from robustsweep.data.image_files import device_decoder, training_batches

    sys.path.insert(0, str(REPO / "benchmarks"))
    from run_benchmarks import imagenet_like_jpegs

    paths = imagenet_like_jpegs(c.folder / "jpegs", 64 if c.device.type == "cuda" else 8)
    labels = np.zeros(len(paths), np.int64)
    decoder = device_decoder(c.device) if c.device.type == "cuda" else None
    if c.device.type == "cuda" and decoder is None:
        raise RuntimeError("torchvision's decode_jpeg does not run on this GPU")
    where = c.device if decoder is not None else None

    def epoch(device) -> torch.Tensor:
        batches = training_batches(
            paths, labels, 64, "imagenet", 32, torch.Generator().manual_seed(0), device
        )
        return torch.cat([images.cpu() for images, _, _ in batches])

    decoded = epoch(where)
    if where is None:
        return f"skip: cpu mode; {len(decoded)} JPEGs decoded by the loader's workers"
    reference = epoch(torch.device("cpu"))  # libjpeg-turbo, the same crops
    difference = (decoded.float() - reference.float()).abs()
    if difference.mean() > 2:  # nvJPEG's rounding differs from libjpeg-turbo's by a level or so
        raise RuntimeError(f"mean difference {difference.mean():.2f} grey levels from the CPU's")
    return (
        f"{len(paths)} JPEGs decoded on {c.device} (nvJPEG); mean |difference| from "
        f"libjpeg-turbo {difference.mean():.2f} grey levels, max {difference.max():.0f}"
    )


def white_box(c: Check, name: str, spec: dict, precision: str = "fp32", shards: int = 1):
    from robustsweep.evaluation.white_box import attack_own_model, attack_shard

    out = c.folder / f"white_box-{name}-{precision}-{shards}.h5"
    args = (c.weights["standard"], c.digits(), name, spec, 512, 0, c.device)
    if shards == 1:
        return out, attack_own_model(out, *args, precision=precision)
    parts = [c.folder / f"{out.stem}.shard{k}.h5" for k in range(shards)]
    for k, part in enumerate(parts):
        attack_shard(part, *args, k, shards, precision)
    return out, attack_own_model(out, *args, precision=precision, shards=parts)


def check_white_box(c: Check) -> str:
    result: dict = {}
    with busy_fraction(c.device, result):
        start = time.perf_counter()
        path, report = white_box(c, "pgd", PGD10)
        seconds = time.perf_counter() - start
    c.white_box_fp32 = (path, report, seconds)
    return (
        f"PGD-10 on {report['n_images']} images, robust accuracy "
        f"{robust_accuracy(path):.3f}{busy_text(result)}"
    )


def check_shards(c: Check) -> str:
    whole = c.white_box_fp32[0]
    sharded, _ = white_box(c, "pgd", PGD10, shards=2)
    if sharded.read_bytes() == whole.read_bytes():
        return "2 shards gathered: the same bytes as one job"
    import h5py

    from robustsweep.set_names import white_box_set

    with h5py.File(whole) as a, h5py.File(sharded) as b:
        group = f"{white_box_set('pgd')}/images"
        moved = (a[group][()] != b[group][()]).any((1, 2, 3))
    raise RuntimeError(
        f"2 shards differ from one job in {int(moved.sum())} images (non-deterministic GPU "
        "kernels: set torch.backends.cudnn.deterministic and report it)"
    )


def robust_accuracy(path: Path) -> float:
    import h5py

    with h5py.File(path) as h5:
        (group,) = h5.values()
        return float((group["logits"][()].argmax(1) == group["label"][()]).mean())


def check_bf16_attack(c: Check) -> str:
    """Row P13: the same PGD-10 white-box attack of the same model and images, crafted under
    bf16 autocast against float32: robust accuracy (evaluated in float32 either way), the
    share of the attack's float outputs within the L-inf budget, and the speed-up."""
    if c.device.type != "cuda" or not torch.cuda.is_bf16_supported():
        c.rows.append(
            "| P13 | white-box PGD-10 robust accuracy, bf16 attack / fp32 attack | not "
            "applicable on the CPU (attacks stay float32) | | | <= 1.05 | | |"
        )
        return "skip: needs a GPU with bf16 (attacks on the CPU stay float32)"
    fp32_path, _, fp32_seconds = c.white_box_fp32
    start = time.perf_counter()
    bf16_path, _ = white_box(c, "pgd", PGD10, precision="bf16")
    bf16_seconds = time.perf_counter() - start
    within = float_outputs_within_budget(c, PGD10)
    fp32_acc, bf16_acc = robust_accuracy(fp32_path), robust_accuracy(bf16_path)
    ratio = bf16_acc / fp32_acc if fp32_acc else float("nan")
    name = torch.cuda.get_device_name(c.device)
    c.rows += [
        f"| P13 | white-box PGD-10 robust accuracy, bf16 attack / fp32 attack | {bf16_acc:.4f} "
        f"| {fp32_acc:.4f} | {ratio:.3f} | <= 1.05 | {'yes' if ratio <= 1.05 else 'NO'} | "
        f"{name}, small CNN, digits {c.sizes.image_size} px |",
        f"| P13b | share of bf16 float outputs within the L-inf budget | {within:.4f} | 1 | "
        f"{within:.4f} | >= 1 | {'yes' if within >= 1 else 'NO'} | as P13 |",
        f"| P13c | fp32 attack time / bf16 attack time | {bf16_seconds:.2f} s | "
        f"{fp32_seconds:.2f} s | {fp32_seconds / bf16_seconds:.3f} | >= 1 | "
        f"{'yes' if fp32_seconds >= bf16_seconds else 'NO'} | as P13 |",
    ]
    return (
        f"robust accuracy bf16 {bf16_acc:.4f} vs fp32 {fp32_acc:.4f} "
        f"({100 * (bf16_acc - fp32_acc):+.2f} pp), within budget {within:.4f}, "
        f"{fp32_seconds / bf16_seconds:.2f}x faster"
    )


def float_outputs_within_budget(c: Check, spec: dict) -> float:
    from robustsweep.attacks.methods import ATTACK_METHODS
    from robustsweep.data.prepared_dataset import load_split
    from robustsweep.evaluation.white_box_parts import attack_precision_context
    from robustsweep.models.inference import to_float
    from robustsweep.models.trained_models import load_model

    model, _ = load_model(c.weights["standard"], str(c.device))
    for p in model.parameters():
        p.requires_grad_(False)
    split = load_split(c.digits(), "test")
    x = to_float(split.images[:512], c.device)
    y = torch.as_tensor(split.labels[:512], device=c.device)
    method = ATTACK_METHODS.build(spec)
    torch.manual_seed(0)
    with attack_precision_context("bf16", c.device):
        adversarial = method.build(model, 10)(x, y).float()
    _, eps = method.budget()
    return float(((adversarial - x).abs().amax((1, 2, 3)) <= eps + 1e-6).float().mean())


def check_autoattack(c: Check) -> str:
    spec = {"method": "autoattack", "eps": c.sizes.autoattack_eps, "norm": "Linf", "seed": 0}
    path, report = white_box(c, "autoattack", spec)
    return (
        f"standard AutoAttack (eps {spec['eps']:.4f}) on {report['n_images']} images, "
        f"robust accuracy {robust_accuracy(path):.3f}"
    )


def synthetic_training(c: Check):
    """P10's data: CIFAR-10-sized uint8 images and labels on the device (speed does not
    depend on content), as the training loop holds a prepared train split."""
    import robustsweep.training.training_loop as loop
    from robustsweep.data.prepared_dataset import Split

    n, size = c.sizes.p10_images, 32
    rng = np.random.default_rng(0)
    split = Split(
        rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
        rng.integers(0, 10, n).astype(np.int64),
        np.arange(n),
    )
    real = loop.load_split
    loop.load_split = lambda path, name: split
    try:
        rec = recipe(epochs=1, batch_size=c.sizes.p10_batch, lr=1e-3)
        data = loop.images_on_device(Path("synthetic"), list(range(10)), rec, c.device)
    finally:
        loop.load_split = real
    return split, data, rec


def check_p10(c: Check) -> str:
    """P10: our training epoch (standard defence, data on the device) samples/s against a
    minimal hand-written loop over the same device tensors."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from run_benchmarks import _minimal_epoch, median_seconds

    import robustsweep.training.training_loop as loop
    from robustsweep.models.networks import build_model
    from robustsweep.training.defences import DEFENCES, TrainingContext

    split, data, rec = synthetic_training(c)
    model = build_model({"architecture": c.sizes.p10_model}, 10).to(c.device)
    if c.device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    optimizer = loop.make_optimizer(list(model.parameters()), rec)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    context = TrainingContext(c.device, torch.from_numpy(split.indices), {})
    trainer = DEFENCES.build({"method": "standard"}).build(context)
    images = torch.from_numpy(split.images).permute(0, 3, 1, 2).contiguous().to(c.device)
    targets = torch.from_numpy(split.labels).to(c.device)
    bf16 = c.device.type == "cuda" and torch.cuda.is_bf16_supported()

    def ours() -> None:
        loop._train_epoch(model, trainer, optimizer, scheduler, data, 0, bf16, 0)
        synchronize(c.device)

    def minimal() -> None:
        with torch.autocast(c.device.type, torch.bfloat16, enabled=bf16):
            _minimal_epoch(model, optimizer, images, targets, c.sizes.p10_batch)
        synchronize(c.device)

    out: dict = {}
    if c.device.type == "cuda":
        ours()  # warm-up: cuDNN's algorithm search, the allocator
        with busy_fraction(c.device, out):
            ours()
    base, mine = median_seconds(minimal, ours, repeats=c.sizes.repeats)
    n = c.sizes.p10_images
    ratio = base / mine
    c.rows.append(
        f"| P10 | CIFAR-sized training samples/s / minimal loop | {n / mine:.0f} | {n / base:.0f} "
        f"| {ratio:.3f} | >= 0.95 | {'yes' if ratio >= 0.95 else 'NO'} | "
        f"{c.sizes.p10_model}, {n} synthetic 32 px images, batch {c.sizes.p10_batch}, "
        f"{'bf16' if bf16 else 'fp32'}{busy_text(out)} |"
    )
    return f"ratio {ratio:.3f} (target >= 0.95), {n / mine:.0f} samples/s{busy_text(out)}"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def check_p11(c: Check) -> str:
    """P11: our PGD-10 store (rounding, repair, success report, HDF5) images/s against bare
    torchattacks PGD-10 over the same images, both at the check's batch size."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from run_benchmarks import median_seconds

    from robustsweep.attacks.adversarial_store import generate_store
    from robustsweep.attacks.methods import build_attack
    from robustsweep.data.prepared_dataset import load_split
    from robustsweep.models.inference import to_float
    from robustsweep.models.trained_models import load_model

    dataset, weights, batch = c.digits(), c.weights["standard"], c.sizes.p11_batch
    split = load_split(dataset, c.sizes.p11_split)
    count = len(split.labels)
    model, _ = load_model(weights, str(c.device))
    for p in model.parameters():
        p.requires_grad_(False)
    attack = build_attack(model, PGD10, 10)
    images = to_float(split.images[:count], c.device)
    labels = torch.as_tensor(split.labels[:count], device=c.device)

    def bare() -> None:
        torch.manual_seed(0)
        for start in range(0, count, batch):
            attack(images[start : start + batch], labels[start : start + batch])
        synchronize(c.device)

    def ours() -> None:
        out = c.folder / "p11.h5"
        out.unlink(missing_ok=True)
        generate_store(out, dataset, c.sizes.p11_split, weights, "pgd", PGD10, batch, 0, c.device)

    bare()
    base, mine = median_seconds(bare, ours, repeats=c.sizes.repeats)
    n = count
    ratio = base / mine
    c.rows.append(
        f"| P11 | PGD-10 store images/s / bare torchattacks PGD-10 | {n / mine:.0f} | "
        f"{n / base:.0f} | {ratio:.3f} | >= 0.95 | {'yes' if ratio >= 0.95 else 'NO'} | "
        f"small CNN, digits {c.sizes.image_size} px, batch {batch} |"
    )
    return f"ratio {ratio:.3f} (target >= 0.95), {n / mine:.0f} images/s"


def wheel_requirements() -> list[str]:
    """`name==version` of each NODE_WHEELS distribution, as requirements.lock pins it."""
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        name, _, version = line.strip().partition("==")
        if version:
            pins[name.lower()] = version.split()[0]
    return [f"{name}=={pins[name]}" for name in NODE_WHEELS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="tiny sizes on the CPU (the tests)")
    parser.add_argument(
        "--wheel-requirements",
        action="store_true",
        help="print the NODE_WHEELS pins of requirements.lock (make gpu-wheels) and stop",
    )
    args = parser.parse_args(argv)
    if args.wheel_requirements:
        print(" ".join(wheel_requirements()))
        return 0
    if not args.cpu and not torch.cuda.is_available():
        print("gpu_check: no CUDA device is visible; run it on the GPU node, or --cpu here")
        return 2
    device = torch.device("cpu") if args.cpu else torch.device("cuda", 0)
    sizes = CPU if args.cpu else GPU
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="robustsweep-gpu-check-") as tmp:
        c = Check(Path(tmp), sizes, device)
        c.run("device", lambda: check_device(c))
        specs = defence_specs()
        c.run("train standard", check_training(c, "standard", specs.pop("standard")))
        c.run("store train/fgsm", check_store(c, "train", FGSM, "fgsm"))
        c.run("store test/pgd-10", check_store(c, "test", PGD10, "pgd"))
        for name, spec in specs.items():
            c.run(f"train {name}", check_training(c, name, spec))
        c.run("bf16 autocast training", lambda: check_bf16_training(c))
        c.run("data parallel", lambda: check_data_parallel(c))
        c.run("nvJPEG decoding", lambda: check_nvjpeg(c))
        c.run("white-box file pgd-10", lambda: check_white_box(c))
        c.run("white-box 2 shards = 1 job", lambda: check_shards(c))
        c.run("bf16 white-box attack (P13)", lambda: check_bf16_attack(c))
        c.run("AutoAttack", lambda: check_autoattack(c))
        c.run("P10 training", lambda: check_p10(c))
        c.run("P11 store", lambda: check_p11(c))
    failed = [r.name for r in c.results if r.status == "FAIL"]
    counts = {s: sum(r.status == s for r in c.results) for s in ("ok", "FAIL", "skip")}
    print(
        f"\nsummary: {counts['ok']} ok, {counts['FAIL']} failed, {counts['skip']} skipped in "
        f"{time.perf_counter() - start:.0f} s on {check_device(c).split(',')[0]}"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    if c.rows:
        print("\n| id | measure | ours | baseline | ratio | target | met | setting |")
        print("|---|---|---|---|---|---|---|---|")
        print("\n".join(c.rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

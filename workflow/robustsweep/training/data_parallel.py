"""Data-parallel training of one run: K processes of one node, DistributedDataParallel.

The training job's own process (the one Snakemake started: it holds the job's log and its
GPU locks) starts K workers with torch.distributed.run's launcher (`elastic_launch`, what the
`torchrun` command runs): a standalone rendezvous on localhost and max_restarts 0, so a
worker that dies makes the launcher stop the others and the job fail; the rerun resumes
from the checkpoint rank 0 wrote after the last whole epoch. NCCL on GPUs, one per worker
(the job claims K devices: gpu_allocation.py); gloo on the CPU, the job's threads split among
the workers.

Why a step is the one-process step on the global batch (training_loop.py): every rank draws
the same seeded order and augmentation of each global batch and trains on its contiguous
share of it (`share`); its loss is weighted by share x K / batch, so DDP's mean of the ranks'
gradients is the gradient of the global batch's mean loss, also for a last batch that does
not split evenly. BatchNorm: on GPUs SyncBatchNorm (the global batch's statistics, exactly
the one-process step); on the CPU torch has no SyncBatchNorm, so each rank normalises with
its share's statistics and rank 0's running statistics are the model's (DDP's
broadcast_buffers) - the one difference from one process besides floating-point order.
Only rank 0 prints and writes; every rank reads the same checkpoint on resume.
"""

from __future__ import annotations

import gc
import importlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable

import torch
import torch.distributed as dist

from robustsweep.input_errors import ConfigError
from robustsweep.ranks import ranks, sum_over_ranks

# Fault injection for the tests: "<rank>:<epoch>" makes that worker SIGKILL itself once the
# checkpoint of that epoch is written (what an OOM killer or a lost node does to a worker).
KILL_WORKER = "ROBUSTSWEEP_KILL_WORKER"
# a worker's exit status for bad input (rank 0 has printed the line): no rerun fixes that
INPUT_ERROR_EXIT = 65  # sysexits.h's EX_DATAERR
PEER_GRACE_S = 1.0  # how long a failing worker waits before it exits (`_worker`)


def broadcast_buffers(model: torch.nn.Module) -> None:
    """Rank 0's buffers (BatchNorm's running statistics) on every rank, as DDP broadcasts
    them before each forward pass through it: the attacks inside a defence's loss run on the
    unwrapped module (`unwrapped`), so each step starts with this one collective instead."""
    if ranks().size > 1:
        for buffer in model.buffers():
            dist.broadcast(buffer, 0)


def global_mean_gradients(gradients: list[torch.Tensor], count: int) -> list[torch.Tensor]:
    """Gradients of each rank's mean loss over its `count` images -> the gradient of the
    global batch's mean loss, on every rank (in place; unchanged with one process)."""
    if ranks().size == 1:
        return gradients
    total = sum_over_ranks(torch.tensor(float(count), dtype=torch.float64))
    for gradient in gradients:
        gradient.mul_(count / float(total))
        dist.all_reduce(gradient)
    return gradients


def average_gradients(parameters: list[torch.nn.Parameter]) -> None:
    """Average the gradients of parameters DDP does not own (a defence's own network) as DDP
    averages the model's."""
    size = ranks().size
    for parameter in parameters:
        if size > 1 and parameter.grad is not None:
            dist.all_reduce(parameter.grad)
            parameter.grad.div_(size)


def wrap(model: torch.nn.Module, device: torch.device) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(the model checkpoints and weights hold, the model the training step calls): with
    several processes the second is DDP over the ranks and on GPUs the first has
    SyncBatchNorm layers (same parameters, buffers and state-dict keys); with one process
    both are `model`."""
    if ranks().size == 1:
        return model, model
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [device] if device.type == "cuda" else None
    return model, DistributedDataParallel(model, device_ids=ids)


def unwrapped(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside DDP. Attacks inside a defence's loss run on it: DDP's forward is a
    collective (it broadcasts buffers), and an attack's number of forward passes may differ
    between ranks (FAT's early stop), which through DDP would deadlock them."""
    return getattr(model, "module", model) if ranks().size > 1 else model


def after_checkpoint(epoch: int) -> None:
    """Every rank waits until rank 0 has written the epoch's checkpoint (so a worker lost
    later never takes that epoch with it); then the tests' fault hook may fire."""
    place = ranks()
    if place.size > 1:
        dist.barrier()
    if os.environ.get(KILL_WORKER) == f"{place.rank}:{epoch}":
        os.kill(os.getpid(), signal.SIGKILL)


def _worker_device() -> torch.device:
    if os.environ.get("ROBUSTSWEEP_DDP_BACKEND") == "nccl":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
        return device
    return torch.device("cpu")


def _worker(target: Callable, arguments: tuple, threads: int) -> None:
    """One training process (module level, so the launcher's spawn can import it); `target`
    is training_loop.train_run, passed in so that this module never imports the loop that
    imports it."""
    from robustsweep.input_errors import InputError

    torch.set_num_threads(threads)
    dist.init_process_group(backend=os.environ["ROBUSTSWEEP_DDP_BACKEND"])
    try:
        target(*arguments[:9], _worker_device(), *arguments[9:])
    except InputError as error:  # every rank meets it; one line, from rank 0
        if ranks().writes:
            print(f"robustsweep train: {error}", file=sys.stderr, flush=True)
        raise SystemExit(INPUT_ERROR_EXIT) from None
    except Exception:
        # a worker whose peer died fails in its next collective; waiting before exiting lets
        # the launcher (polling every 0.1 s) see the peer's death first and name that one
        time.sleep(PEER_GRACE_S)
        raise
    finally:
        dist.destroy_process_group()


def _backend(requested: str) -> str:
    """nccl where the job computes on GPUs, gloo on the CPU; a pinned GPU is one GPU."""
    if requested.startswith("cuda:"):
        raise ConfigError(
            f"device: '{requested}' pins one GPU, but data_parallel asks for several; set "
            "device: auto or cuda"
        )
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return "gloo"
    if not torch.cuda.is_available():
        raise ConfigError(
            f"device: '{requested}' was requested but no CUDA device is visible; "
            "set device: auto or device: cpu in the config"
        )
    return "nccl"


def launch(
    target: Callable, arguments: tuple, processes: int, requested: str, threads: int
) -> None:
    """Train with `processes` workers running `target` (train_run); `arguments` are its
    arguments without the device.

    A failed worker ends the job with one line naming it (the others are stopped by the
    launcher); nothing final is written, and the checkpoint of the last whole epoch stays
    for the rerun."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    from robustsweep.gpu_allocation import job_gpu_names

    backend = _backend(requested)
    saved = {
        name: os.environ.get(name) for name in ("CUDA_VISIBLE_DEVICES", "ROBUSTSWEEP_DDP_BACKEND")
    }
    os.environ["ROBUSTSWEEP_DDP_BACKEND"] = backend
    if backend == "nccl":
        names = job_gpu_names(torch.cuda.device_count(), processes)
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(names)
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=processes,
        run_id=str(uuid.uuid4()),
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",  # torchrun --standalone
        max_restarts=0,
        monitor_interval=0.1,
        # gloo workers fork: they inherit the imported modules (seconds of torch import
        # saved per worker) and nothing CUDA was initialised; CUDA needs fresh processes
        start_method="spawn" if backend == "nccl" else "fork",
    )
    if backend == "gloo":
        importlib.import_module("torch._dynamo")  # optimisers import it: here, not per worker
        # what Python's gc docs advise before fork without exec: the workers' collections
        # then never walk the parent's objects (a worker forked from a long-lived process,
        # such as the test session, was seen to crash in its first collection)
        gc.freeze()
    print(f"training with {processes} data-parallel processes ({backend})", flush=True)
    try:
        elastic_launch(config, _worker)(target, arguments, max(1, threads // processes))
    except ChildFailedError as error:
        failures = error.failures
        if any(failure.exitcode == INPUT_ERROR_EXIT for failure in failures.values()):
            raise SystemExit(1) from None  # rank 0 printed the line; a rerun would not help
        # a worker killed by a signal is the cause; the others' lost collectives followed
        rank, failure = min(
            failures.items(), key=lambda item: (item[1].exitcode >= 0, item[1].timestamp)
        )
        how = (
            f"signal {failure.signal_name()}"
            if failure.exitcode < 0
            else f"exit {failure.exitcode}"
        )
        raise SystemExit(
            f"robustsweep train: training worker {rank} of {processes} failed ({how}); the "
            "others were stopped and no weights were written; rerun the workflow to resume "
            "from the last checkpointed epoch"
        ) from None
    finally:
        gc.unfreeze()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

"""Several processes (GPUs or machines) through PyTorch's own launcher: ``torchrun`` + DDP.

    torchrun --standalone --nproc_per_node=8 -m app train --split default --device cuda
    torchrun --nnodes=2 --node_rank=R --master_addr=HOST --master_port=29500 --nproc_per_node=8 -m app train ...

``torchrun`` sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``;
:func:`init_from_env` reads them and joins the process group (``nccl`` on CUDA, each process
on ``cuda:LOCAL_RANK``; ``gloo`` on CPU). Without them it is a single process and nothing is
initialised. Each rank trains on its shard of every epoch (``models.training.loader.EpochBatchSampler``,
same seed everywhere). The PBE and the LBE are wrapped in ``DistributedDataParallel``
**separately** (:func:`wrap_ddp`): they have separate optimisers and the mutual step
backpropagates them one after the other, so each DDP module all-reduces its own gradients and
both stay identical on every rank. Only rank 0 writes the run folder and prints.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device: str = "cpu") -> tuple[DistContext, str]:
    """Join the process group described by torchrun's variables; returns (context, device of this rank).

    ``device`` "cuda" (or "cuda:N") becomes ``cuda:LOCAL_RANK`` with the nccl backend; "cpu" uses gloo.
    """
    if not launched_by_torchrun():
        return DistContext(), device
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    world, local_world = int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    cuda = torch.device(device).type == "cuda"
    if cuda:
        if torch.cuda.device_count() <= local_rank:
            raise RuntimeError(f"rank {rank} wants cuda:{local_rank} but this machine has {torch.cuda.device_count()} "
                               "GPUs; start at most that many processes per node (--nproc_per_node)")
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", **({"device_id": torch.device(device)} if cuda else {}))
    return DistContext(rank, local_rank, world, local_world), device


def current() -> DistContext:
    """The context of an already-initialised process group (or a single process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return DistContext()
    return DistContext(dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0")), dist.get_world_size(),
                       int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def wrap_ddp(model: Any, ctx: DistContext, device: torch.device, *, find_unused_parameters: bool = False) -> Any:
    """Wrap ``model.pbe`` and ``model.lbe`` each in DDP, in place (call after :func:`init_from_env`)."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    if not ctx.enabled:
        return model
    ids = [device.index if device.index is not None else ctx.local_rank] if device.type == "cuda" else None
    for name in ("pbe", "lbe"):
        sub = getattr(model, name)
        if sub is not None and not isinstance(sub, DDP):
            setattr(model, name, DDP(sub, device_ids=ids, find_unused_parameters=find_unused_parameters))
    return model


def unwrap_ddp(model: Any) -> Any:
    """Replace DDP wrappers by the modules they hold, in place."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    for name in ("pbe", "lbe"):
        sub = getattr(model, name, None)
        if isinstance(sub, DDP):
            setattr(model, name, sub.module)
    return model


@contextlib.contextmanager
def ddp_unwrapped(model: Any) -> Iterator[Any]:
    """The plain modules for a while (evaluation runs no collectives through DDP), then wrapped again."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    saved = {n: getattr(model, n) for n in ("pbe", "lbe") if isinstance(getattr(model, n, None), DDP)}
    unwrap_ddp(model)
    try:
        yield model
    finally:
        for name, wrapped in saved.items():
            setattr(model, name, wrapped)


def all_reduce_sums(values: dict[str, float], ctx: DistContext, device: torch.device) -> dict[str, float]:
    """Sum each value over ranks (keys must be the same on every rank)."""
    if not ctx.enabled or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return dict(zip(keys, t.tolist()))


def all_gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    if not ctx.enabled:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out

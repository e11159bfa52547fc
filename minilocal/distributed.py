"""Multi-process data-parallel training (PyTorch DDP) started by ``torchrun``.

``torchrun --nproc_per_node G minilocal train ...`` starts G copies of the same command
with RANK, WORLD_SIZE and LOCAL_RANK in their environment. Each process trains on its own
shard of every epoch's shuffled order (as ``DistributedSampler`` would), gradients are
averaged across processes, and only rank 0 writes checkpoints and logs. Without those
variables everything here is a no-op and training runs in one process.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

logger = logging.getLogger(__name__)

__all__ = ["DistInfo", "init_distributed", "shard", "broadcast_buffers", "all_sum",
           "broadcast_flag", "barrier", "cleanup"]


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job."""

    rank: int = 0  # global rank; 0 writes files
    world_size: int = 1  # number of processes
    local_rank: int = 0  # index of this process on its machine (its GPU)

    @property
    def enabled(self) -> bool:
        """True when more than one process trains."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on the process that writes checkpoints and logs (rank 0)."""
        return self.rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group described by the torchrun environment, if any.

    Uses NCCL for CUDA devices and Gloo on CPU. Returns ``DistInfo()`` (one process) when
    WORLD_SIZE is unset or 1.

    Raises:
        ValueError: if RANK / LOCAL_RANK are missing or not integers while WORLD_SIZE > 1.
    """
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return DistInfo()
    try:
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    except (KeyError, ValueError):
        raise ValueError("WORLD_SIZE > 1 but RANK/LOCAL_RANK are missing or not integers; "
                         "start multi-process training with torchrun") from None
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
        logger.info("rank %d/%d joined the %s process group", rank, world, backend)
    return DistInfo(rank=rank, world_size=world, local_rank=local)


def shard(order: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """This rank's share of an epoch's order, as ``DistributedSampler`` splits it.

    The order is padded by wrapping around to a multiple of the world size, then rank r
    takes items r, r + W, r + 2W, ... so every rank gets the same number of items.

    Args:
        order: (N,) int64 indices, the same on every rank.

    Returns:
        (ceil(N / W),) int64.
    """
    if not info.enabled:
        return order
    W = info.world_size
    total = -(-len(order) // W) * W
    padded = torch.cat([order, order[: total - len(order)]]) if total > len(order) else order
    return padded[info.rank::W]


def broadcast_buffers(model: nn.Module, info: DistInfo) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank, in place."""
    if info.enabled:
        for buf in model.buffers():
            dist.broadcast(buf.data, src=0)


def all_sum(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Element-wise sum of ``values`` over all ranks (the input itself on one process)."""
    if info.enabled:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def broadcast_flag(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """Rank 0's value of ``flag`` on every rank (e.g. the early-stopping decision)."""
    if not info.enabled:
        return flag
    t = torch.tensor([int(flag)], device=device)
    dist.broadcast(t, src=0)
    return bool(t.item())


def barrier(info: DistInfo) -> None:
    """Wait until every rank gets here."""
    if info.enabled:
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    """Leave the process group (call once training is over)."""
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()

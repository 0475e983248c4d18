"""What the ranks of a DistributedDataParallel run exchange at each `Monitor.step`: the loss
(averaged when asked) and rank 0's directive, so every rank applies a knob change at the same
iteration. A single process exchanges nothing."""

from __future__ import annotations

import torch
import torch.distributed as dist


class Channel:
    def __init__(self, group=None, average_loss=True):
        self.group = group
        self.is_dist = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank(group) if self.is_dist else 0
        self.world = dist.get_world_size(group) if self.is_dist else 1
        self.average_loss = average_loss
        self.iteration = 0
        self.device = torch.device("cpu")
        if self.is_dist and dist.get_backend(group) == "nccl":
            # NCCL moves CUDA tensors only
            self.device = torch.device("cuda", torch.cuda.current_device())
        # rank 0 in the group's numbering, as the global rank broadcast wants it
        self.src = dist.get_global_rank(group, 0) if self.is_dist and group is not None else 0

    def reduce(self, loss: float, acc: float):
        """The loss and accuracy averaged over the ranks (or this rank's, if not asked)."""
        self.iteration += 1
        if self.world == 1 or not self.average_loss:
            return loss, acc
        t = torch.tensor([loss, acc], dtype=torch.float64, device=self.device)
        dist.all_reduce(t, group=self.group)
        t /= self.world
        return float(t[0]), float(t[1])

    def share(self, directive):
        """Rank 0's directive on every rank: a one-number broadcast, then the object when there is one."""
        if self.world == 1:
            return directive
        flag = torch.tensor([0 if directive is None else 1], dtype=torch.int32, device=self.device)
        dist.broadcast(flag, self.src, group=self.group)
        if int(flag.item()) == 0:
            return None
        box = [directive]
        dist.broadcast_object_list(box, self.src, group=self.group)
        return box[0]

    def broadcast_tensor(self, t: torch.Tensor) -> torch.Tensor:
        moved = t.to(self.device)
        dist.broadcast(moved, self.src, group=self.group)
        return moved.to(t.device)

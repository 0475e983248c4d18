"""examples/pytorch_mnist.py under DistributedDataParallel: every rank calls `mon.step`, rank 0
writes the run directory and serves `convtop attach`, and a knob turned in the dashboard reaches
every rank at the same iteration.

    torchrun --nproc_per_node 2 examples/pytorch_ddp.py --max-steps 300 --run-dir runs
    convtop attach            # on rank 0's machine (over ssh: ssh HOST convtop attach)

Every rank prints, at each step, the learning rate it used and a checksum of its parameters
(`rank R step N lr X checksum C`): the replicas stay identical.
"""

import argparse
import gc
import os
import sys
import time

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_mnist import SmallCnn, load  # noqa: E402

import convtop  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max-steps", type=int, default=300)
    p.add_argument("--run-dir", default="runs")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch", type=int, default=32, help="global batch, split over the ranks")
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--train-size", type=int, default=10000)
    p.add_argument("--backend", default="gloo", help="gloo (CPU) or nccl (one GPU per rank)")
    p.add_argument("--step-delay", type=float, default=0.0, help="seconds to sleep per step (tests)")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    dist.init_process_group(a.backend)
    train(a)
    # the DDP model (and the Monitor and optimizer around it) are gone with train's frame, so the
    # process group's threads end here rather than in the interpreter's teardown, where gloo
    # aborted one rank in about one exit out of five ("terminate called without an active
    # exception"); then every rank leaves together: rank 0 may still be writing its checkpoint
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()
    return 0


def train(a):
    """One rank's loop, its model, optimizer and Monitor local to it."""
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cpu")
    if a.backend == "nccl":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    (xt, yt), (xv, yv) = load(a.train_size, 1000)
    # DDP broadcasts rank 0's initial weights to every rank
    model = DistributedDataParallel(SmallCnn().to(device))
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()

    def evaluate():
        model.eval()
        with torch.no_grad():
            out = model.module(xv.to(device))
            val = (float(loss_fn(out, yv.to(device))), float((out.argmax(1).cpu() == yv).float().mean()))
        model.train()
        return val

    steps_per_epoch = a.train_size // a.batch
    mon = convtop.Monitor(model, opt, run_dir=a.run_dir, probe=xv[:1].to(device),
                          probe_label=int(yv[0]), evaluate=evaluate,
                          steps_per_epoch=steps_per_epoch, batch_size=a.batch,
                          config={**vars(a), "val_size": len(yv)},
                          data_name="mnist-embedded", average_loss=True)
    if rank == 0:
        print(f"run {mon.run_dir}", flush=True)
    gen = torch.Generator().manual_seed(a.seed)  # the same order on every rank
    step = 0
    with mon:
        while step < a.max_steps and not mon.should_stop:
            order = torch.randperm(a.train_size, generator=gen)
            for i in range(steps_per_epoch):
                idx = order[i * a.batch:(i + 1) * a.batch][rank::world]  # this rank's share
                x, y = xt[idx].to(device), yt[idx].to(device)
                out = model(x)
                loss = loss_fn(out, y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                acc = float((out.argmax(1) == y).float().mean())
                checksum = sum(float(q.detach().double().sum()) for q in model.parameters())
                # one write per line: under PYTHONUNBUFFERED print writes the text and its
                # newline apart, and the other rank's line can land between them
                sys.stdout.write(f"rank {rank} step {step} lr {opt.param_groups[0]['lr']:.9g} "
                                 f"checksum {checksum!r}\n")
                sys.stdout.flush()
                if not mon.step(loss=loss.item(), acc=acc):
                    break
                if step % a.eval_every == 0:
                    mon.evaluate(*evaluate())
                if a.step_delay:
                    time.sleep(a.step_delay)
                if step >= a.max_steps:
                    break


if __name__ == "__main__":
    sys.exit(main())

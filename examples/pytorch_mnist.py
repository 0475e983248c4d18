"""A small PyTorch CNN on the MNIST images embedded in convtop (assets/mnist-embedded), watched and
steered by convtop: `convtop attach` shows its curves and turns its lr, λ and momentum.

    pip install ./python          # once, in a venv with torch
    python examples/pytorch_mnist.py --max-steps 300 --run-dir runs
    convtop attach                # in another terminal (or over ssh): the newest live run

Every step prints the learning rate it used (`step N lr X loss Y`), so a change made in the
dashboard can be seen reaching `optimizer.param_groups`.
"""

import argparse
import gzip
import os
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

import convtop

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "assets", "mnist-embedded")


def read_idx(name):
    with gzip.open(os.path.join(ASSETS, name), "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(n_train, n_val):
    """The first n_train + n_val training images, scaled to 0..1 and centred."""
    x = read_idx("train-images-idx3-ubyte.gz")[: n_train + n_val].astype(np.float32) / 255.0
    y = read_idx("train-labels-idx1-ubyte.gz")[: n_train + n_val].astype(np.int64)
    x = torch.from_numpy(x - x[:n_train].mean()).unsqueeze(1)
    y = torch.from_numpy(y)
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


class SmallCnn(nn.Module):
    """conv8k5p2 relu pool2 conv16k5p2 relu pool3 fc10, as convtop's `mnist` preset."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 5, padding=2)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 5, padding=2)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(3)
        self.fc1 = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc1(torch.flatten(x, 1))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max-steps", type=int, default=600)
    p.add_argument("--run-dir", default="runs")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--train-size", type=int, default=10000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--step-delay", type=float, default=0.0, help="seconds to sleep per step (tests)")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    (xt, yt), (xv, yv) = load(a.train_size, 1000)
    model = SmallCnn()
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()

    def evaluate():
        model.eval()
        with torch.no_grad():
            out = model(xv)
            val = (float(loss_fn(out, yv)), float((out.argmax(1) == yv).float().mean()))
        model.train()
        return val

    steps_per_epoch = a.train_size // a.batch
    mon = convtop.Monitor(model, opt, run_dir=a.run_dir, probe=xv[:1], probe_label=int(yv[0]),
                          evaluate=evaluate, steps_per_epoch=steps_per_epoch,
                          epochs=max(1, -(-a.max_steps // steps_per_epoch)), batch_size=a.batch,
                          config={**vars(a), "val_size": len(yv)}, data_name="mnist-embedded")
    print(f"run {mon.run_dir}", flush=True)
    gen = torch.Generator().manual_seed(a.seed)
    step = 0
    with mon:
        while step < a.max_steps and not mon.should_stop:
            order = torch.randperm(a.train_size, generator=gen)
            for i in range(steps_per_epoch):
                idx = order[i * a.batch:(i + 1) * a.batch]
                out = model(xt[idx])
                loss = loss_fn(out, yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                acc = float((out.argmax(1) == yt[idx]).float().mean())
                print(f"step {step} lr {opt.param_groups[0]['lr']:.9g} loss {loss.item():.4f}",
                      flush=True)
                if not mon.step(loss=loss.item(), acc=acc):
                    break
                if step % a.eval_every == 0:
                    mon.evaluate(*evaluate())
                if a.step_delay:
                    time.sleep(a.step_delay)
                if step >= a.max_steps:
                    break
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What `mon.step` costs beside a training step: a ResNet-18 (CIFAR layout, 32×32 inputs) forward
and backward at batch 32 on the CPU, timed with and without the Monitor (interleaved, in one run),
and `mon.step` alone; with `--viewer`, a second process reads every event from the socket as
`convtop attach` would. The load average is printed before and after: on a shared machine quote
the ratio, not the times.

    python examples/bench_monitor.py [--steps 20] [--threads 2] [--viewer]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from torch import nn

import convtop


# a viewer: reads every line the training sends until it closes the socket
READER = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
while s.recv(1 << 16):
    pass
"""


class Block(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.short = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.short = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                       nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.short(x))


class ResNet18(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, c = [], 64
        for c_out, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [Block(c, c_out, stride), Block(c_out, c_out, 1)]
            c = c_out
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.layers(torch.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--viewer", action="store_true", help="a process reading the socket meanwhile")
    a = p.parse_args()
    load_before = os.getloadavg()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    model = ResNet18()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    x, y = torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))

    def train_step():
        out = model(x)
        loss = nn.functional.cross_entropy(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item(), float((out.argmax(1) == y).float().mean())

    with tempfile.TemporaryDirectory(prefix="ctb", dir="/tmp") as d:
        mon = convtop.Monitor(model, opt, run_dir=d, probe=x[:1], batch_size=32)
        viewer = None
        if a.viewer:
            viewer = subprocess.Popen([sys.executable, "-c", READER, f"{mon.run_dir}/control.sock"])
        for _ in range(3):
            train_step()  # warm-up
        bare, with_mon, mon_only = [], [], []
        for _ in range(a.steps):  # interleaved, so machine noise hits both alike
            t0 = time.perf_counter()
            train_step()
            bare.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            loss, acc = train_step()
            t1 = time.perf_counter()
            mon.step(loss=loss, acc=acc)
            t2 = time.perf_counter()
            with_mon.append(t2 - t0)
            mon_only.append(t2 - t1)
        calls = []
        for _ in range(2000):
            t0 = time.perf_counter()
            mon.step(loss=1.0, acc=0.5)
            calls.append(time.perf_counter() - t0)
        mon.close()
        if viewer is not None:
            viewer.wait(10)
    load_after = os.getloadavg()
    step = statistics.median(bare)
    cost = statistics.median(mon_only)
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min); "
          f"{os.cpu_count()} cores; viewer {'attached' if a.viewer else 'none'}")
    print(f"ResNet-18 step, batch 32, {a.threads} threads: median {step * 1e3:.1f} ms "
          f"(with mon.step {statistics.median(with_mon) * 1e3:.1f} ms)")
    print(f"mon.step beside it: median {cost * 1e6:.1f} µs = {100 * cost / step:.3f}% of a step")
    print(f"mon.step alone (2000 calls): median {statistics.median(calls) * 1e6:.1f} µs, "
          f"p99 {sorted(calls)[int(0.99 * len(calls))] * 1e6:.1f} µs")


if __name__ == "__main__":
    main()

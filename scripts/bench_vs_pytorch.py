"""convtop vs PyTorch, same networks, alternating in one run: training images/s (forward,
backward, SGD momentum 0.9 with weight decay) at each batch size and evaluation at --eval-batch.

Usage (through bench_vs_pytorch.sh): python bench_vs_pytorch.py [--nets mnist,cifar,vggish]
  (also cudaconvnet, cudaconvnet-nonorm: the same without its norm layers, whose step time
  against cudaconvnet's is what norm costs, and fcdrop: two fc layers with dropout)
  [--batches 20,64,128] [--eval-batch 256] [--threads 2] [--seconds 2] [--rounds 2]
  [--convtop "target/release/convtop bench"]
"""
import argparse
import json
import re
import shlex
import statistics
import subprocess
import time

import torch
import torch.nn as nn

PRESETS = {
    "mnist": ("conv8k5p2 relu pool2 conv16k5p2 relu pool3 fc10", (1, 28, 28)),
    "cifar": ("conv16k5p2 relu pool2 conv20k5p2 relu pool2 conv20k5p2 relu pool2 fc10", (3, 32, 32)),
    "vggish": ("conv32k3p1 relu conv32k3p1 relu pool2 conv64k3p1 relu conv64k3p1 relu pool2 "
               "conv128k3p1 relu conv128k3p1 relu pool2 fc10", (3, 32, 32)),
    "vggish-bn": ("conv32k3p1 bn relu conv32k3p1 bn relu pool2 conv64k3p1 bn relu conv64k3p1 bn relu "
                  "pool2 conv128k3p1 bn relu conv128k3p1 bn relu pool2 fc10", (3, 32, 32)),
    "vggish-wide-bn": ("conv64k3p1 bn relu conv64k3p1 bn relu pool2 conv128k3p1 bn relu "
                       "conv128k3p1 bn relu pool2 conv256k3p1 bn relu conv256k3p1 bn relu pool2 "
                       "avgpool4 fc10", (3, 32, 32)),
    "cudaconvnet": ("conv32k5p2 pool3s2ceil relu norm3a0.1b0.75k1 conv32k5p2 relu avgpool3s2ceil "
                    "norm3a0.1b0.75k1 conv64k5p2 relu avgpool3s2ceil fc10", (3, 32, 32)),
    # the published α, which leaves norm inert on standardised input (the README's calibration)
    "cudaconvnet-a5e-5": ("conv32k5p2 pool3s2ceil relu norm3a5e-5b0.75k1 conv32k5p2 relu "
                          "avgpool3s2ceil norm3a5e-5b0.75k1 conv64k5p2 relu avgpool3s2ceil fc10",
                          (3, 32, 32)),
    "cudaconvnet-nonorm": ("conv32k5p2 pool3s2ceil relu conv32k5p2 relu avgpool3s2ceil "
                           "conv64k5p2 relu avgpool3s2ceil fc10", (3, 32, 32)),
    "fcdrop": ("conv32k5p2 relu pool2 conv32k5p2 relu pool2 fc256 relu dropout0.5 fc256 relu "
               "dropout0.5 fc10", (3, 32, 32)),
}


def pooled(n, k, s, ceil):
    """convtop's rule (shape.rs): floor, or ceil less one when the last window starts past n."""
    if not ceil:
        return (n - k) // s + 1
    out = -(-(n - k) // s) + 1
    return out - 1 if (out - 1) * s >= n else out


class WithinChannelNorm(nn.Module):
    """convtop's `normNw`, Caffe's WITHIN_CHANNEL LRN (PyTorch has none):
    x / (k + α/n² · Σ_{n×n} x²)^β, zero beyond the border."""

    def __init__(self, n, alpha, beta, k):
        super().__init__()
        self.n, self.alpha, self.beta, self.k = n, alpha, beta, k

    def forward(self, x):
        sq = nn.functional.avg_pool2d(x * x, self.n, stride=1, padding=self.n // 2,
                                      count_include_pad=True)
        return x / (self.k + self.alpha * sq) ** self.beta


def build(spec, input_shape):
    """The preset grammar's subset: convNkK[sS][pP], relu, [max|avg]poolK[sS][ceil],
    norm[N][w][aA][bB][kK] (nn.LocalResponseNorm: the same α/size convention; w: within each
    channel), dropout[P], bn (nn.BatchNorm2d, or nn.BatchNorm1d after an fc layer), fcN."""
    c, h, w = input_shape
    layers = []
    for tok in spec.split():
        if tok == "relu":
            layers.append(nn.ReLU())
            continue
        m = re.fullmatch(r"conv(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?", tok)
        if m:
            c_out, k, s, p = int(m[1]), int(m[2]), int(m[3] or 1), int(m[4] or 0)
            layers.append(nn.Conv2d(c, c_out, k, stride=s, padding=p))
            c, h, w = c_out, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            continue
        m = re.fullmatch(r"(max|avg)?pool(\d+)(?:s(\d+))?(ceil)?", tok)
        if m:
            k, s, ceil = int(m[2]), int(m[3] or m[2]), m[4] is not None
            pool = nn.AvgPool2d if m[1] == "avg" else nn.MaxPool2d
            layers.append(pool(k, s, ceil_mode=ceil))
            h, w = pooled(h, k, s, ceil), pooled(w, k, s, ceil)
            continue
        m = re.fullmatch(r"norm(\d*)(w?)((?:[abk][0-9.]+(?:e[-+]?\d+)?)*)", tok)
        if m:
            opts = dict(re.findall(r"([abk])([0-9.]+(?:e[-+]?\d+)?)", m[3]))
            n, a, b, k = (int(m[1] or 5), float(opts.get("a", 1e-4)), float(opts.get("b", 0.75)),
                          float(opts.get("k", 2.0)))
            layers.append(WithinChannelNorm(n, a, b, k) if m[2] else
                          nn.LocalResponseNorm(n, alpha=a, beta=b, k=k))
            continue
        if tok in ("bn", "batchnorm"):
            # after an fc layer the tensor is (n, d): BatchNorm1d
            is_flat = any(isinstance(layer, nn.Flatten) for layer in layers)
            layers.append(nn.BatchNorm1d(c) if is_flat else nn.BatchNorm2d(c))
            continue
        m = re.fullmatch(r"dropout([0-9.]*)", tok)
        if m:
            layers.append(nn.Dropout(float(m[1] or 0.5)))
            continue
        m = re.fullmatch(r"fc(\d+)", tok)
        if m:
            layers += [nn.Flatten(), nn.Linear(c * h * w, int(m[1]))]
            c, h, w = int(m[1]), 1, 1
            continue
        raise ValueError(f"token {tok!r} not supported here")
    return nn.Sequential(*layers)


def time_median(seconds, f):
    f()
    times, start = [], time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def torch_bench(name, batch, eval_batch, seconds):
    spec, shape = PRESETS[name]
    torch.manual_seed(1)
    model = build(spec, shape)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    x, y = torch.rand(batch, *shape) * 2 - 1, torch.randint(0, 10, (batch,))

    def train():
        opt.zero_grad(set_to_none=False)
        loss_fn(model(x), y).backward()
        opt.step()

    t_train = time_median(seconds, train)
    xe, ye = torch.rand(eval_batch, *shape) * 2 - 1, torch.randint(0, 10, (eval_batch,))

    def evaluate():
        with torch.no_grad():
            loss_fn(model(xe), ye)

    model.eval()
    t_eval = time_median(seconds, evaluate)
    return batch / t_train, eval_batch / t_eval


def convtop_bench(cmd, name, batch, eval_batch, threads, seconds):
    argv = shlex.split(cmd) + ["--net", PRESETS[name][0], "--batch", str(batch), "--eval-batch",
                               str(eval_batch), "--threads", str(threads), "--seconds",
                               str(seconds), "--json"]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    row = json.loads(out.strip().splitlines()[-1])
    return row["train_img_s"], row["eval_img_s"], row["train_gflops"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nets", default="mnist,cifar,vggish")
    ap.add_argument("--batches", default="20,64,128")
    ap.add_argument("--eval-batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=2, help="alternations per cell; medians quoted")
    ap.add_argument("--convtop", default="target/release/convtop bench")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {a.threads} thread(s), {a.seconds} s a measurement, "
          f"{a.rounds} alternation(s), medians")
    print(f"{'net':<18} {'batch':>5} {'convtop im/s':>12} {'torch im/s':>10} {'ratio':>6} "
          f"{'GFLOP/s':>8} | {'eval convtop':>12} {'eval torch':>10} {'ratio':>6}")
    for name in a.nets.split(","):
        for batch in [int(b) for b in a.batches.split(",")]:
            ct, ce, cg, tt, te = [], [], [], [], []
            for _ in range(a.rounds):
                t, e, g = convtop_bench(a.convtop, name, batch, a.eval_batch, a.threads, a.seconds)
                ct.append(t); ce.append(e); cg.append(g)
                t, e = torch_bench(name, batch, a.eval_batch, a.seconds)
                tt.append(t); te.append(e)
            m = statistics.median
            print(f"{name:<18} {batch:>5} {m(ct):>12.0f} {m(tt):>10.0f} {m(ct) / m(tt):>6.2f} "
                  f"{m(cg):>8.1f} | {m(ce):>12.0f} {m(te):>10.0f} {m(ce) / m(te):>6.2f}", flush=True)


if __name__ == "__main__":
    main()

"""The issue-18 calibration in PyTorch, on this machine: the cudaconvnet network trained on the
CIFAR-10 folder with the recipe convtop's README compares against, timed the way convtop's
headless run is timed (decode, then epochs of training plus one validation pass each).

Recipe: 2 threads; 45,000 training images and 5,000 held out for validation (convtop's
--val-frac 0.1, stratified); per-channel standardisation from the training images; no
augmentation; SGD momentum 0.9, batch 100; lr 0.02 on a cosine over the epochs (stepped once an
epoch); weight decay --wd on every weight and bias, times --fc-mult on the fc layer.

Usage (needs torch, numpy and pillow):
  python scripts/calibrate_pytorch.py --data ../shared/datasets/cifar10 [--net cudaconvnet] [--epochs 30]
      [--wd 4e-5] [--fc-mult 1] [--threads 2] [--cache /tmp/cifar10-u8.npz]
"""
import argparse
import os
import time

import numpy as np
import torch
import torch.nn as nn

from bench_vs_pytorch import PRESETS, build

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck"]


def load_split(root, split):
    from PIL import Image
    xs, ys = [], []
    for label, name in enumerate(CLASSES):
        d = os.path.join(root, split, name)
        for f in sorted(os.listdir(d)):
            with Image.open(os.path.join(d, f)) as im:
                xs.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
            ys.append(label)
    return np.stack(xs).transpose(0, 3, 1, 2).copy(), np.array(ys, dtype=np.int64)


def load(root, cache):
    if cache and os.path.exists(cache):
        z = np.load(cache)
        return z["xtr"], z["ytr"], z["xte"], z["yte"]
    xtr, ytr = load_split(root, "train")
    xte, yte = load_split(root, "test")
    if cache:
        np.savez(cache, xtr=xtr, ytr=ytr, xte=xte, yte=yte)
    return xtr, ytr, xte, yte


def stratified_holdout(y, frac, seed):
    rng = np.random.default_rng(seed)
    val = []
    for c in range(10):
        idx = np.flatnonzero(y == c)
        val.extend(rng.choice(idx, int(round(len(idx) * frac)), replace=False))
    mask = np.zeros(len(y), dtype=bool)
    mask[val] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def accuracy(model, x, y, batch=500):
    model.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            right += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    model.train()
    return right / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/datasets/cifar10")
    ap.add_argument("--net", default="cudaconvnet", choices=sorted(PRESETS),
                    help="cudaconvnet-a5e-5 is the README's calibration (the published α)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--wd", type=float, default=4e-5)
    ap.add_argument("--fc-mult", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", default="", help="an .npz of the decoded pixels, made if absent")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    t0 = time.perf_counter()
    xtr, ytr, xte, yte = load(a.data, a.cache)
    tr, va = stratified_holdout(ytr, 0.1, a.seed)
    x = torch.from_numpy(xtr).float() / 255
    mean = x[tr].mean(dim=(0, 2, 3), keepdim=True)
    std = x[tr].std(dim=(0, 2, 3), keepdim=True)
    x = (x - mean) / std
    xt = (torch.from_numpy(xte).float() / 255 - mean) / std
    y, yt = torch.from_numpy(ytr), torch.from_numpy(yte)
    x_tr, y_tr, x_va, y_va = x[tr].contiguous(), y[tr], x[va].contiguous(), y[va]
    t_load = time.perf_counter() - t0

    model = build(*PRESETS[a.net])
    fc = model[-1]
    fc_params = {id(p) for p in fc.parameters()}
    groups = [{"params": [p for p in model.parameters() if id(p) not in fc_params],
               "weight_decay": a.wd},
              {"params": list(fc.parameters()), "weight_decay": a.wd * a.fc_mult}]
    opt = torch.optim.SGD(groups, lr=a.lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs)
    loss_fn = nn.CrossEntropyLoss()
    print(f"torch {torch.__version__}, {a.threads} threads, {len(tr)} train / {len(va)} val / "
          f"{len(yt)} test, wd {a.wd} (fc x{a.fc_mult}), decode+standardise {t_load:.1f} s",
          flush=True)

    t1 = time.perf_counter()
    g = torch.Generator().manual_seed(a.seed)
    for epoch in range(a.epochs):
        order = torch.randperm(len(y_tr), generator=g)
        total = 0.0
        for i in range(0, len(order) - a.batch + 1, a.batch):
            idx = order[i:i + a.batch]
            opt.zero_grad(set_to_none=False)
            loss = loss_fn(model(x_tr[idx]), y_tr[idx])
            loss.backward()
            opt.step()
            total += loss.item()
        sched.step()
        va_acc = accuracy(model, x_va, y_va)
        print(f"epoch {epoch + 1:>3}  loss {total / (len(order) // a.batch):.4f}  "
              f"val {va_acc:.4f}  {time.perf_counter() - t1:7.1f} s", flush=True)
    t_train = time.perf_counter() - t1
    test = accuracy(model, xt, yt)
    print(f"test {test:.4f}  training {t_train:.1f} s ({t_train / 60:.1f} min), "
          f"{len(y_tr) * a.epochs / t_train:.0f} images/s, wall with decode "
          f"{t_load + t_train:.1f} s")


if __name__ == "__main__":
    main()

"""state_dict <-> raw tensors for the Rust checkpoint writer, and the model views a viewer asks for."""

from __future__ import annotations

import math

import torch
from torch import nn

# torch dtype -> safetensors dtype name
_DTYPES = {
    torch.float32: "F32",
    torch.float64: "F64",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
_TORCH = {v: k for k, v in _DTYPES.items()}


def to_raw(state_dict) -> list:
    """[(name, dtype, shape, bytes)] of every tensor, as little-endian bytes on the CPU."""
    out = []
    for name, t in state_dict.items():
        if not isinstance(t, torch.Tensor):
            continue
        t = t.detach().to("cpu").contiguous()
        dtype = _DTYPES.get(t.dtype)
        if dtype is None:
            raise TypeError(f"{name}: dtype {t.dtype} cannot go into a safetensors checkpoint")
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        out.append((name, dtype, list(t.shape), data))
    return out


def from_raw(tensors) -> dict:
    """A state_dict from [(name, dtype, shape, bytes)]."""
    sd = {}
    for name, dtype, shape, data in tensors:
        dt = _TORCH[dtype]
        if len(data) == 0:
            sd[name] = torch.empty(shape, dtype=dt)
        else:
            sd[name] = torch.frombuffer(bytearray(data), dtype=dt).reshape(shape)
    return sd


def _f32(t: torch.Tensor) -> bytes:
    return t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()


def _planes(t: torch.Tensor):
    """(shape (c, h, w), float32 bytes) of one sample's output, or None for other ranks."""
    if t.dim() == 3:
        c, h, w = t.shape
    elif t.dim() == 1:
        c, h, w = t.shape[0], 1, 1
    else:
        return None
    return (int(c), int(h), int(w)), _f32(t)


def first_conv(model: nn.Module):
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            return name, m
    return None


def _kind(m: nn.Module) -> str:
    if isinstance(m, nn.Conv2d):
        k, s, p = m.kernel_size, m.stride[0], m.padding
        pad = p if isinstance(p, str) else p[0]
        return f"conv {m.out_channels} {k[0]}×{k[1]} s{s} p{pad}"
    if isinstance(m, nn.Linear):
        return f"fc {m.out_features}"
    return type(m).__name__.lower()


def _flops(m: nn.Module, out: torch.Tensor) -> int:
    if isinstance(m, nn.Conv2d) and out.dim() == 4:
        k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
        return 2 * k * out.shape[1] * out.shape[2] * out.shape[3]
    if isinstance(m, nn.Linear):
        return 2 * m.in_features * m.out_features
    return 0


def _shape3(out: torch.Tensor) -> list:
    s = list(out.shape[1:])
    return (s + [1, 1, 1])[:3] if len(s) <= 3 else s[:3]


def layer_table(model: nn.Module, probe) -> list:
    """convtop's per-layer table (name, kind, out_shape, params, flops) from one probe forward."""
    rows, hooks = [], []
    leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]

    def hook(name, m):
        def run(_m, _inp, out):
            if isinstance(out, torch.Tensor):
                rows.append({
                    "name": name, "kind": _kind(m), "formula": "",
                    "out_shape": _shape3(out),
                    "params": sum(p.numel() for p in m.parameters(recurse=False)),
                    "flops": _flops(m, out),
                })
        return run

    if probe is None:
        return [{"name": n, "kind": _kind(m), "formula": "", "out_shape": [0, 0, 0],
                 "params": sum(p.numel() for p in m.parameters(recurse=False)), "flops": 0}
                for n, m in leaves]
    for name, m in leaves:
        hooks.append(m.register_forward_hook(hook(name, m)))
    try:
        with _eval_mode(model), torch.no_grad():
            model(probe[:1])
    finally:
        for h in hooks:
            h.remove()
    return rows


class _eval_mode:
    """Evaluation mode for a probe forward (no batch-norm statistics updated), then back."""

    def __init__(self, model):
        self.model, self.was_training = model, model.training

    def __enter__(self):
        self.model.eval()

    def __exit__(self, *exc):
        self.model.train(self.was_training)


def snapshot(model: nn.Module, probe, probe_label, filter_layers, lr: float):
    """(filters, layer_stats, input, label, probabilities, activations) for `Core.snapshot`."""
    acts, hooks, divisors = [], [], {}
    leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]

    def hook(name):
        def run(m, inp, out):
            if isinstance(out, torch.Tensor):
                # cloned: an in-place ReLU after this layer would change the tensor we keep
                acts.append((name, out.detach()[0].to("cpu", torch.float32).clone()))
                if isinstance(m, nn.LocalResponseNorm) and inp and isinstance(inp[0], torch.Tensor):
                    divisors[name] = norm_divisor(m, inp[0][:1], out[:1])
        return run

    for name, m in leaves:
        hooks.append(m.register_forward_hook(hook(name)))
    try:
        with _eval_mode(model), torch.no_grad():
            logits = model(probe[:1])
    finally:
        for h in hooks:
            h.remove()
    logits = logits[0] if isinstance(logits, torch.Tensor) else torch.zeros(1)
    probs = torch.softmax(logits.detach().float().reshape(-1), 0).tolist()
    label = int(probe_label) if probe_label is not None else int(torch.tensor(probs).argmax())
    modules = dict(model.named_modules())
    filters = []
    for name in filter_layers:
        m = modules.get(name)
        if isinstance(m, nn.Conv2d):
            w = m.weight
            g = w.grad if w.grad is not None else torch.zeros_like(w)
            filters.append((name, tuple(int(s) for s in w.shape), _f32(w), _f32(g)))
    stats = []
    for name, m in leaves:
        w = getattr(m, "weight", None)
        if isinstance(m, (nn.Conv2d, nn.Linear)) and isinstance(w, torch.Tensor):
            wn = float(w.detach().float().norm())
            gn = float(w.grad.detach().float().norm()) if w.grad is not None else 0.0
            # ‖lr·grad‖/‖W‖: the update/weight ratio of plain SGD (momentum and Adam differ)
            stats.append((name, wn, gn, lr * gn / max(wn, 1e-30), None, None))
    by_name = dict(acts)
    for name, m in leaves:
        a = by_name.get(name)
        if isinstance(m, nn.ReLU) and a is not None and a.dim() == 3:
            dead = float((a.flatten(1).abs().amax(1) == 0).float().mean())
            stats.append((name, 0.0, 0.0, 0.0, dead, None))
        elif divisors.get(name) is not None:
            stats.append((name, 0.0, 0.0, 0.0, None, divisors[name]))
    img = probe[0].detach().to("cpu", torch.float32)
    lo, hi = float(img.min()), float(img.max())
    img = (img - lo) / (hi - lo) if hi > lo and math.isfinite(hi - lo) else torch.zeros_like(img)
    if img.dim() == 2:
        img = img.unsqueeze(0)
    shape = tuple(int(s) for s in img.shape) if img.dim() == 3 else (1, 1, img.numel())
    activations = [(n, *p) for n, a in acts if (p := _planes(a)) is not None]
    return filters, stats, (shape, _f32(img)), label, probs, activations


def norm_divisor(m: nn.LocalResponseNorm, x: torch.Tensor, out: torch.Tensor):
    """How much more than k^β the LRN divided x, in energy: ‖x / k^β‖ / ‖out‖ (1.0: it
    normalised nothing; the published α values assume 0–255 pixels). None when out is zero."""
    plain = float(x.detach().double().norm()) / float(m.k) ** float(m.beta)
    normed = float(out.detach().double().norm())
    return plain / normed if normed > 0 and math.isfinite(plain / normed) else None


def cpu_copy(state_dict):
    """A copy of a state_dict on the CPU, detached from the model (a roll-back target)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in state_dict.items()}

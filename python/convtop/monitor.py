"""`Monitor`: makes any PyTorch loop a convtop run (curves, diagnostics, checkpoints, knobs, DDP)."""

from __future__ import annotations

import json
import os

import torch
from torch import nn

from . import _tensors
from ._core import Core
from ._dist import Channel

# convtop knob -> optimizer param_group key
_KEYS = {"learning_rate": "lr", "lambda": "weight_decay", "momentum": "momentum"}
# how long one wait for a viewer's command lasts while paused (seconds)
_PAUSE_POLL = 0.2


class Monitor:
    """Watch and steer a PyTorch training loop with convtop.

    Call ``step`` once an iteration, after ``optimizer.step()``; it returns False once the run
    should stop (``Stop`` from a viewer, or a divergence with ``on_divergence="stop"``). Under
    DistributedDataParallel every rank calls it; rank 0 writes the run directory and serves the
    socket, and every rank applies a knob change at the same iteration. Use it from the thread
    that made it.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, run_dir="runs",
                 config=None, probe=None, probe_label=None, evaluate=None, scheduler=None,
                 classes=None, steps_per_epoch=0, epochs=1, batch_size=None, snapshot_every=20,
                 filter_layer=None, on_divergence="pause", average_loss=True,
                 data_name="pytorch", group=None, autopilot=False):
        if on_divergence not in ("pause", "stop", "continue"):
            raise ValueError("on_divergence must be 'pause', 'stop' or 'continue'")
        self.model = model
        self.module = getattr(model, "module", model)  # the model inside a DDP wrapper
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.probe = probe
        self.probe_label = probe_label
        self.evaluate_fn = evaluate
        self.batch_size = int(batch_size or (config or {}).get("batch_size", 0) or 0)
        self.snapshot_every = max(1, int(snapshot_every))
        self.on_divergence = on_divergence
        self.channel = Channel(group, average_loss)
        # the run's length, for how far a schedule without an end of its own still decays
        self._steps_per_epoch, self._epochs = int(steps_per_epoch), int(epochs)
        self.rank = self.channel.rank
        self.should_stop = False
        self._last_snapshot = None
        groups = optimizer.param_groups
        g0 = groups[0]
        self.supported = [k for k, key in _KEYS.items() if key in g0]
        # groups at weight_decay 0 beside decayed ones (biases, norms) keep it at 0
        decayed = [g.get("weight_decay", 0.0) > 0 for g in groups]
        self._no_decay = {i for i, d in enumerate(decayed) if not d} if any(decayed) else set()
        first = _tensors.first_conv(self.module)
        self.filter_layers = [n for n in [first and first[0], filter_layer] if n]
        self.core = None
        self._run_dir = None
        # rank 0 keeps the starting weights (a roll-back for a network killed early) and, while
        # the autopilot judges a change, the weights from before it; both on the CPU
        self._start = None
        self._before_change = None
        if self.rank == 0:
            self._start = _tensors.cpu_copy(self.module.state_dict())
            spec = self._spec(run_dir, config or {}, classes, steps_per_epoch, epochs, data_name)
            spec["autopilot"] = bool(autopilot)
            spec["should_ignore_divergence"] = on_divergence == "continue"
            self.core = Core(json.dumps(spec))
            self._run_dir = self.core.run_dir
            if on_divergence == "continue":
                self.core.message("info", "divergence is reported but does not pause this run")

    @property
    def run_dir(self):
        """The run directory (rank 0; None on the other ranks)."""
        return self._run_dir

    @property
    def iteration(self) -> int:
        return self.channel.iteration

    @property
    def autopilot(self) -> bool:
        """Whether the diagnostics' advice is applied as it comes (rank 0; False elsewhere)."""
        return self.core is not None and self.core.autopilot

    @autopilot.setter
    def autopilot(self, on: bool):
        if self.core is not None:
            self.core.autopilot = bool(on)

    def _spec(self, run_dir, config, classes, steps_per_epoch, epochs, data_name):
        m = self.module
        linears = [x for x in m.modules() if isinstance(x, nn.Linear)]
        if classes is None:
            classes = [str(i) for i in range(linears[-1].out_features)] if linears else []
        probe = self.probe
        shape = list(probe.shape[1:]) if probe is not None and probe.dim() == 4 else [0, 0, 0]
        g0 = self.optimizer.param_groups[0]
        knobs = {
            "learning_rate": float(g0["lr"]), "lambda": float(g0.get("weight_decay", 0.0)),
            "momentum": float(g0.get("momentum", 0.0)), "is_nesterov": bool(g0.get("nesterov")),
            "batch_size": self.batch_size, "augment_crop": False, "augment_flip": False,
        }
        layers = _tensors.layer_table(m, probe)
        resolved = " ".join(r["kind"].split(" ")[0] for r in layers if r["params"] or "pool" in r["kind"])
        details = {
            "torch": torch.__version__, "optimizer": type(self.optimizer).__name__,
            "scheduler": type(self.scheduler).__name__ if self.scheduler else None,
            "world_size": self.channel.world, "config": config,
        }
        return {
            "run_dir": os.fspath(run_dir), "trainer": "pytorch", "data_name": data_name,
            "net_spec": type(m).__name__, "net_resolved": resolved, "classes": classes,
            "input_shape": shape, "train_size": int(config.get("train_size", 0)),
            "val_size": int(config.get("val_size", 0)), "iters_per_epoch": int(steps_per_epoch),
            "total_epochs": int(epochs), "knobs": knobs, "supported": self.supported,
            "seed": int(config.get("seed", 0)), "layers": layers, "details": details,
        }

    # the loop's side

    def step(self, loss, acc=None, batch_size=None) -> bool:
        """Records one iteration and follows the viewers: applies knob changes, pauses here while
        paused, evaluates/saves/rolls back on request. False once the run should stop."""
        loss, acc = self.channel.reduce(float(loss), float(acc) if acc is not None else 0.0)
        directive = None
        if self.core is not None:
            g = self.optimizer.param_groups[0]
            directive = self.core.step(
                loss, acc, int(batch_size or self.batch_size), float(g["lr"]),
                float(g.get("weight_decay", 0.0)), float(g.get("momentum", 0.0)))
        self._follow(directive)
        return not self.should_stop

    def _follow(self, directive):
        while True:
            directive = self.channel.share(directive)
            if directive is None:
                return
            knobs, evaluate, save, rollback, snapshot, stop, paused, stash = directive
            if stash and self.rank == 0:
                self._before_change = _tensors.cpu_copy(self.module.state_dict())
            if rollback is not None:
                self._rollback(rollback)
            for knob, value in knobs:
                self._apply(knob, value)
            if evaluate:
                self._evaluate_now()
            if save and self.core is not None:
                self.save()
            if snapshot is not None and self.core is not None:
                self._snapshot(snapshot)
            if stop:
                self.should_stop = True
            if stop or not paused:
                return
            if self.on_divergence == "stop" and self.core is not None \
                    and self.core.state == "diverged":
                self.core.message("error", "diverged: stopping (on_divergence='stop')")
                directive = ([], False, False, None, None, True, False, False)
                continue
            # paused: block (rank 0 in Rust with the GIL released; the others in the broadcast)
            directive = self.core.wait(_PAUSE_POLL) if self.core is not None else None

    def _apply(self, knob, value):
        key = _KEYS[knob]
        groups = self.optimizer.param_groups
        old = float(groups[0][key])
        for i, g in enumerate(groups):
            if key == "weight_decay" and i in self._no_decay:
                continue
            if key == "lr" and old > 0:
                # groups with their own rate keep their ratio to the first
                g[key] = float(g[key]) * (value / old)
            else:
                g[key] = value
        if key == "lr" and old > 0 and self.scheduler is not None:
            self._rescale_schedule(value / old)

    def _rescale_schedule(self, ratio):
        """A hand change of lr moves the whole schedule with it (closed-form schedulers would
        otherwise put the old rate back at their next step)."""
        s = self.scheduler
        if hasattr(s, "base_lrs"):
            s.base_lrs = [b * ratio for b in s.base_lrs]
        for g in self.optimizer.param_groups:
            for k in ("initial_lr", "max_lr", "min_lr"):
                if isinstance(g.get(k), (int, float)):
                    g[k] = g[k] * ratio

    def evaluate(self, val_loss, val_acc, train_loss=None, train_acc=None, confusion=None) -> bool:
        """Records an evaluation (rank 0); the best one so far is saved as the best checkpoint.
        Without train_loss / train_acc, the means of the steps' figures since the previous
        evaluation stand in. Under DDP pass figures already averaged over the ranks. True when
        it is the best."""
        if self.core is None:
            return False
        is_best = self.core.evaluate(float(val_loss), float(val_acc),
                                     None if train_loss is None else float(train_loss),
                                     None if train_acc is None else float(train_acc), confusion,
                                     self._schedule_left())
        if is_best:
            self.save("checkpoint-best.safetensors")
        return is_best

    def _schedule_left(self):
        """The factor the scheduler still applies to the rate before its end, for the plateau
        check (a stall half-way through a decay is the schedule's business, not a verdict).
        A ReduceLROnPlateau answers a plateau itself, down to its min_lr. An ExponentialLR or
        StepLR ends with the run: known from steps_per_epoch and epochs. None for no scheduler
        or one whose end it cannot know (those two without the run's length, a restart
        schedule): the rate is then judged as constant."""
        s = self.scheduler
        if s is None:
            return None
        group = self.optimizer.param_groups[0]
        lr = float(group["lr"])

        def down_to(end):  # the rate at the schedule's end, against the rate now
            return end / lr if lr > 0 else None

        t = getattr(s, "last_epoch", 0)
        kind = type(s).__name__
        if kind == "CosineAnnealingLR":
            return down_to(s.eta_min) if t < s.T_max else 1.0
        if kind == "MultiStepLR":
            return s.gamma ** sum(n for m, n in s.milestones.items() if m > t)
        if kind == "OneCycleLR":
            return down_to(group["min_lr"]) if t < s.total_steps else 1.0
        if kind == "LinearLR":
            return down_to(s.base_lrs[0] * s.end_factor) if t < s.total_iters else 1.0
        if kind == "PolynomialLR":
            return 0.0 if t < s.total_iters else 1.0
        if kind == "ReduceLROnPlateau":  # it lowers the rate on a plateau itself, to its floor
            return min(1.0, down_to(s.min_lrs[0]) or 0.0)
        if kind in ("ExponentialLR", "StepLR"):
            end = self._run_end(t)
            if end is None:
                return None
            if kind == "ExponentialLR":
                return s.gamma ** (end - t)
            return s.gamma ** (end // s.step_size - t // s.step_size)
        return None

    def _run_end(self, t):
        """The scheduler count at the run's end: its steps if the loop steps the scheduler at
        each batch, its epochs if at each epoch (whichever count `t` is nearer after this many
        steps). None without the run's length (`steps_per_epoch`, `epochs`)."""
        per_epoch, epochs = getattr(self, "_steps_per_epoch", 0), getattr(self, "_epochs", 0)
        if per_epoch <= 0 or epochs <= 0:
            return None
        done = self.channel.iteration
        is_per_step = abs(t - done) < abs(t - done / per_epoch)
        return max(t, per_epoch * epochs if is_per_step else epochs)

    def _evaluate_now(self):
        if self.evaluate_fn is None:
            if self.core is not None:
                self.core.message("warn", "no evaluate= callback was given to the Monitor")
            return
        result = self.evaluate_fn()  # on every rank: it may hold collectives
        if isinstance(result, dict):
            self.evaluate(**result)
        elif result is not None:
            self.evaluate(*result)

    def save(self, name="checkpoint-last.safetensors"):
        """Writes the model's state_dict (its own names) as a safetensors checkpoint (rank 0)."""
        if self.core is None:
            return None
        return self.core.save_checkpoint(name, _tensors.to_raw(self.module.state_dict()))

    @staticmethod
    def load(path) -> dict:
        """A state_dict from a checkpoint written by a Monitor (or any safetensors file)."""
        return _tensors.from_raw(Core.read_checkpoint(os.fspath(path)))

    def _rollback(self, which="best"):
        """Loads the best checkpoint, the starting weights or those from before the autopilot's
        last change (rank 0), then the same weights on every rank."""
        ok = torch.zeros(1)
        if self.core is not None:
            if which == "best":
                tensors = self.core.rollback()
                state = None if tensors is None else _tensors.from_raw(tensors)
            else:
                state = self._start if which == "start" else self._before_change
                if state is None:
                    self.core.message("warn", f"no roll-back: no weights kept for {which}")
            if state is not None:
                self.module.load_state_dict(state)
                ok += 1
        if self.channel.world > 1:
            ok = self.channel.broadcast_tensor(ok)
            if ok.item() > 0:
                for t in list(self.module.parameters()) + list(self.module.buffers()):
                    t.data.copy_(self.channel.broadcast_tensor(t.data))
        if ok.item() > 0:
            # the momentum belongs to the bad trajectory
            self.optimizer.state.clear()

    def _snapshot(self, index):
        if self.probe is None:
            if self._last_snapshot is None:
                self._last_snapshot = -self.snapshot_every
                self.core.message("info", "no probe= input given: no filters or activations")
            return
        it = self.core.iteration
        if self._last_snapshot is not None and it - self._last_snapshot < self.snapshot_every:
            return
        self._last_snapshot = it
        lr = float(self.optimizer.param_groups[0]["lr"])
        view = _tensors.snapshot(self.module, self.probe, self.probe_label, self.filter_layers, lr)
        self.core.snapshot(index, *view)

    def close(self, finished=None):
        """Saves the last checkpoint and ends the run. `finished` defaults to: not stopped."""
        if self.core is not None:
            try:
                self.save()
            finally:
                self.core.close(not self.should_stop if finished is None else bool(finished))
                self.core = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(finished=False if exc_type is not None else None)
        return False

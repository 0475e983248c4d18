"""The Monitor in this process: checkpoints PyTorch loads back, knobs the optimizer lacks refused,
roll-back to the best weights, pauses held inside `step`, the scheduler policy."""

import json
import socket
import threading
import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

import convtop
from conftest import records, send, wait_for
from convtop._dist import Channel


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):
        return self.fc(torch.flatten(self.relu(self.bn(self.conv(x))), 1))


def train_step(model, opt):
    x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 3, (8,))
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def events(run_dir, stop):
    """Every event line a viewer receives, gathered on a thread until `stop` is set."""
    got = []
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(Path(run_dir) / "control.sock"))
    s.settimeout(0.2)

    def read():
        buf = b""
        while not stop.is_set():
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                got.append(json.loads(line))
        s.close()
    t = threading.Thread(target=read, daemon=True)
    t.start()
    return got, t


def test_a_checkpoint_loads_back_with_load_state_dict(short_tmp):
    torch.manual_seed(0)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with convtop.Monitor(model, opt, run_dir=short_tmp) as mon:
        for _ in range(3):
            mon.step(loss=train_step(model, opt))
        path = mon.save()
    sd = model.state_dict()
    fresh = Net()
    fresh.load_state_dict(convtop.Monitor.load(path))
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, sd[k]), k
    # any safetensors reader sees PyTorch's own names, dtypes included (int64 batch counter)
    st = load_file(path)
    assert set(st) == set(sd)
    assert st["bn.num_batches_tracked"].dtype == torch.int64
    assert int(st["bn.num_batches_tracked"]) == 3


def test_a_knob_the_optimizer_lacks_is_refused_and_lr_is_applied(short_tmp):
    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    stop = threading.Event()
    with convtop.Monitor(model, opt, run_dir=short_tmp) as mon:
        got, reader = events(mon.run_dir, stop)
        assert send(mon.run_dir, {"cmd": "set_knob", "knob": "momentum", "value": 0.5})["ok"]
        # the knob authority answers in the reply: a refused value never reaches the loop
        refused = send(mon.run_dir, {"cmd": "set_knob", "knob": "learning_rate", "value": -1})
        assert "error" in refused and "-1" in refused["error"], refused
        assert send(mon.run_dir, {"cmd": "set_knob", "knob": "learning_rate", "value": 0.01})["ok"]
        mon.step(loss=train_step(model, opt))
        assert abs(opt.param_groups[0]["lr"] - 0.01) < 1e-9
        assert "momentum" not in opt.param_groups[0]
        texts = lambda: [e["event"]["Message"]["text"] for e in got
                         if "Message" in e.get("event", {})]
        wait_for("the refusal", lambda: texts())
        assert any("momentum refused" in t and "no such setting" in t for t in texts()), texts()
        stop.set()
        reader.join()


def test_roll_back_restores_the_best_weights_on_request(short_tmp):
    torch.manual_seed(1)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with convtop.Monitor(model, opt, run_dir=short_tmp) as mon:
        mon.step(loss=train_step(model, opt))
        assert mon.evaluate(1.0, 0.5)
        best = {k: v.clone() for k, v in model.state_dict().items()}
        for _ in range(3):
            mon.step(loss=train_step(model, opt))
        assert not mon.evaluate(1.2, 0.4)
        assert not torch.equal(model.conv.weight, best["conv.weight"])
        assert send(mon.run_dir, {"cmd": "rollback_to_best"})["ok"]
        mon.step(loss=1.0)
        for k, v in model.state_dict().items():
            assert torch.equal(v, best[k]), k
        assert len(opt.state) == 0, "the momentum of the abandoned trajectory is dropped"


def test_step_holds_while_paused_and_stop_ends_the_loop(short_tmp):
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    mon = convtop.Monitor(model, opt, run_dir=short_tmp)
    assert send(mon.run_dir, {"cmd": "pause"})["ok"]
    threading.Timer(0.6, lambda: send(mon.run_dir, {"cmd": "resume"})).start()
    t0 = time.monotonic()
    assert mon.step(loss=1.0)
    assert time.monotonic() - t0 > 0.5, "step returned while paused"
    assert send(mon.run_dir, {"cmd": "stop"})["ok"]
    assert mon.step(loss=1.0) is False and mon.should_stop
    run = mon.run_dir
    mon.close()
    assert not (Path(run) / "control.sock").exists()
    states = [r["state"] for r in records(run) if r["type"] == "state"]
    assert states == ["running", "paused", "running", "stopped"], states


def test_a_scheduler_is_recorded_and_a_hand_change_rescales_it(short_tmp):
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.5 ** e)
    with convtop.Monitor(model, opt, run_dir=short_tmp, scheduler=sched) as mon:
        mon.step(loss=train_step(model, opt))
        sched.step()  # 0.1 -> 0.05: the script's own schedule
        mon.step(loss=train_step(model, opt))
        assert send(mon.run_dir, {"cmd": "set_knob", "knob": "learning_rate", "value": 0.2})["ok"]
        mon.step(loss=train_step(model, opt))  # hand: 0.05 -> 0.2, the schedule rescaled ×4
        assert abs(opt.param_groups[0]["lr"] - 0.2) < 1e-7
        sched.step()  # LambdaLR recomputes from base_lrs: 0.4 * 0.25 = 0.1, not 0.1 * 0.25
        mon.step(loss=train_step(model, opt))
        run = mon.run_dir
    knobs = [(r["source"], round(r["new"], 6)) for r in records(run) if r["type"] == "knob"]
    assert knobs == [("schedule", 0.05), ("hand", 0.2), ("schedule", 0.1)], knobs


def knob_records(run_dir):
    return [r for r in records(run_dir) if r["type"] == "knob"]


def test_advice_and_the_autopilot_act_on_the_optimizer_at_the_next_step(short_tmp):
    """`a` (apply_advice) and `A` (set_autopilot) from a viewer, as for convtop's own trainer: a
    diagnostic's action reaches the optimizer at the next step; the autopilot's changes are
    recorded with source autopilot and the diagnostic as reason, and reverted when validation
    falls; a divergence is rescued at once with the starting weights and a lower rate."""
    torch.manual_seed(2)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    with convtop.Monitor(model, opt, run_dir=short_tmp, config={"val_size": 1000}) as mon:
        run = mon.run_dir
        action = {"knob": {"knob": "learning_rate", "value": 0.05}}
        assert send(run, {"cmd": "apply_advice", "action": action, "reason": "by hand"})["ok"]
        mon.step(loss=train_step(model, opt))
        assert abs(opt.param_groups[0]["lr"] - 0.05) < 1e-9

        assert send(run, {"cmd": "set_autopilot", "on": True})["ok"]
        mon.step(loss=train_step(model, opt))
        assert mon.autopilot
        # validation loss rising for evaluations on end while training loss falls: overfitting,
        # whose action is a roll-back to the best checkpoint and λ ×3
        for i, (val_loss, train_loss) in enumerate([(1.0, 1.0), (1.1, 0.8), (1.25, 0.6), (1.4, 0.4)]):
            mon.step(loss=train_step(model, opt))
            best = mon.evaluate(val_loss, 0.5, train_loss=train_loss, train_acc=0.6) or None
            if i == 0:
                assert best, "the first evaluation is the best one"
                at_best = {k: v.clone() for k, v in model.state_dict().items()}
            if any(r["source"] == "autopilot" for r in knob_records(run)):
                break
        change = knob_records(run)[-1]
        assert change["source"] == "autopilot" and change["knob"] == "lambda", change
        assert change["reason"].startswith("overfitting"), change
        assert opt.param_groups[0]["weight_decay"] == 1e-4, "not before the next step"
        train_step(model, opt)
        before = {k: v.clone() for k, v in model.state_dict().items()}
        mon.step(loss=1.0)
        assert abs(opt.param_groups[0]["weight_decay"] - 3e-4) < 1e-9
        for k, v in model.state_dict().items():
            assert torch.equal(v, at_best[k]), f"{k}: rolled back to the best checkpoint"

        # the next evaluation is far worse: the change is reverted, weights and λ
        mon.step(loss=train_step(model, opt))
        mon.evaluate(1.5, 0.2, train_loss=0.3, train_acc=0.7)
        mon.step(loss=train_step(model, opt))
        assert abs(opt.param_groups[0]["weight_decay"] - 1e-4) < 1e-9
        for k, v in model.state_dict().items():
            assert torch.equal(v, before[k]), f"{k}: the weights from before the change"
        revert = knob_records(run)[-1]
        assert revert["source"] == "autopilot" and revert["reason"].startswith("revert of"), revert

    got = [(r["source"], r["knob"], r["reason"]) for r in knob_records(run)]
    assert got[0] == ("hand", "learning_rate", "by hand"), got
    assert [g[:2] for g in got[1:]] == [("autopilot", "lambda")] * 2, got
    assert got[1][2].startswith("overfitting") and got[2][2].startswith("revert of"), got


def test_the_autopilot_rescues_a_divergence_with_the_starting_weights(short_tmp):
    torch.manual_seed(3)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    with convtop.Monitor(model, opt, run_dir=short_tmp, autopilot=True) as mon:
        run = mon.run_dir
        assert mon.autopilot
        mon.step(loss=train_step(model, opt))
        # before any evaluation the rescue is the starting weights and a lower rate, at once
        assert mon.step(loss=float("nan"))
        assert opt.param_groups[0]["lr"] < 0.1
        for k, v in model.state_dict().items():
            assert torch.equal(v, start[k]), f"{k}: the starting weights"
        assert mon.core.state == "running"
    rescue = knob_records(run)[-1]
    diverged = [r for r in records(run) if r["type"] == "diagnostic" and r["kind"] == "divergence"]
    assert rescue["source"] == "autopilot" and rescue["reason"] == diverged[0]["title"], rescue


def test_the_schedule_left_is_known_for_the_schedulers_with_an_end(short_tmp):
    def left(make, steps, run=None, done=None):
        """After `steps` scheduler steps; `run` is (steps_per_epoch, epochs) and `done` the
        Monitor's steps so far (default: one a scheduler step)."""
        model = Net()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = make(opt)
        for _ in range(steps):
            opt.step()
            sched.step()
        mon = convtop.Monitor.__new__(convtop.Monitor)
        mon.scheduler, mon.optimizer = sched, opt
        mon.channel = Channel()
        mon.channel.iteration = steps if done is None else done
        if run is not None:
            mon._steps_per_epoch, mon._epochs = run
        return mon._schedule_left()

    lr = torch.optim.lr_scheduler
    # to zero over 10 steps: all of it still to come, until the end
    assert left(lambda o: lr.CosineAnnealingLR(o, T_max=10), 3) == 0.0
    assert left(lambda o: lr.CosineAnnealingLR(o, T_max=10), 10) == 1.0
    # to 0.01 from 0.1 × (1 + cos(π/2))/2 = 0.055 (approximately) half-way
    half = left(lambda o: lr.CosineAnnealingLR(o, T_max=10, eta_min=0.01), 5)
    assert abs(half - 0.01 / 0.055) < 1e-3, half
    # two milestones, one passed: ×0.1 still to come
    assert abs(left(lambda o: lr.MultiStepLR(o, [3, 6], gamma=0.1), 4) - 0.1) < 1e-9
    assert left(lambda o: lr.LinearLR(o, start_factor=1.0, end_factor=0.25, total_iters=4), 0) == 0.25
    # a plateau scheduler answers plateaus itself until its floor
    assert left(lambda o: lr.ReduceLROnPlateau(o), 0) == 0.0
    assert left(lambda o: lr.ReduceLROnPlateau(o, min_lr=0.1), 0) == 1.0
    # no end it can know: judged as a constant rate
    assert left(lambda o: lr.ExponentialLR(o, gamma=0.9), 2) is None
    assert left(lambda o: lr.StepLR(o, step_size=2), 2) is None
    # with the run's length they end with the run: stepped each batch (100 a epoch, 3 epochs)...
    exp = lambda o: lr.ExponentialLR(o, gamma=0.99)  # noqa: E731
    assert abs(left(exp, 120, run=(100, 3)) - 0.99 ** 180) < 1e-12
    # ...or each epoch (the scheduler at 1 after 120 steps of 100 a epoch: 2 epochs to come)
    assert abs(left(exp, 1, run=(100, 3), done=120) - 0.99 ** 2) < 1e-12
    step = lambda o: lr.StepLR(o, step_size=30, gamma=0.1)  # noqa: E731
    # epoch 45 of 90: the cuts at 60 and 90 still to come; at the end, none
    assert abs(left(step, 45, run=(10, 90), done=450) - 0.01) < 1e-12
    assert left(step, 90, run=(10, 90), done=900) == 1.0


def test_a_stall_half_way_through_a_decay_schedule_is_no_plateau(short_tmp):
    """The same stalled evaluations: a plateau at a constant rate, none while a cosine or
    exponential schedule still has most of its decay to come."""
    def plateaus(make, run_dir):
        torch.manual_seed(0)
        model = Net()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = make(opt) if make else None
        # one step an epoch for 100 epochs: an ExponentialLR's end is the run's
        with convtop.Monitor(model, opt, run_dir=run_dir, scheduler=sched, steps_per_epoch=1,
                             epochs=100, config={"val_size": 1000}) as mon:
            for i, val_loss in enumerate([1.0, 0.8, 0.7] + [0.71] * 7):
                mon.step(loss=train_step(model, opt), acc=0.6)
                if sched is not None:
                    sched.step()
                mon.evaluate(val_loss, 0.6 if i < 3 else 0.59, train_loss=0.6, train_acc=0.6)
            run = mon.run_dir
        return [r for r in records(run) if r["type"] == "diagnostic" and r["kind"] == "plateau"]

    lr = torch.optim.lr_scheduler
    assert plateaus(None, short_tmp / "constant"), "five stalled evaluations at one rate"
    assert plateaus(lambda o: lr.CosineAnnealingLR(o, T_max=100), short_tmp / "cosine") == []
    # ×0.97 a step: ÷15 still to come after 10 of 100
    assert plateaus(lambda o: lr.ExponentialLR(o, gamma=0.97), short_tmp / "exp") == []


def test_a_norm_layers_divisor_is_measured_as_convtop_measures_it():
    from convtop import _tensors

    torch.manual_seed(0)
    probe = torch.randn(1, 1, 8, 8)

    def divisor_of(alpha):
        model = nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(),
                              nn.LocalResponseNorm(3, alpha=alpha, beta=0.75, k=1.0),
                              nn.Flatten(), nn.Linear(6 * 6 * 6, 3))
        stats = _tensors.snapshot(model, probe, None, [], 0.1)[1]
        (row,) = [s for s in stats if s[0] == "2"]
        assert row[4] is None, "a norm has no dead fraction"
        # s = k + α/n · Σ x² over the 3 channels around c (zero beyond the ends), by hand
        with torch.no_grad():
            x = model[1](model[0](probe))
            sq = nn.functional.pad(x * x, (0, 0, 0, 0, 1, 1))
            s = 1.0 + alpha / 3 * (sq[:, :-2] + sq[:, 1:-1] + sq[:, 2:])
            want = float(x.norm() / (x / s ** 0.75).norm())
        return row[5], want

    inert, want = divisor_of(5e-5)
    assert abs(inert - want) < 1e-6 and inert < 1.01, (inert, want)
    acting, want = divisor_of(3.0)
    assert abs(acting - want) < 1e-4 * want and acting > 1.1, (acting, want)

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
    return float(loss)


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
        assert send(mon.run_dir, {"cmd": "set_knob", "knob": "learning_rate", "value": -1})["ok"]
        assert send(mon.run_dir, {"cmd": "set_knob", "knob": "learning_rate", "value": 0.01})["ok"]
        mon.step(loss=train_step(model, opt))
        assert abs(opt.param_groups[0]["lr"] - 0.01) < 1e-9
        assert "momentum" not in opt.param_groups[0]
        texts = lambda: [e["event"]["Message"]["text"] for e in got
                         if "Message" in e.get("event", {})]
        wait_for("the refusals", lambda: len(texts()) >= 2)
        assert any("momentum refused" in t and "no such setting" in t for t in texts()), texts()
        assert any("-1 refused" in t for t in texts()), texts()
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

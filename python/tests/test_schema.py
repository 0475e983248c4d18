"""docs/schema against what the Rust writer really writes: every metrics.jsonl line of a PyTorch
run and of a native run, every line a viewer receives, the checkpoint metadata, run-info.json."""

import json
import socket
import struct
import subprocess
import threading
from pathlib import Path

import jsonschema
import pytest
import torch
from referencing import Registry, Resource
from torch import nn

import convtop
from conftest import REPO, send, wait_for

SCHEMAS = {p.stem: json.loads(p.read_text()) for p in (REPO / "docs" / "schema").glob("*.json")}
REGISTRY = Registry().with_resources(
    (s["$id"], Resource.from_contents(s)) for s in SCHEMAS.values())


def validator(name):
    return jsonschema.Draft202012Validator(SCHEMAS[name], registry=REGISTRY)


def check_all(name, items):
    v = validator(name)
    for item in items:
        errors = list(v.iter_errors(item))
        assert not errors, f"{name}: {item}\n" + "\n".join(e.message for e in errors[:3])


def lines(path):
    return [json.loads(l) for l in Path(path).read_text().splitlines() if l.strip()]


def header_meta(path):
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(json.loads(data[8:8 + n])["__metadata__"]["convtop"])


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 3)
        self.relu1 = nn.ReLU()
        self.fc1 = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        return self.fc1(torch.flatten(self.relu1(self.conv1(x)), 1))


@pytest.fixture
def pytorch_run(short_tmp):
    """A live Monitor with a viewer collecting every line it is sent."""
    torch.manual_seed(0)
    model = Tiny()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    mon = convtop.Monitor(model, opt, run_dir=short_tmp, probe=torch.randn(1, 1, 6, 6),
                          on_divergence="continue", snapshot_every=1)
    got, stop = [], threading.Event()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(Path(mon.run_dir) / "control.sock"))
    s.settimeout(0.2)

    def read():
        buf = b""
        while not stop.is_set():
            try:
                chunk = s.recv(1 << 16)
            except socket.timeout:
                continue
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                got.append(json.loads(line))
    t = threading.Thread(target=read, daemon=True)
    t.start()
    yield mon, model, opt, got
    stop.set()
    t.join()
    s.close()
    mon.close()


def test_what_a_pytorch_run_writes_and_sends_matches_the_schemas(pytorch_run):
    mon, model, opt, got = pytorch_run
    sent = [{"v": 1, "cmd": {"cmd": "set_knob", "knob": "learning_rate", "value": 0.05}},
            {"v": 1, "cmd": {"cmd": "request_snapshot", "input_index": 0}},
            {"v": 1, "cmd": {"cmd": "save_checkpoint"}},
            {"v": 1, "cmd": {"cmd": "set_knob", "knob": "batch_size", "value": 3}},
            {"v": 1, "cmd": {"cmd": "apply_advice", "reason": "a test",
                             "action": {"knob": {"knob": "momentum", "value": 0.5}}}},
            {"v": 1, "cmd": {"cmd": "set_autopilot", "on": True}}]
    check_all("socket-command", sent)
    for cmd in sent:
        assert send(mon.run_dir, cmd["cmd"]) == {"v": 1, "ok": True}
    for i in range(3):
        x, y = torch.randn(4, 1, 6, 6), torch.randint(0, 3, (4,))
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        mon.step(loss=loss.item(), acc=0.25)
    mon.evaluate(1.0, 0.5, train_loss=0.9, train_acc=0.6, confusion=[[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    # the evaluation made a best checkpoint: a roll-back to it is recorded and sent
    assert send(mon.run_dir, {"cmd": "rollback_to_best"}) == {"v": 1, "ok": True}
    mon.step(loss=0.8, acc=0.5)
    mon.step(loss=float("nan"))  # a non-finite loss is written, and diagnosed
    wait_for("the snapshot and the refusal", lambda: {"Snapshot", "Message", "KnobChanged",
                                                      "CheckpointSaved", "Iterations", "Autopilot",
                                                      "RolledBack"}
             <= {k for e in got for k in e.get("event", {})})
    run = mon.run_dir
    mon.close()
    check_all("socket-reply", got)
    records = lines(Path(run) / "metrics.jsonl")
    check_all("metrics-record", records)
    kinds = {r["type"] for r in records}
    assert {"iter", "eval", "knob", "diagnostic", "state", "checkpoint", "autopilot",
            "rollback"} <= kinds, kinds
    assert any(r["type"] == "diagnostic" and "action" in r for r in records), "advice is recorded"
    refuse_every_damaged_copy(records)
    nan = [r for r in records if r["type"] == "iter" and not isinstance(r["data_loss"], float)]
    assert nan, "the NaN loss is in metrics.jsonl"
    check_all("run-info", [json.loads((Path(run) / "run-info.json").read_text())])
    metas = [header_meta(p) for p in Path(run).glob("checkpoint-*.safetensors")]
    assert metas
    check_all("checkpoint-meta", metas)
    assert all(m["format"] == "convtop-external/1" for m in metas)


def test_a_native_run_matches_the_same_schemas(short_tmp, convtop_bin):
    out = subprocess.run([convtop_bin, "train", "--headless", "--max-iterations", "20",
                          "--eval-every", "10", "--autopilot", "--run-dir", str(short_tmp)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    run = next(short_tmp.iterdir())
    records = lines(run / "metrics.jsonl")
    check_all("metrics-record", records)
    assert {"iter", "eval", "state", "checkpoint", "autopilot"} <= {r["type"] for r in records}
    check_all("checkpoint-meta", [header_meta(p) for p in run.glob("checkpoint-*.safetensors")])


# A wrong value for each kind of member: the schemas must refuse every record so damaged.
WRONG = {"iteration": -1, "epoch": [], "data_loss": "high", "reg_loss": {}, "batch_accuracy": True,
         "images_per_sec": "fast", "knobs": {"learning_rate": 0.1}, "train_loss": "x",
         "train_accuracy": "x", "val_loss": [1], "val_accuracy": "x",
         "confusion": [["a"]], "is_best": "yes", "knob": "lr", "old": "x", "new": [],
         "source": "magic", "reason": 3, "kind": "Not A Kind", "severity": "fatal", "title": 1,
         "evidence": 2, "suggestion": 3, "action": {"rollback": "later"}, "state": "sleeping",
         "path": 7, "on": "yes", "to": "yesterday", "saved_at": -3}


def refuse_every_damaged_copy(records):
    """Each member of one record of each type, set to a wrong value or removed when required,
    makes a record the schema refuses (so a test that passes could have failed)."""
    v = validator("metrics-record")
    seen = set()
    for r in records:
        if r["type"] in seen:
            continue
        seen.add(r["type"])
        for key in r:
            if key == "type":
                continue
            bad = {**r, key: WRONG[key]}
            assert not v.is_valid(bad), f"{r['type']}.{key} = {bad[key]!r} was accepted"
        assert not v.is_valid({"type": r["type"]}), f"an empty {r['type']} record was accepted"
    assert not v.is_valid({**records[0], "type": "gossip"}), "an unknown record type was accepted"


def test_the_schemas_refuse_what_the_protocol_refuses():
    bad_commands = [{"v": 2, "cmd": {"cmd": "stop"}}, {"v": 1, "cmd": {"cmd": "explode"}},
                    {"v": 1, "cmd": {"cmd": "set_knob", "knob": "speed", "value": 1}},
                    {"v": 1, "cmd": {"cmd": "set_knob", "knob": "lambda"}}]
    v = validator("socket-command")
    for c in bad_commands:
        assert not v.is_valid(c), c
    bad_commands += [{"v": 1, "cmd": {"cmd": "set_autopilot", "on": "yes"}},
                     {"v": 1, "cmd": {"cmd": "apply_advice", "action": {"rollback": "later"}}},
                     {"v": 1, "cmd": {"cmd": "apply_advice", "action": {}}},
                     {"v": 1, "cmd": {"cmd": "apply_advice"}}]
    for c in bad_commands[4:]:
        assert not v.is_valid(c), c
    reply = validator("socket-reply")
    assert reply.is_valid({"v": 1, "event": {"Autopilot": {"on": True}}})
    assert not reply.is_valid({"v": 1, "event": {"Autopilot": {"on": 1}}})
    assert not reply.is_valid({"v": 1, "event": {"Gossip": {}}}), "an event v1 does not send"
    assert not reply.is_valid({"v": 1, "event": {"State": "running", "Autopilot": {"on": True}}})
    assert not reply.is_valid({"v": 1, "ok": False})
    r = validator("metrics-record")
    assert not r.is_valid({"type": "iter", "iteration": 1})
    assert not r.is_valid({"type": "knob", "iteration": 1, "knob": "lr", "old": 1, "new": 2})
    assert r.is_valid({"type": "state", "iteration": 0, "state": "running"})

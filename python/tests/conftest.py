"""Shared helpers: the convtop binary, the examples run as real processes, the control socket."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(os.environ.get("CONVTOP_REPO", Path(__file__).resolve().parents[2]))
EXAMPLES = REPO / "examples"


@pytest.fixture
def short_tmp():
    """A short temporary directory: a Unix socket path must stay under 108 bytes."""
    d = Path(tempfile.mkdtemp(prefix="ct", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def convtop_bin():
    path = Path(os.environ.get("CONVTOP_BIN", REPO / "target" / "release" / "convtop"))
    if not path.is_file():
        pytest.skip(f"no convtop binary at {path} (cargo build --release)")
    return str(path)


def wait_for(what, ok, secs=60, proc=None):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        value = ok()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended (status {proc.returncode}) before {what}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def send(run_dir, cmd, secs=10):
    """Sends one command over the run's control socket; returns the reply ({"ok":..} or {"error":..})."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(secs)
    s.connect(str(Path(run_dir) / "control.sock"))
    try:
        s.sendall((json.dumps({"v": 1, "cmd": cmd}) + "\n").encode())
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                raise AssertionError("the training closed the socket without a reply")
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                msg = json.loads(line)
                if "ok" in msg or "error" in msg:
                    return msg
    finally:
        s.close()


def records(run_dir):
    out = []
    for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass  # a line being written
    return out


class Job:
    """An example script run as its own process, its output in a file."""

    def __init__(self, args, log_path, env=None):
        self.log_path = Path(log_path)
        self.log = open(self.log_path, "a")  # O_APPEND: lines of several processes never overwrite each other
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=REPO, env={**os.environ, **(env or {})})

    def text(self):
        return self.log_path.read_text()

    def run_dir(self):
        def found():
            for line in self.text().splitlines():
                if line.startswith("run "):
                    return line[4:].strip()
            return None
        d = wait_for("the run directory", found, proc=self.proc)
        wait_for("the control socket", lambda: (Path(d) / "control.sock").exists(), proc=self.proc)
        return d

    def wait(self, secs=120):
        try:
            return self.proc.wait(secs)
        finally:
            self.log.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def mnist_job(tmp_path, *args, name="mnist.log"):
    cmd = [sys.executable, str(EXAMPLES / "pytorch_mnist.py"), "--run-dir", str(tmp_path / "runs"),
           *args]
    return Job(cmd, tmp_path / name)


def ddp_job(tmp_path, *args):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(EXAMPLES / "pytorch_ddp.py"), "--run-dir", str(tmp_path / "runs"), *args]
    return Job(cmd, tmp_path / "ddp.log")


# `[rank R ]step N lr X[ checksum C]`, found anywhere in the log: two processes writing one file
# can still put a line in the middle of another (a warning from C++, an older example's print)
_NUMBER = r"-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?"
# a line still being written (no terminator after its last number yet) is left out
_STEP = re.compile(rf"(?:rank (\d+) )?step (\d+) lr ({_NUMBER}) "
                   rf"(?:checksum ({_NUMBER})(?=\s|rank )|loss )")


def step_lines(text):
    """(rank or None, step, lr, checksum or None) of every step line in an example's log."""
    return [(None if m[1] is None else int(m[1]), int(m[2]), float(m[3]), m[4])
            for m in _STEP.finditer(text)]


def lr_by_step(text, rank=None):
    """{step: lr} from the examples' `[rank R ]step N lr X ...` lines (of `rank`, when given)."""
    return {step: lr for r, step, lr, _ in step_lines(text) if r == rank}


class Tmux:
    """A private tmux server running one command in a fixed-size window."""

    def __init__(self, name, command, width=100, height=32):
        self.socket = f"convtop-py-{name}-{os.getpid()}"
        subprocess.run(["tmux", "-L", self.socket, "new-session", "-d", "-s", "t", "-x",
                        str(width), "-y", str(height), command], check=True)

    def screen(self):
        return subprocess.run(["tmux", "-L", self.socket, "capture-pane", "-p", "-t", "t"],
                              capture_output=True, text=True).stdout

    def keys(self, *keys):
        subprocess.run(["tmux", "-L", self.socket, "send-keys", "-t", "t", *keys], check=True)

    def wait_screen(self, what, ok, secs=30):
        last = [""]

        def check():
            last[0] = self.screen()
            return ok(last[0])
        try:
            wait_for(what, check, secs)
        except AssertionError:
            raise AssertionError(f"timed out waiting for {what}; screen:\n{last[0]}") from None
        return last[0]

    def close(self):
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def has_tmux():
    try:
        return subprocess.run(["tmux", "-V"], capture_output=True).returncode == 0
    except OSError:
        return False

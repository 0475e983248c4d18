#!/bin/sh
# The slow part of the fault-injection suite (tests/faults/): repeats the random kill -9 test
# with many seeds, runs the rest once, and measures training throughput (img/s) with and without
# five viewers that never read, side by side in one detached run. Prints the figures the README's
# "Reliability" table quotes.
#
#   scripts/faults.sh [SEEDS] [KILLS_PER_SEED]     (default 10 seeds × 10 kills)
#
# Needs python3 for the stuck viewers of the throughput part; tmux for the signal test; root for
# the tmpfs and foreign-owner parts (they skip otherwise).
set -eu
SEEDS=${1:-10}
KILLS=${2:-10}
cd "$(dirname "$0")/.."
cargo build --release --quiet
cargo test --release --quiet --test faults --no-run 2>/dev/null

echo "== kill -9 at random moments: $SEEDS seeds × $KILLS kills"
tried=0; ok=0
for seed in $(seq 1 "$SEEDS"); do
    if FAULTS_SEED=$seed FAULTS_ROUNDS=$KILLS cargo test --release --quiet --test faults kill_9 \
        -- --nocapture 2>&1 | grep "faults: kill"; then
        ok=$((ok + KILLS))
    else
        echo "seed $seed FAILED"
    fi
    tried=$((tried + KILLS))
done
echo "kill -9: tried $tried, survived (exact-once metrics, resumable) $ok, lost $((tried - ok))"

echo "== the rest of the suite, once"
cargo test --release --test faults -- --nocapture 2>&1 | grep -E "^faults:|test result|FAILED|panicked"

echo "== throughput with and without 5 stuck viewers (one detached run, windows A B A)"
base=$(mktemp -d)
run=$(./target/release/convtop train --detach --no-attach --epochs 100 --batch 64 \
    --eval-every 100000 --run-dir "$base")
python3 - "$run" <<'PY'
import json, socket, sys, time
run = sys.argv[1]
def iters():
    out = []
    with open(f"{run}/metrics.jsonl", "rb") as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("type") == "iter":
                out.append((r["iteration"], r["images_per_sec"]))
    return out
def window(secs):
    start = len(iters())
    time.sleep(secs)
    got = iters()[start:]
    rates = sorted(v for _, v in got if isinstance(v, (int, float)))
    return len(got), rates[len(rates) // 2] if rates else 0.0
time.sleep(3)
a1 = window(12)
stuck = []
for _ in range(5):
    s = socket.socket(socket.AF_UNIX)
    s.connect(f"{run}/control.sock")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.append(s)
b = window(12)
for s in stuck:
    s.close()
a2 = window(12)
print(f"no viewers:      {a1[0]} iterations, median {a1[1]:.0f} img/s")
print(f"5 stuck viewers: {b[0]} iterations, median {b[1]:.0f} img/s")
print(f"no viewers:      {a2[0]} iterations, median {a2[1]:.0f} img/s")
print(f"ratio stuck / mean(no viewers): {b[1] / ((a1[1] + a2[1]) / 2):.3f}")
s = socket.socket(socket.AF_UNIX)
s.connect(f"{run}/control.sock")
s.sendall(b'{"v":1,"cmd":{"cmd":"stop"}}\n')
s.close()
PY
sleep 3
rm -rf "$base"

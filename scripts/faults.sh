#!/bin/sh
# The slow part of the fault-injection suite (tests/faults/): repeats the random kill -9 test
# with many seeds, runs the rest once, and measures training throughput (img/s) with and without
# five viewers that never read, side by side in one detached run. Prints the figures the README's
# "Reliability" table quotes.
#
#   scripts/faults.sh [SEEDS] [KILLS_PER_SEED]     (default 10 seeds × 10 kills)
#   ONLY=kill|rest|throughput runs one part; REPS, WINDOWS size the throughput part.
#
# Needs python3 for the stuck viewers of the throughput part; tmux for the signal test; root for
# the tmpfs and foreign-owner parts (they skip otherwise).
set -eu
SEEDS=${1:-10}
KILLS=${2:-10}
REPS=${REPS:-8}       # windows of each kind (without, with stuck viewers)
WINDOWS=${WINDOWS:-8} # seconds a window
cd "$(dirname "$0")/.."
cargo build --release --quiet
# the test binary, built once: edits made while this runs do not change what it measures
faults=$(cargo test --release --test faults --no-run 2>&1 | grep -o 'target/release/deps/faults-[0-9a-f]*' | head -1)

ONLY=${ONLY:-all}
if [ "$ONLY" = all ] || [ "$ONLY" = kill ]; then
echo "== kill -9 at random moments: $SEEDS seeds × $KILLS kills (every other one aimed at a checkpoint write)"
start=$(date +%s)
tried=0; ok=0; mid=0
for seed in $(seq 1 "$SEEDS"); do
    line=$(FAULTS_SEED=$seed FAULTS_ROUNDS=$KILLS "$faults" kill_9 --nocapture 2>&1 \
        | grep "faults: kill" || true)
    # "faults: kill -9 tried N (M during a checkpoint write), ..." only when every check held
    n=$(echo "$line" | sed -n 's/.*tried \([0-9]*\).*/\1/p')
    m=$(echo "$line" | sed -n 's/.*(\([0-9]*\) during.*/\1/p')
    if [ -n "$n" ]; then
        echo "seed $seed: $line"
        ok=$((ok + n)); tried=$((tried + n)); mid=$((mid + m))
    else
        echo "seed $seed FAILED"
        tried=$((tried + KILLS))
    fi
done
echo "kill -9: tried $tried ($mid during a checkpoint write), survived (exact-once metrics, resumable) $ok, lost $((tried - ok)); $(( $(date +%s) - start )) s"

fi

if [ "$ONLY" = all ] || [ "$ONLY" = rest ]; then
echo "== the rest of the suite, once"
"$faults" --nocapture 2>&1 | grep -E "^faults:|test result|FAILED|panicked"

fi

if [ "$ONLY" = all ] || [ "$ONLY" = throughput ]; then
echo "== throughput with and without 5 stuck viewers (one detached run; $REPS windows of each kind in random order, $WINDOWS s each)"
base=$(mktemp -d)
run=$(./target/release/convtop train --detach --no-attach --epochs 100 --batch 64 \
    --eval-every 100000 --run-dir "$base")
python3 - "$run" "$REPS" "$WINDOWS" <<'PY'
import json, os, random, socket, statistics, sys, time
run, reps, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
pid = int(open(f"{run}/lock").read().split()[0])
tick = os.sysconf("SC_CLK_TCK")
def cpu():
    # the trainer's user + system CPU seconds: what the stuck viewers could cost it, whatever
    # else the shared machine runs
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick
def iters():
    out = []
    with open(f"{run}/metrics.jsonl", "rb") as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("type") == "iter":
                out.append(r["images_per_sec"])
    return out
def window():
    start, c0 = len(iters()), cpu()
    time.sleep(secs)
    got, c1 = iters()[start:], cpu()
    rates = sorted(v for v in got if isinstance(v, (int, float)))
    # images per CPU second: iterations × batch 64 / the trainer's CPU time in the window
    return statistics.median(rates) if rates else 0.0, len(got) * 64 / max(c1 - c0, 1e-9)
time.sleep(3)
# REPS windows of each kind in a seeded random order: a load that comes and goes on the shared
# machine cannot line up with one kind
order = [False] * reps + [True] * reps
random.Random(1).shuffle(order)
a, b = [], []
for with_stuck in order:
    stuck = []
    for _ in range(5 if with_stuck else 0):
        s = socket.socket(socket.AF_UNIX)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(f"{run}/control.sock")
        stuck.append(s)  # connected, never read
    (b if with_stuck else a).append(window())
    for s in stuck:
        s.close()
print("order: " + "".join("B" if x else "A" for x in order) + " (B: 5 stuck viewers)")
for name, ws in (("no viewers", a), ("5 stuck viewers", b)):
    print(f"{name:16} windows (median img/s, img per CPU s): " + ", ".join(f"({w:.0f}, {c:.0f})" for w, c in ws))
for k, what in ((0, "img/s (wall)"), (1, "img per trainer CPU second")):
    ma, mb = statistics.median(w[k] for w in a), statistics.median(w[k] for w in b)
    print(f"{what}: median {ma:.0f} without, {mb:.0f} with 5 stuck viewers, ratio {mb / ma:.3f}")
s = socket.socket(socket.AF_UNIX)
s.connect(f"{run}/control.sock")
s.sendall(b'{"v":1,"cmd":{"cmd":"stop"}}\n')
s.close()
PY
sleep 3
rm -rf "$base"
fi

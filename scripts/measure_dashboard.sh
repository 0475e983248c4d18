#!/usr/bin/env bash
# Measures what the dashboard costs, with the real binary in a real terminal (tmux):
#   1. bytes a second written to the terminal at 10 fps while training on the Training screen,
#      at 80x24 and 160x48, over SECS seconds (default 30) once the training is running;
#   2. with rounds > 0: training throughput (images/s, median over iterations from
#      metrics.jsonl) with the dashboard against headless, alternating A/B runs side by side.
# Usage: [SECS=30] scripts/measure_dashboard.sh [rounds] [epochs]
#        (needs tmux and util-linux `script`)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-0}
epochs=${2:-4}
secs=${SECS:-30}
cargo build --release -q
bin=$PWD/target/release/convtop
work=$(mktemp -d)
trap 'tmux -L convtop-measure kill-server 2>/dev/null || true; rm -rf "$work"' EXIT

median_ips() { # median images/s of the iteration records of one run directory
  python3 - "$1" <<'EOF'
import json, sys, glob, statistics
path = glob.glob(sys.argv[1] + "/*/metrics.jsonl")[0]
v = [r["images_per_sec"] for r in map(json.loads, open(path)) if r.get("type") == "iter"]
v = v[len(v) // 10:]  # skip the warm-up
print(f"{statistics.median(v):.0f}")
EOF
}

dashboard_run() { # $1 = run dir; trains $epochs epochs in an 80x24 tmux pane under `script`
  local dir=$1
  tmux -L convtop-measure new-session -d -s m -x 80 -y 24 \
    "script -q -c '$bin --run-dir $dir --epochs $epochs' $dir.typescript; touch $dir.done"
  local t0=$(date +%s.%N)
  # wait for the training to finish (the header says finished), then quit
  until tmux -L convtop-measure capture-pane -p -t m 2>/dev/null | grep -q finished; do sleep 0.5; done
  local t1=$(date +%s.%N)
  local bytes=$(stat -c %s "$dir.typescript")
  tmux -L convtop-measure send-keys -t m q
  until [ -e "$dir.done" ]; do sleep 0.2; done
  tmux -L convtop-measure kill-server 2>/dev/null || true
  python3 -c "print(f'{$bytes / ($t1 - $t0) / 1024:.1f}')"
}

steady_rate() { # $1 = WxH: bytes/s the dashboard writes over $secs s of training
  local w=${1%x*} h=${1#*x} dir=$work/rate-$1
  tmux -L convtop-measure new-session -d -s m -x "$w" -y "$h" \
    "script -q -f -c '$bin --run-dir $dir --epochs 100 --fps 10' $dir.typescript; touch $dir.done"
  until tmux -L convtop-measure capture-pane -p -t m 2>/dev/null | grep -q running; do sleep 0.5; done
  sleep 3 # past the first full frames and the first evaluation
  local b0=$(stat -c %s "$dir.typescript") t0=$(date +%s.%N)
  sleep "$secs"
  local b1=$(stat -c %s "$dir.typescript") t1=$(date +%s.%N)
  tmux -L convtop-measure send-keys -t m q
  sleep 0.5
  tmux -L convtop-measure send-keys -t m y
  until [ -e "$dir.done" ]; do sleep 0.2; done
  tmux -L convtop-measure kill-server 2>/dev/null || true
  printf '%8s  %9d  %6.1f  %6.1f\n' "$1" $((b1 - b0)) \
    "$(python3 -c "print($t1 - $t0)")" "$(python3 -c "print(($b1 - $b0) / ($t1 - $t0) / 1024)")"
}

echo "    size      bytes    secs    KB/s   (terminal output at 10 fps, budget 20 KB/s)"
for size in 80x24 160x48; do
  steady_rate "$size"
done
[ "$rounds" -gt 0 ] || exit 0

echo "round  headless img/s  dashboard img/s  ratio  terminal KB/s"
for r in $(seq "$rounds"); do
  "$bin" train --headless --epochs "$epochs" --run-dir "$work/h$r" >/dev/null
  kbs=$(dashboard_run "$work/d$r")
  h=$(median_ips "$work/h$r")
  d=$(median_ips "$work/d$r")
  python3 -c "print(f'{$r:>5}  {$h:>14}  {$d:>15}  {$d / $h:5.3f}  {$kbs:>13}')"
done

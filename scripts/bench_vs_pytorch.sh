#!/usr/bin/env bash
# convtop vs PyTorch (CPU), alternating in one run; prints the ratio per preset and batch size.
#   scripts/bench_vs_pytorch.sh --install            # once: PyTorch into a throwaway venv
#   scripts/bench_vs_pytorch.sh [--threads 1] [--nets mnist] [--batches 20,64] [--rounds 3] ...
# Not part of the test command. The venv lives in $VENV (default /tmp/convtop-torch-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-/tmp/convtop-torch-venv}
if [[ "${1:-}" == "--install" ]]; then
    shift
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet torch numpy pillow
fi
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    echo "no PyTorch in $VENV: run $0 --install first" >&2
    exit 1
fi
cargo build --release --quiet --bin convtop
exec "$VENV/bin/python" scripts/bench_vs_pytorch.py "$@"

#!/usr/bin/env bash
# The advice corpus on real data (../shared/datasets, or CONVTOP_DATASETS=DIR): every scenario
# trained without and with --autopilot; prints the README's scenario table and the precision and
# recall of every diagnostic. About 25 minutes on 2 shared cores. The embedded-data corpus runs in
# `cargo test --release --test advice_corpus`.
set -euo pipefail
cd "$(dirname "$0")/.."
CONVTOP_CORPUS=real exec cargo test --release --test advice_corpus real_data_corpus -- --nocapture

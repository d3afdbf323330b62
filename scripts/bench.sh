#!/usr/bin/env bash
# Benchmark collab_server against stock jupyter-collaboration on this machine.
#   bash scripts/bench.sh --quick     # under 2 minutes
#   bash scripts/bench.sh             # full run
# The table is printed and saved under bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet -e ".[bench]"
(cd bench && npm ci --no-audit --no-fund --loglevel=error)
.venv/bin/python -m bench.kernels_bench "$@"
exec .venv/bin/python -m bench "$@"

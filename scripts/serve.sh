#!/usr/bin/env bash
# Install collab_server into ./.venv (first run only) and start it.
# Any argument is passed to collab-server, e.g.: bash scripts/serve.sh --port=9000 --root-dir=~/notebooks
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv >/dev/null 2>&1 || python3 -m venv .venv
if [ ! -x .venv/bin/collab-server ] || [ pyproject.toml -nt .venv/.installed ]; then
  echo "Installing collab_server into .venv (first run takes a minute)..."
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e .
  touch .venv/.installed
fi
exec .venv/bin/collab-server "$@"

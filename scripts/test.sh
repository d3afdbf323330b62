#!/usr/bin/env bash
# Install everything the tests need (Python packages in ./.venv, the Node test client's
# packages), check formatting and lint, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> Python environment (.venv)"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e ".[test]"
echo "==> JavaScript test client (y-websocket + @jupyter/ydoc)"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
echo "==> Lint"
.venv/bin/ruff check collab_server tests bench examples
.venv/bin/ruff format --check collab_server tests bench examples
echo "==> Types"
.venv/bin/mypy collab_server
echo "==> Tests"
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"

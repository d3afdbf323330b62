#!/usr/bin/env bash
# Install everything the tests need (Python packages in ./.venv, the Node test client's
# packages), check formatting and lint, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> Python environment (.venv)"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e ".[test,lab]"  # lab: stock JupyterLab, tested against our rooms
echo "==> JavaScript test client (y-websocket + @jupyter/ydoc)"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
echo "==> Chromium for the browser tests (Debian's package)"
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing and cannot be installed here: the browser tests will be skipped" >&2
  fi
fi
echo "==> Web front end: the committed bundle is built from frontend/"
(cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run --silent typecheck && npm run --silent build)
if ! git diff --quiet -- collab_server/static 2>/dev/null; then
  echo "collab_server/static/ is not what frontend/ builds: run 'cd frontend && npm run build' and commit" >&2
  git --no-pager diff --stat -- collab_server/static >&2
  exit 1
fi
echo "==> Lint"
.venv/bin/ruff check collab_server tests bench examples
.venv/bin/ruff format --check collab_server tests bench examples
echo "==> Types"
.venv/bin/mypy collab_server tests
echo "==> No database in the working tree (before)"
.venv/bin/python tests/support/worktree.py
echo "==> Tests"
# A private temporary folder per run: parallel runs on one machine would otherwise share (and
# clean away each other's) /tmp/pytest-of-$USER.
basetemp="$(mktemp -d "${TMPDIR:-/tmp}/collab-tests.XXXXXX")"
# One worker per core, at most 4 (TEST_WORKERS overrides; 0 runs in this process). Each worker
# has its own shared server; a test file stays on one worker (--dist loadfile), so tests that
# build on their file's earlier ones keep their order. More workers than cores only adds load:
# measured on 2 cores, 4 workers took as long as 2 and timed out where 2 did not.
cores="$(nproc 2>/dev/null || echo 1)"
workers="${TEST_WORKERS:-$(( cores < 4 ? cores : 4 ))}"
status=0
.venv/bin/python -m pytest -q -p no:cacheprovider -n "$workers" --dist loadfile \
  --basetemp="$basetemp" "$@" || status=$?
# Silent when all is well, so pytest's summary stays the last line of the run.
.venv/bin/python tests/support/worktree.py >/dev/null || { .venv/bin/python tests/support/worktree.py; status=1; }
if [ "$status" = 0 ]; then rm -rf "$basetemp"; else echo "Test files kept in $basetemp" >&2; fi
exit "$status"

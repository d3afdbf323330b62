"""No database in the working tree, ever: find SQLite (and other database) files there.

A ``collab.sqlite`` was once committed at the repository root. Servers started by the tests
and the benchmark get explicit data directories under a temporary folder; this check makes a
regression loud: the test suite's session fixture fails if a run leaves a database file in the
working tree, and ``scripts/test.sh`` fails if there is any (``.gitignore`` hides them from a
plain ``git status``, so ignored files are listed too).

Run as ``python tests/support/worktree.py``: prints what it finds, exits 1 if anything.
"""

from __future__ import annotations

import fnmatch
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
PATTERNS = ("*.sqlite", "*.sqlite-*", "*.sqlite3", "*.db", "*.db-*")


def _git(*args: str) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    return [line for line in out.splitlines() if line]


def databases_in_worktree() -> set[str] | None:
    """Database files in the working tree (committed, untracked or ignored), as paths
    relative to the repository; None when this is not a git checkout."""
    try:
        tracked = _git("ls-files", "--", *PATTERNS)
        # Untracked and ignored entries; an ignored folder (.venv/, node_modules/) is one entry.
        status = [line[3:] for line in _git("status", "--porcelain", "--ignored")]
    except (OSError, subprocess.SubprocessError):
        return None
    found = set(tracked)
    for path in status:
        name = path.rstrip("/").rsplit("/", 1)[-1]
        if any(fnmatch.fnmatch(name, pattern) for pattern in PATTERNS):
            found.add(path)
    return found


if __name__ == "__main__":
    found = databases_in_worktree()
    if found:
        print("Database files in the working tree (a server or test ran without an explicit"
              " data directory?):", *sorted(found), sep="\n  ", file=sys.stderr)  # fmt: skip
        sys.exit(1)

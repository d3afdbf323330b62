"""Fixtures: a real server on 127.0.0.1 (shared, or fresh for crash tests) and notebooks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.notebooks import read_notebook, write_notebook
from support.server import ServerProcess
from support.worktree import databases_in_worktree

# Re-exported only for tests/browser/, which still imports them from here; every other test
# imports helpers from support.* (drop this once tests/browser/ does too).
__all__ = ["read_notebook", "write_notebook"]

# The ``browser`` fixture (Debian's Chromium through Playwright) for tests/browser/.
pytest_plugins = ["support.browser"]


@pytest.fixture(scope="session", autouse=True)
def no_database_left_in_the_working_tree() -> Iterator[None]:
    """Fail the run if it leaves a database file in the working tree (servers and tests must
    use explicit data directories under the run's temporary folder)."""
    before = databases_in_worktree()
    yield
    after = databases_in_worktree()
    if before is not None and after is not None and after - before:
        pytest.fail(
            "this test run left database files in the working tree: "
            + ", ".join(sorted(after - before)),
            pytrace=False,
        )


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the tests that do not restart it."""
    process = ServerProcess(tmp_path_factory.mktemp("shared")).start()
    yield process
    process.stop()


@pytest.fixture
def spawn_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers of this test's own (extra command-line args allowed); the test may kill
    and restart them."""
    started: list[ServerProcess] = []

    def spawn(*args: str, name: str = "server") -> ServerProcess:
        process = ServerProcess(tmp_path / name, list(args)).start()
        started.append(process)
        return process

    yield spawn
    for process in started:
        if process.alive():
            process.stop()


@pytest.fixture
def make_notebook(server: ServerProcess) -> Callable[..., str]:
    def make(sources: list[str] | None = None, name: str | None = None) -> str:
        return write_notebook(server.root, sources if sources is not None else ["x = 1"], name)

    return make

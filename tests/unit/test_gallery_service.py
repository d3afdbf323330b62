"""The gallery service in process (real SQLite, real files): executions reported from another
thread reach the log and the stored health; a file found by the start-up scan is indexed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nbformat

from collab_server.core.db import open_database
from collab_server.gallery.extract import source_hash
from collab_server.gallery.service import GalleryService


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        assert time.monotonic() < deadline, f"not true within {timeout}s"
        await asyncio.sleep(0.02)
    return value


async def test_executions_from_another_thread_reach_the_log_and_health(tmp_path: Path) -> None:
    open_database(tmp_path / "server.db").conn.close()
    root = tmp_path / "root"
    root.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a = 1", id="c0")]
    nbformat.write(nb, root / "a.ipynb")
    service = GalleryService(tmp_path / "server.db", str(root), scan_interval=0,
                             similar_interval=3600, health_delay=0.05)  # fmt: skip
    service.start()
    try:
        file_id = await until(
            lambda: service.read(lambda: service.reader_index.file_id_at("a.ipynb"))
        )
        for person in ("p1", "p2"):
            args = (file_id, "c0", 0, source_hash("a = 1"), person, person, True, time.time())
            await asyncio.to_thread(service.record_execution, *args)
        await asyncio.to_thread(service.record_run, file_id, "p1")

        async def logged() -> bool:
            rows = await service.read(lambda: service.reader_activity.executions(file_id, 0))
            return len(rows) == 2

        await until(logged)

        async def scored() -> Any:
            facts = await service.read(lambda: service.reader_index.notebook(file_id))
            return facts is not None and facts["health"] is not None and facts["runs"] == 1

        await until(scored)
    finally:
        await service.stop()

"""The gallery service in process (real SQLite, real files): executions reported from another
thread reach the log and the stored health; a file found by the start-up scan is indexed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import nbformat

from collab_server.core.db import open_database
from collab_server.gallery.extract import source_hash
from collab_server.gallery.index import Readable
from collab_server.gallery.service import GalleryService
from support.yclient import wait_until


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
        file_id = await wait_until(
            lambda: service.read(lambda: service.reader_index.file_id_at("a.ipynb"))
        )
        for person in ("p1", "p2"):
            args = (file_id, "c0", 0, source_hash("a = 1"), person, person, True, time.time())
            await asyncio.to_thread(service.record_execution, *args)
        await asyncio.to_thread(service.record_run, file_id, "p1")

        async def logged() -> bool:
            rows = await service.read(lambda: service.reader_activity.executions(file_id, 0))
            return len(rows) == 2

        await wait_until(logged)

        async def scored() -> Any:
            facts = await service.read(lambda: service.reader_index.notebook(file_id))
            return facts is not None and facts["health"] is not None and facts["runs"] == 1

        await wait_until(scored)
    finally:
        await service.stop()


async def test_kept_recommendations_are_checked_again_and_follow_views(tmp_path: Path) -> None:
    """A person's candidates are kept between requests, but a notebook they can no longer
    read is gone from the very next answer, and their own view brings new co-viewing."""
    open_database(tmp_path / "server.db").conn.close()
    root = tmp_path / "root"
    (root / "team").mkdir(parents=True)
    titles = {"a": "Alpha", "b": "Bravo", "c": "Charlie", "d": "Delta"}
    for name, title in titles.items():
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\nNotes.", id="m0")]
        nbformat.write(nb, root / "team" / f"{name}.ipynb")
    service = GalleryService(tmp_path / "server.db", str(root), scan_interval=0,
                             similar_interval=3600, recommend_ttl=3600)  # fmt: skip
    service.start()
    try:

        async def all_indexed() -> dict[str, str] | None:
            def ids() -> dict[str, str] | None:
                found = {n: service.reader_index.file_id_at(f"team/{n}.ipynb") for n in titles}
                return found if all(found.values()) else None  # type: ignore[return-value]

            return await service.read(ids)

        ids: dict[str, str] = await wait_until(all_indexed)
        # The first similarity refresh (after the first scan) drops kept candidates: let it pass.
        await wait_until(lambda: _true(service._similar_generation >= 0))
        for person, name in (("bob", "a"), ("bob", "b"), ("erin", "c"), ("erin", "d"),
                             ("carol", "a")):  # fmt: skip
            await service.record_view(ids[name], person)
        team = Readable.grants(folders=["team"])

        async def recommend(readable: Readable) -> dict[str, tuple[str, str]]:
            found = await service.read(lambda: service.recommend("carol", readable, 20, {}, 1))
            return {r.path: (r.kind, r.reason) for r in found}

        first = await recommend(team)
        assert first["team/b.ipynb"] == ("also_viewed", "People who viewed Alpha also viewed this")
        assert first["team/d.ipynb"][0] == "popular"  # no co-viewing evidence yet
        kept = service._candidates["carol"][2]

        # Carol loses read on b (same permissions revision: the kept candidates are used).
        narrowed = await recommend(Readable.grants(paths=["team/a.ipynb", "team/d.ipynb"]))
        assert service._candidates["carol"][2] is kept
        assert "team/b.ipynb" not in narrowed and "team/d.ipynb" in narrowed
        # Nor a reason naming a notebook she lost: without a, the co-viewing evidence for b
        # (which names a) is dropped; b is only a popular notebook then.
        only_b = await recommend(Readable.grants(paths=["team/b.ipynb"]))
        assert only_b["team/b.ipynb"][0] == "popular" and "Alpha" not in str(only_b)

        # Her own view of c is new evidence: d is now recommended because of c.
        await service.record_view(ids["c"], "carol")
        after = await recommend(team)
        assert after["team/d.ipynb"] == (
            "also_viewed",
            "People who viewed Charlie also viewed this",
        )
        assert "team/c.ipynb" not in after  # viewed lately
        assert service._candidates["carol"][2] is not kept
    finally:
        await service.stop()


async def _true(value: bool) -> bool:
    return value


async def test_an_index_of_an_older_text_version_is_built_again(tmp_path: Path) -> None:
    """When what is indexed of a notebook changes (Markdown without its marks), the next
    scan indexes every notebook again, also those unchanged on disk."""
    from collab_server.gallery.extract import TEXT_VERSION

    open_database(tmp_path / "server.db").conn.close()
    root = tmp_path / "root"
    root.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Quarterly **sales**", id="m0")]
    nbformat.write(nb, root / "a.ipynb")
    service = GalleryService(tmp_path / "server.db", str(root), scan_interval=0,
                             similar_interval=3600)  # fmt: skip
    service.start()
    try:
        file_id = await wait_until(
            lambda: service.read(lambda: service.reader_index.file_id_at("a.ipynb"))
        )
        indexed = "SELECT markdown FROM gallery_fts WHERE rowid ="
        indexed += " (SELECT id FROM gallery_notebooks WHERE file_id = ?)"

        def text() -> str:
            return str(service.reader_index.db.conn.execute(indexed, [file_id]).fetchone()[0])

        assert await service.read(text) == "Quarterly sales"
        assert await service.read(service.reader_index.text_version) == TEXT_VERSION

        # As an older version left it: marks in the text, an older version recorded.
        def age() -> None:
            conn = service.index.db.conn
            with conn:
                conn.execute(
                    "UPDATE gallery_fts SET markdown = '# Quarterly **sales**' WHERE rowid ="
                    " (SELECT id FROM gallery_notebooks WHERE file_id = ?)", [file_id]
                )  # fmt: skip
                conn.execute("DELETE FROM gallery_meta")

        await service.write(age)
        assert await service.scan() == 1  # the file did not change on disk
        assert await service.read(text) == "Quarterly sales"
        assert await service.read(service.reader_index.text_version) == TEXT_VERSION
        assert await service.scan() == 0  # once
    finally:
        await service.stop()

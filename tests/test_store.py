"""The update store: compaction is lossless and the store stays bounded."""

from __future__ import annotations

import asyncio
import random
import sqlite3

from jupyter_ydoc import YNotebook
from pycrdt import Doc, Text

from collab_server.core.db import open_database
from collab_server.rooms.store import UpdateStore
from support.notebooks import read_notebook, write_notebook
from support.yclient import YClient, wait_until


def replay(store: UpdateStore, room_id: str) -> Doc:
    stored = store.load(room_id)
    doc: Doc = Doc()
    if stored.snapshot is not None:
        doc.apply_update(stored.snapshot)
    for update in stored.updates:
        doc.apply_update(update)
    return doc


def test_compaction_is_lossless(tmp_path):
    store = UpdateStore(open_database(tmp_path / "db.sqlite"))
    room = "json:notebook:test"
    live = Doc()
    notebook = YNotebook(live)
    log: list[bytes] = []
    live.observe(lambda event: log.append(event.update))
    notebook.set({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    rng = random.Random(7)
    for step in range(3000):
        if step % 300 == 0:
            notebook.append_cell({"cell_type": "code", "source": "", "metadata": {}, "outputs": []})
        source: Text = notebook.ycells[rng.randrange(len(notebook.ycells))]["source"]
        text = str(source)
        if text and rng.random() < 0.3:
            # Delete one character (pycrdt counts UTF-8 bytes).
            index = rng.randrange(len(text))
            start = len(text[:index].encode())
            del source[start : start + len(text[index].encode())]
        else:
            source.insert(len(text.encode()), rng.choice("abcé😀中 \n"))
        store.append(room, log)
        log.clear()
        if step % 1000 == 999:
            before = replay(store, room)
            store.compact(room, live.get_update())
            after = replay(store, room)
            assert after.get_state() == before.get_state() == live.get_state()
            assert YNotebook(after).get() == YNotebook(live).get()
    # A second store object on the same file (a restart) reads the same document.
    reopened = UpdateStore(open_database(tmp_path / "db.sqlite"))
    assert YNotebook(replay(reopened, room)).get() == YNotebook(live).get()


async def test_store_stays_small_after_10000_edits(spawn_server):
    server = spawn_server()

    def database_file_size() -> int:
        with sqlite3.connect(server.data / "collab.sqlite") as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return (server.data / "collab.sqlite").stat().st_size

    # Every concern's (empty) tables and indexes take a few pages: what the edits cost is the
    # growth from here.
    empty_database = database_file_size()
    sources = [f"# cell {i}\n" + "value = compute(x, y)\n" * 20 for i in range(30)]
    path = write_notebook(server.root, sources)
    client = await YClient.connect(server, path, "alice-token")
    for i in range(10_000):
        client.insert(0, None, "abcdefghij"[i % 10])
        if i % 200 == 0:
            await asyncio.sleep(0)  # let the sends go out
    expected = sources[0] + "abcdefghij" * 1000
    watcher = await YClient.connect(server, path, "bob-token")
    await wait_until(lambda: watcher.text(0) == expected, 30)

    def pending_updates() -> int:
        with sqlite3.connect(f"file:{server.data / 'collab.sqlite'}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT COUNT(*) FROM updates").fetchone()[0])

    # Compaction runs in the background, shortly after a burst, while the room is open (not
    # only when it closes), at most once per ``compact_min_interval`` (10 s): wait for it with
    # the room open.
    await wait_until(lambda: pending_updates() < 1000, 25, interval=0.1)
    await client.close()
    await watcher.close()
    # The room saves when the last client leaves and compacts when it closes.
    await wait_until(lambda: read_notebook(server.root, path).cells[0].source == expected, 10)
    file_size = (server.root / path).stat().st_size

    def stored_bytes() -> int:
        with sqlite3.connect(f"file:{server.data / 'collab.sqlite'}?mode=ro", uri=True) as db:
            stored = db.execute(
                "SELECT COALESCE(SUM(length(snapshot)), 0)"
                " + COALESCE(SUM(length(saved_content)), 0) FROM documents"
            ).fetchone()[0]
            stored += db.execute("SELECT COALESCE(SUM(length(data)), 0) FROM updates").fetchone()[0]
        return int(stored)

    # The room closes (room_cleanup_delay) and compacts in the background: wait until it has.
    # Both sizes are read at the same moment: later, other concerns may legitimately add their
    # own rows about this notebook (the gallery's index of its text, a version).
    def sizes() -> tuple[int, int] | None:
        stored, grown = stored_bytes(), database_file_size() - empty_database
        return (stored, grown) if stored < 3 * file_size and grown < 3 * file_size else None

    # Generous: on a loaded machine the room's close, compaction and the incremental vacuum
    # after it can take a while (the wait ends as soon as the sizes are reached).
    stored, grown = await wait_until(sizes, 40, interval=0.2)
    assert stored < 3 * file_size
    # What the disk holds, too: the compacted log's pages go back to the file system.
    assert grown < 3 * file_size
    # And the compacted store still holds the whole document.
    server.stop()
    server.restart()
    again = await YClient.connect(server, path, "carol-token")
    assert again.text(0) == expected
    await again.close()

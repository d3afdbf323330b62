"""No data loss: kill -9, restart, stale reconnects, shutdown saves, deterministic loads."""

from __future__ import annotations

import asyncio
import signal
import sqlite3

import nbformat
import pytest
from jupyter_ydoc import YNotebook
from pycrdt import Doc

from collab_server.rooms.document import DocumentKind, deterministic_load
from support.jsclient import JsClient
from support.notebooks import read_notebook, write_notebook
from support.yclient import YClient, wait_until

NO_AUTOSAVE = ("--CollabServer.save_delay=600", "--CollabServer.max_save_interval=600")


async def test_kill_9_loses_nothing_a_client_saw(spawn_server):
    server = spawn_server(*NO_AUTOSAVE)
    path = write_notebook(server.root, ["a = 1", "b = 2"])
    writer = await YClient.connect(server, path, "alice-token")
    js = await JsClient.start()
    try:
        await js.connect(server, writer.file_id, writer.session_id, "bob-token")
        writer.insert(0, None, "\nseen by bob")
        writer.append_cell("new cell é😀")
        for _ in range(200):
            content = await js.content()
            if len(content["cells"]) == 3 and "seen by bob" in content["cells"][0]["source"]:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the JS client never saw the edit")
        # The file was never saved (no autosave): only the store holds the edit.
        assert "seen by bob" not in read_notebook(server.root, path).cells[0].source
        server.kill()
        await writer.close()
        await js.close()

        server.restart()
        reader = await YClient.connect(server, path, "carol-token")
        sources = [c["source"] for c in reader.content()["cells"]]
        assert sources == ["a = 1\nseen by bob", "b = 2", "new cell é😀"]
        # The restarted room knows it holds unsaved changes and writes them to the file.
        assert (await reader.save(1))["status"] == "success"
        assert [c.source for c in read_notebook(server.root, path).cells] == sources
        await reader.close()
    finally:
        if server.alive():
            server.stop()


async def test_stale_client_reconnects_after_crash_without_duplicates(spawn_server):
    server = spawn_server(*NO_AUTOSAVE)
    path = write_notebook(server.root, ["one", "two"])
    stale = await YClient.connect(server, path, "alice-token")
    stale.insert(0, None, "!")
    await stale.barrier()  # stored before the crash
    server.kill()
    await stale.wait_closed()
    # Edited while the server was down.
    stale.insert(1, None, " offline")
    stale.append_cell("added offline")
    server.restart()
    await stale.reconnect()
    other = await YClient.connect(server, path, "bob-token")
    try:
        expected = ["one!", "two offline", "added offline"]
        await wait_until(lambda: [c["source"] for c in other.content()["cells"]] == expected, 5)
        assert [c["source"] for c in stale.content()["cells"]] == expected
        ids = [c["id"] for c in other.content()["cells"]]
        assert len(ids) == len(set(ids)) == 3
    finally:
        await stale.close()
        await other.close()


async def test_js_client_reconnects_by_itself_after_restart(spawn_server):
    server = spawn_server(*NO_AUTOSAVE)
    path = write_notebook(server.root, ["x"])
    first = await YClient.connect(server, path, "alice-token")
    js = await JsClient.start()
    try:
        await js.connect(server, first.file_id, first.session_id, "bob-token")
        await first.close()
        server.kill()
        await js.call("insertText", cell=0, index=1, text="y")  # typed while offline
        server.restart()
        await js.call("waitSynced", timeout=30)
        check = await YClient.connect(server, path, "carol-token")
        await wait_until(lambda: check.text(0) == "xy", 10)
        assert len(check.content()["cells"]) == 1
        await check.close()
    finally:
        await js.close()


async def test_client_from_a_lost_history_is_refused_not_merged(spawn_server):
    server = spawn_server()
    path = write_notebook(server.root, ["x"])
    client = await YClient.connect(server, path, "alice-token")
    client.append_cell("only in the old history")
    await client.barrier()  # stored before the crash
    server.kill()
    await client.wait_closed()
    # The operator resets the update store: the document's history starts over (its file id
    # is kept, so the client's URL still names the room).
    with sqlite3.connect(server.data / "collab.sqlite") as db:
        db.execute("DELETE FROM updates")
        db.execute("DELETE FROM documents")
    server.restart()
    await client.open(client.url)  # still carries the old session id in its URL
    assert await client.wait_closed() == 1003
    assert "unknown_session" in client.close_reason


async def test_first_load_is_deterministic():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a"), nbformat.v4.new_markdown_cell("# é")]
    content = nbformat.from_dict(nb)
    kind = DocumentKind("json", "notebook")
    # Two servers loading the same file build the same items: merging them changes nothing.
    one, two = Doc(), Doc()
    one.apply_update(deterministic_load(kind, content))
    two.apply_update(deterministic_load(kind, content))
    assert one.get_state() == two.get_state()
    before = YNotebook(one).get()
    one.apply_update(two.get_update())
    assert one.get_state() == two.get_state()
    assert YNotebook(one).get() == before
    assert len(before["cells"]) == 2


async def test_cell_ids_are_given_deterministically_to_old_notebooks():
    nb = {
        "nbformat": 4,
        "nbformat_minor": 4,
        "metadata": {},
        "cells": [
            {
                "cell_type": "code",
                "source": "a",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
            }
        ],
    }
    kind = DocumentKind("json", "notebook")
    one, two = Doc(), Doc()
    one.apply_update(deterministic_load(kind, nb))
    two.apply_update(deterministic_load(kind, nb))
    one.apply_update(two.get_update())
    cells = YNotebook(one).get()["cells"]
    assert len(cells) == 1 and cells[0]["id"].startswith("cell-")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_shutdown_saves_open_documents(spawn_server, sig):
    server = spawn_server(*NO_AUTOSAVE)
    path = write_notebook(server.root, ["before"])
    client = await YClient.connect(server, path, "alice-token")
    client.insert(0, None, " after")
    await client.barrier()  # the server holds the edit
    assert read_notebook(server.root, path).cells[0].source == "before"
    assert server.stop(sig) == 0  # a clean, prompt exit (not killed after the timeout)
    assert read_notebook(server.root, path).cells[0].source == "before after"
    await client.close()


async def test_last_client_leaving_saves(spawn_server):
    server = spawn_server(*NO_AUTOSAVE)
    path = write_notebook(server.root, ["a"])
    client = await YClient.connect(server, path, "alice-token")
    client.insert(0, None, "b")
    await client.barrier()  # the server holds the edit before the client leaves
    await client.close()
    await wait_until(lambda: read_notebook(server.root, path).cells[0].source == "ab", 5)


async def test_restart_does_not_duplicate_cells(spawn_server):
    server = spawn_server()
    path = write_notebook(server.root, ["1", "2", "3"])
    for round_ in range(3):
        client = await YClient.connect(server, path, "alice-token")
        client.insert(0, None, str(round_))
        await client.save(1)
        await client.close()
        server.stop()
        server.restart()
    client = await YClient.connect(server, path, "alice-token")
    assert [c["source"] for c in client.content()["cells"]] == ["1012", "2", "3"]
    assert len(read_notebook(server.root, path).cells) == 3
    await client.close()

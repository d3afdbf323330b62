"""Changes made to a file outside the server (an editor, ``git pull``) are merged into the open
room cell by cell, keeping what collaborators typed and have not saved yet."""

from __future__ import annotations

import asyncio

import nbformat

from support.jsclient import JsClient
from support.notebooks import read_notebook, write_notebook
from support.yclient import YClient, wait_until

NO_AUTOSAVE = ("--CollabServer.save_delay=600", "--CollabServer.max_save_interval=600")


def edit_on_disk(root, path, change) -> None:
    nb = nbformat.read(root / path, as_version=4)
    change(nb)
    nbformat.write(nb, root / path)


async def test_outside_edit_is_merged_as_cell_changes(spawn_server):
    server = spawn_server(*NO_AUTOSAVE)
    path = write_notebook(server.root, ["mine", "theirs", "doomed", "kept"])
    client = await YClient.connect(server, path, "alice-token")
    js = await JsClient.start()
    try:
        await js.connect(server, client.file_id, client.session_id, "bob-token")
        client.insert(0, None, " (unsaved edit)")
        await client.barrier()  # the room holds the edit before the file changes

        def change(nb):
            nb.cells[1].source = "theirs, changed in git"
            del nb.cells[2]
            nb.cells.append(nbformat.v4.new_markdown_cell("# added by git"))

        edit_on_disk(server.root, path, change)
        expected = ["mine (unsaved edit)", "theirs, changed in git", "kept", "# added by git"]
        await wait_until(lambda: [c["source"] for c in client.content()["cells"]] == expected, 5)
        for _ in range(100):
            if [c["source"] for c in (await js.content())["cells"]] == expected:
                break
            await asyncio.sleep(0.05)
        assert [c["source"] for c in (await js.content())["cells"]] == expected
        assert client.content()["cells"][3]["cell_type"] == "markdown"
        # Saving now writes both: the outside change and the unsaved edit.
        assert (await client.save(1))["status"] == "success"
        assert [c.source for c in read_notebook(server.root, path).cells] == expected
    finally:
        await client.close()
        await js.close()


async def test_untouched_cells_keep_their_crdt_items(spawn_server):
    """A wholesale replace would give every cell new items (and break cursors and history)."""
    server = spawn_server(*NO_AUTOSAVE)
    path = write_notebook(server.root, ["stable", "changes"])
    client = await YClient.connect(server, path, "alice-token")
    try:
        stable = client.notebook.ycells[0]["source"]
        edit_on_disk(server.root, path, lambda nb: setattr(nb.cells[1], "source", "changed"))
        await wait_until(lambda: client.text(1) == "changed", 5)
        # The same Text object is still the first cell's source, with the same content.
        assert str(client.notebook.ycells[0]["source"]) == "stable"
        stable.insert(0, ">")
        await wait_until(lambda: client.text(0) == ">stable", 2)
    finally:
        await client.close()


async def test_change_made_while_the_room_was_closed_is_merged_on_open(spawn_server):
    server = spawn_server()
    path = write_notebook(server.root, ["a", "b"])
    client = await YClient.connect(server, path, "alice-token")
    client.insert(0, None, "1")
    assert (await client.save(1))["status"] == "success"
    await client.close()
    server.stop()
    edit_on_disk(server.root, path, lambda nb: nb.cells.append(nbformat.v4.new_code_cell("c")))
    server.restart()
    again = await YClient.connect(server, path, "alice-token")
    try:
        assert [c["source"] for c in again.content()["cells"]] == ["a1", "b", "c"]
    finally:
        await again.close()


async def test_outside_change_to_a_text_file(server):
    (server.root / "notes.txt").write_text("hello\n")
    client = await YClient.connect(server, "notes.txt", "alice-token", kind=("text", "file"))
    try:
        assert client.file_text() == "hello\n"
        (server.root / "notes.txt").write_text("hello\nworld é\n")
        await wait_until(lambda: client.file_text() == "hello\nworld é\n", 5)
        YClient_insert = client.doc.get("source", type=__import__("pycrdt").Text)
        YClient_insert.insert(0, b"> ".decode())
        assert (await client.save(2))["status"] == "success"
        assert (server.root / "notes.txt").read_text() == "> hello\nworld é\n"
    finally:
        await client.close()

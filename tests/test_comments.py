"""Comments against a real server: the REST API, rights, anchoring while people type, the
server-authoritative comments room, the threads in the .ipynb, restarts and bad input."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import nbformat
import pytest
from pycrdt import Map

from support.notebooks import read_notebook, write_notebook
from support.yclient import YClient, open_session, wait_until

API = "/api/collab/comments"


def cell_ids(server: Any, path: str) -> list[str]:
    return [cell.id for cell in read_notebook(server.root, path).cells]


async def post(server: Any, url: str, body: Any, token: str = "commenter-token") -> httpx.Response:
    async with server.client(token) as c:
        return await c.post(url, json=body)


async def threads(server: Any, path: str, status: str = "all", token: str = "viewer-token") -> list:
    async with server.client(token) as c:
        r = await c.get(f"{API}/{path}", params={"status": status})
        assert r.status_code == 200, r.text
        return r.json()["threads"]


async def new_thread(server: Any, path: str, target: dict, body: str = "Look") -> dict:
    r = await post(server, f"{API}/{path}", {"target": target, "body": body})
    assert r.status_code == 201, r.text
    return r.json()


# -- the REST API and who may use it ---------------------------------------------------------


async def test_commenter_creates_replies_resolves_and_reopens(server, make_notebook):
    path = make_notebook(["x = 1"])
    cell = cell_ids(server, path)[0]
    thread = await new_thread(server, path, {"type": "cell", "cellId": cell}, "Why **1**?")
    assert thread["author"] == {"id": "cora", "name": "Cora Commenter", "verified": True}
    assert thread["status"] == "open" and thread["anchor"] == "attached"
    assert thread["comments"][0]["body"] == "Why **1**?"
    r = await post(
        server, f"{API}/{path}/{thread['id']}/replies", {"body": "Because."}, "alice-token"
    )
    assert r.status_code == 201 and r.json()["author"]["id"] == "alice"
    async with server.client("commenter-token") as c:
        resolved = await c.patch(f"{API}/{path}/{thread['id']}", json={"status": "resolved"})
        assert resolved.json()["status"] == "resolved"
        assert resolved.json()["resolvedBy"]["id"] == "cora" and resolved.json()["resolvedAt"]
        assert await threads(server, path, "open") == []
        reopened = await c.patch(f"{API}/{path}/{thread['id']}", json={"status": "open"})
        assert reopened.json()["status"] == "open" and reopened.json()["resolvedBy"] is None
    [listed] = await threads(server, path, "open")
    assert [c["body"] for c in listed["comments"]] == ["Why **1**?", "Because."]


async def test_threads_on_an_output(server):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(1)", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="1\n")])]  # fmt: skip
    nbformat.write(nb, server.root / "with-output.ipynb")
    cell = nb.cells[0].id
    thread = await new_thread(server, "with-output.ipynb", {"type": "output", "cellId": cell,
                                                            "index": 0}, "odd output")  # fmt: skip
    assert thread["target"] == {"type": "output", "cellId": cell, "index": 0}
    assert thread["anchor"] == "attached"


async def test_viewer_reads_but_cannot_comment(server, make_notebook):
    path = make_notebook(["x"])
    await new_thread(server, path, {"type": "notebook"})
    assert len(await threads(server, path, token="viewer-token")) == 1
    r = await post(server, f"{API}/{path}", {"target": {"type": "notebook"}, "body": "hi"},
                   "viewer-token")  # fmt: skip
    assert r.status_code == 403
    async with server.client("tenant-a-token") as c:  # no rights outside team-a
        assert (await c.get(f"{API}/{path}")).status_code == 403
        assert (await c.get(f"{API}/no-such.ipynb")).status_code == 403


async def test_own_comments_only_are_edited_and_deleted(server, make_notebook):
    path = make_notebook(["x"])
    thread = await new_thread(server, path, {"type": "notebook"}, "first")
    first = thread["comments"][0]["id"]
    url = f"{API}/{path}/{thread['id']}"
    async with server.client("commenter2-token") as other:
        assert (await other.patch(f"{url}/replies/{first}", json={"body": "x"})).status_code == 403
        assert (await other.delete(f"{url}/replies/{first}")).status_code == 403
        assert (await other.delete(url)).status_code == 403  # not the author, not an editor
    async with server.client("commenter-token") as me:
        edited = await me.patch(f"{url}/replies/{first}", json={"body": "first, edited"})
        assert edited.json()["body"] == "first, edited" and edited.json()["editedAt"]
        reply = (await me.post(f"{url}/replies", json={"body": "second"})).json()
        gone = await me.delete(f"{url}/replies/{first}")
        assert gone.status_code == 200 and gone.json()["deleted"] is True
    [kept] = await threads(server, path)
    assert [(c["deleted"], c["body"]) for c in kept["comments"]] == [(True, ""), (False, "second")]
    assert kept["comments"][1]["id"] == reply["id"]
    async with server.client("alice-token") as editor:  # editors delete any thread
        assert (await editor.delete(url)).status_code == 204
        assert (await editor.delete(url)).status_code == 404
    assert await threads(server, path) == []


async def test_twenty_concurrent_replies_are_all_kept(server, make_notebook):
    path = make_notebook(["x"])
    thread = await new_thread(server, path, {"type": "notebook"})
    tokens = ["alice-token", "bob-token", "carol-token", "commenter-token", "commenter2-token"]

    async def reply(i: int) -> int:
        r = await post(server, f"{API}/{path}/{thread['id']}/replies", {"body": f"reply {i}"},
                       tokens[i % len(tokens)])  # fmt: skip
        return r.status_code

    assert await asyncio.gather(*(reply(i) for i in range(20))) == [201] * 20
    [kept] = await threads(server, path)
    assert sorted(c["body"] for c in kept["comments"][1:]) == sorted(
        f"reply {i}" for i in range(20)
    )


async def test_bad_input_gets_a_clear_error(server, make_notebook):
    path = make_notebook(["short"])
    cell = cell_ids(server, path)[0]
    thread = await new_thread(server, path, {"type": "notebook"})
    (server.root / "plain.txt").write_text("not a notebook")
    cases = [
        (f"{API}/missing.ipynb", {"target": {"type": "notebook"}, "body": "x"}, 404),
        (f"{API}/plain.txt", {"target": {"type": "notebook"}, "body": "x"}, 400),
        (f"{API}/{path}", {"target": {"type": "cell", "cellId": "nope"}, "body": "x"}, 404),
        (
            f"{API}/{path}",
            {"target": {"type": "text", "cellId": cell, "start": 2, "end": 99}, "body": "x"},
            400,
        ),
        (
            f"{API}/{path}",
            {"target": {"type": "text", "cellId": cell, "start": 4, "end": 2}, "body": "x"},
            400,
        ),
        (
            f"{API}/{path}",
            {"target": {"type": "text", "cellId": cell, "start": "0", "end": 2}, "body": "x"},
            400,
        ),
        (
            f"{API}/{path}",
            {"target": {"type": "output", "cellId": cell, "index": 0}, "body": "x"},
            400,
        ),
        (f"{API}/{path}", {"target": {"type": "notebook"}, "body": "   "}, 400),
        (f"{API}/{path}", {"target": {"type": "notebook"}, "body": "x" * 10_001}, 400),
        (f"{API}/{path}", {"target": {"type": "notebook"}, "body": 5}, 400),
        (f"{API}/{path}", {"target": "notebook", "body": "x"}, 400),
        (f"{API}/{path}", [1, 2], 400),
        (f"{API}/{path}/no-such-thread/replies", {"body": "x"}, 404),
        (f"{API}/{path}/{thread['id']}/replies", {"body": ""}, 400),
    ]
    for url, body, status in cases:
        r = await post(server, url, body)
        assert r.status_code == status, (url, body, r.text)
        assert r.json()["message"], (url, body)
    async with server.client("commenter-token") as c:
        malformed = await c.post(f"{API}/{path}", content=b"{oops",
                                 headers={"Content-Type": "application/json"})  # fmt: skip
        assert malformed.status_code == 400
        assert (
            await c.patch(f"{API}/{path}/{thread['id']}", json={"status": "x"})
        ).status_code == 400
        assert (await c.patch(f"{API}/{path}/nope", json={"status": "open"})).status_code == 404
        assert (await c.get(f"{API}/{path}", params={"status": "maybe"})).status_code == 400
    assert len(await threads(server, path)) == 1  # nothing else was created


# -- the comments room is the server's -----------------------------------------------------------


async def open_comments_room(server: Any, path: str, token: str) -> YClient:
    session = (await open_session(server.http_url, path, token)).json()
    client = YClient()
    await client.open(
        f"{server.ws_url}/api/collaboration/room/json:comments:{session['fileId']}?token={token}"
    )
    await asyncio.wait_for(client.synced.wait(), 10)
    return client


async def test_comments_room_is_live_and_refuses_client_writes(server, make_notebook):
    path = make_notebook(["x"])
    watcher = await open_comments_room(server, path, "viewer-token")
    forger = await open_comments_room(server, path, "commenter-token")
    editor = await open_comments_room(server, path, "alice-token")
    try:
        thread = await new_thread(server, path, {"type": "notebook"}, "live")
        stored = watcher.doc.get("threads", type=Map)
        await wait_until(lambda: thread["id"] in stored, 5)
        assert json.loads(stored[thread["id"]])["comments"][0]["body"] == "live"
        forged = {**thread, "id": "forged", "author": {"id": "ceo", "name": "The CEO"}}
        forger.doc.get("threads", type=Map)["forged"] = json.dumps(forged)
        editor.doc.get("threads", type=Map)["forged-too"] = json.dumps(forged)  # editors neither
        for client in (forger, editor, watcher):  # handled, and whatever came of it received
            await client.barrier()
        assert "forged" not in stored and "forged-too" not in stored
        assert [t["id"] for t in await threads(server, path)] == [thread["id"]]
    finally:
        await watcher.close()
        await forger.close()
        await editor.close()


async def test_commenter_cannot_edit_cells(server, make_notebook):
    path = make_notebook(["original"])
    editor = await YClient.connect(server, path, "alice-token")
    commenter = await YClient.connect(server, path, "commenter-token")
    try:
        commenter.insert(0, 0, "HACKED ")
        editor.insert(0, None, "!")
        await wait_until(lambda: commenter.text(0).endswith("original!"), 5)
        await commenter.barrier()  # the server has handled the commenter's edit
        await editor.barrier()  # and the editor has received whatever came of it
        assert editor.text(0) == "original!"  # the commenter's edit never reached anyone
    finally:
        await editor.close()
        await commenter.close()


# -- anchoring --------------------------------------------------------------------------------


async def test_range_stays_on_its_words_while_two_people_type(server, make_notebook):
    path = make_notebook(["print('hello world')"])
    cell = cell_ids(server, path)[0]
    a = await YClient.connect(server, path, "alice-token")
    b = await YClient.connect(server, path, "bob-token")
    try:
        thread = await new_thread(server, path, {"type": "text", "cellId": cell, "start": 7,
                                                 "end": 18})  # fmt: skip
        assert thread["target"]["exact"] == "hello world"
        a.insert(0, 0, "# greet\n")  # before the range
        b.insert(0, 13, "brave ")  # "print('hello brave world')" from b's view: inside
        await wait_until(lambda: a.text(0) == b.text(0) and "brave" in a.text(0), 5)
        a.insert(0, None, "  # done")  # after the range
        await wait_until(lambda: b.text(0).endswith("# done"), 5)
        [moved] = await threads(server, path)
        text = a.text(0)
        target = moved["target"]
        assert moved["anchor"] == "attached"
        assert target["exact"] == "hello brave world"
        assert text[target["start"] : target["end"]] == "hello brave world"
    finally:
        await a.close()
        await b.close()


async def test_non_ascii_before_a_range_does_not_shift_it(server, make_notebook):
    path = make_notebook(["é😀 中文 target end"])
    cell = cell_ids(server, path)[0]
    a = await YClient.connect(server, path, "alice-token")
    try:
        thread = await new_thread(server, path, {"type": "text", "cellId": cell, "start": 6,
                                                 "end": 12})  # fmt: skip
        assert thread["target"]["exact"] == "target"
        a.insert(0, 0, "🎉🎉ü")
        await wait_until(lambda: a.text(0).startswith("🎉"), 5)
        [moved] = await threads(server, path)
        assert (moved["target"]["start"], moved["target"]["end"]) == (9, 15)
        assert moved["target"]["exact"] == "target"
        await wait_until(lambda: _file_threads(server, path) and
                         _file_threads(server, path)[0]["target"]["start"] == 9, 5)  # fmt: skip
    finally:
        await a.close()


async def test_deleting_the_text_or_the_cell_detaches_and_keeps_the_quote(server, make_notebook):
    path = make_notebook(["keep this phrase here", "second cell"])
    first, second = cell_ids(server, path)
    a = await YClient.connect(server, path, "alice-token")
    try:
        on_text = await new_thread(server, path, {"type": "text", "cellId": first, "start": 5,
                                                  "end": 16})  # fmt: skip
        on_cell = await new_thread(server, path, {"type": "cell", "cellId": second})
        a.delete(0, 2, 19)
        a.notebook.delete_cell(1) if hasattr(a.notebook, "delete_cell") else a.notebook.ycells.pop(
            1
        )
        await wait_until(lambda: len(a.notebook.ycells) == 1, 5)
        await a.barrier()  # the server has applied both (listing threads re-anchors them)
        found = {t["id"]: t for t in await threads(server, path)}
        assert found[on_text["id"]]["anchor"] == "detached"
        assert found[on_text["id"]]["target"]["exact"] == "this phrase"
        assert found[on_cell["id"]]["anchor"] == "detached"
        # Typing the words again does not re-attach by guesswork.
        a.insert(0, None, " this phrase")
        await a.barrier()
        found = {t["id"]: t for t in await threads(server, path)}
        assert found[on_text["id"]]["anchor"] == "detached"
    finally:
        await a.close()


# -- the .ipynb carries the threads ----------------------------------------------------------------


def _file_threads(server: Any, path: str) -> list:
    try:
        nb = json.loads((server.root / path).read_text(encoding="utf-8"))
    except ValueError:
        return []
    return nb.get("metadata", {}).get("collab", {}).get("comments", {}).get("threads", [])


async def test_threads_are_saved_in_the_notebook_file(server, make_notebook):
    path = make_notebook(["a = 1"])
    cell = cell_ids(server, path)[0]
    thread = await new_thread(server, path, {"type": "text", "cellId": cell, "start": 4,
                                             "end": 5}, "Why one?")  # fmt: skip
    await wait_until(lambda: _file_threads(server, path), 5)
    nb = read_notebook(server.root, path)
    stored = nb.metadata["collab"]["comments"]
    assert stored["schemaVersion"] == 1
    [saved] = stored["threads"]
    assert saved["id"] == thread["id"]
    assert saved["target"] == {"type": "text", "cellId": cell, "start": 4, "end": 5,
                               "exact": "1", "prefix": "a = ", "suffix": ""}  # fmt: skip
    assert saved["comments"][0]["body"] == "Why one?"
    nbformat.validate(nb)  # still a valid notebook for plain JupyterLab
    # The notebook document itself never holds the comments.
    a = await YClient.connect(server, path, "alice-token")
    try:
        assert "collab" not in a.content()["metadata"]
    finally:
        await a.close()


@pytest.mark.timeout(120)
async def test_threads_survive_a_restart_and_travel_with_the_file(spawn_server):
    one = spawn_server()
    path = write_notebook(one.root, ["x = 'needle in a haystack'"], "travel.ipynb")
    cell = cell_ids(one, path)[0]
    thread = await new_thread(one, path, {"type": "text", "cellId": cell, "start": 17,
                                          "end": 25}, "found it")  # fmt: skip
    await wait_until(lambda: _file_threads(one, path), 5)
    one.kill()
    one.restart()
    [after] = await threads(one, path)
    assert after["id"] == thread["id"] and after["anchor"] == "attached"
    assert after["target"]["exact"] == "haystack"
    # Copied to another server (no shared store), edited elsewhere first: the quote re-anchors.
    two = spawn_server(name="other")
    nb = json.loads((one.root / path).read_text(encoding="utf-8"))
    nb["cells"][0]["source"] = "# moved down\nx = 'needle in a haystack'"
    (two.root / path).write_text(json.dumps(nb), encoding="utf-8")
    [copied] = await threads(two, path)
    assert copied["anchor"] == "attached"
    assert copied["target"]["exact"] == "haystack"
    assert (copied["target"]["start"], copied["target"]["end"]) == (30, 38)
    # A quote that is gone from the file detaches; the thread is kept.
    nb["cells"][0]["source"] = "x = 'something else'"
    (two.root / "gone.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    [gone] = await threads(two, "gone.ipynb")
    assert gone["anchor"] == "detached" and gone["target"]["exact"] == "haystack"


async def test_my_open_threads_across_notebooks(server, make_notebook):
    first, second = make_notebook(["a"]), make_notebook(["b"])
    mine = await new_thread(server, first, {"type": "notebook"}, "mine")
    other = await post(server, f"{API}/{second}", {"target": {"type": "notebook"}, "body": "x"},
                       "alice-token")  # fmt: skip
    replied = other.json()
    await post(server, f"{API}/{second}/{replied['id']}/replies", {"body": "me too"})
    async with server.client("commenter-token") as c:
        listed = (await c.get(API, params={"status": "open", "mine": "1"})).json()["threads"]
    ids = {t["id"]: t["path"] for t in listed}
    assert ids[mine["id"]] == first and ids[replied["id"]] == second
    async with server.client("tenant-a-token") as c:  # may read nothing here
        assert (await c.get(API, params={"status": "all"})).json()["threads"] == []

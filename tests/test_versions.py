"""Versions against a real server: label, list, read, diff, restore as a forward edit while
people type, publishing, cloning, and every bad input."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import nbformat

from conftest import read_notebook, write_notebook
from support.jsclient import JsClient
from support.yclient import YClient, wait_until

API = "/api/collab/versions"


async def call(
    server: Any, method: str, url: str, token: str = "alice-token", **kwargs: Any
) -> httpx.Response:
    async with server.client(token) as c:
        return await c.request(method, url, **kwargs)


async def label(server: Any, path: str, name: str | None = None, token: str = "alice-token") -> Any:
    r = await call(server, "POST", f"{API}/{path}", token, json={"label": name} if name else {})
    assert r.status_code == 201, r.text
    return r.json()


def write_with_output(server: Any, sources: list[str]) -> str:
    path = write_notebook(server.root, sources)
    nb = read_notebook(server.root, path)
    # Comment threads in the file (as the comments service writes them): never published.
    nb.metadata["collab"] = {"comments": {"schemaVersion": 1, "threads": []}}
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="secret\n")]
    nb.cells[0].execution_count = 1
    nbformat.write(nb, server.root / path)
    return path


def sources(nb: dict) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"]]


# -- label, list, read, diff ---------------------------------------------------------------


async def test_label_list_read_and_diff(server):
    path = write_with_output(server, ["a = 1", "b = 2"])
    first = await label(server, path, "first")
    assert first["kind"] == "save" and first["label"] == "first"
    assert first["authors"] == [{"id": "alice", "name": "Alice Editor"}]
    assert first["parent"] is None and first["size"] > 0

    client = await YClient.connect(server, path)
    try:
        client.insert(1, None, "0")  # b = 20, in the live room only (not saved yet)
        await wait_until(lambda: "b = 20" in str(client.text(1)))
        # The label is of the live document (the room), not of the file on disk.
        second = await label(server, path, "second")
    finally:
        await client.close()
    assert second["parent"] == first["id"] and second["id"] != first["id"]

    r = await call(server, "GET", f"{API}/{path}", "viewer-token")
    assert r.status_code == 200
    listed = r.json()
    assert [v["id"] for v in listed["versions"]] == [second["id"], first["id"]]
    assert listed["next"] is None
    page = (await call(server, "GET", f"{API}/{path}?limit=1")).json()
    assert [v["id"] for v in page["versions"]] == [second["id"]] and page["next"] is not None
    older = (await call(server, "GET", f"{API}/{path}?limit=1&before={page['next']}")).json()
    assert [v["id"] for v in older["versions"]] == [first["id"]]

    kept = (await call(server, "GET", f"{API}/{path}/{first['id']}", "viewer-token")).json()
    assert sources(kept) == ["a = 1", "b = 2"]
    assert kept["cells"][0]["outputs"][0]["text"] == "secret\n"
    nbformat.validate(nbformat.from_dict(kept))
    stripped = (await call(server, "GET", f"{API}/{path}/{first['id']}?outputs=strip")).json()
    assert stripped["cells"][0]["outputs"] == []
    assert stripped["cells"][0]["execution_count"] is None

    between = await call(server, "GET", f"{API}/{path}/{first['id']}/diff?to={second['id']}")
    assert between.status_code == 200
    diff = between.json()["diff"]
    # (The room's document also gained jupyter_ydoc's empty kernelspec/language_info.)
    cells = [e for e in diff if e["key"] == "cells"]
    assert [e["key"] for e in cells[0]["diff"]] == [1], diff  # only the second cell changed
    assert {e["key"] for e in diff} <= {"cells", "metadata"}
    to_current = await call(server, "GET", f"{API}/{path}/{second['id']}/diff?to=current")
    assert to_current.json()["diff"] == []  # the live document is the second version


async def test_label_of_unchanged_content_is_the_same_version(server):
    path = write_notebook(server.root, ["x = 1"])
    first = await label(server, path)
    again = await label(server, path)
    assert again["id"] == first["id"] and again["number"] == first["number"]


# -- restore ---------------------------------------------------------------------------------


async def test_restore_is_a_forward_edit_while_two_people_type(server):
    path = write_notebook(server.root, ["a = 1", "b = 2", "c = 3"])
    alice = await YClient.connect(server, path, "alice-token")
    bob = await YClient.connect(server, path, "bob-token")
    try:
        old = await label(server, path, "before the mess")
        ids_before = [c["id"] for c in alice.content()["cells"]]
        alice.insert(0, None, "00")  # a = 100
        bob.append_cell("d = 4")
        await wait_until(lambda: len(alice.content()["cells"]) == 4 and "a = 100" in alice.text(0))
        await label(server, path, "the mess")

        typed = {"alice": "", "bob": ""}
        restored = asyncio.Event()
        after_restore = {"alice": "", "bob": ""}

        async def type_into(client: YClient, who: str, cell: int, letters: str) -> None:
            # Types before, during and after the restore: until it answered, then 10 more.
            extra = 10
            for i in range(10_000):
                ch = letters[i % len(letters)]
                client.insert(cell, None, ch)
                typed[who] += ch
                if restored.is_set():
                    after_restore[who] += ch
                    extra -= 1
                    if not extra:
                        return
                await asyncio.sleep(0.003)  # a fast typist, not a proof of anything

        async def restore() -> httpx.Response:
            await asyncio.sleep(0.05)
            r = await call(server, "POST", f"{API}/{path}/{old['id']}/restore", "carol-token")
            restored.set()
            return r

        results = await asyncio.gather(
            type_into(alice, "alice", 1, "abcdefghijklmnopqrstuvwxyz"),
            type_into(bob, "bob", 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
            restore(),
        )
        r = results[2]
        assert r.status_code == 201, r.text
        version = r.json()
        assert version["kind"] == "restore" and version["id"] == old["id"]
        assert version["authors"] == [{"id": "carol", "name": "Carol Editor"}]

        def converged() -> bool:
            return alice.content() == bob.content() and len(alice.content()["cells"]) == 3

        await wait_until(converged)
        cells = alice.content()["cells"]
        # The restore reverted what the room had; keystrokes it did not see are all there,
        # in order, after the restored text: nothing typed after it was lost.
        assert cells[0]["source"] == "a = 1"
        for cell, start, who in ((cells[1], "b = 2", "alice"), (cells[2], "c = 3", "bob")):
            assert cell["source"].startswith(start)
            tail = cell["source"][len(start) :]
            assert typed[who].endswith(tail), (tail, typed[who])
            assert len(after_restore[who]) == 10 and tail.endswith(after_restore[who])
            assert len(tail) < len(typed[who])  # the restore did revert what it saw
        ids = [c["id"] for c in cells]
        assert ids == ids_before and len(set(ids)) == 3  # same cells, no duplicates
        assert alice.close_code is None and bob.close_code is None  # nobody reconnected

        listed = (await call(server, "GET", f"{API}/{path}")).json()["versions"]
        assert listed[0]["kind"] == "restore"
        # What the restore replaced was kept, so the restore can be undone.
        assert any(v["kind"] == "auto" for v in listed[:2]) or listed[1]["label"] == "the mess"
    finally:
        await alice.close()
        await bob.close()


async def test_restore_reaches_jupyterlabs_client_as_an_edit(server):
    """The JS client (y-websocket + @jupyter/ydoc, what JupyterLab runs) types during a
    restore: it keeps its connection, converges, and its later keystrokes are all there."""
    path = write_notebook(server.root, ["a = 1", "b = 2"])
    py = await YClient.connect(server, path, "alice-token")
    js = await JsClient.start()
    try:
        await js.connect(server, py.file_id, py.session_id, "bob-token")
        old = await label(server, path)
        py.insert(0, None, "00")
        py.append_cell("c = 3")
        await wait_until(lambda: len(py.content()["cells"]) == 3)
        for i in range(5):
            await js.call("insertText", cell=1, index=len("b = 2") + i, text="x")
        await wait_until(lambda: py.text(1) == "b = 2xxxxx")  # the room has them
        r = await call(server, "POST", f"{API}/{path}/{old['id']}/restore", "carol-token")
        assert r.status_code == 201, r.text
        await wait_until(lambda: [c["source"] for c in py.content()["cells"]] == ["a = 1", "b = 2"])
        for i in range(5):
            await js.call("insertText", cell=1, index=len("b = 2") + i, text="y")
        await wait_until(lambda: py.text(1) == "b = 2yyyyy")
        cells = None
        for _ in range(200):
            cells = (await js.content())["cells"]
            if [c["source"] for c in cells] == ["a = 1", "b = 2yyyyy"]:
                break
            await asyncio.sleep(0.05)
        assert cells is not None and [c["source"] for c in cells] == ["a = 1", "b = 2yyyyy"]
        assert [c["id"] for c in cells] == [c["id"] for c in py.content()["cells"]]
        status = await js.call("status")
        assert status["connected"] and not status["closes"]
        assert py.close_code is None
    finally:
        await js.close()
        await py.close()


async def test_restore_without_an_open_room_writes_the_file(server):
    path = write_notebook(server.root, ["one"])
    old = await label(server, path)
    nb = read_notebook(server.root, path)
    nb.cells.append(nbformat.v4.new_code_cell("two"))
    nb.cells[0].source = "ONE"
    nbformat.write(nb, server.root / path)
    await label(server, path)
    r = await call(server, "POST", f"{API}/{path}/{old['id']}/restore")
    assert r.status_code == 201, r.text
    await wait_until(lambda: [c.source for c in read_notebook(server.root, path).cells] == ["one"])


# -- publishing and cloning -------------------------------------------------------------------


async def test_publish_strips_outputs_and_versions_under_one_id(server):
    path = write_with_output(server, ["print('secret')"])
    r = await call(server, "POST", f"/api/collab/publish/{path}", json={})
    assert r.status_code == 403  # write is not share
    r = await call(server, "POST", f"/api/collab/publish/{path}", "admin-token",
                   json={"title": "Report", "description": "Monthly"})  # fmt: skip
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["version"] == 1 and first["path"] == path and first["title"] == "Report"
    assert first["url"] == f"/api/collab/published/{first['id']}?version=1"

    got = (await call(server, "GET", first["url"], "admin-token")).json()
    assert got["notebook"]["cells"][0]["outputs"] == []
    assert "collab" not in got["notebook"]["metadata"]
    assert "secret\n" not in str(got["notebook"])

    # The source version is pinned in the file's history as a publish version.
    history = (await call(server, "GET", f"{API}/{path}")).json()["versions"]
    assert history[0]["kind"] == "publish" and history[0]["id"] == first["source_version"]

    nb = read_notebook(server.root, path)
    nb.cells[0].source = "print('v2')"
    nbformat.write(nb, server.root / path)
    r = await call(server, "POST", f"/api/collab/publish/{path}", "admin-token",
                   json={"strip_outputs": False})  # fmt: skip
    second = r.json()
    assert second["id"] == first["id"] and second["version"] == 2
    latest = await call(server, "GET", f"/api/collab/published/{first['id']}", "admin-token")
    assert latest.json()["version"] == 2 and latest.json()["title"] == "Report"
    assert latest.json()["notebook"]["cells"][0]["outputs"][0]["text"] == "secret\n"
    old = await call(server, "GET", f"/api/collab/published/{first['id']}?version=1", "admin-token")
    assert sources(old.json()["notebook"]) == ["print('secret')"]

    # Readers: whoever the provider lets read published:{id} (Rita holds "*"), the publishers;
    # a viewer of the source without such a grant learns nothing (404, like a wrong id).
    assert (await call(server, "GET", first["url"], "runner-token")).status_code == 200
    assert (await call(server, "GET", first["url"], "viewer-token")).status_code == 404
    listed = (await call(server, "GET", "/api/collab/published", "runner-token")).json()
    assert first["id"] in [p["id"] for p in listed["published"]]
    listed = (await call(server, "GET", "/api/collab/published", "viewer-token")).json()
    assert first["id"] not in [p["id"] for p in listed["published"]]
    # Nor does the notebook's info tell that viewer about the copy; the publishers see it.
    info_url = f"/api/collab/notebooks/{path}/info"
    for _ in range(200):  # the gallery indexes new files on its own (a save event)
        shown = await call(server, "GET", info_url, "admin-token")
        if shown.status_code == 200:
            break
        await asyncio.sleep(0.05)
    assert [c["id"] for c in shown.json()["published"]] == [first["id"]]
    viewer_info = (await call(server, "GET", info_url, "viewer-token")).json()
    assert viewer_info["published"] == [] and viewer_info["versions"] >= 2
    nope = await call(server, "GET", "/api/collab/published/nope", "admin-token")
    assert nope.status_code == 404


async def test_clone_names_copies_and_records_lineage(server):
    path = write_notebook(server.root, ["x = 1"], "team-b/source.ipynb")
    version = await label(server, path)
    body = {"source": {"path": path, "version": version["id"]}, "target": "clones"}
    (server.root / "clones").mkdir(exist_ok=True)
    paths = []
    for _ in range(3):
        r = await call(server, "POST", "/api/collab/clone", json=body)
        assert r.status_code == 201, r.text
        paths.append(r.json()["path"])
    assert paths == ["clones/source.ipynb", "clones/source-1.ipynb", "clones/source-2.ipynb"]
    assert sources(read_notebook(server.root, paths[1])) == ["x = 1"]

    # The notebook info (the gallery) shows where a copy came from, and the source's history.
    async def info(path: str) -> Any:
        r = await call(server, "GET", f"/api/collab/notebooks/{path}/info")
        return r.json() if r.status_code == 200 else None

    copy_info = None
    for _ in range(200):  # the gallery indexes new files on its own (a save event)
        copy_info = await info(paths[0])
        if copy_info is not None:
            break
        await asyncio.sleep(0.05)
    assert copy_info is not None
    assert copy_info["cloned_from"]["version"] == version["id"]
    # The source's path only for a caller who may read it (test_gallery checks the others).
    assert copy_info["cloned_from"]["path"] == path

    # A named target, taken: numbered too.
    r = await call(server, "POST", "/api/collab/clone",
                   json={"source": {"path": path}, "target": "clones/source.ipynb"})  # fmt: skip
    assert r.json()["path"] == "clones/source-3.ipynb"

    # Into a place the caller may not write: 403, nothing written.
    r = await call(server, "POST", "/api/collab/clone", "tenant-a-token",
                   json={"source": {"path": "team-a/x.ipynb"}, "target": "clones"})  # fmt: skip
    assert r.status_code in (403, 404)
    write_notebook(server.root, ["y"], "team-a/x.ipynb")
    r = await call(server, "POST", "/api/collab/clone", "tenant-a-token",
                   json={"source": {"path": "team-a/x.ipynb"}, "target": "clones"})  # fmt: skip
    assert r.status_code == 403, r.text
    assert "message" in r.json()
    assert not (server.root / "clones" / "x.ipynb").exists()
    # A folder that does not exist answers the same 403: no probing of other tenants' names.
    r = await call(server, "POST", "/api/collab/clone", "tenant-a-token",
                   json={"source": {"path": "team-a/x.ipynb"}, "target": "no-such/"})  # fmt: skip
    assert r.status_code == 403, r.text
    r = await call(server, "POST", "/api/collab/clone",
                   json={"source": {"path": path}, "target": "no-such/"})  # fmt: skip
    assert r.status_code == 404 and "message" in r.json()


async def test_clone_of_a_published_copy(server):
    path = write_with_output(server, ["print(1)"])
    pub = (await call(server, "POST", f"/api/collab/publish/{path}", "admin-token",
                      json={"title": "Pub"})).json()  # fmt: skip
    r = await call(server, "POST", "/api/collab/clone", "runner-token",
                   json={"source": {"published": pub["id"]}, "target": ""})  # fmt: skip
    assert r.status_code == 201, r.text
    copy = read_notebook(server.root, r.json()["path"])
    assert r.json()["path"].startswith("Pub") and copy.cells[0].outputs == []
    assert "collab" not in copy.metadata
    # A title names the copy, never a folder or a hidden file.
    pub = (await call(server, "POST", f"/api/collab/publish/{path}", "admin-token",
                      json={"title": "../.x/y"})).json()  # fmt: skip
    r = await call(server, "POST", "/api/collab/clone", "runner-token",
                   json={"source": {"published": pub["id"]}, "target": ""})  # fmt: skip
    assert r.status_code == 201 and r.json()["path"] == "-.x-y.ipynb", r.text
    # A long title in a script of many bytes a character names a copy that fits the disk.
    pub = (await call(server, "POST", f"/api/collab/publish/{path}", "admin-token",
                      json={"title": "😀" * 100})).json()  # fmt: skip
    for _ in range(2):  # the second copy gets "-1": it still fits
        r = await call(server, "POST", "/api/collab/clone", "runner-token",
                       json={"source": {"published": pub["id"]}, "target": ""})  # fmt: skip
        assert r.status_code == 201, r.text
        assert len(r.json()["path"].encode()) <= 255 and r.json()["path"].startswith("😀")
    # Someone the published copy is not shared with cannot clone it (and cannot tell it exists).
    r = await call(server, "POST", "/api/collab/clone", "alice-token",
                   json={"source": {"published": pub["id"]}, "target": ""})  # fmt: skip
    assert r.status_code == 404


# -- bad input --------------------------------------------------------------------------------


async def test_bad_input_answers_clearly(server):
    path = write_notebook(server.root, ["x"])
    await label(server, path)
    unknown = "0" * 64
    cases = [
        ("GET", f"{API}/{path}/{unknown}", None, 404),
        ("GET", f"{API}/{path}/not-a-version", None, 404),
        ("GET", f"{API}/{path}/{unknown}/diff", None, 404),
        ("POST", f"{API}/{path}/{unknown}/restore", None, 404),
        ("GET", f"{API}/missing.ipynb", None, 404),
        ("GET", f"{API}/notes.txt", None, 415),
        ("POST", f"{API}/notes.txt", {}, 415),
        ("GET", f"{API}/", None, 400),
        ("POST", "/api/collab/publish/", {}, 400),
        ("GET", f"{API}/{path}?limit=x", None, 400),
        ("GET", f"{API}/{path}/{unknown}?outputs=maybe", None, 400),
        ("POST", f"{API}/{path}", {"label": 5}, 400),
        ("POST", "/api/collab/clone", {"source": 3, "target": "x"}, 400),
        ("POST", "/api/collab/clone", {"source": {"path": path, "version": unknown}}, 404),
        ("POST", "/api/collab/clone", {"source": {"path": path}, "target": "../up"}, 400),
        ("POST", "/api/collab/clone", {"source": {"path": path}, "target": "x" * 300}, 400),
        (
            "POST",
            "/api/collab/clone",
            {"source": {"path": path}, "target": "x" * 300 + ".ipynb"},
            400,
        ),
        ("POST", "/api/collab/clone", {"source": {"path": path}, "target": "a\x00b.ipynb"}, 400),
    ]
    for method, url, body, status in cases:
        r = (
            await call(server, method, url, json=body)
            if body is not None
            else await call(server, method, url)
        )
        assert r.status_code == status, (method, url, r.status_code, r.text)
        assert r.json().get("message"), (url, r.text)
    # Versions of a notebook one may not read: 403 whether or not it exists.
    r = await call(server, "GET", f"{API}/{path}", "tenant-a-token")
    assert r.status_code == 403

    (server.root / "broken.ipynb").write_text('{"cells": "nope", "nbformat": 4}')
    r = await call(server, "POST", f"{API}/broken.ipynb", json={})
    assert r.status_code == 422, r.text
    assert r.json()["message"]
    assert (await call(server, "GET", f"{API}/broken.ipynb")).json()["versions"] == []


async def test_deleting_a_notebook_forgets_its_versions(server):
    path = write_notebook(server.root, ["x"])
    await label(server, path)
    async with server.client() as c:
        assert (await c.delete(f"/api/contents/{path}")).status_code == 204
    write_notebook(server.root, ["x"], path)  # a new file under the same name
    r = await call(server, "GET", f"{API}/{path}")
    assert r.json()["versions"] == []


# -- stock JupyterLab's checkpoints ---------------------------------------------------------


async def test_checkpoints_are_versions_and_restore_into_the_open_room(server):
    path = write_notebook(server.root, ["one"])
    url = f"/api/contents/{path}/checkpoints"
    r = await call(server, "POST", url)  # JupyterLab: "Save and Create Checkpoint"
    assert r.status_code == 201, r.text
    checkpoint = r.json()
    assert set(checkpoint) == {"id", "last_modified"}
    listed = (await call(server, "GET", f"{API}/{path}")).json()["versions"]
    assert listed[0]["id"] == checkpoint["id"] and listed[0]["kind"] == "save"

    client = await YClient.connect(server, path)
    try:
        client.insert(0, None, " two")
        client.append_cell("three")
        await wait_until(lambda: len(client.content()["cells"]) == 2)
        await wait_until(
            lambda: len(read_notebook(server.root, path).cells) == 2  # autosaved
        )
        assert (await call(server, "POST", url)).status_code == 201
        r = await call(server, "GET", url)
        assert r.status_code == 200
        ids = [c["id"] for c in r.json()]
        assert len(ids) == 2 and ids[1] == checkpoint["id"]
        # "Revert Notebook to Checkpoint": the open room takes it as an edit, no reload.
        r = await call(server, "POST", f"{url}/{checkpoint['id']}")
        assert r.status_code == 204, r.text
        await wait_until(lambda: [c["source"] for c in client.content()["cells"]] == ["one"])
        assert client.close_code is None
        await wait_until(
            lambda: [c.source for c in read_notebook(server.root, path).cells] == ["one"]
        )
        history = (await call(server, "GET", f"{API}/{path}")).json()["versions"]
        assert history[0]["kind"] == "restore"
        # Deleting a checkpoint keeps the history (it is immutable); it answers as jupyter does.
        assert (await call(server, "DELETE", f"{url}/{checkpoint['id']}")).status_code == 204
        assert checkpoint["id"] in [c["id"] for c in (await call(server, "GET", url)).json()]
        # A checkpoint the notebook never had.
        r = await call(server, "POST", f"{url}/{'0' * 64}")
        assert r.status_code == 404
    finally:
        await client.close()


async def test_checkpoint_restore_writes_a_closed_notebook(server):
    path = write_notebook(server.root, ["one"])
    url = f"/api/contents/{path}/checkpoints"
    checkpoint = (await call(server, "POST", url)).json()
    nb = read_notebook(server.root, path)
    nb.cells[0].source = "changed"
    nbformat.write(nb, server.root / path)
    # Whoever may only read the notebook may list its checkpoints, not restore one.
    assert (await call(server, "GET", url, "viewer-token")).status_code == 200
    r = await call(server, "POST", f"{url}/{checkpoint['id']}", "viewer-token")
    assert r.status_code == 403
    assert [c.source for c in read_notebook(server.root, path).cells] == ["changed"]
    r = await call(server, "POST", f"{url}/{checkpoint['id']}")
    assert r.status_code == 204, r.text
    assert [c.source for c in read_notebook(server.root, path).cells] == ["one"]
    # Other files keep jupyter_server's own checkpoints.
    (server.root / "notes.txt").write_text("hello")
    r = await call(server, "POST", "/api/contents/notes.txt/checkpoints")
    assert r.status_code == 201 and r.json()["id"] == "checkpoint"


def test_a_bad_s3_url_stops_the_server_with_a_reason(spawn_server):
    try:
        spawn_server("--CollabServer.versions_s3_url=http://key:hunter2@bucket/x")
    except RuntimeError as e:
        log = str(e)
    else:
        raise AssertionError("the server started with a bad versions_s3_url")
    assert "versions_s3_url" in log and "s3://" in log
    assert "hunter2" not in log


async def test_naming_an_existing_version(server):
    path = write_notebook(server.root, ["x = 1"])
    first = await label(server, path)
    url = f"{API}/{path}/{first['id']}"
    r = await call(server, "PATCH", url, json={"label": "  the original  "})
    assert r.status_code == 200, r.text
    assert r.json()["label"] == "the original" and r.json()["id"] == first["id"]
    listed = (await call(server, "GET", f"{API}/{path}")).json()["versions"]
    assert [v["label"] for v in listed] == ["the original"]
    r = await call(server, "PATCH", url, json={"label": None})
    assert r.status_code == 200 and r.json()["label"] is None
    # Bad input, each with a message.
    r = await call(server, "PATCH", url, "viewer-token", json={"label": "x"})
    assert r.status_code == 403 and r.json()["message"]
    r = await call(server, "PATCH", f"{API}/{path}/{'0' * 64}", json={"label": "x"})
    assert r.status_code == 404 and "No version" in r.json()["message"]
    r = await call(server, "PATCH", url, json={})
    assert r.status_code == 400 and "label" in r.json()["message"]
    r = await call(server, "PATCH", url, json={"label": "x" * 201})
    assert r.status_code == 400

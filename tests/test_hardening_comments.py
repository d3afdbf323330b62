"""Regression tests for the security review of comments, contents and the database, against
a real server: forged and copied threads, ids from files and URLs, invalid Unicode, limits,
symbolic links under /files/, a database locked by another process, and malformed bodies."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest

from support.notebooks import write_notebook
from support.yclient import wait_until

API = "/api/collab/comments"


def person(user_id: str, name: str) -> dict[str, Any]:
    return {"id": user_id, "name": name}


def forged_thread(author: dict[str, Any], body: str = "I approve this", **ids: str) -> dict:
    return {
        "id": ids.get("thread_id", str(uuid.uuid4())),
        "target": {"type": "notebook"},
        "anchor": "attached",
        "status": "open",
        "resolvedBy": None,
        "resolvedAt": None,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "author": author,
        "comments": [
            {
                "id": ids.get("comment_id", str(uuid.uuid4())),
                "author": author,
                "body": body,
                "createdAt": "2026-01-01T00:00:00.000Z",
                "editedAt": None,
                "deleted": False,
            }
        ],
    }


def notebook_with(threads: list[dict], sources: tuple[str, ...] = ("x = 1",)) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["collab"] = {"comments": {"schemaVersion": 1, "threads": threads}}
    return json.loads(nbformat.writes(nb))


async def put_notebook(server: Any, path: str, content: dict, token: str = "bob-token") -> None:
    async with server.client(token) as c:
        model = {"type": "notebook", "format": "json", "content": content}
        r = await c.put(f"/api/contents/{path}", json=model)
        assert r.status_code in (200, 201), r.text


async def get_threads(server: Any, path: str, token: str = "viewer-token") -> list[dict]:
    async with server.client(token) as c:
        r = await c.get(f"{API}/{path}")
        assert r.status_code == 200, r.text
        return list(r.json()["threads"])


async def mine(server: Any, token: str) -> list[dict]:
    async with server.client(token) as c:
        r = await c.get(API, params={"status": "all", "mine": "1"})
        return list(r.json()["threads"])


def file_threads(root: Path, path: str) -> list[dict]:
    try:
        nb = json.loads((root / path).read_text(encoding="utf-8"))
    except ValueError:
        return []
    return list(nb.get("metadata", {}).get("collab", {}).get("comments", {}).get("threads", []))


UNVERIFIED_CORA = {"id": None, "name": "Cora Commenter", "verified": False}


# -- 1. forged authors ----------------------------------------------------------------------


async def test_threads_written_into_a_file_by_an_editor_are_imported(server):
    """Bob writes a notebook whose metadata says Cora commented: it shows as imported, is not
    Cora's, and only editors may change it."""
    forged = forged_thread(person("cora", "Cora Commenter"))
    await put_notebook(server, "forged.ipynb", notebook_with([forged]))
    [thread] = await get_threads(server, "forged.ipynb")
    assert thread["author"] == UNVERIFIED_CORA
    assert thread["comments"][0]["author"] == UNVERIFIED_CORA
    assert thread["comments"][0]["body"] == "I approve this"
    assert thread["id"] not in {t["id"] for t in await mine(server, "commenter-token")}
    url = f"{API}/forged.ipynb/{thread['id']}"
    comment = thread["comments"][0]["id"]
    async with server.client("commenter-token") as cora:  # not hers, and not an editor
        assert (await cora.patch(f"{url}/replies/{comment}", json={"body": "x"})).status_code == 403
        assert (await cora.delete(f"{url}/replies/{comment}")).status_code == 403
        assert (await cora.delete(url)).status_code == 403
        # A genuine reply is hers, and makes the thread hers to list, not to own.
        reply = await cora.post(f"{url}/replies", json={"body": "Not me!"})
        assert reply.status_code == 201
        assert reply.json()["author"] == {"id": "cora", "name": "Cora Commenter",
                                          "verified": True}  # fmt: skip
    async with server.client("alice-token") as editor:  # editors may edit and delete imports
        edited = await editor.patch(f"{url}/replies/{comment}", json={"body": "[removed]"})
        assert edited.status_code == 200, edited.text
    # Saved back unsigned: an import is never laundered into a genuine thread.
    await wait_until(lambda: any(len(t["comments"]) == 2 for t in
                                 file_threads(server.root, "forged.ipynb")), 10)  # fmt: skip
    [saved] = file_threads(server.root, "forged.ipynb")
    assert "signature" not in saved and saved["author"] == UNVERIFIED_CORA


@pytest.mark.timeout(180)
async def test_signed_threads_verify_only_in_their_own_file(spawn_server):
    one = spawn_server()
    path = write_notebook(one.root, ["x = 1"], "signed.ipynb")
    async with one.client("commenter-token") as c:
        created = await c.post(f"{API}/{path}", json={"target": {"type": "notebook"},
                                                      "body": "genuine"})  # fmt: skip
        assert created.status_code == 201
    await wait_until(lambda: file_threads(one.root, path), 10)
    [saved] = file_threads(one.root, path)
    assert saved["signature"].startswith("hmac-sha256:")
    key_file = one.data / "comments-signing.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    # A copy (another file id) carries the thread, unverified.
    (one.root / "copy.ipynb").write_bytes((one.root / path).read_bytes())
    [copied] = await get_threads(one, "copy.ipynb")
    assert copied["author"] == UNVERIFIED_CORA
    one.stop()
    # The comments document is lost (a store reset): re-seeded from the file, the signed
    # thread is genuine again; a tampered one is not.
    database = one.data / "collab.sqlite"
    with sqlite3.connect(database) as conn:
        (file_id,) = conn.execute("SELECT id FROM files WHERE path = ?", [path]).fetchone()
        room = f"json:comments:{file_id}"
        conn.execute("DELETE FROM updates WHERE room_id = ?", [room])
        conn.execute("DELETE FROM documents WHERE room_id = ?", [room])
        conn.execute("DELETE FROM comment_threads")
    one.restart()
    [again] = await get_threads(one, path)
    assert again["author"] == {"id": "cora", "name": "Cora Commenter", "verified": True}
    assert again["id"] in {t["id"] for t in await mine(one, "commenter-token")}
    one.stop()
    nb = json.loads((one.root / path).read_text(encoding="utf-8"))
    nb["metadata"]["collab"]["comments"]["threads"][0]["comments"][0]["body"] = "tampered"
    (one.root / path).write_text(json.dumps(nb), encoding="utf-8")
    with sqlite3.connect(database) as conn:
        conn.execute("DELETE FROM updates WHERE room_id = ?", [room])
        conn.execute("DELETE FROM documents WHERE room_id = ?", [room])
        conn.execute("DELETE FROM comment_threads")
    one.restart()
    [tampered] = await get_threads(one, path)
    assert tampered["author"] == UNVERIFIED_CORA
    assert tampered["comments"][0]["body"] == "tampered"
    assert await mine(one, "commenter-token") == []


# -- 2. ids -------------------------------------------------------------------------------------


async def test_ids_from_a_file_and_a_url_must_be_uuids(server):
    evil = "../../../../../api/contents/a/victim.ipynb#"
    forged = forged_thread(person("x", "X"), thread_id=evil, comment_id="../../x")
    bad_cell = {**forged_thread(person("x", "X")),
                "target": {"type": "cell", "cellId": "../../x\"><img src=x>"}}  # fmt: skip
    await put_notebook(server, "ids.ipynb", notebook_with([forged, bad_cell]))
    [thread] = await get_threads(server, "ids.ipynb")  # the bad cell id's thread is left out
    for value in (thread["id"], thread["comments"][0]["id"]):
        assert str(uuid.UUID(value)) == value
    assert thread["comments"][0]["body"] == "I approve this"
    async with server.client("alice-token") as c:
        for url in (f"{API}/ids.ipynb/not-a-uuid", f"{API}/ids.ipynb/{thread['id']}/replies/x",
                    f"{API}/ids.ipynb/{thread['id'].upper()}"):  # fmt: skip
            r = await c.delete(url)
            assert r.status_code == 404, (url, r.text)
        r = await c.post(f"{API}/ids.ipynb", json={"target": {"type": "cell",
                                                   "cellId": "a/../b"}, "body": "x"})  # fmt: skip
        assert r.status_code == 404 and r.json()["message"]
    assert len(await get_threads(server, "ids.ipynb")) == 1


# -- 3. invalid Unicode ---------------------------------------------------------------------------


async def test_lone_surrogates_are_refused_and_saving_goes_on(server, make_notebook):
    path = make_notebook(["x = 1"])
    raw = b'{"target": {"type": "notebook"}, "body": "\\ud800 oops"}'
    async with server.client("commenter-token") as c:
        r = await c.post(f"{API}/{path}", content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and "Unicode" in r.json()["message"]
        key = b'{"target": {"type": "notebook", "\\udfff": 1}, "body": "x"}'
        r = await c.post(f"{API}/{path}", content=key, headers={"Content-Type": "application/json"})
        assert r.status_code == 400
        ok = await c.post(f"{API}/{path}", json={"target": {"type": "notebook"}, "body": "fine"})
        assert ok.status_code == 201
    await wait_until(lambda: file_threads(server.root, path), 10)
    # The contents API is ours too: a notebook holding one would never save again.
    bad = json.dumps(notebook_with([])).replace('"x = 1"', '"\\ud800"').encode()
    async with server.client("alice-token") as c:
        r = await c.put(f"/api/contents/{path}", content=b'{"type": "notebook", "format": '
                        b'"json", "content": ' + bad + b"}")  # fmt: skip
        assert r.status_code == 400 and "Unicode" in r.json()["message"]


def test_stored_lone_surrogates_are_replaced_when_saved() -> None:
    """Threads stored before input was checked: the file form holds U+FFFD, and signs."""
    from collab_server.comments import model, signing

    thread = model.new_thread({"type": "notebook"}, model.person({"username": "a"}), "\ud800!")
    form, repaired = model.clean_strings(thread)
    assert repaired and form["comments"][0]["body"] == "\ufffd!"
    json.dumps(form, ensure_ascii=False).encode("utf-8")  # what the save does: no error
    key = os.urandom(32)
    form["signature"] = signing.sign(key, "file-1", form)
    read_back = json.loads(json.dumps(form, ensure_ascii=False))
    assert signing.verify(key, "file-1", read_back)
    assert not signing.verify(key, "file-2", read_back)


# -- 4. limits -------------------------------------------------------------------------------


async def test_thread_and_reply_limits_answer_413(server):
    many = [forged_thread(person("x", "X")) for _ in range(2000)]
    await put_notebook(server, "full.ipynb", notebook_with(many))
    long_thread = forged_thread(person("x", "X"))
    long_thread["comments"] *= 501  # the opening comment and 500 replies
    for i, c in enumerate(long_thread["comments"]):
        long_thread["comments"][i] = {**c, "id": str(uuid.uuid4())}
    await put_notebook(server, "long.ipynb", notebook_with([long_thread]))
    async with server.client("commenter-token") as c:
        r = await c.post(f"{API}/full.ipynb", json={"target": {"type": "notebook"}, "body": "x"})
        assert r.status_code == 413 and "2000" in r.json()["message"]
        [thread] = (await c.get(f"{API}/long.ipynb")).json()["threads"]
        r = await c.post(f"{API}/long.ipynb/{thread['id']}/replies", json={"body": "one more"})
        assert r.status_code == 413 and "500" in r.json()["message"]


async def test_a_comment_on_a_crowded_notebook_does_not_stall_others(server):
    """2,000 threads on one notebook (the default limit): each new comment, and the save of
    the notebook it causes, leaves the server responsive for everyone else. (A smoke test: at
    this size the code before the fix stalled ~1 s per save, too close to this shared
    machine's noise to tell apart reliably; the 10,000-thread case needs a configured limit.)"""
    many = [forged_thread(person("x", "X")) for _ in range(1990)]
    await put_notebook(server, "crowded.ipynb", notebook_with(many))
    assert len(await get_threads(server, "crowded.ipynb")) == 1990
    write_notebook(server.root, ["y"], "team-a/quiet.ipynb")
    latencies: list[float] = []
    async with server.client("commenter-token") as cora, server.client("tenant-a-token") as a:
        for i in range(5):
            r = await cora.post(f"{API}/crowded.ipynb",
                                json={"target": {"type": "notebook"}, "body": f"n{i}"})  # fmt: skip
            assert r.status_code == 201
            # Another tenant asks without pause while the notebook saves (save_delay 0.3 s).
            until = time.monotonic() + 1.5
            while time.monotonic() < until:
                started = time.monotonic()
                assert (await a.get("/api/contents/team-a")).status_code == 200
                latencies.append(time.monotonic() - started)
    await wait_until(lambda: len(file_threads(server.root, "crowded.ipynb")) == 1995, 20)
    # Before the fix each of the five saves stalled everyone for about a second. Two slow
    # answers are tolerated: the machine running the tests is shared with other work (and a
    # comment on a closed notebook opens its room, a tenth of a second here).
    slow = [t for t in latencies if t > 0.75]
    assert len(slow) <= 2, sorted(latencies)[-6:]


# -- 5. symbolic links --------------------------------------------------------------------------


async def test_files_view_and_nbconvert_refuse_symlinks(server):
    secret = write_notebook(server.root, ["password = 'hunter2'"], "private/secret.ipynb")
    write_notebook(server.root, ["ok"], "team-a/plain.ipynb")
    link = server.root / "team-a" / "link.ipynb"
    if not link.exists():
        link.symlink_to(server.root / secret)
    async with server.client("tenant-a-token") as c:
        assert (await c.get("/files/team-a/plain.ipynb")).status_code == 200
        for url in ("/files/team-a/link.ipynb", "/files/team-a/link.ipynb?download=1",
                    "/view/team-a/link.ipynb", "/nbconvert/html/team-a/link.ipynb",
                    "/api/contents/team-a/link.ipynb"):  # fmt: skip
            r = await c.get(url)
            assert r.status_code == 404, (url, r.status_code)
            assert "hunter2" not in r.text


# -- 6. a database locked by another process -------------------------------------------------


HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("CREATE TABLE IF NOT EXISTS lock_test (x)")
print("locked", flush=True)
sys.stdin.readline()  # held until the test says so (or closes our input)
conn.execute("COMMIT")
"""


@pytest.mark.timeout(120)
async def test_a_locked_database_never_freezes_the_server(spawn_server):
    """Another process holds the database's write lock while a comment waits for it: the
    server answers everyone else meanwhile. Proved by order, not by timing: the other
    tenant's answer arrives while the lock is still held and the comment still waits."""
    server = spawn_server()
    path = write_notebook(server.root, ["x"], "busy.ipynb")
    write_notebook(server.root, ["y"], "team-a/other.ipynb")
    async with server.client("commenter-token") as c:
        first = await c.post(f"{API}/{path}", json={"target": {"type": "notebook"}, "body": "1"})
        assert first.status_code == 201
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(server.data / "collab.sqlite")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == b"locked"
        async with server.client("commenter-token") as c, server.client("tenant-a-token") as a:
            post = asyncio.create_task(
                c.post(f"{API}/{path}", json={"target": {"type": "notebook"}, "body": "2"})
            )
            # Pacing, not a proof: let the comment reach the server and wait on the lock (the
            # server says nothing we could wait for). A server that froze on the lock would
            # answer the listing only after the comment gave up (its bound: 10 s) or landed.
            await asyncio.sleep(0.3)
            listing = await asyncio.wait_for(a.get("/api/contents/team-a"), 30)
            assert listing.status_code == 200
            assert not post.done()  # answered while the comment still waits …
            assert holder.poll() is None  # … on a lock that is still held
            holder.stdin.write(b"release\n")
            holder.stdin.flush()
            r = await post
        assert r.status_code in (201, 503), r.text
        if r.status_code == 503:  # the machine was slow enough for the comment's bound
            assert r.json()["message"] == "The database is busy; try again"
        else:
            bodies = [t["comments"][0]["body"] for t in await get_threads(server, path)]
            assert sorted(bodies) == ["1", "2"]
    finally:
        holder.stdin.close()
        holder.wait(10)


# -- 7. malformed bodies, paths in errors, trust noise ------------------------------------------


async def test_malformed_bodies_get_400(server, make_notebook):
    path = make_notebook(["x"])
    deep = b"[" * 100_000 + b"]" * 100_000
    deep_object = b'{"target": ' + b"[" * 100_000 + b"]" * 100_000 + b', "body": "x"}'
    async with server.client("alice-token") as c:
        r = await c.post("/api/contents/team-a", json={"copy_from": [path]})
        assert r.status_code == 400 and "copy_from" in r.json()["message"]
        r = await c.patch(f"/api/contents/{path}", json={"path": {"x": 1}})
        assert r.status_code == 400 and "path" in r.json()["message"]
        for url, body in ((f"/api/contents/{path}", deep), ("/api/contents/", deep),
                          (f"{API}/{path}", deep_object)):  # fmt: skip
            r = await c.post(url, content=body)
            assert r.status_code == 400, (url, r.status_code)
            assert r.json()["message"]
        r = await c.put(f"/api/contents/{path}", content=deep)
        assert r.status_code == 400
    assert (server.root / path).exists()


async def test_errors_never_name_server_paths_and_saves_are_quiet(server, make_notebook):
    root = str(server.root)
    (server.root / "broken.ipynb").write_text("{not json", encoding="utf-8")
    async with server.client("alice-token") as c:
        for method, url in (("DELETE", "/api/contents/no-such.ipynb"),
                            ("GET", "/api/contents/broken.ipynb"),
                            ("GET", "/nbconvert/html/broken.ipynb"),
                            ("PATCH", "/api/contents/no-such.ipynb")):  # fmt: skip
            body = {"path": "elsewhere.ipynb"} if method == "PATCH" else None
            r = await c.request(method, url, json=body)
            assert r.status_code >= 400, (method, url)
            assert root not in r.text and os.path.realpath(root) not in r.text, (url, r.text)
        # A notebook saved through a room: no "not trusted" line for the operator.
        path = make_notebook(["print(1)"])
        r = await c.post(f"{API}/{path}", json={"target": {"type": "notebook"}, "body": "x"})
        assert r.status_code == 201
    await wait_until(lambda: file_threads(server.root, path), 10)
    assert f"Notebook {path} is not trusted" not in server.log()


def test_json_problem_is_iterative() -> None:
    from collab_server.core.http import json_problem

    deep: Any = []
    for _ in range(50_000):
        deep = [deep]
    assert "nested" in (json_problem(deep) or "")
    assert json_problem({"a": ["b", {"c": "é😀"}]}) is None
    assert "Unicode" in (json_problem(["ok", {"k": "\udc80"}]) or "")


def test_busy_writes_retry_then_give_up(tmp_path: Path) -> None:
    """db.write: waits (off the loop) while another connection holds the lock, then 503s."""
    from collab_server.core import db

    database = db.open_database(tmp_path / "t.sqlite")
    database.conn.execute("CREATE TABLE t (x)")
    other = sqlite3.connect(tmp_path / "t.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    async def scenario() -> None:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)  # pacing: counts event-loop turns

        task = asyncio.create_task(ticker())
        with pytest.raises(db.DatabaseBusy):
            await db.write(database, lambda conn: conn.execute("INSERT INTO t VALUES (1)"),
                           bound=0.5)  # fmt: skip
        assert ticks >= 10  # the loop kept running meanwhile (one tick per 10 ms at best)
        asyncio.get_running_loop().call_later(0.2, lambda: other.execute("COMMIT"))
        await db.write(database, lambda conn: conn.execute("INSERT INTO t VALUES (2)"))
        task.cancel()

    asyncio.run(scenario())
    assert database.conn.execute("SELECT x FROM t").fetchall() == [(2,)]


def test_migrations_run_once_in_order(tmp_path: Path) -> None:
    from collab_server.core import db

    database = db.open_database(tmp_path / "m.sqlite")
    ran: list[int] = []
    steps = [lambda conn: ran.append(1), lambda conn: ran.append(2)]
    assert db.migrate(database, "demo", steps) == 2
    assert db.migrate(database, "demo", steps) == 2
    assert db.migrate(database, "demo", [*steps, lambda conn: ran.append(3)]) == 3
    assert ran == [1, 2, 3]


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    from collab_server.core import db

    database = db.open_database(tmp_path / "x.sqlite")
    database.conn.execute("CREATE TABLE t (x)")
    with pytest.raises(ZeroDivisionError), db.transaction(database.conn) as conn:
        conn.execute("INSERT INTO t VALUES (1)")
        _ = 1 / 0
    assert database.conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_a_change_re_signs_and_re_anchors_only_itself(tmp_path: Path, monkeypatch) -> None:
    """In process, real rooms and files: with 1,990 genuine threads, one new comment costs one
    signature and one index row at the next save, not 1,990 (the cache of file forms)."""
    import logging

    from collab_server.comments import CommentsService, model, signing
    from collab_server.contents import FileIdStore
    from collab_server.contents.manager import CollabFileContentsManager
    from collab_server.core import db as database
    from collab_server.rooms import RoomManager, RoomSettings, UpdateStore

    root = tmp_path / "root"
    root.mkdir()
    write_notebook(root, ["x = 1"], "big.ipynb")
    db = database.open_database(tmp_path / "data" / "collab.sqlite")
    log = logging.getLogger("test")
    rooms = RoomManager(store=UpdateStore(db), file_ids=FileIdStore(db),
                        contents_manager=CollabFileContentsManager(root_dir=str(root)),
                        settings=RoomSettings(save_delay=60, max_save_interval=60),
                        cleanup_delay=60, max_message_size=1 << 20, max_client_backlog=1 << 20,
                        log=log)  # fmt: skip
    service = CommentsService.plug_into(rooms, db, log)
    signed: list[str] = []
    real_sign = signing.sign

    def counting_sign(key: bytes, file_id: str, thread: dict[str, Any]) -> str:
        signed.append(thread["id"])
        return real_sign(key, file_id, thread)

    monkeypatch.setattr(signing, "sign", counting_sign)
    rows: list[int] = []

    async def scenario() -> None:
        file_id, _ = await rooms.file_ids.ensure("big.ipynb")
        threads = []
        for _ in range(1990):
            thread = forged_thread(person("cora", "Cora"))
            for who in model.people(thread):
                who["verified"] = True
            thread["signature"] = real_sign(service.key, file_id, thread)
            threads.append(thread)
        (root / "big.ipynb").write_text(json.dumps(notebook_with(threads)), encoding="utf-8")
        async with service.session("big.ipynb") as comments:
            listed = await comments.threads()
            assert len(listed) == 1990 and all(t["author"]["verified"] for t in listed)
            signed.clear()  # (verifying computes each signature once)
            assert await comments.notebook.save("requested") in ("success", "skipped")
            assert len(signed) == 1990  # the first save signs everything once
            signed.clear()
            db.conn.set_trace_callback(lambda sql: rows.append(1) if "INSERT" in sql else None)
            await comments.create(model.person({"username": "bob"}), {"type": "notebook"}, "hi")
            assert await comments.notebook.save("requested") == "success"
            db.conn.set_trace_callback(None)
        await rooms.stop_all()

    asyncio.run(scenario())
    assert len(signed) == 1
    assert 1 <= len(rows) <= 5  # the new thread's index row and the store's own writes
    assert len(file_threads(root, "big.ipynb")) == 1991

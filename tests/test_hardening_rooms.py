"""Hardening of rooms against what a security review found on the running server: access
that survived a move, presence that could freeze a room or the server or leak documents'
names, store and save failures that split clients silently, damaged stored rows, deleted
and renamed notebooks, oversize messages and broken files that failed without a word."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import websockets
from pycrdt import Doc

from collab_server.core.db import open_database
from collab_server.rooms.protocol import (
    AwarenessEntry,
    ProtocolError,
    awareness_frame,
    decode_awareness,
    encode_awareness,
    json_depth,
    write_var_bytes,
)
from support.notebooks import read_notebook, write_notebook
from support.yclient import YClient, open_session, wait_until


def room_url(server: Any, room: str, token: str) -> str:
    return f"{server.ws_url}/api/collaboration/room/{room}?token={token}"


async def open_room(server: Any, room: str, token: str) -> YClient:
    client = YClient()
    await client.open(room_url(server, room, token))
    await asyncio.wait_for(client.synced.wait(), 10)
    return client


def awareness_update(client_id: int, clock: int, state_json: str) -> bytes:
    """An awareness frame with a hand-made state text (sizes and depths the encoder would
    never produce)."""
    from collab_server.rooms.protocol import write_var_string, write_var_uint

    body = write_var_uint(1) + write_var_uint(client_id) + write_var_uint(clock)
    return awareness_frame(body + write_var_string(state_json))


# -- 1 and 9: access follows the file, at once; renamed pages learn the new path ----------


async def test_move_into_private_folder_revokes_at_once_and_renames(spawn_server):
    # An interval long enough that only the immediate re-check can explain a prompt close.
    server = spawn_server("--CollabServer.reauthorize_interval=600")
    path = write_notebook(server.root, ["shared"], name="team-a/moving.ipynb")
    outsider = await YClient.connect(server, path, "tenant-a-token")
    owner = await YClient.connect(server, path, "alice-token")
    comments = await open_room(server, f"json:comments:{outsider.file_id}", "tenant-a-token")
    (server.root / "a").mkdir()
    try:
        async with server.client("admin-token") as admin:
            r = await admin.patch(f"/api/contents/{path}", json={"path": "a/moving.ipynb"})
            assert r.status_code == 200, r.text
        assert await outsider.wait_closed(5) == 4403
        assert await comments.wait_closed(5) == 4403
        # Only the connection still allowed learns the new name.
        await wait_until(lambda: owner.raw_of_type("renamed"), 5)
        assert owner.raw_of_type("renamed") == [{"type": "renamed", "path": "a/moving.ipynb"}]
        assert not outsider.raw_of_type("renamed")
        # And the room saves to the new path.
        owner.insert(0, None, " moved")
        assert (await owner.save(1))["status"] == "success"
        assert read_notebook(server.root, "a/moving.ipynb").cells[0].source == "shared moved"
        assert not (server.root / path).exists()
        # A rename back into the shared folder, by the owner: no re-check closes the owner.
        async with server.client("admin-token") as admin:
            r = await admin.patch(
                "/api/contents/a/moving.ipynb", json={"path": "team-a/renamed.ipynb"}
            )
            assert r.status_code == 200
        await wait_until(lambda: len(owner.raw_of_type("renamed")) == 2, 5)
        assert owner.raw_of_type("renamed")[1]["path"] == "team-a/renamed.ipynb"
        assert not owner.closed.is_set()
    finally:
        for client in (outsider, owner, comments):
            await client.close()


# -- 2 and 7: one viewer cannot make a room unusable --------------------------------------


async def test_awareness_state_size_and_client_ids_are_capped(server, make_notebook):
    path = make_notebook(["x"])
    watcher = await YClient.connect(server, path, "alice-token")
    viewer = await YClient.connect(server, path, "viewer-token")
    try:
        big = json.dumps({"cursor": "x" * (64 * 1024)})
        for client_id in range(1000, 1010):
            await viewer.send_raw(awareness_update(client_id, 1, big))
        for client_id in range(2000, 2010):
            await viewer.send_raw(awareness_update(client_id, 1, '{"cursor": 1}'))
        marker = viewer.doc.client_id
        await viewer.set_awareness({"cursor": "marker"})  # not a 5th id: dropped too
        await watcher.set_awareness({"cursor": "w"})
        await wait_until(lambda: 2003 in watcher.awareness, 5)
        await wait_until(lambda: watcher.doc.client_id in viewer.awareness, 5)
        spoken = {cid for cid in watcher.awareness if 1000 <= cid < 3000 or cid == marker}
        assert spoken == {2000, 2001, 2002, 2003}
        # A later joiner gets a small snapshot and stays connected.
        late = await YClient.connect(server, path, "bob-token")
        await wait_until(lambda: 2000 in late.awareness, 5)
        assert not late.closed.is_set()
        await late.close()
        log = server.log()
        dropped = f"Dropped awareness from victor@127.0.0.1 in json:notebook:{late.file_id}"
        assert log.count(dropped) == 1
    finally:
        await watcher.close()
        await viewer.close()


async def test_deeply_nested_awareness_is_refused_clearly(server, make_notebook):
    path = make_notebook(["x"])
    client = await YClient.connect(server, path, "bob-token")
    watcher = await YClient.connect(server, path, "alice-token")
    try:
        # 100,000 levels: above the size limit, dropped without being parsed.
        await client.send_raw(awareness_update(7, 1, "[" * 100_000 + "]" * 100_000))
        await watcher.set_awareness({"cursor": 1})
        await wait_until(lambda: watcher.doc.client_id in client.awareness, 5)
        assert not client.closed.is_set()
        # Small but too deep: a protocol error, closed 1002 with a reason a person reads.
        await client.send_raw(awareness_update(8, 1, '{"a":' + "[" * 200 + "]" * 200 + "}"))
        assert await client.wait_closed(5) == 1002
        assert "nested deeper" in client.close_reason
        assert "RecursionError" not in server.log()
    finally:
        await client.close()
        await watcher.close()


def test_awareness_decoding_bounds_depth_and_size():
    assert json_depth('{"a": "[[[[", "b": [[1]]}') == 3
    deep = encode_awareness([AwarenessEntry(1, 1, {"a": 1})]).replace(b'{"a":1}', b"x")
    with pytest.raises(ProtocolError):
        decode_awareness(deep)  # not JSON (and the length still matches)
    nested = "[" * 10_000 + "]" * 10_000
    from collab_server.rooms.protocol import write_var_string, write_var_uint

    update = write_var_uint(1) + write_var_uint(1) + write_var_uint(1) + write_var_string(nested)
    with pytest.raises(ProtocolError, match="nested deeper"):
        decode_awareness(update)
    [entry] = decode_awareness(update, max_state_bytes=1000)
    assert entry.oversize and entry.state is None


# -- 3 and 4: presence costs little and tells nothing across tenants ----------------------


async def test_sockets_per_person_and_signed_in_presence(spawn_server):
    server = spawn_server(
        "--CollabServer.max_sockets_per_user=3", "--CollabServer.global_presence=signed-in"
    )
    url = room_url(server, "JupyterLab:globalAwareness", "bob-token")
    sockets = [await websockets.connect(url) for _ in range(3)]
    try:
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(url)
        assert refused.value.response.status_code == 429
        assert b"Too many open connections" in refused.value.response.body
        # Other people are not affected, and a closed socket frees its slot.
        await (await websockets.connect(url.replace("bob", "carol"))).close()
        await sockets.pop().close()
        sockets.append(await _connect_eventually(url))
        # Signed-in presence: people are shown by their verified name, never with the
        # document they have open.
        a = YClient()
        await a.open(url.replace("bob", "alice"))
        b = YClient()
        await b.open(url.replace("bob", "carol"))
        await b.set_awareness({"current": "team-b/secret-plans.ipynb", "cursor": 1})
        await wait_until(lambda: b.doc.client_id in a.awareness, 5)
        assert a.awareness[b.doc.client_id] == {"user": a.awareness[b.doc.client_id]["user"]}
        assert a.awareness[b.doc.client_id]["user"]["username"] == "carol"
        await a.close()
        await b.close()
    finally:
        for ws in sockets:
            await ws.close()


async def _connect_eventually(url: str) -> Any:
    deadline = time.monotonic() + 5
    while True:
        try:
            return await websockets.connect(url)
        except websockets.InvalidStatus:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


_FLOOD = """
import asyncio, json, sys
import websockets
from collab_server.rooms.protocol import awareness_frame, encode_awareness, AwarenessEntry

async def main(url, sockets, updates):
    conns = [await websockets.connect(url, max_size=None) for _ in range(sockets)]
    received = [0] * sockets
    async def drain(i, ws):
        try:
            async for _ in ws:
                received[i] += 1
        except websockets.ConnectionClosed:
            pass
    readers = [asyncio.create_task(drain(i, ws)) for i, ws in enumerate(conns)]
    print("connected", flush=True)
    for clock in range(1, updates + 1):  # bounded: stops by itself
        for i, ws in enumerate(conns):
            entry = AwarenessEntry(50_000 + i, clock, {"cursor": clock})
            await ws.send(awareness_frame(encode_awareness([entry])))
    await asyncio.sleep(1.0)  # pacing: count what each socket receives over one second
    for reader in readers:
        reader.cancel()
    for ws in conns:
        await ws.close()
    print(json.dumps(received), flush=True)

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


async def test_awareness_flood_does_not_delay_other_tenants(server, make_notebook):
    path = make_notebook(["edits: "])
    alice = await YClient.connect(server, path, "alice-token")
    carol = await YClient.connect(server, path, "carol-token")
    url = room_url(server, "JupyterLab:globalAwareness", "bob-token")
    # The flood comes from another process, so that this one measures only the server.
    flood = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _FLOOD,
        url,
        "40",
        "150",
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert flood.stdout is not None
        assert (await asyncio.wait_for(flood.stdout.readline(), 30)).strip() == b"connected"
        delays = []
        for i in range(10):
            marker = f"<{i}>"
            started = time.monotonic()
            alice.insert(0, None, marker)
            await wait_until(lambda m=marker: m in carol.text(0), 10, interval=0.005)
            delays.append(time.monotonic() - started)
            await asyncio.sleep(0.1)  # pacing: one edit every 100 ms while the flood runs
        received = json.loads(await asyncio.wait_for(flood.stdout.readline(), 60))
        await flood.wait()
        # Before presence was limited, edits waited more than 10 s here; the bound leaves room
        # for a machine whose cores are shared with the flooding process.
        assert max(delays) < 2.0, delays
        # Each flooding socket only ever got its own state back, at a bounded rate.
        assert max(received) <= 60, received
        assert alice.text(0).endswith("<9>")
    finally:
        if flood.returncode is None:
            flood.kill()
            await flood.wait()
        await alice.close()
        await carol.close()


# -- 5: a store that refuses writes never lets the document run ahead ---------------------


def test_the_database_fails_fast_on_a_lock(tmp_path: Path) -> None:
    """A lock held elsewhere must cost the event loop tens of ms, not seconds: the room
    retries asynchronously (below)."""
    db = open_database(tmp_path / "probe.sqlite")
    timeout = db.conn.execute("PRAGMA busy_timeout").fetchone()[0]
    db.conn.close()
    assert int(timeout) <= 250


_HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))  # pacing: how long the lock is held
conn.execute("ROLLBACK")
"""


def hold_lock(db_path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holds the database's write lock for ``seconds``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(db_path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


async def test_brief_database_lock_loses_and_blocks_nothing(spawn_server):
    server = spawn_server("--CollabServer.store_retry_seconds=20")
    path = write_notebook(server.root, ["", ""])
    write_notebook(server.root, ["theirs"], name="team-a/theirs.ipynb")
    alice = await YClient.connect(server, path, "alice-token")
    bob = await YClient.connect(server, path, "bob-token")
    try:
        locker = hold_lock(server.data / "collab.sqlite", 3)
        latencies: list[float] = []
        async with server.client("tenant-a-token") as other:
            for i in range(20):
                alice.insert(0, None, f"a{i} ")
                bob.insert(1, None, f"b{i} ")
                started = time.monotonic()
                r = await other.get("/api/contents/team-a")
                latencies.append(time.monotonic() - started)
                assert r.status_code == 200
                await asyncio.sleep(0.1)  # pacing: typing across the 3 s the lock is held
        locker.wait(10)
        expected = ["".join(f"a{i} " for i in range(20)), "".join(f"b{i} " for i in range(20))]
        await wait_until(lambda: [alice.text(0), alice.text(1)] == expected, 10)
        await wait_until(lambda: [bob.text(0), bob.text(1)] == expected, 10)
        # A loop that waited on the lock would stall someone for seconds. Two slow answers
        # (not stalls) are tolerated: the machine running the tests is shared with other work.
        assert max(latencies) < 2.5 and sum(t > 0.5 for t in latencies) <= 2, sorted(latencies)
        assert not alice.closed.is_set() and not bob.closed.is_set()
        # Stored exactly once: a fresh client (and the file) agree.
        fresh = await YClient.connect(server, path, "carol-token")
        assert [fresh.text(0), fresh.text(1)] == expected
        await fresh.close()
    finally:
        await alice.close()
        await bob.close()


async def test_lock_past_the_retry_bound_closes_and_resyncs(spawn_server):
    server = spawn_server("--CollabServer.store_retry_seconds=0.5")
    path = write_notebook(server.root, ["start"])
    alice = await YClient.connect(server, path, "alice-token")
    bob = await YClient.connect(server, path, "bob-token")
    try:
        locker = hold_lock(server.data / "collab.sqlite", 4)
        alice.insert(0, None, " typed while locked")
        assert await alice.wait_closed(5) == 1011
        assert json.loads(alice.close_reason) == {"reason": "store_unavailable"}
        assert await bob.wait_closed(5) == 1011
        assert alice.raw_of_type("error")[0]["reason"] == "store_unavailable"
        assert "typed while locked" not in bob.text(0)  # never broadcast unstored
        # While the store keeps failing, the room does not reopen.
        probe = YClient()
        await probe.open(alice.url)
        assert await probe.wait_closed(5) == 1011
        locker.wait(10)
        # Once writable: alice reconnects and resends what the store lacks.
        await alice.reconnect()
        await bob.reconnect()
        await wait_until(lambda: bob.text(0) == "start typed while locked", 5)
        assert "Cannot store changes of room" in server.log()
    finally:
        await alice.close()
        await bob.close()


# -- 6: a damaged stored row never makes a notebook unopenable ----------------------------


async def test_damaged_update_is_quarantined_and_the_file_loads(spawn_server):
    server = spawn_server("--CollabServer.save_delay=0.1")
    path = write_notebook(server.root, ["from the file"])
    client = await YClient.connect(server, path, "alice-token")
    client.insert(0, None, " edited")
    assert (await client.save(1))["status"] == "success"
    client.insert(0, None, " more")
    await wait_until(lambda: "more" in client.text(0), 5)
    await client.close()
    server.kill()  # the update log stays (a clean stop would compact it)

    db = sqlite3.connect(server.data / "collab.sqlite")
    room = f"json:notebook:{client.file_id}"
    rows = db.execute("SELECT seq, data FROM updates WHERE room_id = ?", [room]).fetchall()
    snapshot = db.execute("SELECT snapshot FROM documents WHERE room_id = ?", [room]).fetchone()
    assert rows
    seq, data = _breakable(snapshot[0], rows)
    db.execute("UPDATE updates SET data = ? WHERE room_id = ? AND seq = ?", [data, room, seq])
    db.commit()
    db.close()

    server.restart()
    on_disk = read_notebook(server.root, path).cells[0].source
    reader = await YClient.connect(server, path, "bob-token")
    assert reader.text(0) == on_disk
    await reader.close()
    db = sqlite3.connect(server.data / "collab.sqlite")
    kept = db.execute("SELECT kind, seq FROM quarantine WHERE room_id = ?", [room]).fetchall()
    db.close()
    assert ("update", seq) in kept and ("snapshot", None) in kept
    log = server.log()
    assert f"The stored document of room {room} is damaged" in log
    assert "more" not in log.split("is damaged")[1].splitlines()[0]


def _breakable(snapshot: bytes, rows: list[tuple[int, bytes]]) -> tuple[int, bytes]:
    """One stored update with one byte flipped such that pycrdt cannot apply it."""
    for seq, data in rows:
        for index in range(len(data)):
            damaged = bytearray(data)
            damaged[index] ^= 0xFF
            doc: Doc = Doc()
            try:
                doc.apply_update(snapshot)
                for other_seq, other in rows:
                    doc.apply_update(bytes(damaged) if other_seq == seq else other)
            except BaseException:  # pycrdt panics are BaseExceptions
                return seq, bytes(damaged)
    raise AssertionError("no single flipped byte breaks these updates")


# -- 8: deleting an open notebook closes it for good --------------------------------------


async def test_deleting_an_open_notebook_closes_its_rooms_for_good(server, make_notebook):
    path = make_notebook(["doomed"])
    alice = await YClient.connect(server, path, "alice-token")
    comments = await open_room(server, f"json:comments:{alice.file_id}", "bob-token")
    room = f"json:notebook:{alice.file_id}"
    try:
        alice.insert(0, None, " edit")
        await wait_until(lambda: _stored_rows(server, alice.file_id) > 0, 5)
        async with server.client("admin-token") as admin:
            assert (await admin.delete(f"/api/contents/{path}")).status_code == 204
        assert await alice.wait_closed(5) == 4404
        assert await comments.wait_closed(5) == 4404
        for client in (alice, comments):
            [error] = client.raw_of_type("error")
            assert error["reason"] == "deleted"
            assert error["message"] == "This notebook was deleted by someone."
        # The stored document is forgotten, and nothing brings the file back.
        assert _stored_rows(server, alice.file_id) == 0
        with pytest.raises(websockets.InvalidStatus) as caught:
            await websockets.connect(room_url(server, room, "alice-token"))
        assert caught.value.response.status_code == 404
        other = await YClient.connect(server, make_notebook(["other"]), "alice-token")
        assert (await other.save(1))["status"] in ("success", "skipped")  # a barrier
        await other.close()
        assert not (server.root / path).exists()
    finally:
        await alice.close()
        await comments.close()


async def test_notebook_vanishing_from_disk_closes_its_room(server, make_notebook):
    path = make_notebook(["vanishing"])
    alice = await YClient.connect(server, path, "alice-token")
    try:
        os.remove(server.root / path)
        assert await alice.wait_closed(5) == 4404
        assert alice.raw_of_type("error")[0]["reason"] == "deleted"
        assert not (server.root / path).exists()
        assert _stored_rows(server, alice.file_id) == 0
    finally:
        await alice.close()


def _stored_rows(server: Any, file_id: str) -> int:
    db = sqlite3.connect(server.data / "collab.sqlite")
    try:
        pattern = f"%:{file_id}"
        documents = db.execute(
            "SELECT count(*) FROM documents WHERE room_id LIKE ?", [pattern]
        ).fetchone()[0]
        updates = db.execute(
            "SELECT count(*) FROM updates WHERE room_id LIKE ?", [pattern]
        ).fetchone()[0]
        return int(documents + updates)
    finally:
        db.close()


# -- 10, 11, 12: failures say so ----------------------------------------------------------


async def test_oversize_message_is_logged_and_explained(spawn_server):
    server = spawn_server(
        "--CollabServer.max_message_size=100000",
        "--ContentsManager.post_save_hook=support.hooks.fail_marked_saves",
    )
    path = write_notebook(server.root, ["small"])
    client = await YClient.connect(server, path, "alice-token")
    try:
        await client.send_raw(bytes([0, 2]) + write_var_bytes(b"x" * 200_000))
        assert await client.wait_closed(5) == 1009
        assert json.loads(client.close_reason) == {"reason": "too_large"}
        [error] = client.raw_of_type("error")
        assert error["reason"] == "too_large" and error["limit"] == 100000
        assert "too large to save" in error["message"]
        log = server.log()
        assert "Closing alice@127.0.0.1 in json:notebook:" in log
        assert "a message of 200005 bytes is above the limit of 100000 bytes" in log
    finally:
        await client.close()

    # 12: a save that fails is logged and pushed to writers; the next success too.
    writer = await YClient.connect(server, path, "alice-token")
    viewer = await YClient.connect(server, path, "viewer-token")
    try:
        writer.insert(0, None, " FAIL-SAVE")
        await wait_until(lambda: writer.raw_of_type("save_failed"), 5)
        assert (await writer.save(1))["status"] == "failed"
        writer.delete(0, 5, len(writer.text(0)))
        await wait_until(lambda: writer.raw_of_type("saved"), 10)
        assert read_notebook(server.root, path).cells[0].source == "small"
        assert len(writer.raw_of_type("save_failed")) == 1
        assert not viewer.raw_of_type("save_failed")
        log = server.log()
        [line] = [x for x in log.splitlines() if f"Saving {path} (room json:notebook:" in x]
        assert "OSError" in line and str(server.root) not in line
    finally:
        await writer.close()
        await viewer.close()


async def test_broken_notebook_says_why(server):
    (server.root / "broken.ipynb").write_text("{not json")
    r = await open_session(server.http_url, "broken.ipynb", "alice-token")
    client = YClient()
    await client.open(room_url(server, f"json:notebook:{r.json()['fileId']}", "alice-token"))
    assert await client.wait_closed(5) == 4400
    [error] = client.raw_of_type("error")
    assert error["reason"] == "invalid_file"
    assert error["message"].startswith("This file is not a valid notebook: ")
    assert str(server.root) not in error["message"]
    assert str(server.root) not in client.close_reason


# -- 13: a page's own read-only sync is not a warning --------------------------------------


async def test_read_only_sync_replies_are_not_warnings(server, make_notebook):
    path = make_notebook(["quiet"])
    viewer = await YClient.connect(server, path, "viewer-token")
    comments = await open_room(server, f"json:comments:{viewer.file_id}", "viewer-token")
    try:
        dropped = "Dropped an update from victor@127.0.0.1 in "
        # Re-syncing sends the client's STEP2 (nothing the server lacks) again.
        await viewer.reconnect()
        await comments.reconnect()
        viewer.insert(0, None, " refused")  # a real refused write: the barrier
        room = f"json:notebook:{viewer.file_id}"
        await wait_until(lambda: f"{dropped}{room}" in server.log(), 5)
        log = server.log()
        assert log.count(f"{dropped}{room}") == 1
        assert f"{dropped}json:comments:{viewer.file_id}" not in log
    finally:
        await viewer.close()
        await comments.close()


# -- pure logic ---------------------------------------------------------------------------


def test_token_bucket_allows_bursts_then_the_rate():
    from collab_server.rooms.awareness import TokenBucket

    bucket = TokenBucket(rate=10, burst=3)
    now = bucket.stamp
    assert [bucket.take(now) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(now + 0.11)  # one token per 1/rate seconds
    assert not bucket.take(now + 0.11)
    assert TokenBucket(rate=0, burst=0).take()  # 0: no limit


def test_awareness_table_pins_caps_and_strips():
    from collab_server.rooms.awareness import AwarenessLimits, AwarenessTable

    def update(*entries: tuple[int, dict[str, Any] | None]) -> bytes:
        return encode_awareness([AwarenessEntry(cid, 1, state) for cid, state in entries])

    me, other = object(), object()
    user = {"username": "bob"}
    table = AwarenessTable(AwarenessLimits(max_state_bytes=100, max_ids=2, only_user=True))
    dropped = table.apply(me, user, update((1, {"current": "secret.ipynb"}), (2, {}), (3, {})))
    assert dropped == ["more than 2 awareness client ids"]
    assert table.apply(other, {"username": "eve"}, update((1, None))) == []  # not hers
    assert table.apply(me, user, update((2, {"x": "y" * 200}))) == ["a state above 100 bytes"]
    pending = {entry.client_id: entry.state for _, entry in table.take_pending()}
    assert pending == {1: {"user": user}, 2: {"user": user}}
    table.remove_owner(me)
    assert {entry.client_id: entry.state for _, entry in table.take_pending()} == {1: None, 2: None}

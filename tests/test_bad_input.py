"""Bad input gets a clean refusal, the server and the room keep working, and nothing is lost."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets

from collab_server.rooms.protocol import write_var_bytes
from support.notebooks import read_notebook
from support.server import USERS
from support.yclient import YClient, open_session, wait_until

BAD_FRAMES = {
    "empty frame": (b"", 1002),
    "truncated varint": (b"\xff\xff\xff", 1002),
    "truncated sync subtype": (b"\x00\x80", 1002),
    "unknown sync subtype": (b"\x00\x05\x00", 1002),
    "unknown message type": (b"\x09", 1002),
    "length past the end": (b"\x00\x02\x10abc", 1002),
    "garbage update": (b"\x00\x02" + write_var_bytes(b"garbage update bytes!!"), 1002),
    "garbage state vector": (b"\x00\x00" + write_var_bytes(b"\xff\xff\xff"), 1002),
    "awareness not JSON": (b"\x01" + write_var_bytes(b"\x01\x05\x01\x05{bad:"), 1002),
    "awareness not an object": (b"\x01" + write_var_bytes(b"\x01\x05\x01\x013"), 1002),
    "varint too long": (b"\x80" * 20, 1002),
}


@pytest.mark.parametrize("name", list(BAD_FRAMES))
async def test_bad_frame_closes_only_the_sender(server, make_notebook, name):
    frame, code = BAD_FRAMES[name]
    path = make_notebook(["safe"])
    bystander = await YClient.connect(server, path, "alice-token")
    victim = await YClient.connect(server, path, "bob-token")
    try:
        await victim.send_raw(frame)
        assert await victim.wait_closed() == code
        # The room keeps working for everyone else, and its content is intact.
        other = await YClient.connect(server, path, "carol-token")
        other.insert(0, None, "!")
        await wait_until(lambda: bystander.text(0) == "safe!", 5)
        assert (await bystander.save(1))["status"] == "success"
        assert read_notebook(server.root, path).cells[0].source == "safe!"
        await other.close()
    finally:
        await bystander.close()
        await victim.close()


async def test_text_frame_is_refused(server, make_notebook):
    client = await YClient.connect(server, make_notebook(), "alice-token")
    await client.send_raw("hello")
    assert await client.wait_closed() == 1003


async def test_oversized_message_is_refused(spawn_server):
    server = spawn_server("--CollabServer.max_message_size=65536")
    from support.notebooks import write_notebook

    path = write_notebook(server.root, ["small"])
    bystander = await YClient.connect(server, path, "alice-token")
    victim = await YClient.connect(server, path, "bob-token")
    try:
        await victim.send_raw(b"\x00\x02" + write_var_bytes(b"x" * 100_000))
        assert await victim.wait_closed() == 1009
        bystander.insert(0, None, "!")
        assert (await bystander.save(1))["status"] == "success"
        assert read_notebook(server.root, path).cells[0].source == "small!"
    finally:
        await bystander.close()


@pytest.mark.parametrize(
    ("room", "status"),
    [
        ("json:notebook:00000000-0000-0000-0000-000000000000", 404),
        ("not-a-room", 404),
        ("json:spreadsheet:abc", 404),
    ],
)
async def test_unknown_rooms_get_404(server, room, status):
    with pytest.raises(websockets.InvalidStatus) as caught:
        await websockets.connect(f"{server.ws_url}/api/collaboration/room/{room}?token=alice-token")
    assert caught.value.response.status_code == status
    assert caught.value.response.body  # a message a person can read


async def test_unknown_session_id_is_closed_with_1003(server, make_notebook):
    path = make_notebook()
    info = (await open_session(server.http_url, path, "alice-token")).json()
    client = YClient()
    await client.open(
        f"{server.ws_url}/api/collaboration/room/json:notebook:{info['fileId']}"
        "?sessionId=not-this-one&token=alice-token"
    )
    assert await client.wait_closed() == 1003
    assert "unknown_session" in client.close_reason


async def test_non_notebook_opened_as_notebook(server):
    (server.root / "plain.txt").write_text("not json")
    r = await open_session(server.http_url, "plain.txt", "alice-token")
    info = r.json()
    client = YClient()
    await client.open(
        f"{server.ws_url}/api/collaboration/room/json:notebook:{info['fileId']}"
        f"?sessionId={info['sessionId']}&token=alice-token"
    )
    assert await client.wait_closed() == 4400
    assert (server.root / "plain.txt").read_text() == "not json"


async def test_broken_notebook_json(server):
    (server.root / "broken.ipynb").write_text('{"cells": [')
    info = (await open_session(server.http_url, "broken.ipynb", "alice-token")).json()
    client = YClient()
    await client.open(
        f"{server.ws_url}/api/collaboration/room/json:notebook:{info['fileId']}"
        f"?sessionId={info['sessionId']}&token=alice-token"
    )
    assert await client.wait_closed() == 4400
    assert (server.root / "broken.ipynb").read_text() == '{"cells": ['


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("x.ipynb", b"{not json", 400),
        ("x.ipynb", b"[1, 2]", 400),
        ("x.ipynb", b'{"format": "json", "type": "spreadsheet"}', 400),
        ("x.ipynb", b'{"format": 1, "type": null}', 400),
        ("does-not-exist.ipynb", b'{"format": "json", "type": "notebook"}', 404),
        ("sub%2f..%2f..%2fetc%2fpasswd", b'{"format": "text", "type": "file"}', 404),
        ("%2e%2e/%2e%2e/etc/passwd", b'{"format": "text", "type": "file"}', 404),
    ],
)
async def test_session_endpoint_bad_requests(server, path, body, status):
    (server.root / "x.ipynb").write_text(
        '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    )
    async with httpx.AsyncClient() as c:
        r = await c.put(
            f"{server.http_url}/api/collaboration/session/{path}",
            content=body,
            headers={"Authorization": "token alice-token"},
        )
    assert r.status_code == status
    assert r.json()["message"]


@pytest.mark.parametrize(
    "model",
    [
        {
            "type": "notebook",
            "format": "json",
            "content": {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
        },
        {"type": "file", "format": "text", "content": "x"},
        {"type": "directory"},
    ],
    ids=["notebook", "file", "folder"],
)
def test_saving_into_a_missing_folder_is_404_with_a_message(server, model):
    """jupyter_server answers 500 "Unexpected error" with the file's name; nothing is made."""
    r = httpx.put(
        f"{server.http_url}/api/contents/no-such-folder/x.ipynb",
        json=model,
        headers={"Authorization": "token admin-token"},
    )
    assert r.status_code == 404, r.text
    assert "no folder 'no-such-folder'" in r.json()["message"]
    assert not (server.root / "no-such-folder").exists()


def test_literal_dot_dot_path_is_refused(server):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request(
        "PUT",
        "/api/collaboration/session/../../etc/passwd",
        body=b'{"format": "text", "type": "file"}',
        headers={"Authorization": "token alice-token"},
    )
    response = conn.getresponse()
    assert response.status in (400, 404)
    assert b"root:" not in response.read()


async def test_no_token_ever_reaches_the_log(server, make_notebook):
    path = make_notebook(name="team-b/log-check.ipynb")
    info = (await open_session(server.http_url, path, "alice-token")).json()
    room = f"{server.ws_url}/api/collaboration/room/json:notebook:{info['fileId']}"
    # Refused upgrades (401, 403, 404) with the token in the URL, as JupyterLab sends it.
    for url in (
        f"{room}?token=forged-token",
        f"{room}?token=tenant-a-token",
        f"{server.ws_url}/api/collaboration/room/json:notebook:nope?token=viewer-token",
    ):
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(url)
    # A protocol error logged with the connection's label.
    client = YClient()
    await client.open(f"{room}?sessionId={info['sessionId']}&token=bob-token")
    await client.send_raw(b"\xff")
    await client.wait_closed()
    # REST errors with the token in the query string and in the header.
    async with httpx.AsyncClient() as c:
        await c.put(
            f"{server.http_url}/api/collaboration/session/{path}?token=carol-token", content=b"{"
        )
        await c.get(f"{server.http_url}/api/contents/nope?token=forged-token")
        await c.get(
            f"{server.http_url}/api/contents/nope", headers={"Authorization": "Bearer forged-token"}
        )
    log = server.log()
    assert "403" in log and "401" in log
    for token in [*USERS, "forged-token"]:
        assert token not in log


async def test_a_client_that_stops_reading_is_disconnected_not_waited_for(spawn_server):
    """A stalled client must not hold updates back (or make the server buffer without bound)."""
    from support.notebooks import write_notebook

    server = spawn_server("--CollabServer.max_client_backlog=1048576")
    path = write_notebook(server.root, ["", ""])
    writer = await YClient.connect(server, path, "alice-token")
    reader = await YClient.connect(server, path, "bob-token")
    info = (await open_session(server.http_url, path, "carol-token")).json()
    # A raw socket that syncs, then never reads again.
    stalled = await websockets.connect(
        f"{server.ws_url}/api/collaboration/room/json:notebook:{info['fileId']}"
        f"?sessionId={info['sessionId']}&token=carol-token",
        max_queue=1,
    )
    await stalled.send(b"\x00\x00\x01\x00")
    # ~40 MB of updates at a pace a reading client keeps up with, more than the socket
    # buffers between the server and the stalled client hold. Each chunk is inserted and
    # deleted again, so the document itself stays small.
    chunk = "x" * 20_000
    for i in range(1000):
        writer.insert(0, 0, chunk)
        writer.delete(0, 0, len(chunk))
        await asyncio.sleep(0.004)
        if i % 50 == 0 and "client too slow" in server.log():
            break
    writer.insert(0, 0, "done")
    # Everyone else got everything, promptly; the stalled client was cut off.
    await wait_until(lambda: reader.text(0) == "done", 60)
    await wait_until(lambda: "client too slow" in server.log(), 10)
    assert server.alive()
    await writer.close()
    await reader.close()
    stalled.transport.abort()


async def test_numbers_too_large_for_the_database_are_refused_not_500(server, make_notebook):
    """Python reads any whole number; SQLite stores 64-bit ones. Every number a client sends
    is bounded before it reaches a query: 400 (or 404 for an id), never a 500."""
    path = make_notebook(["x = 1"])
    huge = str(10**20)
    logged_before = len(server.log())
    async with server.client("admin-token") as c:
        r = await c.post(f"/api/collab/publish/{path}", json={})
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        checks = [
            ("GET", f"/api/collab/published/{pid}?version={huge}", None, 400),
            ("GET", f"/api/collab/versions/{path}?before={huge}", None, 400),
            ("GET", f"/api/collab/versions/{path}?limit=-1", None, 400),
            ("GET", f"/api/collab/versions/{path}?limit=1_0", None, 400),
            (
                "POST",
                "/api/collab/clone",
                {"source": {"published": pid, "version": 10**20}, "target": "copy.ipynb"},
                400,
            ),
            (
                "POST",
                "/api/collab/clone",
                {"source": {"published": pid, "version": True}, "target": "copy.ipynb"},
                400,
            ),
            ("POST", f"/api/collab/apps/{pid}/runs", {"version": 10**20}, 400),
            ("GET", f"/api/collab/search?q=x&offset={huge}", None, 400),
            ("GET", f"/api/collab/notebooks?offset={huge}", None, 400),
            ("GET", f"/api/collab/activity?offset={huge}", None, 400),
            ("GET", "/api/collab/search?q=x&limit=101", None, 400),
            ("GET", "/api/collab/trending?limit=0", None, 400),
            ("GET", "/api/collab/recommendations?limit=-3", None, 400),
            ("GET", "/api/collab/published?limit=501", None, 400),
            ("GET", f"/api/collab/notebooks/{path}/change-requests/{huge}", None, 404),
            ("POST", f"/api/collab/notebooks/{path}/change-requests/{huge}/decline", {}, 404),
        ]
        for method, url, body, status in checks:
            r = await c.request(method, url, json=body)
            assert r.status_code == status, (url, r.status_code, r.text)
            assert r.json()["message"], url
            if "limit=" in url:  # names what was wrong
                assert '"limit" must be' in r.json()["message"], r.text
        # Still answering, and still reading ordinary numbers.
        r = await c.get(f"/api/collab/published/{pid}?version=1")
        assert r.status_code == 200, r.text
    log = server.log()[logged_before:]
    assert "Uncaught exception" not in log and "OverflowError" not in log

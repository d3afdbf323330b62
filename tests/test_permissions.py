"""Authorization per connection and per message (reference defects #324, #291) and pinned
identities in awareness (forged names)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets
from pycrdt import Doc, Text, create_update_message

from support.jsclient import JsClient
from support.notebooks import read_notebook
from support.yclient import YClient, open_session, wait_until


async def test_viewer_update_is_dropped_everywhere(server, make_notebook):
    path = make_notebook(["original"])
    editor = await YClient.connect(server, path, "alice-token")
    viewer = await YClient.connect(server, path, "viewer-token")
    try:
        # The viewer edits its own copy; the update goes over the wire as SYNC UPDATE.
        viewer.insert(0, None, " HACKED")
        # And a hand-made STEP2 carrying its whole state.
        await viewer.send_raw(bytes([0, 1]) + _var_bytes(viewer.doc.get_update()))
        # A save request from the viewer is refused.
        reply = await viewer.save(3)
        assert reply["status"] == "failed"
        # Give the server every chance to (wrongly) apply and broadcast it.
        editor.insert(0, None, "!")
        await wait_until(lambda: "!" in viewer.text(0), 5)  # order vs. its own edit varies
        assert editor.text(0) == "original!"
        assert (await editor.save(1))["status"] == "success"
        assert read_notebook(server.root, path).cells[0].source == "original!"
        # A fresh client sees no trace of it either.
        fresh = await YClient.connect(server, path, "bob-token")
        assert fresh.text(0) == "original!"
        await fresh.close()
    finally:
        await editor.close()
        await viewer.close()


async def test_viewer_still_receives_everything_and_may_send_awareness(server, make_notebook):
    path = make_notebook(["a"])
    editor = await YClient.connect(server, path, "alice-token")
    viewer = await YClient.connect(server, path, "viewer-token")
    try:
        editor.insert(0, None, "bc")
        await wait_until(lambda: viewer.text(0) == "abc", 5)
        await viewer.set_awareness({"cursor": {"cell": 0, "index": 1}})
        await wait_until(lambda: viewer.doc.client_id in editor.awareness, 5)
        assert editor.awareness[viewer.doc.client_id]["user"]["username"] == "victor"
    finally:
        await editor.close()
        await viewer.close()


async def test_js_viewer_edit_never_reaches_disk(server, make_notebook):
    path = make_notebook(["keep me"])
    r = await open_session(server.http_url, path, "viewer-token")
    info = r.json()
    js = await JsClient.start()
    editor = await YClient.connect(server, path, "alice-token")
    try:
        await js.connect(server, info["fileId"], info["sessionId"], "viewer-token")
        await js.call("insertText", cell=0, index=0, text="EVIL ")
        await js.call("addCell", index=1, source="evil cell")
        # Barrier: a presence change the JS client sends after its edits, on the same socket.
        # Once the editor sees it, the server has handled the edits; the editor's own STEP1
        # answer then carries anything of them the room had taken.
        js_id = (await js.call("awareness"))["clientId"]
        await js.call("setCursor", cursor="after the edits")
        await wait_until(
            lambda: (editor.awareness.get(js_id) or {}).get("cursor") == "after the edits", 5
        )
        await editor.barrier()
        assert editor.text(0) == "keep me"
        assert len(editor.content()["cells"]) == 1
        # What the room writes to disk has none of it either.
        assert (await editor.save(1))["status"] == "success"
        assert read_notebook(server.root, path).cells[0].source == "keep me"
    finally:
        await js.close()
        await editor.close()


@pytest.mark.parametrize(
    ("token", "status"),
    [(None, 401), ("forged-token", 401), ("tenant-a-token", 403)],
)
async def test_unauthorized_upgrade_is_refused_before_any_room_exists(
    server, make_notebook, token, status
):
    path = make_notebook(["secret"])
    info = (await open_session(server.http_url, path, "alice-token")).json()
    url = f"{server.ws_url}/api/collaboration/room/json:notebook:{info['fileId']}"
    if token:
        url += f"?token={token}"
    with pytest.raises(websockets.InvalidStatus) as caught:
        await websockets.connect(url)
    assert caught.value.response.status_code == status
    # No side effect: the file was never loaded into a room.
    log = server.log()
    assert f"Loaded {path}" not in log


async def test_identity_in_awareness_is_pinned_by_the_server(server, make_notebook):
    path = make_notebook(["x"])
    alice = await YClient.connect(server, path, "alice-token")
    bob = await YClient.connect(server, path, "bob-token")
    try:
        await bob.set_awareness(
            {"user": {"name": "Alice Editor", "username": "alice"}, "cursor": 1}
        )
        await wait_until(lambda: bob.doc.client_id in alice.awareness, 5)
        seen = alice.awareness[bob.doc.client_id]
        assert seen["user"]["username"] == "bob"
        assert seen["user"]["display_name"] == "Bob Editor"
        assert seen["cursor"] == 1
        # Bob cannot speak for Alice's awareness id either.
        await alice.set_awareness({"cursor": 5})
        await wait_until(lambda: alice.doc.client_id in bob.awareness, 5)
        await bob.set_awareness(None, client_id=alice.doc.client_id)
        await bob.set_awareness(
            {"cursor": 99, "user": {"name": "x"}}, client_id=alice.doc.client_id
        )
        # Barrier: Bob's own presence, sent after the forged ones on the same socket.
        await bob.set_awareness({"cursor": "after the forgeries"})
        await wait_until(
            lambda: alice.awareness[bob.doc.client_id]["cursor"] == "after the forgeries", 5
        )
        assert alice.awareness[alice.doc.client_id]["cursor"] == 5
        assert alice.awareness[alice.doc.client_id]["user"]["username"] == "alice"
    finally:
        await alice.close()
        await bob.close()


async def test_js_awareness_user_is_overwritten(server, make_notebook):
    path = make_notebook(["x"])
    info = (await open_session(server.http_url, path, "bob-token")).json()
    watcher = await YClient.connect(server, path, "alice-token")
    js = await JsClient.start()
    try:
        await js.connect(server, info["fileId"], info["sessionId"], "bob-token")
        await js.call(
            "setUser", user={"name": "Mallory", "username": "alice", "display_name": "Alice"}
        )
        js_id = (await js.call("awareness"))["clientId"]
        await wait_until(
            lambda: (watcher.awareness.get(js_id) or {}).get("user", {}).get("username") == "bob", 5
        )
        assert watcher.awareness[js_id]["user"]["display_name"] == "Bob Editor"
    finally:
        await js.close()
        await watcher.close()


async def test_joining_client_receives_present_states_and_closed_states_vanish(
    server, make_notebook
):
    path = make_notebook(["x"])
    alice = await YClient.connect(server, path, "alice-token")
    await alice.set_awareness({"cursor": 3})
    # The server has taken Alice's state once it comes back to her (before Bob joins).
    await wait_until(lambda: alice.doc.client_id in alice.awareness, 5)
    bob = await YClient.connect(server, path, "bob-token")
    try:
        await wait_until(lambda: alice.doc.client_id in bob.awareness, 5)
        assert bob.awareness[alice.doc.client_id]["user"]["username"] == "alice"
        await alice.close()
        # Removed at once, not after the 30 s awareness timeout.
        await wait_until(lambda: bob.awareness.get(alice.doc.client_id, "gone") is None, 2)
    finally:
        await bob.close()


async def test_global_awareness_room(server):
    url = f"{server.ws_url}/api/collaboration/room/JupyterLab:globalAwareness?token=alice-token"
    a = YClient()
    await a.open(url)
    b = YClient()
    await b.open(url.replace("alice", "bob"))
    try:
        await asyncio.wait_for(a.synced.wait(), 5)
        await b.set_awareness({"current": "nb.ipynb"})
        # By default each connection only gets its own presence back (pinned identity):
        # people of other tenants, and the documents they have open, stay invisible.
        await wait_until(lambda: b.doc.client_id in b.awareness, 5)
        assert b.awareness[b.doc.client_id]["user"]["username"] == "bob"
        await a.set_awareness({"current": "other.ipynb"})
        await wait_until(lambda: a.doc.client_id in a.awareness, 5)
        assert b.doc.client_id not in a.awareness
        assert a.doc.client_id not in b.awareness
        # Document updates in a presence-only room go nowhere.
        doc = Doc()
        doc.get("t", type=Text).insert(0, "junk")
        await b.send_raw(create_update_message(doc.get_update()))
        await b.barrier()  # the server has handled the update (and broadcast whatever it would)
        await a.barrier()  # and a has received it
        assert a.doc.get_update() == Doc().get_update() or str(a.doc.get("t", type=Text)) == ""
    finally:
        await a.close()
        await b.close()


async def test_session_endpoint_checks_read_not_write(server, make_notebook):
    """Opening a session needs ``read`` on the file, not ``write``: a viewer (read only) and a
    commenter get a session; someone with no right on the file gets 403 whether or not it
    exists, and a request without a token is refused."""
    path = make_notebook(name="team-b/private.ipynb")
    for token in ("viewer-token", "commenter-token"):
        r = await open_session(server.http_url, path, token)
        assert r.status_code in (200, 201), (token, r.status_code, r.text)
        assert r.json()["fileId"]
    # The viewer's session is real: it joins the room (and may read, not write).
    viewer = await YClient.connect(server, path, "viewer-token")
    try:
        assert viewer.text(0) == "x = 1"
    finally:
        await viewer.close()
    # tenant-a may write in team-a only: no right at all on team-b.
    r = await open_session(server.http_url, path, "tenant-a-token")
    assert r.status_code == 403
    missing = await open_session(server.http_url, "team-b/missing.ipynb", "tenant-a-token")
    assert missing.status_code == 403  # not 404: nobody learns what exists where they may not read
    own = make_notebook(name="team-a/own.ipynb")
    assert (await open_session(server.http_url, own, "tenant-a-token")).status_code in (200, 201)
    async with httpx.AsyncClient() as c:
        r = await c.put(
            f"{server.http_url}/api/collaboration/session/{path}",
            json={"format": "json", "type": "notebook"},
        )
    assert r.status_code in (401, 403)  # 403: jupyter_server's XSRF check answers first


def _var_bytes(data: bytes) -> bytes:
    from collab_server.rooms.protocol import write_var_bytes

    return write_var_bytes(data)

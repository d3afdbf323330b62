"""Change requests against a real server: a reader proposes (a draft, or a copy made with the
versions' clone), writers list and review them with the diff, accepting applies the change to
the live room as a forward edit (a connected pycrdt client sees it) and records a version,
merges over later changes or refuses with 409, decline with a comment, cancel by the proposer,
and every right: a reader cannot accept, a stranger cannot see."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support import server as support_server
from support.notebooks import notebook_json
from support.server import ServerProcess
from support.yclient import YClient, wait_until

# A reader of everything with a folder of her own to make copies in.
RHEA = {"id": "rhea", "name": "Rhea Reader", "grants": [["", "read"], ["home/rhea", "write"]]}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    support_server.USERS["rhea-token"] = RHEA
    try:
        process = ServerProcess(tmp_path_factory.mktemp("changes")).start()
    finally:
        del support_server.USERS["rhea-token"]
    (process.root / "home" / "rhea").mkdir(parents=True)
    yield process
    process.stop()


async def call(srv: ServerProcess, token: str, method: str, url: str, **kw: Any) -> tuple[int, Any]:
    async with srv.client(token) as c:
        r = await c.request(method, url, **kw)
    return r.status_code, (r.json() if r.content else None)


def crs(path: str, *rest: str | int) -> str:
    return "/".join([f"/api/collab/notebooks/{path}/change-requests", *map(str, rest)])


async def make_target(srv: ServerProcess, path: str) -> dict[str, Any]:
    nb = notebook_json(("md", "# Target"), ("code", "x = 1"), ("code", "y = 2"))
    status, body = await call(
        srv,
        "alice-token",
        "PUT",
        f"/api/contents/{path}",
        json={"type": "notebook", "format": "json", "content": nb},
    )
    assert status in (200, 201), body  # fmt: skip
    return nb


def edited(nb: dict[str, Any], **sources: str) -> dict[str, Any]:
    out = copy.deepcopy(nb)
    for cell in out["cells"]:
        if cell["id"] in sources:
            cell["source"] = sources[cell["id"]]
    return out


async def test_propose_review_accept_decline_cancel(srv: ServerProcess) -> None:
    path = "cr/target.ipynb"
    (srv.root / "cr").mkdir()
    nb = await make_target(srv, path)

    # A reader proposes a draft: one cell edited, one added.
    draft = edited(nb, c1="x = 10")
    draft["cells"].append({**draft["cells"][2], "id": "added", "source": "z = x + y"})
    status, mine = await call(srv, "viewer-token", "POST", crs(path),
                              json={"message": "Use ten", "notebook": draft})  # fmt: skip
    assert status == 201, mine
    assert mine["status"] == "open"
    assert mine["proposer"] == {"id": "victor", "name": "Victor Viewer"}
    assert mine["source"] == "draft"

    # Another reader proposes from her copy (the versions' clone), edited through the
    # contents API; its base is the version the copy was cloned from.
    status, cloned = await call(
        srv,
        "rhea-token",
        "POST",
        "/api/collab/clone",
        json={"source": {"path": path}, "target": "home/rhea"},
    )
    assert status == 201, cloned
    copy_path = cloned["path"]
    status, _ = await call(srv, "rhea-token", "PUT", f"/api/contents/{copy_path}",
                           json={"type": "notebook", "format": "json",
                                 "content": edited(nb, c2="y = 20")})  # fmt: skip
    assert status == 200
    status, hers = await call(srv, "rhea-token", "POST", crs(path),
                              json={"message": "Twenty", "from": copy_path})  # fmt: skip
    assert status == 201, hers
    assert hers["source"] == "copy"

    # Writers see every request; a reader only their own; a stranger nothing.
    status, listed = await call(srv, "alice-token", "GET", crs(path))
    assert status == 200 and listed["open"] == 2
    assert [r["id"] for r in listed["change_requests"]] == [hers["id"], mine["id"]]
    status, listed = await call(srv, "viewer-token", "GET", crs(path))
    assert [r["id"] for r in listed["change_requests"]] == [mine["id"]]
    for url in (crs(path), crs(path, mine["id"])):
        status, body = await call(srv, "tenant-a-token", "GET", url)
        assert status == 403, body
        assert "Use ten" not in str(body)
    status, body = await call(srv, "rhea-token", "GET", crs(path, mine["id"]))
    assert status == 404, body  # another reader's request: as if there were none

    # The review: changes per cell with a line diff, nbdime's diff, not stale yet.
    status, review = await call(srv, "alice-token", "GET", crs(path, mine["id"]))
    assert status == 200, review
    assert [(c["kind"], c["cell_id"]) for c in review["changes"]] == [
        ("edited", "c1"), ("added", "added")]  # fmt: skip
    assert {"op": "+", "text": "x = 10"} in review["changes"][0]["lines"]
    assert any(e["op"] == "addrange" for e in review["diff"][0]["diff"])
    assert [c["id"] for c in review["base"]["cells"]] == ["c0", "c1", "c2"]  # the diff's base
    assert review["stale"] is False and review["conflicts"] == []

    # Rights: a reader cannot accept or decline, not even their own request.
    for action in ("accept", "decline"):
        status, body = await call(srv, "viewer-token", "POST", crs(path, mine["id"], action))
        assert status == 403, body

    # Accepting applies to the live room: a connected client sees it, no reload.
    client = await YClient.connect(srv, path, "alice-token")
    try:
        status, accepted = await call(srv, "bob-token", "POST", crs(path, mine["id"], "accept"),
                                      json={"comment": "Thanks"})  # fmt: skip
        assert status == 200, accepted
        assert accepted["status"] == "accepted" and accepted["version"]
        assert accepted["decided_by"]["id"] == "bob" and accepted["comment"] == "Thanks"
        await wait_until(lambda: len(client.content()["cells"]) == 4)
        assert client.text(1) == "x = 10" and client.text(3) == "z = x + y"

        # Rhea's request started before it: merged over the accepted change.
        status, review = await call(srv, "alice-token", "GET", crs(path, hers["id"]))
        assert review["stale"] is True and review["conflicts"] == []
        status, accepted2 = await call(srv, "alice-token", "POST", crs(path, hers["id"], "accept"))
        assert status == 200, accepted2
        await wait_until(lambda: client.text(2) == "y = 20")
        assert client.text(1) == "x = 10" and len(client.content()["cells"]) == 4

        # Deciding twice: 409.
        status, body = await call(srv, "alice-token", "POST", crs(path, mine["id"], "decline"))
        assert status == 409 and "already accepted" in body["message"]

        # A change to a cell edited meanwhile: listed as a conflict, accepting is a 409.
        current = client.content()
        status, third = await call(srv, "viewer-token", "POST", crs(path),
                                   json={"message": "Eleven",
                                         "notebook": edited(current, c1="x = 11")})  # fmt: skip
        assert status == 201, third
        client.insert(1, None, "0")  # x = 100 in the room
        await wait_until(lambda: client.text(1) == "x = 100")
        status, review = await call(srv, "alice-token", "GET", crs(path, third["id"]))
        assert review["stale"] is True and review["conflicts"] == ["c1"]
        status, body = await call(srv, "alice-token", "POST", crs(path, third["id"], "accept"))
        assert status == 409 and "changed since" in body["message"], body
        assert client.text(1) == "x = 100"  # nothing applied
        status, declined = await call(srv, "alice-token", "POST", crs(path, third["id"], "decline"),
                                      json={"comment": "Someone changed x meanwhile"})  # fmt: skip
        assert status == 200 and declined["status"] == "declined"
        assert declined["comment"] == "Someone changed x meanwhile"
    finally:
        await client.close()

    # The accepted changes are labelled versions, by the proposer and the person accepting.
    status, versions = await call(srv, "alice-token", "GET", f"/api/collab/versions/{path}")
    labelled = [v for v in versions["versions"] if (v["label"] or "").startswith("Change request")]
    assert [v["id"] for v in labelled] == [accepted2["version"], accepted["version"]]
    assert labelled[1]["kind"] == "save"
    assert [a["id"] for a in labelled[1]["authors"]] == ["victor", "bob"]

    # Cancel: only the proposer; a writer declines instead.
    status, fourth = await call(srv, "rhea-token", "POST", crs(path),
                                json={"message": "Again", "from": copy_path})  # fmt: skip
    assert status == 201, fourth
    status, body = await call(srv, "alice-token", "POST", crs(path, fourth["id"], "cancel"))
    assert status == 403, body
    status, cancelled = await call(srv, "rhea-token", "POST", crs(path, fourth["id"], "cancel"))
    assert status == 200 and cancelled["status"] == "cancelled"
    status, listed = await call(srv, "rhea-token", "GET", crs(path), params={"status": "all"})
    assert {r["status"] for r in listed["change_requests"]} == {"accepted", "cancelled"}


async def test_bad_requests(srv: ServerProcess) -> None:
    path = "bad/target.ipynb"
    (srv.root / "bad").mkdir()
    nb = await make_target(srv, path)
    cases = [
        ({"notebook": edited(nb, c1="x = 5")}, 400, "message"),
        ({"message": "  ", "notebook": edited(nb, c1="x = 5")}, 400, "message"),
        ({"message": "m"}, 400, "from"),
        ({"message": "m", "notebook": nb}, 400, "Nothing to propose"),
        ({"message": "m", "notebook": {"cells": 3}}, 422, "not a valid notebook"),
        ({"message": "m", "from": path}, 400, "itself"),
        ({"message": "m", "notebook": edited(nb, c1="x = 5"), "base_version": "nope"}, 404,
         "No version"),
    ]  # fmt: skip
    for body, expected, words in cases:
        status, answer = await call(srv, "viewer-token", "POST", crs(path), json=body)
        assert status == expected and words in answer["message"], (body, answer)
    status, answer = await call(srv, "viewer-token", "POST", crs(path), content=b"[")
    assert status == 400
    status, answer = await call(srv, "viewer-token", "GET", crs(path), params={"status": "x"})
    assert status == 400
    status, answer = await call(srv, "alice-token", "GET", crs(path, "999"))
    assert status == 404
    status, answer = await call(srv, "alice-token", "POST", crs(path, "abc", "accept"))
    assert status == 404
    status, answer = await call(srv, "viewer-token", "GET", crs("bad/missing.ipynb"))
    assert status == 404
    async with httpx.AsyncClient(base_url=srv.http_url) as anonymous:
        r = await anonymous.get(crs(path))
    assert r.status_code in (401, 403)


async def test_a_copy_names_its_source_only_to_who_may_read_it(srv: ServerProcess) -> None:
    path = "origin/source.ipynb"
    (srv.root / "origin").mkdir()
    (srv.root / "team-a").mkdir()
    await make_target(srv, path)
    status, cloned = await call(srv, "alice-token", "POST", "/api/collab/clone",
                                json={"source": {"path": path}, "target": "team-a"})  # fmt: skip
    assert status == 201, cloned

    async def origin(token: str) -> Any:
        for _ in range(300):  # the gallery indexes the new copy on its own
            status, info = await call(
                srv, token, "GET", f"/api/collab/notebooks/{cloned['path']}/info"
            )
            if status == 200:
                return info["cloned_from"]
            await asyncio.sleep(0.05)
        raise AssertionError("the copy was not indexed")

    assert (await origin("alice-token"))["path"] == path
    hidden = await origin("tenant-a-token")  # may read the copy, not its source
    assert hidden is not None and "path" not in hidden


async def test_accepting_with_nobody_connected_writes_the_file(srv: ServerProcess) -> None:
    path = "closed/target.ipynb"
    (srv.root / "closed").mkdir()
    nb = await make_target(srv, path)
    body = {"message": "m", "notebook": edited(nb, c2="y = 3")}
    status, made = await call(srv, "viewer-token", "POST", crs(path), json=body)
    assert status == 201, made
    status, accepted = await call(srv, "alice-token", "POST", crs(path, made["id"], "accept"))
    assert status == 200, accepted

    def on_disk() -> list[str]:
        cells = json.loads((srv.root / path).read_text())["cells"]
        return ["".join(c["source"]) for c in cells]

    # The room opened for the edit saves it and closes by itself.
    await wait_until(lambda: on_disk() == ["# Target", "x = 1", "y = 3"], timeout=15)


async def test_listings_count_open_requests_for_writers_only(srv: ServerProcess) -> None:
    """Search, the bulk listing and the other listings give a writer the number of open
    change requests on each notebook (one query a page); a reader never sees the key."""
    path = "crcount/quokka.ipynb"
    (srv.root / "crcount").mkdir()
    nb = notebook_json(("md", "# Quokka census"), ("code", "x = 1"))
    status, _ = await call(srv, "alice-token", "PUT", f"/api/contents/{path}",
                           json={"type": "notebook", "format": "json", "content": nb})  # fmt: skip
    assert status in (200, 201)

    async def row(token: str) -> dict[str, Any] | None:
        _, body = await call(srv, token, "GET", "/api/collab/search", params={"q": "quokka"})
        return next((r for r in body["results"] if r["path"] == path), None)

    for _ in range(300):  # bounded: the index follows the save within a moment
        if await row("viewer-token"):
            break
        await asyncio.sleep(0.05)
    assert (await row("alice-token"))["open_change_requests"] == 0  # type: ignore[index]

    ids = []
    for message in ("One", "Two"):
        status, made = await call(srv, "viewer-token", "POST", crs(path),
                                  json={"message": message,
                                        "notebook": edited(nb, c1=f"x = {message!r}")})  # fmt: skip
        assert status == 201, made
        ids.append(made["id"])
    # Numbered per notebook: other notebooks' requests (earlier tests) leave no trace.
    assert ids == [1, 2]
    writer = await row("alice-token")
    assert writer is not None and writer["open_change_requests"] == 2
    reader = await row("viewer-token")
    assert reader is not None and "open_change_requests" not in reader

    async def listed(token: str) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            _, page = await call(srv, token, "GET", "/api/collab/notebooks",
                                 params={"limit": 1000, "offset": offset})  # fmt: skip
            rows += page["notebooks"]
            offset = page["next"]
        return next(r for r in rows if r["path"] == path)

    assert (await listed("alice-token"))["open_change_requests"] == 2
    assert "open_change_requests" not in await listed("viewer-token")

    status, _ = await call(srv, "alice-token", "POST", crs(path, ids[0], "decline"))
    assert status == 200
    assert (await listed("alice-token"))["open_change_requests"] == 1

"""Names beside persistent ids on a real server whose ids are opaque (as a JWT provider's
``sub``): the gallery's owners, published copies' and apps' publishers, and app runs' users
carry the display name last seen for that id (``owner_name``, ``publisher_name``,
``user_name``), and the directory keeps it across a restart."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support import server as server_support
from support.notebooks import notebook_json
from support.server import ServerProcess
from support.yclient import wait_until

PUBLISHER, RUNNER, FRIEND = "u-5f2c9a41", "u-9b7e03d6", "u-31a0c7ee"
PEOPLE: dict[str, dict[str, Any]] = {
    # Publishes (``share`` on notebooks) and administers.
    "pia-token": {"id": PUBLISHER, "name": "Pia Publisher",
                  "grants": [["", "admin"], ["*", "admin"]]},
    # Read notebooks, read and run apps and published copies; write nothing.
    "rui-token": {"id": RUNNER, "name": "Rui Runner",
                  "grants": [["", "read"], ["*", "read"], ["*", "run"]]},
    "fay-token": {"id": FRIEND, "name": "Fay Friend",
                  "grants": [["", "read"], ["*", "read"], ["*", "run"]]},
}  # fmt: skip


@pytest.fixture(scope="module")
def named_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server_support.USERS.update(PEOPLE)  # read whenever the server starts
    process = ServerProcess(
        tmp_path_factory.mktemp("people"),
        ["--GalleryService.scan_interval=0.3", "--CollabServer.apps_pool_size=0"],
    )
    try:
        yield process.start()
        process.stop()
    finally:
        for key in PEOPLE:
            server_support.USERS.pop(key, None)


async def call(srv: ServerProcess, token: str, method: str, url: str, **kw: Any) -> Any:
    async with srv.client(token) as c:
        r: httpx.Response = await c.request(method, url, timeout=90, **kw)
    assert r.status_code in (200, 201), (method, url, r.status_code, r.text)
    return r.json()


def app_notebook() -> dict[str, Any]:
    nb = notebook_json(("md", "# Quarterly totals"), ("code", "n = 2"), ("code", "n * 21"))
    nb["cells"][1]["metadata"]["tags"] = ["parameters"]
    return nb


async def test_owners_publishers_and_runners_are_named_not_numbered(named_server):
    srv = named_server
    await call(srv, "pia-token", "PUT", "/api/contents/totals.ipynb",
               json={"type": "notebook", "format": "json", "content": app_notebook()})  # fmt: skip

    # The gallery: every listing and the info name the owner beside the id.
    async def found() -> list[dict[str, Any]]:
        body = await call(srv, "rui-token", "GET", "/api/collab/search", params={"q": "totals"})
        return [r for r in body["results"] if r["path"] == "totals.ipynb" and r["owner"]]

    (card,) = await wait_until(found)
    assert (card["owner"], card["owner_name"]) == (PUBLISHER, "Pia Publisher")

    # owner: takes the name on the card (any case) as well as the id; -owner: leaves it out.
    async def paths(q: str) -> list[str]:
        body = await call(srv, "rui-token", "GET", "/api/collab/search", params={"q": q})
        return [r["path"] for r in body["results"]]

    for q in ('owner:"pia publisher"', f"owner:{PUBLISHER}", 'totals owner:"Pia  Publisher"'):
        assert await paths(q) == ["totals.ipynb"], q
    assert await paths('owner:"Rui Runner"') == []
    assert await paths('-owner:"Pia Publisher"') == []
    listed = await call(srv, "rui-token", "GET", "/api/collab/notebooks")
    assert {(n["owner"], n["owner_name"]) for n in listed["notebooks"]} == {
        (PUBLISHER, "Pia Publisher")
    }

    # A published copy names its publisher: as made, listed, read, and in the notebook's info.
    made = await call(srv, "pia-token", "POST", "/api/collab/publish/totals.ipynb", json={})
    pid = made["id"]
    assert (made["publisher"], made["publisher_name"]) == (PUBLISHER, "Pia Publisher")
    copy = await call(srv, "rui-token", "GET", f"/api/collab/published/{pid}")
    assert (copy["publisher"], copy["publisher_name"]) == (PUBLISHER, "Pia Publisher")
    copies = (await call(srv, "rui-token", "GET", "/api/collab/published"))["published"]
    assert [c["publisher_name"] for c in copies if c["id"] == pid] == ["Pia Publisher"]
    info = await call(srv, "rui-token", "GET", "/api/collab/notebooks/totals.ipynb/info")
    assert (info["owner"], info["owner_name"]) == (PUBLISHER, "Pia Publisher")
    assert [c["publisher_name"] for c in info["published"]] == ["Pia Publisher"]

    # The apps listing and an app's page.
    apps = (await call(srv, "rui-token", "GET", "/api/collab/apps"))["apps"]
    (app,) = [a for a in apps if a["id"] == pid]
    assert (app["publisher"], app["publisher_name"]) == (PUBLISHER, "Pia Publisher")
    described = await call(srv, "rui-token", "GET", f"/api/collab/apps/{pid}")
    assert described["publisher_name"] == "Pia Publisher"

    # A run names its runner, to the runner and to whom it is shared with.
    run = await call(srv, "rui-token", "POST", f"/api/collab/apps/{pid}/runs?wait=60",
                     json={"parameters": {"n": 3}})  # fmt: skip
    assert run["status"] == "succeeded", run
    assert (run["user"], run["user_name"]) == (RUNNER, "Rui Runner")
    await call(srv, "rui-token", "POST", f"/api/collab/runs/{run['id']}/shares",
               json={"principal": f"user:{FRIEND}"})  # fmt: skip
    theirs = await call(srv, "fay-token", "GET", f"/api/collab/runs/{run['id']}")
    assert (theirs["user"], theirs["user_name"], theirs["mine"]) == (RUNNER, "Rui Runner", False)
    shared = (await call(srv, "fay-token", "GET", "/api/collab/runs?shared=1"))["runs"]
    assert [r["user_name"] for r in shared] == ["Rui Runner"]
    mine = (await call(srv, "rui-token", "GET", "/api/collab/runs"))["runs"]
    assert [r["user_name"] for r in mine] == ["Rui Runner"]

    # Activity (an administrator sees everyone's): each row names its person.
    async with srv.client("rui-token") as c:
        assert (await c.post("/api/collab/notebooks/totals.ipynb/views")).status_code == 204

    async def viewers() -> set[tuple[str, str]]:
        rows = (await call(srv, "pia-token", "GET", "/api/collab/activity"))["activity"]
        return {(r["person"], r["person_name"]) for r in rows if r["views"]}

    assert (RUNNER, "Rui Runner") in await wait_until(viewers)


async def test_names_outlive_a_restart_and_follow_a_rename(named_server):
    srv = named_server
    # Started again with nobody seen yet: the owner's name comes from the directory.
    srv.stop()
    srv.start()

    async def owner_name() -> str:
        body = await call(srv, "rui-token", "GET", "/api/collab/search", params={"q": "totals"})
        return str(body["results"][0]["owner_name"]) if body["results"] else ""

    assert await wait_until(owner_name) == "Pia Publisher"
    # The provider now calls her otherwise: her next request updates the directory.
    srv.stop()
    server_support.USERS["pia-token"] = {**PEOPLE["pia-token"], "name": "Pia P. Publisher"}
    try:
        srv.start()
    finally:
        server_support.USERS["pia-token"] = PEOPLE["pia-token"]
    await call(srv, "pia-token", "GET", "/api/status")
    assert await owner_name() == "Pia P. Publisher"

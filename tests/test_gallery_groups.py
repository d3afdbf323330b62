""" "Popular in your group" against a real server whose provider knows groups (the optional
``Groups`` capability): what the other members of a person's groups viewed lately, with the
group in the reason; never a notebook the person cannot read; nothing for people in no group."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from support import server as support_server
from support.notebooks import notebook_json
from support.server import ServerProcess

GROUPS = {
    "alice-token": ["analysts"],
    "bob-token": ["analysts"],
    "carol-token": ["analysts", "ops"],
    "tenant-a-token": ["analysts"],
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    saved = dict(support_server.USERS)
    for token, groups in GROUPS.items():
        support_server.USERS[token] = {**saved[token], "groups": groups}
    try:
        process = ServerProcess(
            tmp_path_factory.mktemp("groups"),
            ["--GalleryService.scan_interval=0.3"],
            provider="support.providers.GroupsTableProvider",
        ).start()
    finally:
        support_server.USERS.clear()
        support_server.USERS.update(saved)
    yield process
    process.stop()


async def call(srv: ServerProcess, token: str, method: str, url: str, **kw: Any) -> Any:
    async with srv.client(token) as c:
        r = await c.request(method, url, **kw)
    assert r.status_code in (200, 201, 204), r.text
    return r.json() if r.content else None


async def test_popular_in_your_group(srv: ServerProcess) -> None:
    for path in ("g/popular.ipynb", "g/quiet.ipynb", "g/ops.ipynb"):
        (srv.root / "g").mkdir(exist_ok=True)
        nb = notebook_json(("md", f"# {path}"), ("code", "x = 1"))
        await call(srv, "admin-token", "PUT", f"/api/contents/{path}",
                   json={"type": "notebook", "format": "json", "content": nb})  # fmt: skip
    deadline = time.monotonic() + 15
    while len((await call(srv, "admin-token", "GET", "/api/collab/search"))["results"]) < 3:
        assert time.monotonic() < deadline, "not indexed"
        await asyncio.sleep(0.1)
    for token, path in [("bob-token", "g/popular.ipynb"), ("carol-token", "g/popular.ipynb"),
                        ("carol-token", "g/ops.ipynb")]:  # fmt: skip
        await call(srv, token, "POST", f"/api/collab/notebooks/{path}/views")

    found = (await call(srv, "alice-token", "GET", "/api/collab/recommendations"))["results"]
    by_path = {r["path"]: r for r in found}
    popular = by_path["g/popular.ipynb"]
    assert popular["kind"] == "group"
    assert popular["reason"] == (
        "Popular in your group analysts: used by 2 of its members in 30 days"
    )
    assert by_path["g/ops.ipynb"]["kind"] == "group"  # carol is in analysts too
    assert found[0]["path"] == "g/popular.ipynb"  # the most used by the group first

    # Carol's groups: analysts (bob viewed popular) and ops (nobody else in it).
    found = (await call(srv, "carol-token", "GET", "/api/collab/recommendations"))["results"]
    reasons = {r["path"]: r["reason"] for r in found if r["kind"] == "group"}
    assert "g/popular.ipynb" not in reasons  # she viewed it lately herself
    assert reasons == {}

    # In the group but unable to read g/: nothing from it, not even named.
    found = (await call(srv, "tenant-a-token", "GET", "/api/collab/recommendations"))["results"]
    assert not any(r["path"].startswith("g/") for r in found)
    assert "popular" not in str(found)

    # In no group: no group recommendations.
    found = (await call(srv, "viewer-token", "GET", "/api/collab/recommendations"))["results"]
    assert not any(r["kind"] == "group" for r in found)

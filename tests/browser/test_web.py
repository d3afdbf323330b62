"""The web page in real Chromium (Debian's, driven by Playwright): two people editing one
notebook, presence and cursors, connection and save state, read-only viewers, sandboxed HTML
output, keyboard, the notebook browser, a narrow window."""

from __future__ import annotations

from typing import Any

import httpx
import nbformat

from conftest import read_notebook, write_notebook
from support.browser import SOURCES, needs_chromium, open_page
from support.yclient import wait_until

pytestmark = needs_chromium


async def open_notebook(browser: Any, server: Any, path: str, token: str, **kw: Any) -> Any:
    page = await open_page(browser, server, f"/notebooks/{path}", token, **kw)
    await page.wait_for_selector('[data-testid="connection"][data-state="connected"]')
    # A cell is drawn (toolbar and editor) when it scrolls into view; until then it is an
    # empty placeholder (``.cell.pending``): wait for a drawn one.
    await page.wait_for_selector(".cell:not(.pending)")
    return page


async def test_two_people_edit_one_notebook(browser, server):
    path = write_notebook(server.root, ["first cell"], "web/together.ipynb")
    alice = await open_notebook(browser, server, path, "alice-token")
    bob = await open_notebook(browser, server, path, "bob-token")
    assert "token" not in alice.url  # the token signed the browser in and left the address
    await alice.click(".cell .cm-content")
    await alice.keyboard.press("End")
    await alice.keyboard.type(" from alice")
    await bob.wait_for_function(
        "() => document.querySelector('.cell .cm-content').innerText"
        ".includes('first cell from alice')"
    )
    # Presence: both people, in the identity the server vouches for; alice's caret at bob's.
    await bob.wait_for_selector('[data-testid="presence"] [data-username="alice"]')
    await bob.wait_for_selector('[data-testid="presence"] [data-username="bob"]')
    await bob.wait_for_selector(".cm-ySelectionCaret")
    # Bob adds a cell; alice sees it.
    await bob.click("text=+ Code")
    await bob.keyboard.type("x = 2")
    await alice.wait_for_function("() => document.querySelectorAll('.cell').length === 2")
    await alice.wait_for_function(
        "() => document.querySelectorAll('.cell .cm-content')[1].innerText.includes('x = 2')"
    )
    # Saved: the page says so, and the file has it.
    await alice.keyboard.press("Control+s")
    await alice.wait_for_selector('[data-testid="save-state"]:has-text("All changes saved")')
    nb = read_notebook(server.root, path)
    assert [c.source for c in nb.cells] == ["first cell from alice", "x = 2"]
    assert alice.errors == [] and bob.errors == []


async def test_viewers_see_a_read_only_notebook(browser, server):
    path = write_notebook(server.root, ["look, do not touch"], "web/readonly.ipynb")
    page = await open_notebook(browser, server, path, "viewer-token")
    await page.wait_for_selector('[data-testid="read-only"]')
    assert await page.get_attribute(".cell .cm-content", "contenteditable") == "false"
    assert await page.query_selector("text=+ Code") is None
    await page.click(".cell .cm-content")
    await page.keyboard.type("HACK")
    assert "HACK" not in await page.inner_text(".cell .cm-content")
    assert read_notebook(server.root, path).cells[0].source == "look, do not touch"


async def test_html_output_runs_sandboxed(browser, server):
    nb = nbformat.v4.new_notebook()
    html = (
        "<b id='inside'>hi</b><script>try { parent.document.title = 'pwned' } catch (e) {}"
        "document.getElementById('inside').dataset.ran = 'yes'</script>"
    )
    nb.cells = [nbformat.v4.new_code_cell("show()", outputs=[
        nbformat.v4.new_output("display_data", data={"text/html": html, "text/plain": "hi"}),
        nbformat.v4.new_output("stream", name="stdout", text="plain text out\n"),
    ])]  # fmt: skip
    (server.root / "web").mkdir(exist_ok=True)
    nbformat.write(nb, server.root / "web/output.ipynb")
    page = await open_notebook(browser, server, "web/output.ipynb", "alice-token")
    frame = await page.wait_for_selector("iframe.output.html")
    assert await frame.get_attribute("sandbox") == "allow-scripts"
    inner = await frame.content_frame()
    # Barrier: the frame's script ran (it marks the element after trying to reach the page).
    await inner.wait_for_selector("#inside[data-ran='yes']")
    assert await page.title() != "pwned"
    assert "plain text out" in await page.inner_text(".outputs")


async def test_markdown_and_keyboard(browser, server):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title\n\nSome *text*"),
        nbformat.v4.new_code_cell("a"),
    ]
    (server.root / "web").mkdir(exist_ok=True)
    nbformat.write(nb, server.root / "web/keys.ipynb")
    page = await open_notebook(browser, server, "web/keys.ipynb", "alice-token")
    await page.wait_for_selector(".markdown h1:has-text('Title')")  # rendered, not editing
    await page.dblclick(".markdown")
    await page.keyboard.press("Shift+Enter")  # to the next cell
    await page.keyboard.type("bc")
    await page.wait_for_selector(".cell.code .cm-content:has-text('bc')")
    assert "bc" not in await page.inner_text(".cell.markdown")
    await page.keyboard.press("Escape")
    await page.wait_for_selector(".markdown h1:has-text('Title')")


async def test_notebook_browser_lists_searches_and_fits_a_narrow_window(browser, server):
    write_notebook(server.root, ["x"], "shelf/alpha.ipynb")
    write_notebook(server.root, ["y"], "shelf/beta.ipynb")
    page = await open_page(browser, server, "/", "alice-token", width=400)
    await page.goto(f"{server.http_url}/?path=shelf")
    await page.wait_for_selector(".entry a:has-text('alpha.ipynb')")
    await page.fill('input[type="search"]', "bet")
    await page.wait_for_function("() => document.querySelectorAll('.entry').length === 1")
    listed = await page.inner_text(".entries")
    assert "beta.ipynb" in listed and "alpha.ipynb" not in listed
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await page.click(".entry a:has-text('beta.ipynb')")
    await page.wait_for_selector('[data-testid="connection"][data-state="connected"]')
    assert page.url.endswith("/notebooks/shelf/beta.ipynb")


async def test_comment_on_selected_text_live_reply_resolve(browser, server):
    path = write_notebook(server.root, ["total = price * quantity"], "web/comments.ipynb")
    cora = await open_notebook(browser, server, path, "commenter-token")
    alice = await open_notebook(browser, server, path, "alice-token")
    # A commenter selects "price" and comments on it (her editor takes a selection, not edits).
    # The editor reads the page's selection on "selectionchange" (an event of its own, after
    # the change): the script returns once that event has been handled.
    await cora.evaluate("""() => new Promise((done) => {
        const line = document.querySelector('.cell .cm-line');
        const node = line.firstChild.nodeType === 3 ? line.firstChild : line.firstChild.firstChild;
        const text = line.textContent, start = text.indexOf('price');
        const range = document.createRange();
        const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
        let offset = 0, startNode, startOff, endNode, endOff, n;
        while ((n = walker.nextNode())) {
          const len = n.textContent.length;
          if (!startNode && start < offset + len) { startNode = n; startOff = start - offset; }
          if (!endNode && start + 5 <= offset + len) { endNode = n; endOff = start + 5 - offset; }
          offset += len;
        }
        range.setStart(startNode, startOff); range.setEnd(endNode, endOff);
        document.querySelector('.cell .cm-content').focus();
        const sel = getSelection(); sel.removeAllRanges(); sel.addRange(range);
        // Listeners run in the order they were added: the editor's (added when it was drawn)
        // has read the selection before this one runs.
        const seen = () => {
          if (String(getSelection()) !== 'price') return;
          document.removeEventListener('selectionchange', seen);
          done();
        };
        document.addEventListener('selectionchange', seen);
    })""")
    await cora.click('.cell button[title^="Comment on the selected text"]')
    await cora.wait_for_selector(".compose .target:has-text('price')")  # the selection, quoted
    await cora.fill(".compose textarea", "Is this **with** tax?")
    await cora.click(".compose button[type=submit]")
    # Alice sees it live, with the quote, highlighted in her editor.
    thread = await alice.wait_for_selector(".thread")
    assert "price" in await thread.inner_text()
    assert "Is this with tax?" in await thread.inner_text()
    await alice.wait_for_selector(".cm-comment-range:has-text('price')")
    # The highlight moves with typing before it.
    await alice.click(".cell .cm-content")
    await alice.keyboard.press("Home")
    await alice.keyboard.type("grand_")
    await alice.wait_for_selector(".cm-comment-range:has-text('price')")
    # Alice replies; Cora sees the reply; Cora resolves; it leaves the open list for both.
    await alice.fill(".reply input", "Yes, VAT included")
    await alice.press(".reply input", "Enter")
    await cora.wait_for_selector(".thread:has-text('Yes, VAT included')")
    await cora.click(".thread button:has-text('Resolve')")
    await alice.wait_for_selector(".threads:has-text('No open comments.')")
    await alice.check(".toggle input")
    await alice.wait_for_selector(".thread.resolved:has-text('resolved by')")
    assert "commenter" not in await cora.inner_text(".cell .cm-content")
    await wait_until(
        lambda: read_notebook(server.root, path).cells[0].source.startswith("grand_"), 5
    )


async def test_a_reply_or_edit_being_typed_survives_a_collaborators_comment(browser, server):
    """Any change to any thread redraws the list: a half-typed reply or edit keeps its text,
    focus and caret."""
    path = write_notebook(server.root, ["x = 1"], "web/drafts.ipynb")
    api = f"/api/collab/comments/{path}"
    async with server.client("alice-token") as c:
        r = await c.post(api, json={"target": {"type": "notebook"}, "body": "first thought"})
        assert r.status_code == 201
        thread = r.json()["id"]
    alice = await open_notebook(browser, server, path, "alice-token")
    await alice.wait_for_selector(".thread:has-text('first thought')")
    reply = alice.locator(".thread .reply input")
    await reply.click()
    await alice.keyboard.type("half a rep")

    async def bob_replies(body: str) -> None:
        async with server.client("bob-token") as c:
            answer = await c.post(f"{api}/{thread}/replies", json={"body": body})
            assert answer.status_code == 201, answer.text
        await alice.wait_for_selector(f".thread:has-text('{body}')")  # the redraw came

    await bob_replies("from bob")
    assert await reply.input_value() == "half a rep"
    assert await reply.evaluate("e => e === document.activeElement && e.selectionStart") == 10
    await alice.keyboard.type("ly")
    await alice.keyboard.press("Enter")
    await alice.wait_for_selector(".thread .comment:has-text('half a reply')")
    await alice.wait_for_function("() => !document.querySelector('.thread .reply input').value")

    # Editing her first comment while Bob answers again: the edit box stays, then saves.
    await alice.locator(
        ".thread .comment:has-text('first thought') button:has-text('Edit')"
    ).click()
    box = alice.locator('.thread textarea[aria-label="Edit comment"]')
    await box.fill("second thought")
    await bob_replies("bob again")
    assert await box.input_value() == "second thought"
    await alice.locator(".thread form.compose button[type=submit]").click()
    await alice.wait_for_selector(".thread .comment:has-text('second thought')")
    assert await box.count() == 0


async def test_deleted_text_shows_a_detached_thread_with_its_quote(browser, server):
    path = write_notebook(server.root, ["keep drop keep"], "web/detached.ipynb")
    cell = read_notebook(server.root, path).cells[0].id
    async with server.client("commenter-token") as c:
        target = {"type": "text", "cellId": cell, "start": 5, "end": 9}
        r = await c.post(f"/api/collab/comments/{path}", json={"target": target, "body": "why?"})
        assert r.status_code == 201
    alice = await open_notebook(browser, server, path, "alice-token")
    await alice.wait_for_selector(".cm-comment-range:has-text('drop')")
    await alice.click(".cell .cm-content")
    await alice.keyboard.press("End")
    for _ in range(10):
        await alice.keyboard.press("Backspace")
    await alice.wait_for_selector(".thread.detached:has-text('drop')", timeout=10_000)


async def sign_in(server: Any, name: str) -> str:
    async with httpx.AsyncClient(base_url=server.http_url) as c:
        r = await c.post(
            "/api/collab/login", json={"username": name, "password": f"{name}-password-1"}
        )
        return str(r.json()["token"])


async def test_owner_shares_a_notebook_in_the_share_dialog(browser, tmp_path):
    from support.server import ServerProcess

    server = ServerProcess(tmp_path, provider=None, ready_token=None)
    for name, flags in (("olga", ()), ("bob", ()), ("root", ("--admin",))):
        assert server.create_user(name, f"{name}-password-1", *flags).returncode == 0
    path = write_notebook(server.root, ["plans"], "team/plan.ipynb")
    server.start()
    try:
        async with server.client(await sign_in(server, "root")) as c:
            r = await c.post(
                "/api/collab/shares/team", json={"principal": "user:olga", "role": "owner"}
            )
            assert r.status_code == 201
        page = await open_notebook(browser, server, path, await sign_in(server, "olga"))
        await page.click('[data-testid="share"]')
        await page.wait_for_selector(".shares li[data-principal='user:olga']:has-text('via team')")
        await page.fill(".share-dialog input", "bob")
        await page.select_option('.share-dialog select[aria-label="Role"]', "commenter")
        await page.click(".share-dialog button[type=submit]")
        await page.wait_for_selector(".shares li[data-principal='user:bob']:has-text('commenter')")
        await page.fill(".share-dialog input", "nobody")
        await page.click(".share-dialog button[type=submit]")
        await page.wait_for_selector(".share-dialog .error:has-text('No user named')")
        async with server.client(await sign_in(server, "bob")) as c:
            me = (await c.get(f"/api/collab/me?path={path}")).json()
        assert me["permissions"]["comment"] is True and me["permissions"]["write"] is False
        await page.click(".shares li[data-principal='user:bob'] button:has-text('Remove')")
        await page.wait_for_selector(".shares li[data-principal='user:bob']", state="detached")
    finally:
        server.stop()


async def test_offline_edits_are_kept_and_sent_on_reconnect(browser, server):
    path = write_notebook(server.root, ["online"], "web/offline.ipynb")
    alice = await open_notebook(browser, server, path, "alice-token")
    bob = await open_notebook(browser, server, path, "bob-token", width=400)  # a narrow window
    assert await bob.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await alice.context.set_offline(True)
    await alice.wait_for_selector('[data-testid="connection"][data-state="offline"]')
    await alice.click(".cell .cm-content")
    await alice.keyboard.press("End")
    await alice.keyboard.type(" and offline")
    await alice.context.set_offline(False)
    await alice.wait_for_selector('[data-testid="connection"][data-state="connected"]')
    # Alice's caret may sit at the end of bob's line: compare the text without it.
    await bob.wait_for_function(f"() => ({SOURCES})() === 'online and offline'")


async def test_move_and_delete_cells_and_manage_own_comments(browser, server):
    path = write_notebook(server.root, ["one", "two"], "web/manage.ipynb")
    alice = await open_notebook(browser, server, path, "alice-token")
    cells = (
        "() => [...document.querySelectorAll('.cell .cm-content')].map(e => e.innerText).join('|')"
    )
    await alice.wait_for_function(f"{cells} === 'one|two'")
    await alice.click(".cell:nth-child(2) button[title='Move cell up']")
    await alice.wait_for_function(f"{cells} === 'two|one'")
    await alice.click(".cell:nth-child(2) button[title='Delete cell']")
    await alice.wait_for_function(f"{cells} === 'two'")
    await wait_until(
        lambda: [c.source for c in read_notebook(server.root, path).cells] == ["two"], 5
    )
    # A comment on the cell: edit it, reopen after resolving, delete it (a tombstone).
    await alice.click(".cell button[title^='Comment on the selected text']")
    await alice.fill(".compose textarea", "first thought")
    await alice.click(".compose button[type=submit]")
    await alice.wait_for_selector(".thread:has-text('On cell 1'):has-text('first thought')")
    await alice.click(".comment button:has-text('Edit')")
    await alice.fill(".compose textarea", "second thought")
    await alice.click(".compose button[type=submit]")
    await alice.wait_for_selector(".thread:has-text('second thought'):has-text('(edited)')")
    await alice.click(".thread button:has-text('Resolve')")
    await alice.check(".toggle input")
    await alice.click(".thread button:has-text('Reopen')")
    await alice.wait_for_selector(".thread.open")
    await alice.click(".comment button:has-text('Delete')")
    await alice.wait_for_selector(".comment:has-text('deleted')")
    assert alice.errors == []

"""Notebook editing in real Chromium, as JupyterLab users expect it: undo and redo of one's own
changes across cells (never someone else's), switching a cell between code and Markdown,
cutting, copying and pasting cells (also into another notebook), hiding outputs."""

from __future__ import annotations

from typing import Any

import nbformat

from conftest import read_notebook, write_notebook
from support.browser import SOURCES, needs_chromium, open_page
from support.yclient import wait_until

pytestmark = needs_chromium


async def open_notebook(browser: Any, server: Any, path: str, token: str, **kw: Any) -> Any:
    page = await open_page(browser, server, f"/notebooks/{path}", token, **kw)
    await page.wait_for_selector('[data-testid="connection"][data-state="connected"]')
    await page.wait_for_selector(".cell .cm-content")
    return page


async def sources_are(page: Any, expected: str) -> None:
    try:
        await page.wait_for_function(
            f"(expected) => ({SOURCES})() === expected", arg=expected, timeout=10_000
        )
    except Exception:
        actual = await page.evaluate(SOURCES)
        raise AssertionError(f"cells are {actual!r}, not {expected!r}") from None


async def saved(server: Any, path: str, predicate: Any) -> nbformat.NotebookNode:
    await wait_until(lambda: predicate(read_notebook(server.root, path)), 10)
    return read_notebook(server.root, path)


async def test_undo_takes_back_only_my_own_changes_across_cells(browser, server):
    path = write_notebook(server.root, ["start"], "nbops/undo.ipynb")
    alice = await open_notebook(browser, server, path, "alice-token")
    bob = await open_notebook(browser, server, path, "bob-token")
    # Alice types in the first cell, then adds a cell and types in it.
    await alice.click(".cell .cm-content")
    await alice.keyboard.press("End")
    await alice.keyboard.type(" alice")
    await alice.click("text=+ Code")
    await alice.keyboard.type("a = 1")
    await sources_are(bob, "start alice|a = 1")
    # Bob types at the start of the first cell.
    await bob.click(".cell .cm-content")
    await bob.keyboard.press("Control+Home")
    await bob.keyboard.type("bob ")
    await sources_are(alice, "bob start alice|a = 1")
    # Alice leaves the editor (command mode) and undoes everything she did, step by step.
    await alice.keyboard.press("Escape")
    undo = alice.locator('button[title^="Undo your last change"]')
    for _ in range(10):
        if await undo.is_disabled():
            break
        await alice.keyboard.press("Control+z")
    assert await undo.is_disabled()
    # Her cell and her text are gone; Bob's text stays, for both of them and in the file.
    await sources_are(alice, "bob start")
    await sources_are(bob, "bob start")
    nb = await saved(server, path, lambda nb: [c.source for c in nb.cells] == ["bob start"])
    assert len(nb.cells) == 1
    # Redo brings all of hers back (Ctrl+Shift+Z), Bob's text still in place.
    redo = alice.locator('button[title^="Redo"]')
    for _ in range(10):
        if await redo.is_disabled():
            break
        await alice.keyboard.press("Control+Shift+z")
    await sources_are(bob, "bob start alice|a = 1")
    # Inside a cell, Ctrl+Z is the editor's undo: it takes back text typed there.
    await alice.click(".cell:nth-child(2) .cm-content")
    await alice.keyboard.press("End")
    await alice.keyboard.type("23")
    await sources_are(bob, "bob start alice|a = 123")
    await alice.keyboard.press("Control+z")
    await sources_are(bob, "bob start alice|a = 1")
    # Bob's undo never touches Alice's changes: he undoes only his "bob ".
    await bob.keyboard.press("Escape")
    await bob.keyboard.press("Control+z")
    await sources_are(alice, "start alice|a = 1")
    assert alice.errors == [] and bob.errors == []


async def test_switch_a_cell_between_code_and_markdown_keeping_id_and_source(browser, server):
    path = write_notebook(server.root, ["# Heading", "x = 1"], "nbops/types.ipynb")
    before = read_notebook(server.root, path)
    ids = [c.id for c in before.cells]
    cell = before.cells[0].id
    async with server.client("commenter-token") as c:
        target = {"type": "text", "cellId": cell, "start": 2, "end": 9}
        r = await c.post(f"/api/collab/comments/{path}", json={"target": target, "body": "ok?"})
        assert r.status_code == 201
    page = await open_notebook(browser, server, path, "alice-token")
    bob = await open_notebook(browser, server, path, "bob-token")
    # The toolbar control: the first cell becomes Markdown (rendered), same id and source.
    await page.select_option(".cell:nth-child(1) select.cell-type", "markdown")
    await page.wait_for_selector(".cell:nth-child(1).markdown .markdown h1:has-text('Heading')")
    await bob.wait_for_selector(".cell:nth-child(1).markdown .markdown h1:has-text('Heading')")
    nb = await saved(server, path, lambda nb: nb.cells[0].cell_type == "markdown")
    assert [c.id for c in nb.cells] == ids and nb.cells[0].source == "# Heading"
    # The comment on its text is still attached (the id did not change).
    await page.wait_for_selector(".thread.attached")
    # The keyboard in command mode: select the second cell, M makes it Markdown, Y code again.
    await page.click(".cell:nth-child(2) .cm-content")
    await page.keyboard.press("Escape")
    await page.keyboard.press("m")
    await page.wait_for_selector(".cell:nth-child(2).markdown")
    nb = await saved(server, path, lambda nb: nb.cells[1].cell_type == "markdown")
    assert nb.cells[1].id == ids[1] and nb.cells[1].source == "x = 1"
    await page.keyboard.press("y")
    await page.wait_for_selector(".cell:nth-child(2).code")
    nb = await saved(server, path, lambda nb: nb.cells[1].cell_type == "code")
    assert nb.cells[1].id == ids[1] and nb.cells[1].source == "x = 1"
    assert nb.cells[1].outputs == [] and nb.cells[1].execution_count is None
    # One undo takes back one switch.
    await page.keyboard.press("Control+z")
    await page.wait_for_selector(".cell:nth-child(2).markdown")
    assert page.errors == [] and bob.errors == []


async def test_cut_copy_paste_cells_within_and_across_notebooks(browser, server):
    first = write_notebook(server.root, ["one", "two", "three"], "nbops/copy-a.ipynb")
    second = write_notebook(server.root, ["other"], "nbops/copy-b.ipynb")
    ids = {c.id for c in read_notebook(server.root, first).cells}
    page = await open_notebook(browser, server, first, "alice-token")
    # C copies the selected cell, V pastes it below: a new cell with a fresh id.
    await page.click(".cell:nth-child(1) .cm-content")
    await page.keyboard.press("Escape")
    await page.keyboard.press("c")
    await page.keyboard.press("v")
    await sources_are(page, "one|one|two|three")
    nb = await saved(server, first, lambda nb: len(nb.cells) == 4)
    assert nb.cells[1].id not in ids and len({c.id for c in nb.cells}) == 4
    # X cuts the selected (pasted) cell; the toolbar's Paste puts it back below "three".
    await page.keyboard.press("x")
    await sources_are(page, "one|two|three")
    await page.click(".cell:nth-child(3) .cm-content")
    await page.keyboard.press("Escape")
    await page.click('button[title^="Paste cells below"]')
    await sources_are(page, "one|two|three|one")
    # Copy "two" with the toolbar, then paste it into the other notebook (same browser).
    await page.click(".cell:nth-child(2) .cm-content")
    await page.click('button[title^="Copy the selected cell"]')
    other = await page.context.new_page()
    other.on("pageerror", lambda e: page.errors.append(str(e)))
    await other.goto(f"{server.http_url}/notebooks/{second}")
    await other.wait_for_selector('[data-testid="connection"][data-state="connected"]')
    await other.click(".cell .cm-content")
    await other.keyboard.press("Escape")
    await other.keyboard.press("Shift+V")  # above
    await sources_are(other, "two|other")
    nb = await saved(server, second, lambda nb: len(nb.cells) == 2)
    assert nb.cells[0].source == "two" and nb.cells[0].id not in ids
    assert page.errors == []


async def test_hidden_outputs_are_remembered_in_the_file(browser, server):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('hi')", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="visible output\n")])]  # fmt: skip
    (server.root / "nbops").mkdir(exist_ok=True)
    nbformat.write(nb, server.root / "nbops/outputs.ipynb")
    path = "nbops/outputs.ipynb"
    page = await open_notebook(browser, server, path, "alice-token")
    viewer = await open_notebook(browser, server, path, "viewer-token")
    await page.wait_for_selector(".outputs:has-text('visible output')")
    await page.click('.cell button[title^="Hide or show"]')
    await page.wait_for_selector('[data-testid="outputs-hidden"]')
    await viewer.wait_for_selector('[data-testid="outputs-hidden"]')  # everyone sees it hidden
    saved_nb = await saved(
        server, path, lambda nb: nb.cells[0].metadata.get("jupyter", {}).get("outputs_hidden")
    )
    assert saved_nb.cells[0].outputs[0].text == "visible output\n"  # hidden, not dropped
    # A viewer may look at them on their own page without changing the file.
    await viewer.click('[data-testid="outputs-hidden"] button')
    await viewer.wait_for_selector(".outputs:has-text('visible output')")
    # Reloaded, still hidden; O in command mode shows them again (and the key leaves the file).
    await page.reload()
    await page.wait_for_selector('[data-testid="outputs-hidden"]')
    await page.click(".cell .cm-content")
    await page.keyboard.press("Escape")
    await page.keyboard.press("o")
    await page.wait_for_selector(".outputs:has-text('visible output')")
    await saved(server, path, lambda nb: "jupyter" not in nb.cells[0].metadata)
    assert page.errors == [] and viewer.errors == []


async def test_someone_adding_a_cell_does_not_take_my_cursor(browser, server):
    path = write_notebook(server.root, ["mine"], "nbops/focus.ipynb")
    alice = await open_notebook(browser, server, path, "alice-token")
    bob = await open_notebook(browser, server, path, "bob-token")
    await bob.click(".cell .cm-content")
    await bob.keyboard.press("End")
    await bob.keyboard.type(" one")
    # Alice adds cells above and below Bob's while he types.
    await alice.click(".cell .cm-content")
    await alice.keyboard.press("Escape")
    await alice.keyboard.press("a")
    await alice.keyboard.press("j")
    await alice.keyboard.press("b")
    await sources_are(bob, "|mine one|")
    await bob.keyboard.type(" two")  # still in his cell: nothing typed is lost
    await sources_are(alice, "|mine one two|")
    assert bob.errors == []


async def test_keys_on_a_focused_button_press_the_button_not_a_cell_command(browser, server):
    path = write_notebook(server.root, ["x = 1"], "nbops/buttons.ipynb")
    page = await open_notebook(browser, server, path, "alice-token")
    await page.click(".cell .cm-content")
    await page.keyboard.press("Escape")  # a cell is selected: command mode
    await page.focus('[data-testid="more"]')
    await page.keyboard.press("Enter")  # opens the menu; does not start editing the cell
    await page.wait_for_selector(".menu:not([hidden]) [data-testid='download-ipynb']")
    assert not await page.evaluate("() => !!document.activeElement.closest('.cm-content')")
    await page.keyboard.press("Escape")
    await page.keyboard.press("b")  # the focus is back on the menu's button: not a command
    await page.focus(".cell")
    await page.keyboard.press("c")  # a marker: on the cell, keys are commands again
    await page.keyboard.press("v")
    await sources_are(page, "x = 1|x = 1")


async def test_a_phone_sees_whether_its_changes_are_saved(browser, server):
    path = write_notebook(server.root, ["x = 1"], "nbux/phone-save.ipynb")
    phone = await open_notebook(browser, server, path, "alice-token", width=390)
    await phone.click(".cell .cm-content")
    await phone.keyboard.press("End")
    await phone.keyboard.type("2")
    await saved(server, path, lambda nb: nb.cells[0].source == "x = 12")
    # The save state is shown (a check mark once the server has it), its words kept for
    # screen readers; "Connected" becomes a dot.
    state = phone.locator('[data-testid="save-state"][data-state="saved"]')
    await state.wait_for()
    assert await state.locator(".state-short .icon-check").is_visible()
    assert "All changes saved" in (await state.text_content() or "")
    connection = phone.locator('[data-testid="connection"]')
    assert "Connected" in (await connection.text_content() or "")
    box = await connection.locator(".state-text").bounding_box()
    assert box is not None and box["width"] <= 1
    assert phone.errors == []


async def test_a_comment_thread_names_its_cell_and_leads_to_it(browser, server):
    path = write_notebook(server.root, ["a = 1", "b = 2", "c = 3"], "nbux/where.ipynb")
    ids = [c.id for c in read_notebook(server.root, path).cells]
    async with server.client("commenter-token") as c:
        for target in (
            {"type": "cell", "cellId": ids[2]},
            {"type": "text", "cellId": ids[1], "start": 0, "end": 1},
        ):
            r = await c.post(
                f"/api/collab/comments/{path}", json={"target": target, "body": "why?"}
            )
            assert r.status_code == 201
    alice = await open_notebook(browser, server, path, "alice-token")
    await alice.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=thread-cell]')].map(n => n.textContent)"
        ".sort().join('|') === 'On cell 3|On text in cell 2'"
    )
    # The cell's comment button says how many open threads are on it.
    third = alice.locator(f'.cell[data-cell-id="{ids[2]}"]')
    button = third.locator(".comment-button")
    assert await button.get_attribute("data-count") == "1"
    assert await third.get_by_role("button", name="1 open comment on this cell").count() == 1
    assert await alice.locator(f'.cell[data-cell-id="{ids[0]}"] .comment-count').inner_text() == ""
    # The position is computed live: the cell moves up, its thread follows.
    await third.locator("button[title='Move cell up']").click()
    await alice.wait_for_selector('[data-testid="thread-cell"]:text-is("On cell 2")')
    # Clicking the place scrolls to the cell, selects and highlights it.
    await alice.locator('[data-testid="thread-cell"]:text-is("On cell 2")').click()
    await alice.wait_for_selector(f'.cell.active.revealed[data-cell-id="{ids[2]}"]')
    # Wide screens have the comments beside the cells: no "Comments (N)" in the header.
    assert await alice.locator('[data-testid="comments-jump"]').is_hidden()
    # On a phone the panel is under the cells: the header says how many, and leads there.
    phone = await open_notebook(browser, server, path, "viewer-token", width=390)
    jump = phone.locator('[data-testid="comments-jump"]')
    await phone.wait_for_selector('[data-testid="comments-jump"]:has-text("Comments (2)")')
    # A reader (no comment button) still sees there is a comment on the cell.
    await phone.wait_for_selector(f'.cell[data-cell-id="{ids[2]}"] .comment-button[data-count="1"]')
    # ...and none where there is none (drawn, not merely not drawn yet).
    quiet = phone.locator(f'.cell[data-cell-id="{ids[0]}"] .comment-button')
    await quiet.wait_for(state="attached")
    assert await quiet.is_hidden()
    await jump.click()
    await phone.wait_for_function(
        "() => { const r = document.querySelector('[data-testid=comments]')"
        ".getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight; }"
    )
    assert alice.errors == [] and phone.errors == []


async def test_html_tables_in_outputs_look_like_jupyter_and_scroll_sideways(browser, server):
    nb = nbformat.v4.new_notebook()
    header = "".join(f"<th>column_with_a_long_name_{i}</th>" for i in range(8))
    rows = "".join(
        f"<tr><th>{r}</th>" + "".join(f"<td>{r * i}</td>" for i in range(8)) + "</tr>"
        for r in range(4)
    )
    table = (
        f'<table class="dataframe"><thead><tr><th></th>{header}</tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
    nb.cells = [
        nbformat.v4.new_code_cell("df", outputs=[
            nbformat.v4.new_output("execute_result", data={"text/html": table}, execution_count=1),
        ]),
    ]  # fmt: skip
    (server.root / "nbux").mkdir(exist_ok=True)
    nbformat.write(nb, server.root / "nbux/table.ipynb")
    phone = await open_notebook(browser, server, "nbux/table.ipynb", "viewer-token", width=390)
    frame = await (await phone.wait_for_selector("iframe.output.html")).content_frame()
    assert frame is not None
    await frame.wait_for_selector("table.dataframe td")
    style = await frame.evaluate(
        """() => {
          const cell = document.querySelector('tbody td');
          const rows = document.querySelectorAll('tbody tr');
          const box = document.getElementById('collab-output');
          return {
            align: getComputedStyle(cell).textAlign,
            padding: getComputedStyle(cell).paddingLeft,
            border: getComputedStyle(cell).borderBottomStyle,
            odd: getComputedStyle(rows[0]).backgroundColor,
            even: getComputedStyle(rows[1]).backgroundColor,
            scrolls: getComputedStyle(box).overflowX,
            wide: box.scrollWidth > box.clientWidth,
          };
        }"""
    )
    assert style["align"] == "right" and style["padding"] != "0px" and style["border"] == "solid"
    assert style["odd"] != style["even"]
    assert style["scrolls"] == "auto" and style["wide"]
    # The frame grows to its content (the sideways scroll bar included): nothing is cut off.
    await frame.wait_for_function(
        "() => innerHeight > 100 && document.documentElement.scrollHeight <= innerHeight"
    )
    assert phone.errors == []

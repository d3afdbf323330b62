"""Pure logic of the web page's notebook commands, run in node (bundled from frontend/src by
esbuild, no browser): which command a key press means in command mode, which clipboard
contents are cells, readable initials on a person's colour, the download and token addresses."""

from __future__ import annotations

from pathlib import Path

from support.frontend import needs_node, run_in_node

pytestmark = needs_node

CHECKS = """
import { commandFor } from "SRC/editor/keys";
import { parseCells } from "SRC/editor/ops";
import { textOn } from "SRC/editor/presence";
import { nbconvertUrl, tokensUrl } from "SRC/net/paths";
const keys = (k, mods = {}, previous = "") => commandFor({ key: k, ...mods }, previous);
console.log(JSON.stringify({
  undo: keys("z", { ctrlKey: true }),
  undoMac: keys("z", { metaKey: true }),
  redo: [keys("Z", { ctrlKey: true, shiftKey: true }), keys("y", { ctrlKey: true }),
         keys("z", { metaKey: true, shiftKey: true })],
  metaY: keys("y", { metaKey: true }),
  letters: ["m", "y", "x", "c", "v", "a", "b", "o", "Enter", "ArrowUp", "j"].map((k) => keys(k)),
  capsLock: keys("M"),
  pasteAbove: keys("V", { shiftKey: true }),
  shiftM: keys("M", { shiftKey: true }),
  alt: keys("m", { altKey: true }),
  d: [keys("d"), keys("d", {}, "d")],
  other: keys("q"),
  cells: parseCells([{ cell_type: "code", source: ["a", "b"], outputs: [] }]) !== null,
  notCells: [parseCells([]), parseCells({}), parseCells([{ cell_type: "evil", source: "" }]),
             parseCells([{ cell_type: "code", source: 3 }]), parseCells("x")],
  text: [textOn("#ff7f0e"), textOn("#1f3a93"), textOn("#9467bd"), textOn("red")],
  convert: nbconvertUrl("html", "a b/c#.ipynb"),
  token: tokensUrl("ab/../c"),
}));
"""


def test_command_keys_clipboard_and_colours(tmp_path: Path) -> None:
    result = run_in_node(CHECKS, tmp_path)
    assert result["undo"] == "undo" and result["undoMac"] == "undo"
    assert result["redo"] == ["redo", "redo", "redo"]
    assert result["metaY"] is None  # Cmd+Y is not redo on a Mac
    assert result["letters"] == [
        "markdown", "code", "cut", "copy", "paste-below", "insert-above", "insert-below",
        "outputs", "edit", "previous", "next",
    ]  # fmt: skip
    assert result["capsLock"] == "markdown"
    assert result["pasteAbove"] == "paste-above"
    assert result["shiftM"] is None and result["alt"] is None
    assert result["d"] == [None, "delete"]  # D, D: one press alone deletes nothing
    assert result["other"] is None
    assert result["cells"] is True
    assert result["notCells"] == [None, None, None, None, None]
    assert result["text"] == ["#000", "#fff", "#000", "#fff"]
    assert result["convert"] == "nbconvert/html/a%20b/c%23.ipynb?download=true"
    assert result["token"] == "api/collab/tokens/ab%2F..%2Fc"

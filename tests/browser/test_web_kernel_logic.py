"""Pure logic of the page's kernel parts, run in node (bundled from frontend/src by esbuild, no
browser): ANSI escape codes to styled segments, the source hash the server checks (the same
as the server's own), and the run keys of command mode."""

from __future__ import annotations

import json
from pathlib import Path

from collab_server.kernels.requests import source_hash
from support.frontend import needs_node, run_in_node

pytestmark = needs_node

SOURCES = ["", "a", "ab", "abc", "abcd", "print('héllo wörld')\n", "😀 x = 1\n" * 7, "z" * 1001]

CHECKS = """
import { parseAnsi } from "SRC/kernel/ansi";
import { sourceHash } from "SRC/kernel/murmur";
import { commandFor } from "SRC/editor/keys";
const sources = JSON.parse(process.argv[2]);
console.log(JSON.stringify({
  plain: parseAnsi("no codes <b>here</b>"),
  colours: parseAnsi("\\x1b[0;31mValueError\\x1b[0m: boom \\x1b[1;32mok\\x1b[39m!"),
  xterm: parseAnsi("\\x1b[38;5;196mred\\x1b[48;2;1;2;300mbg\\x1b[0m"),
  other: parseAnsi("a\\x1b[2Kb\\x1b[Hc\\x1b]0;title\\x07d"),
  hashes: sources.map(sourceHash),
  keys: [commandFor({ key: "Enter", shiftKey: true }), commandFor({ key: "Enter", ctrlKey: true }),
         commandFor({ key: "Enter", metaKey: true }), commandFor({ key: "Enter" })],
}));
"""


def test_ansi_hash_and_run_keys(tmp_path: Path) -> None:
    result = run_in_node(CHECKS, tmp_path, json.dumps(SOURCES))
    # Text stays text (the caller puts it in text nodes): markup is not interpreted.
    assert result["plain"] == [
        {"text": "no codes <b>here</b>", "fg": None, "bg": None, "bold": False}
    ]
    assert result["colours"] == [
        {"text": "ValueError", "fg": "ansi-red", "bg": None, "bold": False},
        {"text": ": boom ", "fg": None, "bg": None, "bold": False},
        {"text": "ok", "fg": "ansi-green", "bg": None, "bold": True},
        {"text": "!", "fg": None, "bg": None, "bold": True},
    ]
    # 256 colours and RGB become validated rgb() values (300 is clamped to 255).
    assert result["xterm"] == [
        {"text": "red", "fg": "rgb(255, 0, 0)", "bg": None, "bold": False},
        {"text": "bg", "fg": "rgb(255, 0, 0)", "bg": "rgb(1, 2, 255)", "bold": False},
    ]
    # Other escape sequences are dropped, never shown as garbage.
    assert "".join(s["text"] for s in result["other"]) == "abcd"
    assert result["hashes"] == [source_hash(s) for s in SOURCES]
    assert result["keys"] == ["run-advance", "run", "run", "edit"]

"""The web page's pure TypeScript modules, run in node: a check script (importing from
``SRC/…``, which names ``frontend/src/``) is bundled with the front end's own esbuild and run;
it prints one JSON value, which the test reads back."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
ESBUILD = FRONTEND / "node_modules" / ".bin" / "esbuild"

needs_node = pytest.mark.skipif(
    not shutil.which("node") or not ESBUILD.exists(), reason="node and frontend/node_modules"
)


def run_in_node(script: str, tmp_path: Path, *args: str) -> Any:
    """Bundle ``script`` and run it with ``args``; what it printed, parsed as JSON."""
    entry = tmp_path / "check.ts"
    entry.write_text(script.replace("SRC/", f"{FRONTEND / 'src'}/"))
    out = tmp_path / "check.mjs"
    subprocess.run(
        [str(ESBUILD), str(entry), "--bundle", "--format=esm", "--platform=node",
         f"--outfile={out}", "--log-level=error"],
        check=True, cwd=FRONTEND,
    )  # fmt: skip
    done = subprocess.run(["node", str(out), *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)

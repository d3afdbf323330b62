"""The ``collab-server`` command: sub-commands never import the server (an administrator's
``create-user`` answers in well under a second); starting the server skips jsonschema's
slow optional import and still validates what jupyter_server validates."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def run_python(code: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        input=stdin, capture_output=True, text=True, cwd=cwd, timeout=120,
    )  # fmt: skip


def test_a_sub_command_does_not_import_the_server(tmp_path: Path) -> None:
    done = run_python(
        f"""
        import sys
        from collab_server import command
        DATA = {str(tmp_path)!r}
        try:
            command.main(["create-user", "ann", "--password-stdin", f"--data-dir={{DATA}}"])
        except SystemExit as e:
            assert e.code == 0, e.code
        heavy = [m for m in ("jupyter_server", "collab_server.app", "ipykernel", "papermill")
                 if m in sys.modules]
        assert not heavy, heavy
        """,
        tmp_path,
        stdin="a long enough password\n",
    )
    assert done.returncode == 0, done.stderr
    assert "created" in done.stdout, done.stdout


def test_the_server_imports_without_the_grammar_and_validates_events(tmp_path: Path) -> None:
    done = run_python(
        """
        import sys
        from collab_server.command import SKIPPED_IMPORTS
        for name in SKIPPED_IMPORTS:
            sys.modules.setdefault(name, None)
        import collab_server.app  # noqa: F401
        import jsonschema
        assert sys.modules["rfc3987_syntax"] is None
        checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
        assert checker.conforms("2026-11-23", "date") and not checker.conforms("x", "date")
        print("ok")
        """,
        tmp_path,
    )
    assert done.stdout.strip() == "ok", done.stderr

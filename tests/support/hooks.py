"""A jupyter_server post-save hook for tests: saving fails for real (the contents manager's
save raises, as it does when the disk is full) while a notebook contains ``FAIL-SAVE``.

A post-save hook, because jupyter_server only logs a failing pre-save hook."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def fail_marked_saves(os_path: str, **kwargs: Any) -> None:
    if "FAIL-SAVE" in Path(os_path).read_text(encoding="utf-8"):
        raise OSError("No space left on device")

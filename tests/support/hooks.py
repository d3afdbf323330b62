"""A jupyter_server pre-save hook for tests: saving fails for real (an exception inside the
contents manager's save) while a notebook contains the marker ``FAIL-SAVE``."""

from __future__ import annotations

import json
from typing import Any


def fail_marked_saves(model: dict[str, Any], **kwargs: Any) -> None:
    if "FAIL-SAVE" in json.dumps(model.get("content")):
        raise OSError("No space left on device")

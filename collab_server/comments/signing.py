"""Signatures on the comment threads this server writes into notebook files.

A notebook file is written by anyone who may edit it (the contents API, a copy, an editor on
disk), so the threads in its ``metadata.collab.comments`` prove nothing by themselves: a
thread naming "alice" as its author may have been typed by Bob. The server therefore signs
each thread it saves, and a thread read back from a file keeps its people's identities only
when its signature verifies (``model.import_thread``); otherwise it is *imported*.

* **Key**: 32 random bytes, created once in the data directory (``comments-signing.key``,
  mode 0600, never logged). Losing it only makes the threads already in files show as
  imported; it grants nothing.
* **What is signed**: one HMAC-SHA256 per thread, over a fixed label, the notebook's *file
  id*, and the thread's canonical JSON (sorted keys, no whitespace, ASCII) without its
  ``signature`` field — the thread with all its comments, people, target and status. Binding
  the file id means a thread copied into another notebook (a copy is a new file) does not
  verify there, while a rename (same id) keeps it.
* **Granularity, and why per thread**: a thread is what the API and the page show and
  permission (its author may delete it); one signature covering the thread and its comments
  also covers their order and membership, so nobody can splice a genuine comment into another
  thread or drop a reply without it showing. It costs one HMAC per changed thread per save.
  A thread holding anything unverified (an import, even with genuine replies) is saved
  unsigned: an import is never laundered into a genuine thread.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path
from typing import Any

from ..core.datadir import private_key

KEY_FILE = "comments-signing.key"
_LABEL = b"collab_server comments v1\n"
PREFIX = "hmac-sha256:"


def load_key(folder: Path) -> bytes:
    """The signing key in ``folder``, created (mode 0600) the first time."""
    key = bytes.fromhex(
        private_key(folder, KEY_FILE, lambda: secrets.token_hex(32).encode()).decode()
    )
    if len(key) < 32:
        raise ValueError(f"{KEY_FILE} in the data directory holds too short a key")
    return key


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign(key: bytes, file_id: str, thread: dict[str, Any]) -> str:
    """The signature of ``thread`` (without any ``signature`` field) in notebook ``file_id``."""
    unsigned = {k: v for k, v in thread.items() if k != "signature"}
    mac = hmac.new(key, _LABEL + file_id.encode() + b"\n" + canonical(unsigned), hashlib.sha256)
    return PREFIX + mac.hexdigest()


def verify(key: bytes, file_id: str, thread: Any) -> bool:
    """Does ``thread`` (as read from the file) carry this server's signature for ``file_id``?"""
    if not isinstance(thread, dict):
        return False
    signature = thread.get("signature")
    if not isinstance(signature, str) or not signature.startswith(PREFIX):
        return False
    try:
        expected = sign(key, file_id, thread)
    except (TypeError, ValueError, RecursionError):
        return False
    return hmac.compare_digest(signature, expected)

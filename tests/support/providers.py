"""Test authorization providers (also a worked example of the provider interface).

``TableProvider`` reads its users from the ``COLLAB_TEST_USERS`` environment variable:

    {"<token>": {"id": "alice", "name": "Alice", "grants": [["", "write"], ["team-a", "read"]]}}

A grant ``[path, action]`` covers the path and, for a folder, everything below it; actions
imply the weaker ones (``write`` implies ``comment`` and ``read``).
"""

from __future__ import annotations

import json
import os
from typing import Any

from collab_server.auth import implied_actions, path_covers


class TableProvider:
    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = json.loads(os.environ["COLLAB_TEST_USERS"])

    def persistent_id(self, token: str) -> str | None:
        user = self.users.get(token)
        return user["id"] if user else None

    async def allowed(self, token: str, action: str, resource: str) -> bool:
        user = self.users.get(token)
        if user is None:
            return False
        kind, _, path = resource.partition(":")
        for granted_path, granted_action in user["grants"]:
            if action not in implied_actions(granted_action):
                continue
            if kind in ("contents", "comments") and path_covers(granted_path, path):
                return True
            if kind not in ("contents", "comments") and granted_path == "*":
                return True
        return False

    def identity(self, token: str) -> dict[str, Any]:
        user = self.users[token]
        return {"name": user["id"], "display_name": user.get("name", user["id"])}

    def kernel_env(self, token: str) -> dict[str, str]:
        """Kernels started by this person know who started them."""
        return {"COLLAB_TEST_USER": self.users[token]["id"]}


class TokenInKernelProvider(TableProvider):
    """An operator's choice the built-in providers do not make: kernels get the token of the
    person who started them (``JUPYTER_AUTH_TOKEN``), so ``collab_server.client.Client()``
    needs no configuration in a kernel."""

    def kernel_env(self, token: str) -> dict[str, str]:
        user = self.users[token]
        return {"JUPYTER_AUTH_ID": user["id"], "JUPYTER_AUTH_TOKEN": token}


class GroupsTableProvider(TableProvider):
    """``TableProvider`` with groups (the ``Groups`` capability): a user's ``"groups"``
    entry lists theirs."""

    def groups_of(self, token: str) -> list[str]:
        return list(self.users.get(token, {}).get("groups", []))

    def group_members(self, group: str) -> list[str]:
        return sorted(u["id"] for u in self.users.values() if group in u.get("groups", []))

"""An example authorization provider: users, tokens and grants read from a YAML file.

Run the server with it::

    PYTHONPATH=examples collab-server \\
        --CollabServer.authorization_provider_class=yaml_grants_provider.YamlGrantsProvider \\
        --YamlGrantsProvider.path=grants.yaml

``grants.yaml``::

    users:
      alice:
        name: Alice Liddell
        token: alice-secret          # in real life: a hash, or tokens from your SSO
        grants:
          - {path: "", action: write}             # the whole root
      bob:
        token: bob-secret
        grants:
          - {path: "team-b", action: comment}     # a folder and everything below it
          - {path: "shared/readme.ipynb", action: read}

The file is read again when it changes, so grants can be edited while the server runs.

What it shows: the two required methods (``persistent_id``, ``allowed``), the optional
``identity``, traitlets configuration (this class is a ``LoggingConfigurable``, so
``--YamlGrantsProvider.path`` works), and the helpers from ``collab_server.auth`` that
implement action implication and folder grants.
"""

from __future__ import annotations

import hmac
import os
from typing import Any

import yaml
from traitlets import Unicode
from traitlets.config import LoggingConfigurable

from collab_server.auth import implies, path_covers


class YamlGrantsProvider(LoggingConfigurable):
    path = Unicode("grants.yaml", help="The YAML file with users and grants.").tag(config=True)

    _mtime: float | None = None
    _users: dict[str, dict[str, Any]]

    def _load(self) -> dict[str, dict[str, Any]]:
        mtime = os.stat(self.path).st_mtime
        if mtime != self._mtime:
            with open(self.path, encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
            self._users = dict(data.get("users") or {})
            self._mtime = mtime
            self.log.info("Loaded %d users from %s", len(self._users), self.path)
        return self._users

    def _user_for(self, token: str) -> tuple[str, dict[str, Any]] | None:
        for user_id, user in self._load().items():
            # Constant-time comparison, so response times say nothing about the token.
            if token and hmac.compare_digest(str(user.get("token", "")), token):
                return user_id, user
        return None

    def persistent_id(self, token: str) -> str | None:
        found = self._user_for(token)
        return found[0] if found else None

    def allowed(self, token: str, action: str, resource: str) -> bool:
        found = self._user_for(token)
        if found is None:
            return False
        kind, _, path = resource.partition(":")
        if kind not in ("contents", "comments"):
            # Kernels, sessions and server administration: only for explicit "*" grants.
            path_matches = lambda grant: grant.get("path") == "*"  # noqa: E731
        else:
            path_matches = lambda grant: path_covers(str(grant.get("path", "")), path)  # noqa: E731
        return any(
            path_matches(grant) and implies(str(grant.get("action")), action)
            for grant in found[1].get("grants") or []
        )

    def identity(self, token: str) -> dict[str, Any]:
        found = self._user_for(token)
        if found is None:
            return {}
        user_id, user = found
        return {"name": user_id, "display_name": user.get("name", user_id)}

"""A one-person provider: one secret token that may do everything.

For a private server (``--CollabServer.authorization_provider_class=
collab_server.auth.single_token.SingleTokenProvider``): the token is taken
from ``--SingleTokenProvider.token``, else the ``COLLAB_SERVER_TOKEN`` environment variable,
else generated at start and printed in the URL to open (as Jupyter does). There is no
anonymous access: a request without the token is refused.
"""

from __future__ import annotations

import hmac
import os
import secrets
from typing import Any

from traitlets import Unicode, default
from traitlets.config import LoggingConfigurable


class SingleTokenProvider(LoggingConfigurable):
    """Whoever holds the token is the server's owner."""

    token = Unicode(help="The secret token. Generated at start when empty.").tag(config=True)
    user_name = Unicode("owner", help="The id and name the token holder appears as.").tag(
        config=True
    )

    @default("token")
    def _default_token(self) -> str:
        return os.environ.get("COLLAB_SERVER_TOKEN") or secrets.token_urlsafe(24)

    def _valid(self, token: str) -> bool:
        # Constant-time comparison: the time taken says nothing about how much of it matched.
        return bool(token) and hmac.compare_digest(token.encode(), self.token.encode())

    def persistent_id(self, token: str) -> str | None:
        return self.user_name if self._valid(token) else None

    def allowed(self, token: str, action: str, resource: str) -> bool:
        return self._valid(token)

    def identity(self, token: str) -> dict[str, Any]:
        return {"name": self.user_name, "display_name": self.user_name.title()}

    def startup_token(self) -> str:
        """The token to put in the URL printed at start."""
        return self.token

    def kernel_env(self, token: str) -> dict[str, str]:
        """``JUPYTER_AUTH_ID`` only: the token is the whole server's key."""
        return {"JUPYTER_AUTH_ID": self.user_name} if self._valid(token) else {}

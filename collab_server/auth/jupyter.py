"""The adapter from our provider interface into jupyter_server's auth hooks.

jupyter_server asks two objects about every request: an ``IdentityProvider`` (who is this?)
and an ``Authorizer`` (may they do ``action`` on a *kind* of resource?). Both are replaced
here by thin classes that ask the operator's :class:`AuthorizationProvider` instead, so every
existing Jupyter handler — contents, files, kernels, sessions, kernelspecs, nbconvert, … —
is checked by the same provider as our own routes. Unlike jupyter_server's authorizer, the
provider sees the **concrete** resource (``contents:notebooks/a.ipynb``), not only
``contents``.

The provider instance lives in the web application's settings under ``collab_provider``
(put there by the app), which is how these per-request objects find it.
"""

from __future__ import annotations

import re
from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import IdentityProvider, User
from tornado import web

from .provider import identity_of, resolve

PROVIDER_SETTING = "collab_provider"

_AUTH_HEADER = re.compile(r"^\s*(?:token|bearer)\s+(\S+)\s*$", re.IGNORECASE)

# jupyter_server resource kinds that name a file or folder through the handler's ``path``.
_PATH_RESOURCES = {"contents", "nbconvert"}


def provider_of(handler: web.RequestHandler) -> Any:
    provider = handler.settings.get(PROVIDER_SETTING)
    if provider is None:  # never fall back to "allow all": refuse instead
        raise web.HTTPError(500, "No authorization provider is configured")
    return provider


def token_from_request(handler: web.RequestHandler) -> str:
    """The caller's token: ``Authorization: Bearer|token …``, else ``?token=``."""
    match = _AUTH_HEADER.match(handler.request.headers.get("Authorization", ""))
    if match:
        return match.group(1)
    return handler.get_query_argument("token", "") or ""


def normalize_api_path(path: str) -> str | None:
    """A path as resources name it, or None if it tries to leave the root."""
    path = path.replace("\\", "/").strip("/")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def concrete_resource(handler: web.RequestHandler, kind: str) -> str | None:
    """The resource a Jupyter handler acts on, e.g. ``contents:a/b.ipynb`` or ``kernels:ID``.

    Returns None when the request names a path outside the root (it is then refused).
    """
    kwargs = handler.path_kwargs or {}
    args = handler.path_args or []
    if kind in _PATH_RESOURCES:
        raw = kwargs.get("path")
        if raw is None:
            raw = args[-1] if args else ""
        path = normalize_api_path(raw or "")
        return None if path is None else f"contents:{path}"
    if kind == "kernels":
        kernel_id = kwargs.get("kernel_id") or (args[0] if args else "")
        return f"kernels:{kernel_id}" if kernel_id else "kernels"
    if kind == "sessions":
        return "sessions"
    return "server"


async def is_allowed(handler: web.RequestHandler, action: str, resource: str) -> bool:
    """Ask the provider whether the caller of ``handler`` may do ``action`` on ``resource``."""
    token = token_from_request(handler)
    if not token:
        return False
    return bool(await resolve(provider_of(handler).allowed(token, action, resource)))


class CollabIdentityProvider(IdentityProvider):
    """Identifies callers by asking the provider for the token's persistent id."""

    # jupyter_server prints this token in its start-up URLs; the app sets it from the
    # provider (or leaves it empty when the provider has no single start-up token).
    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        return False

    async def get_user(self, handler: web.RequestHandler) -> User | None:  # type: ignore[override]
        token = token_from_request(handler)
        if not token:
            return None
        provider = provider_of(handler)
        user_id = await resolve(provider.persistent_id(token))
        if not user_id:
            # A token was presented and is not valid: say so, rather than treating the request
            # as anonymous (which surfaces as a confusing XSRF or permission error).
            raise web.HTTPError(401, reason="Invalid or expired token")
        fields = await identity_of(provider, token, str(user_id))
        # Token-authenticated requests skip XSRF checks in jupyter_server (a script cannot be
        # tricked into sending a header or a token it does not have).
        handler._token_authenticated = True  # type: ignore[attr-defined]
        return User(
            username=fields["username"],
            name=fields["name"],
            display_name=fields["display_name"],
            initials=fields["initials"],
            avatar_url=fields["avatar_url"],
            color=fields["color"],
        )

    def validate_security(self, app: Any, ssl_options: dict[str, Any] | None = None) -> None:
        # Anonymous access is impossible with this provider: nothing to warn about.
        return None


class CollabAuthorizer(Authorizer):
    """Authorizes every jupyter_server handler through the provider, per concrete resource."""

    async def is_authorized(  # type: ignore[override]
        self, handler: web.RequestHandler, user: User, action: str, resource: str
    ) -> bool:
        concrete = concrete_resource(handler, resource)
        if concrete is None:
            return False
        return await is_allowed(handler, action, concrete)

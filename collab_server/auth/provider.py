"""The operator's plug-in point: the authorization provider interface.

An operator brings identity and authorization by implementing two methods (sync or async):

* ``persistent_id(token)``: a stable id for the holder of ``token``, or None if the token is
  not valid (expired, forged, revoked, unknown);
* ``allowed(token, action, resource)``: may the holder of ``token`` do ``action`` on
  ``resource``?

and, optionally, ``identity(token)`` returning display fields (``name``, ``display_name``,
``initials``, ``avatar_url``, ``color``) shown to collaborators, and
``permissions_revision()`` returning a value that changes whenever a right may have been taken
away: open websockets are then re-checked only when it changes (and once a minute), instead of
every ``CollabServer.reauthorize_interval``.

The server always asks for the exact action it needs. Providers must honour implication
(``admin → share → write → comment → read`` and ``execute → read``); :func:`implies` does it
for them.

Resources are ``contents:{path}`` (a POSIX path relative to the root, no leading slash; a
grant on a folder covers what is below it — :func:`path_covers` checks that),
``comments:{path}``, ``kernels:{kernel_id}`` (``kernels`` for the list), ``sessions`` and
``server``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar, runtime_checkable

ACTIONS = ("read", "comment", "write", "share", "admin", "execute")

# Each action and what it directly implies.
_IMPLIES: dict[str, tuple[str, ...]] = {
    "admin": ("share",),
    "share": ("write",),
    "write": ("comment",),
    "comment": ("read",),
    "execute": ("read",),
    "read": (),
}


def implied_actions(action: str) -> set[str]:
    """``action`` and every action it implies."""
    seen: set[str] = set()
    stack = [action]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(_IMPLIES.get(current, ()))
    return seen


def implies(granted: str, wanted: str) -> bool:
    """Does holding ``granted`` allow ``wanted``?"""
    return wanted in implied_actions(granted)


def path_covers(granted_path: str, path: str) -> bool:
    """Does a grant on ``granted_path`` (a file or folder; "" is the root) cover ``path``?"""
    granted_path = granted_path.strip("/")
    path = path.strip("/")
    return granted_path == "" or path == granted_path or path.startswith(granted_path + "/")


# The roles of the built-in providers and the action each one grants, weakest first.
ROLE_ACTIONS: dict[str, str] = {
    "viewer": "read",
    "commenter": "comment",
    "editor": "write",
    "owner": "share",
}
ROLE_RANK = {role: rank for rank, role in enumerate(ROLE_ACTIONS)}


def strongest_role(grants: Iterable[tuple[str, str]], path: str) -> str | None:
    """The strongest role among ``(granted_path, role)`` grants that cover ``path``."""
    best: str | None = None
    for granted_path, role in grants:
        stronger = best is None or ROLE_RANK.get(role, -1) > ROLE_RANK[best]
        if role in ROLE_RANK and path_covers(granted_path, path) and stronger:
            best = role
    return best


def decide_by_roles(
    action: str,
    resource: str,
    *,
    is_admin: bool,
    may_execute: bool,
    role_on: Callable[[str], str | None],
    leads_to_grant: Callable[[str], bool] | None = None,
) -> bool:
    """The built-in providers' policy, given who the caller is and their role on a path.

    * admins may do everything;
    * ``kernels…``, ``sessions`` and ``execute`` need ``may_execute`` — a kernel runs with the
      server's rights and can read any file, so running code is granted per person, not by
      sharing a notebook (executing a notebook also needs to be able to read it);
    * ``server``: ``read`` (kernel specs, settings) for anyone signed in, the rest for admins;
    * ``contents:{path}`` and ``comments:{path}``: what the caller's role on the path implies;
      a folder that only *leads to* something shared may be listed (``leads_to_grant``).
    """
    if is_admin:
        return True
    kind, _, path = resource.partition(":")
    if action == "execute" or kind in ("kernels", "sessions"):
        if not may_execute:
            return False
        if kind not in ("contents", "comments"):
            return True
        action = "read"
    if kind == "server":
        return action == "read"
    if kind not in ("contents", "comments"):
        return False
    role = role_on(path)
    if role is not None:
        return implies(ROLE_ACTIONS[role], action)
    return (
        action == "read" and kind == "contents" and leads_to_grant is not None
        and leads_to_grant(path)
    )  # fmt: skip


@runtime_checkable
class AuthorizationProvider(Protocol):
    """What an operator implements (see the module docstring)."""

    def persistent_id(self, token: str) -> str | Awaitable[str | None] | None: ...

    def allowed(self, token: str, action: str, resource: str) -> bool | Awaitable[bool]: ...


T = TypeVar("T")


async def resolve(value: T | Awaitable[T]) -> T:
    """Await ``value`` if the provider returned an awaitable (providers may be sync or async)."""
    if inspect.isawaitable(value):
        return await value
    return value


async def identity_of(provider: Any, token: str, user_id: str) -> dict[str, Any]:
    """The provider's display identity for ``token``, with every field filled in."""
    fields: dict[str, Any] = {}
    get_identity = getattr(provider, "identity", None)
    if callable(get_identity):
        fields = dict(await resolve(get_identity(token)) or {})
    name = str(fields.get("name") or user_id)
    display_name = str(fields.get("display_name") or name)
    initials = fields.get("initials") or "".join(p[0] for p in display_name.split()[:2]).upper()
    return {
        "username": user_id,
        "name": name,
        "display_name": display_name,
        "initials": initials or display_name[:1].upper(),
        "avatar_url": fields.get("avatar_url"),
        "color": fields.get("color") or color_for(user_id),
    }


_PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
    "#17becf", "#e377c2", "#8c564b", "#bcbd22", "#7f7f7f",
)  # fmt: skip


def color_for(user_id: str) -> str:
    """A stable colour per user, so a person keeps their colour across sessions."""
    import hashlib

    digest = hashlib.sha256(user_id.encode("utf-8")).digest()
    return _PALETTE[digest[0] % len(_PALETTE)]

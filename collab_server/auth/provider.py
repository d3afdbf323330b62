"""The operator's plug-in point: the authorization provider interface.

An operator brings identity and authorization by implementing two methods (sync or async):

* ``persistent_id(token)``: a stable id for the holder of ``token``, or None if the token is
  not valid (expired, forged, revoked, unknown);
* ``allowed(token, action, resource)``: may the holder of ``token`` do ``action`` on
  ``resource``?

and, optionally, any of the *capabilities* below: each is a small Protocol here, and the server
asks :func:`has_capability` (one place) whether a provider has it. A route whose capability is
missing answers 501 with a message.

* :class:`Identity` — ``identity(token)``: display fields (``name``, ``display_name``,
  ``initials``, ``avatar_url``, ``color``) shown to collaborators;
* :class:`PermissionsRevision` — ``permissions_revision()``: a value that changes whenever a
  right may have been taken away; open websockets are then re-checked only when it changes (and
  once a minute), instead of every ``CollabServer.reauthorize_interval``;
* :class:`Sharing` — list, add and remove grants on a path (``/api/collab/shares``), and
  :class:`SharedWith` — what is shared with the caller (where they start browsing);
* :class:`Tokens` — personal API tokens (``/api/collab/tokens``);
* :class:`Sessions` — sign-in with a user name and password, sign-out (``/login``);
* :class:`Passwords` — a signed-in person sets their own password;
* :class:`SignInLinks` — one-time sign-in links (exchanged for a session on first use);
* :class:`StartupToken` — the token of the URL printed at start;
* :class:`FileMoves` — grants follow a renamed file or folder;
* :class:`AnonymousAccess` — ``allow_anonymous``: requests without a token are let in;
* :class:`UserAdmin`, :class:`GroupAdmin`, :class:`AccessReport`, :class:`TokenAdmin` — what
  administrators do on the ``/admin`` page (``/api/collab/admin/…``): list, create, disable
  and enable accounts, reset a password (a one-time link, never a password), make and unmake
  administrators; groups and their members; who has access to a path, and what a person was
  granted; see and revoke a person's API tokens and sessions;
* :class:`ResourceSharing` — grants on resources that are not paths (``published:{id}``,
  ``apps:{id}``), including the audiences :data:`SIGNED_IN` and :data:`EVERYONE`;
* :class:`Groups` — ``groups_of(token)``: the groups the holder of ``token`` is in, and
  ``group_members(group)``: the user ids in a group (the gallery's "popular in your group");
* :class:`DisplayNames` — ``display_names(ids)``: the current display names of persistent
  ids, for people who are not the caller (the gallery's owners, apps' publishers, runs'
  users); without it the server shows the name each person had when last seen
  (:mod:`.people`). Built in: local accounts;
* :class:`KernelEnv` — ``kernel_env(token)``: the environment a kernel started for this person
  gets. Built in: local accounts give ``JUPYTER_AUTH_ID`` (the user name) and nothing else (a
  kernel runs with the server's rights and everyone in the room can read its variables, so no
  token of the person is put there); JWT gives ``JUPYTER_AUTH_ID`` (the ``sub``); the
  single-token provider gives ``JUPYTER_AUTH_ID`` only.

Errors a provider raises for handlers to show are the server's own (``core.errors``), under
the names providers know: :data:`ProviderError` (400) and :data:`SignInRefused` (401),
:data:`NotAllowed` (403), :data:`NotFound` (404), :data:`Conflict` (409),
:data:`Unprocessable` (422: a name or value that breaks a rule),
:class:`TooManyAttempts` (429, ``Retry-After``), :data:`Busy` (503) — never a provider's own
classes.

The server always asks for the exact action it needs. Providers must honour implication
(``admin → share → write → comment → read`` and ``execute → read``); :func:`implies` does it
for them.

Resources are ``contents:{path}`` (a POSIX path relative to the root, no leading slash; a
grant on a folder covers what is below it — :func:`path_covers` checks that),
``comments:{path}``, ``kernels:{kernel_id}`` (``kernels`` for the list), ``sessions``,
``published:{id}`` (a published copy), ``apps:{id}`` (a published copy run as an app) and
``server``.

Besides ``user:NAME`` and ``group:NAME``, the built-in providers know two audiences as
principals: :data:`SIGNED_IN` (every account) and :data:`EVERYONE` (also people not signed in,
when the operator allows anonymous access).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar, runtime_checkable

from ..core import errors
from ..core.paths import covers

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


# The audiences (principals that are not one person or group).
SIGNED_IN = "signed-in"
EVERYONE = "everyone"
AUDIENCES = (SIGNED_IN, EVERYONE)


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
    """Does a grant on ``granted_path`` (a file or folder; "" is the root) cover ``path``?
    (:func:`collab_server.core.paths.covers`, tolerant of stray slashes, for providers.)"""
    return covers(granted_path.strip("/"), path.strip("/"))


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


# -- errors a provider raises for the person to see ----------------------------------------
#
# The server's own error model (``collab_server.core.errors``) under the names providers have
# always used: a provider raises these, the REST handlers answer with their status and
# ``{"message": …}``. They are the same classes, not a parallel family.

ProviderError = errors.CollabError
"""A request the provider cannot do; the message is shown to the person (400 when raised as
is; every error below is one)."""

SignInRefused = errors.Unauthenticated
"""Wrong user name or password, or an account that cannot sign in (401)."""

NotAllowed = errors.Forbidden
"""The caller may not do this (403)."""

NotFound = errors.NotFound
"""No such user, group or token (404)."""

Conflict = errors.Conflict
"""The request contradicts the server's configuration (409)."""

Unprocessable = errors.Unprocessable
"""A well-formed request with a value that breaks a rule, such as a user name with a space
(422)."""

Busy = errors.Unavailable
"""The provider's store is busy (another process holds it): try again shortly (503)."""


class TooManyAttempts(errors.RateLimited):
    """Too many sign-in attempts (429); ``retry_after`` seconds until the next one counts."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many sign-in attempts; try again in {retry_after} s", retry_after=retry_after
        )


@contextlib.contextmanager
def legacy_errors() -> Iterator[None]:
    """Around a call into a provider: builtin ``LookupError``/``ValueError``, which providers
    written before the errors above raised from ``add_share``, become :data:`NotFound` and
    :data:`ProviderError` (400). Only at this boundary: our own code raises the errors above."""
    try:
        yield
    except errors.CollabError:
        raise
    except LookupError as e:
        raise NotFound(str(e.args[0]) if e.args else "Not found") from e
    except ValueError as e:
        raise ProviderError(str(e)) from e


# -- optional capabilities (see the module docstring) -------------------------------------


@runtime_checkable
class Identity(Protocol):
    def identity(self, token: str) -> dict[str, Any] | Awaitable[dict[str, Any]]: ...


@runtime_checkable
class PermissionsRevision(Protocol):
    def permissions_revision(self) -> Any: ...


@runtime_checkable
class Sharing(Protocol):
    def list_shares(self, path: str) -> list[dict[str, Any]] | Awaitable[list[dict[str, Any]]]:
        """Grants on ``path`` and on the folders above it (``principal, path, role, …``)."""

    def add_share(self, path: str, principal: str, role: str, granted_by: str) -> Any:
        """Grant ``role`` on ``path``; :class:`NotFound` for an unknown principal,
        :class:`ProviderError`/:class:`Conflict` for one that cannot be granted."""

    def remove_share(self, path: str, principal: str) -> bool | Awaitable[bool]: ...

    def share_role(self, path: str, principal: str) -> str | Awaitable[str | None] | None: ...


@runtime_checkable
class SharedWith(Protocol):
    def shared_with(self, token: str) -> Any: ...


@runtime_checkable
class Tokens(Protocol):
    def create_token(self, token: str, label: str, lifetime: float | None) -> Any: ...

    def list_tokens(self, token: str) -> Any: ...

    def revoke_token(self, token: str, token_id: str) -> Any: ...


@runtime_checkable
class Sessions(Protocol):
    session_lifetime: float

    def login(self, user_name: str, password: str, address: str = "") -> tuple[str, Any]:
        """A session token for a name and password (blocking: run off the event loop).
        Raises :class:`SignInRefused`, :class:`TooManyAttempts` or :class:`Busy`."""

    def logout(self, token: str) -> Any: ...


@runtime_checkable
class Passwords(Protocol):
    def has_password(self, user_name: str) -> bool: ...

    def set_password(self, token: str, current: str | None, new: str) -> str:
        """Set the caller's password (blocking); returns a new session token (every other
        session and token of theirs is revoked)."""


@runtime_checkable
class SignInLinks(Protocol):
    def redeem_link(self, token: str) -> tuple[str, bool]:
        """The session token to keep in the browser for ``token`` presented in a URL, and
        whether the person must set a password first (a one-time link is used up here)."""


@runtime_checkable
class StartupToken(Protocol):
    def startup_token(self) -> str: ...


@runtime_checkable
class FileMoves(Protocol):
    def file_moved(self, old: str, new: str) -> Any: ...


@runtime_checkable
class AnonymousAccess(Protocol):
    allow_anonymous: bool


@runtime_checkable
class UserAdmin(Protocol):
    """Accounts, for administrators. Calls may block (the server runs them off the event loop).

    A user record is ``{"name", "display_name", "is_admin", "may_execute", "disabled",
    "groups", "has_password", "created_at", "last_sign_in_at"}`` (unknown values None).
    Unknown user: :data:`NotFound`; a bad name: :data:`Unprocessable`; a change that would
    leave no administrator who can sign in: :data:`Conflict`.
    """

    def list_users(self) -> list[dict[str, Any]]: ...

    def user_record(self, name: str) -> dict[str, Any]: ...

    def create_user(
        self,
        name: str,
        *,
        display_name: str | None = None,
        password: str | None = None,
        admin: bool = False,
        may_execute: bool = False,
        groups: Iterable[str] = (),
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The new user's record and, when no password was given, a one-time sign-in link
        ``{"token", "expires_at"}`` (the person chooses a password on opening it)."""

    def update_user(
        self,
        name: str,
        *,
        display_name: str | None = None,
        admin: bool | None = None,
        may_execute: bool | None = None,
        disabled: bool | None = None,
    ) -> dict[str, Any]:
        """Change what is given (None keeps it). A disabled account's sessions and tokens stop
        working at once; :class:`PermissionsRevision` changes, so its open sockets close."""

    def reset_password(self, name: str) -> dict[str, Any]:
        """Forget the password, end every session and token, and return a one-time sign-in
        link ``{"token", "expires_at"}`` with which the person sets a new one."""


@runtime_checkable
class GroupAdmin(Protocol):
    """Groups and their members, for administrators (a group exists while it has members)."""

    def list_groups(self) -> list[dict[str, Any]]:
        """``[{"name", "members": [user names]}]``."""

    def add_member(self, group: str, user: str) -> dict[str, Any]:
        """Add ``user`` to ``group`` (made by its first member); returns the group."""

    def remove_member(self, group: str, user: str) -> dict[str, Any]:
        """:data:`NotFound` if ``user`` is not in ``group``; returns the group."""


@runtime_checkable
class AccessReport(Protocol):
    """Who has access to what, for administrators."""

    def access_on(self, path: str) -> dict[str, Any]:
        """``{"grants": [{"principal", "path", "role", "inherited", …}], "people": [{"name",
        "role", "via"}], "admins": [...]}``: the grants on ``path`` and the folders above it,
        and each person's strongest role through them."""

    def access_of(self, user: str) -> dict[str, Any]:
        """``{"user", "grants": [{"principal", "path", "role"}], "resources": [...]}``: what
        ``user`` was granted, directly, through their groups and through the audiences."""


@runtime_checkable
class TokenAdmin(Protocol):
    """Other people's API tokens and browser sessions, for administrators. Calls may block.

    Its own Protocol rather than more methods on :class:`UserAdmin`: a capability is present
    only when every one of its methods is, so growing ``UserAdmin`` would silently take the
    whole ``/admin`` page away from providers written against it; and a provider may manage
    accounts whose credentials it does not issue (an external sign-in), or the reverse.
    """

    def user_tokens(self, name: str) -> list[dict[str, Any]]:
        """``[{"id", "label", "kind": "api"|"session", "created_at", "expires_at",
        "last_used_at"?}]`` — never a secret or its hash. Unknown user: :data:`NotFound`."""

    def revoke_user_token(self, name: str, token_id: str) -> Any:
        """Revoke one of ``name``'s tokens; it stops working at once and
        :class:`PermissionsRevision` changes, so open sockets using it close at their next
        re-check. Unknown user, or a token that is not theirs: :data:`NotFound`."""


@runtime_checkable
class ResourceSharing(Protocol):
    """Grants on resources that are not paths, such as ``published:{id}`` and ``apps:{id}``
    (the roles each kind takes are the provider's: local accounts take ``viewer`` on both and
    ``runner`` on apps); principals are
    ``user:NAME``, ``group:NAME``, :data:`SIGNED_IN` or :data:`EVERYONE`."""

    def list_resource_grants(self, resource: str) -> list[dict[str, Any]]: ...

    def add_resource_grant(
        self, resource: str, principal: str, role: str, granted_by: str
    ) -> Any: ...

    def remove_resource_grant(self, resource: str, principal: str) -> bool: ...


@runtime_checkable
class KernelEnv(Protocol):
    def kernel_env(self, token: str) -> dict[str, str] | Awaitable[dict[str, str]]:
        """The environment a kernel started for the holder of ``token`` gets, e.g.
        ``{"JUPYTER_AUTH_ID": …}`` (and ``JUPYTER_AUTH_TOKEN`` if the provider chooses), or {}."""


@runtime_checkable
class DisplayNames(Protocol):
    def display_names(self, person_ids: list[str]) -> dict[str, str] | Awaitable[dict[str, str]]:
        """``{id: display name}`` for those of ``person_ids`` the provider knows (one look-up
        for all; unknown ids are left out). Called on the event loop: keep it quick."""


@runtime_checkable
class Groups(Protocol):
    def groups_of(self, token: str) -> list[str] | Awaitable[list[str]]:
        """The names of the groups the holder of ``token`` belongs to ([] if none)."""

    def group_members(self, group: str) -> list[str] | Awaitable[list[str]]:
        """The persistent ids of the people in ``group`` ([] for an unknown group)."""


CAPABILITIES: dict[str, type] = {
    "identity": Identity,
    "permissions_revision": PermissionsRevision,
    "sharing": Sharing,
    "shared_with": SharedWith,
    "tokens": Tokens,
    "sessions": Sessions,
    "passwords": Passwords,
    "sign_in_links": SignInLinks,
    "startup_token": StartupToken,
    "file_moves": FileMoves,
    "anonymous_access": AnonymousAccess,
    "kernel_env": KernelEnv,
    "user_admin": UserAdmin,
    "group_admin": GroupAdmin,
    "access_report": AccessReport,
    "token_admin": TokenAdmin,
    "resource_sharing": ResourceSharing,
    "groups": Groups,
    "display_names": DisplayNames,
}

C = TypeVar("C")


def has_capability(provider: Any, capability: Any) -> bool:
    """Does ``provider`` have ``capability`` (one of the Protocols above)? The one place the
    server decides it: every method of the Protocol is present (and callable)."""
    if not isinstance(provider, capability):
        return False
    members = [
        name for name, value in vars(capability).items()
        if callable(value) and not name.startswith("_")
    ]  # fmt: skip
    return all(callable(getattr(provider, name, None)) for name in members)


def capability(provider: Any, wanted: Callable[..., C]) -> C | None:
    """``provider`` as ``wanted`` if it has that capability, else None."""
    return provider if has_capability(provider, wanted) else None  # type: ignore[return-value]


def permissions_revision_of(provider: Any) -> Callable[[], Any] | None:
    """The provider's ``permissions_revision`` function, or None if it has no such capability
    (open sockets are then re-checked every ``reauthorize_interval``)."""
    found = capability(provider, PermissionsRevision)
    return found.permissions_revision if found is not None else None


T = TypeVar("T")


async def resolve(value: T | Awaitable[T]) -> T:
    """Await ``value`` if the provider returned an awaitable (providers may be sync or async)."""
    if inspect.isawaitable(value):
        return await value
    return value


async def identity_of(provider: Any, token: str, user_id: str) -> dict[str, Any]:
    """The provider's display identity for ``token``, with every field filled in."""
    fields: dict[str, Any] = {}
    found = capability(provider, Identity)
    if found is not None:
        fields = dict(await resolve(found.identity(token)) or {})
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

"""The default provider: local accounts, groups, tokens and grants in the server's SQLite file.

What it keeps (tables prefixed ``auth_``):

* users — a name (the persistent id), a display name, a password hash (scrypt, a
  memory-hard KDF: 16 MiB and ~50 ms per guess), ``is_admin``, ``may_execute``, ``disabled``
  (kept with everything it was given, but none of its tokens works) and the last sign-in;
* group memberships;
* tokens — browser sessions (made by logging in) and personal API tokens. A token is
  ``cs1_{id}_{secret}``; only a SHA-256 of the secret is stored (a 256-bit random secret needs
  no slow hash), compared in constant time, so a copy of the database logs nobody in;
* grants — ``(principal, path, role)`` where the principal is ``user:NAME``, ``group:NAME``
  or an audience — ``signed-in`` (every account) or ``everyone`` (also people not signed in,
  when anonymous access is on) —, the path a file or a folder ("" is the root), and the role
  one of :data:`ROLES`;
* grants on resources that are not paths (``published:{id}``: ``viewer`` only; ``apps:{id}``:
  ``viewer`` or ``runner``), in a table of their own so that a file named like one never
  grants it.

How a request is decided:

* ``contents:{path}`` and ``comments:{path}``: the strongest role among the grants whose path
  covers ``path``, for the user and each of their groups; each role allows the actions its
  action implies (a commenter may ``comment`` and ``read``);
* ``kernels…``, ``sessions`` and ``execute`` on anything: users with ``may_execute`` only — a
  kernel runs with the server's rights and can read any file, so running code is granted
  deliberately, per person, not by sharing a notebook;
* ``server``: ``read`` for any signed-in user (kernel specs, settings), anything more for
  admins;
* ``published:{id}``: ``read`` for whoever holds a ``viewer`` grant on it (through a person,
  a group or an audience); ``apps:{id}``: ``read`` for a ``viewer``, ``run`` for a ``runner``;
* admins may do everything.

Administration (create, disable, reset a password, groups, who has access) is
``account_admin.py``; names and passwords follow ``rules.py``.

Nobody is anonymous unless ``allow_anonymous`` is on; then requests without a token act as the
user ``anonymous``, with whatever was granted to ``user:anonymous`` (such a grant is refused
while anonymous access is off).

Changing a person's password (``create-user`` again, or ``set_password``) revokes every browser
session and API token they had: a password is changed because it may be known to someone else,
and whoever knew it may have made tokens with it.

Sign-in attempts are counted before the password is checked (``limits.py``), per account name
and per client address. The store opens its own connection to the server's database with the
server's settings (``CollabServer.sqlite_synchronous``); a write that finds the database locked
by another process raises :class:`~collab_server.auth.Busy` (503) instead of waiting. Every
write is one ``core.db.transaction``; the tables have a schema version (concern ``auth``,
``core.db.migrate``).

State that several server processes would have to share sits behind interfaces: the sign-in
limiter (:class:`~collab_server.auth.limits.LoginLimiter`) and the permissions revision
(:class:`~collab_server.core.state.Revision`). The "last used" throttle of tokens
(``_touched``) stays per process on purpose: it only spares writes, and each process writing
once a minute is still correct.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from traitlets import Bool, Float, Integer, Unicode, default
from traitlets.config import LoggingConfigurable

from ..core import datadir
from ..core.db import is_busy, migrate, open_database, transaction
from ..core.paths import covers, moved
from ..core.state import MemoryRevision, Revision
from ..core.time import iso, now_iso
from .account_admin import RESOURCE_ROLE_ACTIONS, RESOURCE_ROLES, AccountAdmin
from .limits import LoginLimiter, MemoryLoginLimiter
from .provider import (
    EVERYONE,
    ROLE_ACTIONS,
    ROLE_RANK,
    SIGNED_IN,
    Busy,
    Conflict,
    NotAllowed,
    SignInRefused,
    TooManyAttempts,
    decide_by_roles,
    strongest_role,
)
from .rules import (
    ANONYMOUS,
    MIN_PASSWORD_LENGTH,
    AccountError,
    InvalidName,
    check_name,
    check_new_password,
)

ROLES = ROLE_ACTIONS

_TOKEN_PREFIX = "cs1"

# scrypt with n=2**14, r=8: 16 MiB of memory per guess (OWASP's minimum recommendation).
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024, "dklen": 32}


# A one-time start-up link stays valid this long (or until used in a browser, or until the
# account gets a password).
SETUP_LINK_LIFETIME = 24 * 3600.0

__all__ = [
    "ANONYMOUS",
    "MIN_PASSWORD_LENGTH",
    "AccountError",
    "AccountStore",
    "AccountsProvider",
    "InvalidName",
    "TooManyAttempts",
    "check_name",
    "check_new_password",
]


def now() -> str:
    """Accounts' time stamps: ISO-8601 UTC to the second (``core.time``)."""
    return now_iso("seconds")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, **_SCRYPT)  # type: ignore[arg-type]
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


WRONG_SIGN_IN = "Wrong user name or password"


def check_password(password: str, stored: str | None) -> bool:
    """Does ``password`` match ``stored``? Takes the same time when there is no such user."""
    if not stored:
        # Spend the same effort as a real check, so timing does not reveal who exists.
        hashlib.scrypt(b"x", salt=b"0" * 16, **_SCRYPT)  # type: ignore[arg-type]
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=64 * 1024 * 1024,
            dklen=len(bytes.fromhex(digest)),
        )
    except ValueError:
        return False
    return hmac.compare_digest(computed.hex(), digest)


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _schema_v1(conn: sqlite3.Connection) -> None:
    # IF NOT EXISTS: databases made before schema versions already have these tables.
    for statement in (
        """CREATE TABLE IF NOT EXISTS auth_users (
            name TEXT PRIMARY KEY, display_name TEXT NOT NULL, password_hash TEXT,
            is_admin INTEGER NOT NULL DEFAULT 0, may_execute INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS auth_members (
            group_name TEXT NOT NULL, user_name TEXT NOT NULL
                REFERENCES auth_users(name) ON DELETE CASCADE,
            PRIMARY KEY (group_name, user_name))""",
        """CREATE TABLE IF NOT EXISTS auth_tokens (
            id TEXT PRIMARY KEY, user_name TEXT NOT NULL
                REFERENCES auth_users(name) ON DELETE CASCADE,
            kind TEXT NOT NULL, label TEXT NOT NULL DEFAULT '',
            secret_hash TEXT NOT NULL, created_at TEXT NOT NULL,
            expires_at REAL, last_used_at TEXT)""",
        "CREATE INDEX IF NOT EXISTS auth_tokens_user ON auth_tokens(user_name)",
        """CREATE TABLE IF NOT EXISTS auth_grants (
            principal TEXT NOT NULL, path TEXT NOT NULL, role TEXT NOT NULL,
            granted_by TEXT, created_at TEXT NOT NULL,
            PRIMARY KEY (principal, path))""",
    ):
        conn.execute(statement)


def _schema_v2(conn: sqlite3.Connection) -> None:
    # Administrators disable accounts (kept, with their grants, but nobody signs in as them)
    # and see when each person last signed in. Grants on resources that are not paths
    # (``published:{id}``) get their own table: a file may be named "published:x", and its
    # grants must never be read as a published copy's.
    # Tolerant, like v1: a database that lost its version row may have these already.
    columns = {row[1] for row in conn.execute("PRAGMA table_info(auth_users)")}
    if "disabled" not in columns:
        conn.execute("ALTER TABLE auth_users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0")
    if "last_sign_in_at" not in columns:
        conn.execute("ALTER TABLE auth_users ADD COLUMN last_sign_in_at TEXT")
    conn.execute(
        """CREATE TABLE IF NOT EXISTS auth_resource_grants (
            principal TEXT NOT NULL, resource TEXT NOT NULL, role TEXT NOT NULL,
            granted_by TEXT, created_at TEXT NOT NULL,
            PRIMARY KEY (principal, resource))"""
    )


# The accounts schema, version by version (only ever append; see core.db.migrate).
MIGRATIONS = [_schema_v1, _schema_v2]


class AccountStore:
    """The tables and the queries; no policy. Safe to use from several threads."""

    def __init__(
        self, path: Path, synchronous: str = "NORMAL", revision: Revision | None = None
    ) -> None:
        self.db = open_database(path, synchronous)
        self._lock = threading.RLock()
        # Bumped by every change that may take rights away (grants, tokens, users), so open
        # websockets are re-checked only when something changed (see permissions_revision).
        self.revision: Revision = revision if revision is not None else MemoryRevision()
        with self._lock:
            migrate(self.db, "auth", MIGRATIONS)

    @contextlib.contextmanager
    def _writing(self, *, changes_rights: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction (``core.db.transaction``); a database locked by another process
        is :data:`~collab_server.auth.Busy` (503), not a wait on this thread."""
        with self._lock:
            try:
                with transaction(self.db.conn) as conn:
                    yield conn
            except sqlite3.OperationalError as e:
                raise _busy(e) from e
            if changes_rights:
                self.revision.bump()

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        with self._lock:
            return self.db.conn.execute(sql, tuple(params)).fetchall()

    def _write(self, sql: str, params: Iterable[Any] = (), *, changes_rights: bool = True) -> int:
        with self._writing(changes_rights=changes_rights) as conn:
            count: int = conn.execute(sql, tuple(params)).rowcount
        return count

    # -- users and groups -------------------------------------------------------------

    _USER_COLUMNS = (
        "name, display_name, password_hash, is_admin, may_execute, disabled, created_at, "
        "last_sign_in_at"
    )

    @staticmethod
    def _user_row(row: Any) -> dict[str, Any]:
        name, display, pw, admin, execute, disabled, created, last = row
        return {
            "name": name,
            "display_name": display,
            "password_hash": pw,
            "is_admin": bool(admin),
            "may_execute": bool(execute),
            "disabled": bool(disabled),
            "created_at": created,
            "last_sign_in_at": last,
        }

    def user(self, name: str) -> dict[str, Any] | None:
        rows = self._query(f"SELECT {self._USER_COLUMNS} FROM auth_users WHERE name = ?", (name,))
        return self._user_row(rows[0]) if rows else None

    def display_names(self, names: Iterable[str]) -> dict[str, str]:
        """``{name: display name}`` of those of ``names`` that are accounts: one query."""
        rows = self._query(
            "SELECT name, display_name FROM auth_users"
            " WHERE name IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(set(names))),),
        )
        return {str(name): str(display) for name, display in rows}

    def users(self) -> list[dict[str, Any]]:
        """Every account (with its password hash: callers show only whether there is one)."""
        rows = self._query(f"SELECT {self._USER_COLUMNS} FROM auth_users ORDER BY name")
        return [self._user_row(row) for row in rows]

    def set_flags(self, name: str, **flags: bool) -> None:
        """Set ``disabled``, ``is_admin`` or ``may_execute`` of an existing account.

        A change that would leave no administrator who can sign in is refused
        (:data:`~collab_server.auth.Conflict`, nothing changed). The check runs inside the
        write transaction, so two administrators un-making each other at once (from two
        processes even) cannot both succeed."""
        allowed = {"disabled", "is_admin", "may_execute"}
        assert set(flags) <= allowed, flags
        if not flags:
            return
        active = "SELECT COUNT(*) FROM auth_users WHERE is_admin = 1 AND disabled = 0"
        sets = ", ".join(f"{column} = ?" for column in flags)
        with self._writing() as conn:
            (before,) = conn.execute(active).fetchone()
            conn.execute(
                f"UPDATE auth_users SET {sets} WHERE name = ?",
                [int(value) for value in flags.values()] + [name],
            )
            (after,) = conn.execute(active).fetchone()
            if before and not after:
                raise Conflict(
                    f"{name} is the last administrator who can sign in: make someone else an "
                    "administrator first"
                )

    def set_display_name(self, name: str, display_name: str) -> None:
        self._write(
            "UPDATE auth_users SET display_name = ? WHERE name = ?",
            (display_name, name),
            changes_rights=False,
        )

    def clear_password(self, name: str) -> None:
        """Forget the password and end every session and token of ``name`` (a reset)."""
        with self._writing() as conn:
            conn.execute("UPDATE auth_users SET password_hash = NULL WHERE name = ?", (name,))
            conn.execute("DELETE FROM auth_tokens WHERE user_name = ?", (name,))

    def signed_in(self, name: str) -> None:
        self._write(
            "UPDATE auth_users SET last_sign_in_at = ? WHERE name = ?",
            (now(), name),
            changes_rights=False,
        )

    def active_admins(self) -> list[str]:
        """Administrators who can sign in (not disabled)."""
        return [n for (n,) in self._query(
            "SELECT name FROM auth_users WHERE is_admin = 1 AND disabled = 0 ORDER BY name"
        )]  # fmt: skip

    def put_user(
        self,
        name: str,
        password: str | None,
        *,
        display_name: str | None = None,
        admin: bool | None = None,
        may_execute: bool | None = None,
        groups: Iterable[str] = (),
    ) -> list[str]:
        """Create the user, or update them if they exist; returns what changed, in words.

        Flags left as None keep their value (new users: off); a new password revokes every
        session and API token the user had.
        """
        name = check_name(name)
        groups = [check_name(g, "group name") for g in groups]
        pw = hash_password(password) if password else None
        old = self.user(name)
        is_admin = admin if admin is not None else bool(old and old["is_admin"])
        execute = may_execute if may_execute is not None else bool(old and old["may_execute"])
        execute = execute or is_admin
        display = display_name or (old["display_name"] if old else name)
        changes: list[str] = []
        if old is None:
            changes.append("created")
        else:
            if pw:
                changes.append("password changed (their sessions and API tokens are revoked)")
            if is_admin != old["is_admin"]:
                changes.append("admin" if is_admin else "no longer admin")
            if execute != old["may_execute"]:
                changes.append("may run code" if execute else "may no longer run code")
            if display != old["display_name"]:
                changes.append(f"display name {display!r}")
        added = [g for g in groups if g not in (self.groups_of(name) if old else [])]
        changes += [f"added to group {g}" for g in added]
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO auth_users (name, display_name, password_hash, is_admin, "
                "may_execute, created_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET display_name = excluded.display_name, "
                "password_hash = COALESCE(excluded.password_hash, password_hash), "
                "is_admin = excluded.is_admin, may_execute = excluded.may_execute",
                (name, display, pw, int(is_admin), int(execute), now()),
            )
            if pw and old is not None:
                conn.execute("DELETE FROM auth_tokens WHERE user_name = ?", (name,))
            for group in groups:
                conn.execute(
                    "INSERT OR IGNORE INTO auth_members (group_name, user_name) VALUES (?, ?)",
                    (group, name),
                )
        return changes

    def admins_without_password(self) -> list[str]:
        return [n for (n,) in self._query(
            "SELECT name FROM auth_users WHERE is_admin = 1 AND password_hash IS NULL "
            "AND disabled = 0 "
            "ORDER BY name != 'admin', name"
        )]  # fmt: skip

    def revoke_tokens(self, user: str, kind: str | None = None) -> int:
        if kind is None:
            return self._write("DELETE FROM auth_tokens WHERE user_name = ?", (user,))
        return self._write(
            "DELETE FROM auth_tokens WHERE user_name = ? AND kind = ?", (user, kind)
        )  # fmt: skip

    def token_kind(self, token_id: str) -> str | None:
        rows = self._query("SELECT kind FROM auth_tokens WHERE id = ?", (token_id,))
        return str(rows[0][0]) if rows else None

    def any_password(self) -> bool:
        return bool(self._query("SELECT 1 FROM auth_users WHERE password_hash IS NOT NULL"))

    def groups_of(self, name: str) -> list[str]:
        return [g for (g,) in self._query(
            "SELECT group_name FROM auth_members WHERE user_name = ?", (name,)
        )]  # fmt: skip

    def group_members(self, group: str) -> list[str]:
        return [u for (u,) in self._query(
            "SELECT user_name FROM auth_members WHERE group_name = ?", (group,)
        )]  # fmt: skip

    def group_exists(self, group: str) -> bool:
        return bool(self._query("SELECT 1 FROM auth_members WHERE group_name = ?", (group,)))

    def groups(self) -> dict[str, list[str]]:
        """Every group (a group exists while it has members) and its members, by name."""
        found: dict[str, list[str]] = {}
        for group, user in self._query(
            "SELECT group_name, user_name FROM auth_members ORDER BY group_name, user_name"
        ):
            found.setdefault(group, []).append(user)
        return found

    def add_member(self, group: str, user: str) -> bool:
        """Add ``user`` to ``group``; False if they were in it already."""
        return self._write(
            "INSERT OR IGNORE INTO auth_members (group_name, user_name) VALUES (?, ?)",
            (group, user),
        ) > 0  # fmt: skip

    def remove_member(self, group: str, user: str) -> bool:
        return self._write(
            "DELETE FROM auth_members WHERE group_name = ? AND user_name = ?", (group, user)
        ) > 0  # fmt: skip

    # -- tokens ---------------------------------------------------------------------------

    def new_token(
        self, user: str, kind: str, label: str = "", lifetime: float | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Make a token for ``user``; returns the token (shown once) and its public record."""
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        expires = time.time() + lifetime if lifetime else None
        created = now()
        self._write(
            "INSERT INTO auth_tokens (id, user_name, kind, label, secret_hash, created_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (token_id, user, kind, label, _secret_hash(secret), created, expires),
        )
        record: dict[str, Any] = {"id": token_id, "kind": kind, "label": label}
        record["created_at"] = created
        record["expires_at"] = _iso(expires)
        return f"{_TOKEN_PREFIX}_{token_id}_{secret}", record

    def token_user(self, token: str) -> tuple[str, str] | None:
        """(user name, token id) of a valid token, or None."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != _TOKEN_PREFIX:
            return None
        _, token_id, secret = parts
        rows = self._query(
            "SELECT t.user_name, t.secret_hash, t.expires_at, u.disabled FROM auth_tokens t "
            "JOIN auth_users u ON u.name = t.user_name WHERE t.id = ?",
            (token_id,),
        )
        if not rows:
            _secret_hash(secret)  # same work whether or not the id exists
            return None
        user, stored, expires, disabled = rows[0]
        if not hmac.compare_digest(_secret_hash(secret), stored):
            return None
        if expires is not None and expires < time.time():
            return None
        if disabled:
            # A disabled account's sessions and tokens are kept (enabling it again gives
            # them back) but stop working at once.
            return None
        return user, token_id

    def touch_token(self, token_id: str) -> None:
        self._write(
            "UPDATE auth_tokens SET last_used_at = ? WHERE id = ?",
            (now(), token_id),
            changes_rights=False,
        )

    def tokens(self, user: str, kind: str = "api") -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT id, label, created_at, expires_at, last_used_at FROM auth_tokens "
            "WHERE user_name = ? AND kind = ? ORDER BY created_at",
            (user, kind),
        )
        return [
            {"id": i, "kind": kind, "label": lab, "created_at": c, "expires_at": _iso(e),
             "last_used_at": u}
            for i, lab, c, e, u in rows
        ]  # fmt: skip

    def revoke_token(self, user: str, token_id: str) -> bool:
        return self._write(
            "DELETE FROM auth_tokens WHERE id = ? AND user_name = ?", (token_id, user)
        ) > 0  # fmt: skip

    def forget_expired_tokens(self) -> None:
        self._write("DELETE FROM auth_tokens WHERE expires_at IS NOT NULL AND expires_at < ?",
                    (time.time(),))  # fmt: skip

    # -- grants ---------------------------------------------------------------------------

    def grants_for(self, principals: list[str]) -> list[tuple[str, str]]:
        """(path, role) of every grant to any of ``principals``."""
        marks = ",".join("?" * len(principals))
        return [(p, r) for p, r in self._query(
            f"SELECT path, role FROM auth_grants WHERE principal IN ({marks})", principals
        )]  # fmt: skip

    def grants_of(self, principals: list[str]) -> list[dict[str, Any]]:
        """Every grant to any of ``principals``, with who gave it and when."""
        marks = ",".join("?" * len(principals))
        rows = self._query(
            "SELECT principal, path, role, granted_by, created_at FROM auth_grants "
            f"WHERE principal IN ({marks}) ORDER BY path, principal",
            principals,
        )
        return [
            {"principal": pr, "path": p, "role": r, "granted_by": g, "created_at": c}
            for pr, p, r, g, c in rows
        ]

    # Grants on resources that are not paths (``published:{id}``).

    def resource_grants(
        self, resource: str | None = None, principals: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Grants on ``resource`` (or on any), to ``principals`` (or to anyone)."""
        where, params = [], []
        if resource is not None:
            where.append("resource = ?")
            params.append(resource)
        if principals is not None:
            where.append(f"principal IN ({','.join('?' * len(principals))})")
            params += principals
        rows = self._query(
            "SELECT principal, resource, role, granted_by, created_at FROM auth_resource_grants"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY resource, principal",
            params,
        )
        return [
            {"principal": pr, "resource": res, "role": r, "granted_by": g, "created_at": c}
            for pr, res, r, g, c in rows
        ]

    def put_resource_grant(
        self, principal: str, resource: str, role: str, granted_by: str | None
    ) -> None:
        self._write(
            "INSERT INTO auth_resource_grants (principal, resource, role, granted_by, "
            "created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(principal, resource) DO UPDATE "
            "SET role = excluded.role, granted_by = excluded.granted_by, "
            "created_at = excluded.created_at",
            (principal, resource, role, granted_by, now()),
        )

    def delete_resource_grant(self, principal: str, resource: str) -> bool:
        return self._write(
            "DELETE FROM auth_resource_grants WHERE principal = ? AND resource = ?",
            (principal, resource),
        ) > 0  # fmt: skip

    def grants_on(self, path: str) -> list[dict[str, Any]]:
        """Every grant that covers ``path`` (on it or on a folder above it)."""
        rows = self._query(
            "SELECT principal, path, role, granted_by, created_at FROM auth_grants "
            "ORDER BY path, principal"
        )
        return [
            {"principal": pr, "path": p, "role": r, "granted_by": g, "created_at": c}
            for pr, p, r, g, c in rows
            if covers(p, path.strip("/"))
        ]

    def put_grant(self, principal: str, path: str, role: str, granted_by: str | None) -> None:
        if role not in ROLES:
            raise AccountError(f"Unknown role {role!r}; use one of {', '.join(ROLES)}")
        self._write(
            "INSERT INTO auth_grants (principal, path, role, granted_by, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(principal, path) DO UPDATE SET "
            "role = excluded.role, granted_by = excluded.granted_by, "
            "created_at = excluded.created_at",
            (principal, path.strip("/"), role, granted_by, now()),
        )

    def delete_grant(self, principal: str, path: str) -> bool:
        return self._write(
            "DELETE FROM auth_grants WHERE principal = ? AND path = ?", (principal, path.strip("/"))
        ) > 0  # fmt: skip

    def move_grants(self, old: str, new: str) -> None:
        """A file or folder was renamed: its grants (and those below it) follow it
        (``core.paths.moved``: the same rule as file ids), in one transaction."""
        old, new = old.strip("/"), new.strip("/")
        with self._writing() as conn:
            for principal, path in conn.execute(
                "SELECT principal, path FROM auth_grants"
            ).fetchall():
                target = moved(path, old, new)
                if target is not None and target != path:
                    conn.execute(
                        "UPDATE OR REPLACE auth_grants SET path = ? WHERE principal = ? "
                        "AND path = ?",
                        (target, principal, path),
                    )


def _busy(error: sqlite3.OperationalError) -> Exception:
    if is_busy(error):
        return Busy("The account database is busy; try again in a moment", retry_after=1)
    return error


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return iso(timestamp, "seconds")


class AccountsProvider(AccountAdmin, LoggingConfigurable):
    """Local accounts: the default :class:`~collab_server.auth.AuthorizationProvider`."""

    database_path = Unicode(
        help="The SQLite file with the accounts (default: the server's database)."
    ).tag(config=True)
    allow_anonymous = Bool(
        False,
        help="Let requests without a token in, as the user 'anonymous' with the grants given "
        "to user:anonymous. Off by default: nothing is public unless the operator says so.",
    ).tag(config=True)
    session_lifetime = Float(14 * 24 * 3600.0, help="Seconds a browser login stays valid.").tag(
        config=True
    )
    max_login_failures = Integer(
        10,
        help="Sign-in attempts per account name within login_failure_window (counted before "
        "the password is checked; a success does not count) before refusing with 429.",
    ).tag(config=True)
    max_login_attempts_per_address = Integer(
        50,
        help="Sign-in attempts from one client address within login_failure_window, across "
        "all account names, before refusing it with 429 (0: no limit). Behind a reverse "
        "proxy, set ServerApp.trust_xheaders so the address is the client's.",
    ).tag(config=True)
    login_failure_window = Float(
        300.0, help="Seconds over which sign-in attempts are counted (a sliding window)."
    ).tag(config=True)
    sqlite_synchronous = Unicode(
        help="SQLite synchronous mode of the accounts connection (default: the server's "
        "CollabServer.sqlite_synchronous)."
    ).tag(config=True)

    @default("sqlite_synchronous")
    def _default_synchronous(self) -> str:
        return str(getattr(self.parent, "sqlite_synchronous", "NORMAL") or "NORMAL")

    @default("database_path")
    def _default_database_path(self) -> str:
        data_dir = getattr(self.parent, "data_dir", None)
        if not data_dir:
            raise AccountError("AccountsProvider needs database_path or a parent with data_dir")
        return str(datadir.database_path(data_dir))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = AccountStore(Path(self.database_path), self.sqlite_synchronous)
        self.store.forget_expired_tokens()
        self.limiter: LoginLimiter = MemoryLoginLimiter(
            self.max_login_failures, self.max_login_attempts_per_address, self.login_failure_window
        )
        self._touched: dict[str, float] = {}

    def permissions_revision(self) -> int:
        """Changes whenever a right may have been taken away (optional provider method: open
        websockets are re-checked when it changes, and at least once a minute anyway)."""
        return self.store.revision.current()

    def startup_token(self) -> str:
        """A one-time sign-in link for the URL printed at start, while an admin has no password.

        The first start creates the admin ``admin`` without a password. Every start while an
        admin has no password prints a new one-time link (the previous one stops working): it
        signs the browser in as them and asks them to set a password. It works once in a
        browser, for a day, and until the account has a password. Otherwise the printed URL is
        the sign-in page.
        """
        if self.store.user("admin") is None and not self.store.any_password():
            self.store.put_user("admin", None, display_name="Admin", admin=True)
        waiting = self.store.admins_without_password()
        if not waiting:
            return ""
        self.store.revoke_tokens(waiting[0], "setup")
        token, _ = self.store.new_token(waiting[0], "setup", "start-up link", SETUP_LINK_LIFETIME)
        return token

    def redeem_link(self, token: str) -> tuple[str, bool]:
        """A token presented in a page's URL: a one-time start-up link is exchanged for a
        session (and used up); any other token is kept as it is."""
        found = self.store.token_user(token)
        if found is None:
            return token, False
        user_name, token_id = found
        user = self.store.user(user_name)
        must_set = bool(user is not None and not user["password_hash"])
        if self.store.token_kind(token_id) != "setup":
            return token, must_set
        if not self.store.revoke_token(user_name, token_id):
            raise SignInRefused("This sign-in link was already used")
        session, _ = self.store.new_token(user_name, "session", "browser", self.session_lifetime)
        self.store.signed_in(user_name)
        return session, must_set

    def has_password(self, user_name: str) -> bool:
        user = self.store.user(user_name)
        return bool(user and user["password_hash"])

    def set_password(self, token: str, current: str | None, new: str) -> str:
        """Set the caller's own password (blocking: scrypt); every other session and token of
        theirs is revoked. Returns the new session token for this browser."""
        user_name = self.persistent_id(token)
        user = self.store.user(user_name) if user_name and user_name != ANONYMOUS else None
        if user is None or user_name is None:
            raise NotAllowed("Sign in to set your password")
        check_new_password(new)
        if user["password_hash"] and not check_password(current or "", user["password_hash"]):
            raise SignInRefused("The current password is wrong")
        self.store.put_user(user_name, new)
        session, _ = self.store.new_token(user_name, "session", "browser", self.session_lifetime)
        return session

    def kernel_env(self, token: str) -> dict[str, str]:
        """``JUPYTER_AUTH_ID`` only: a kernel runs with the server's rights and is shared by
        the room, so no token of the person is put where others could read it."""
        user_name = self.persistent_id(token)
        return {"JUPYTER_AUTH_ID": user_name} if user_name else {}

    def groups_of(self, token: str) -> list[str]:
        """The caller's groups (capability ``Groups``: the gallery's group recommendations)."""
        user_name = self.persistent_id(token)
        return self.store.groups_of(user_name) if user_name else []

    def group_members(self, group: str) -> list[str]:
        return self.store.group_members(group)

    # -- the provider interface ----------------------------------------------------------

    def persistent_id(self, token: str) -> str | None:
        if not token:
            return ANONYMOUS if self.allow_anonymous else None
        found = self.store.token_user(token)
        if found is None:
            return None
        user_name, token_id = found
        # "Last used" is shown next to API tokens; once a minute is precise enough and spares
        # a write per request.
        if self._touched.get(token_id, 0) < time.monotonic() - 60:
            self._touched[token_id] = time.monotonic()
            with contextlib.suppress(Busy):  # best effort: the next request records it
                self.store.touch_token(token_id)
        return user_name

    def allowed(self, token: str, action: str, resource: str) -> bool:
        user_name = self.persistent_id(token)
        if user_name is None:
            return False
        user = self.store.user(user_name)
        if user is None and user_name != ANONYMOUS:
            return False
        kind = resource.partition(":")[0]
        if kind in RESOURCE_ROLES and not (user and user["is_admin"]):
            # A published copy or an app: read (run) by whoever was granted it (a person, a
            # group, signed-in people, everyone); the rest there is its publishers' business.
            role = self.resource_role(self._principals(user_name), resource)
            return role is not None and action in RESOURCE_ROLE_ACTIONS[role]
        return decide_by_roles(
            action,
            resource,
            is_admin=bool(user and user["is_admin"]),
            may_execute=bool(user and user["may_execute"]),
            role_on=lambda path: self.role(user_name, path),
            leads_to_grant=lambda path: self._leads_to_grant(user_name, path),
        )

    def identity(self, token: str) -> dict[str, Any]:
        user_name = self.persistent_id(token)
        user = self.store.user(user_name) if user_name else None
        # jupyter_server's ``name`` is a person's full name (cursor labels in JupyterLab and in
        # our page show it); the user name stays in ``username``.
        if user is None:
            return {"name": (user_name or "").title(), "display_name": (user_name or "").title()}
        return {"name": user["display_name"], "display_name": user["display_name"]}

    def display_names(self, person_ids: list[str]) -> dict[str, str]:
        """The accounts' display names as they are now (capability ``DisplayNames``): an
        account made or renamed by an administrator shows its name before its first sign-in."""
        return self.store.display_names(person_ids)

    # -- what the rest of the server asks beyond the interface ----------------------------

    def role(self, user_name: str, path: str) -> str | None:
        """The strongest role ``user_name`` holds on ``path`` (through any grant), or None."""
        return strongest_role(self.store.grants_for(self._principals(user_name)), path)

    def _leads_to_grant(self, user_name: str, folder: str) -> bool:
        folder = folder.strip("/")
        return any(
            granted != folder and covers(folder, granted)
            for granted, _ in self.store.grants_for(self._principals(user_name))
        )

    def _principals(self, user_name: str) -> list[str]:
        """Whom grants to the caller name: the user, their groups, and the audiences they
        belong to (a person not signed in is only in ``everyone``)."""
        if user_name == ANONYMOUS and self.store.user(ANONYMOUS) is None:
            return [f"user:{ANONYMOUS}", EVERYONE]
        groups = [f"group:{g}" for g in self.store.groups_of(user_name)]
        return [f"user:{user_name}", *groups, SIGNED_IN, EVERYONE]

    def shared_with(self, token: str) -> list[dict[str, str]]:
        """The paths shared with the caller (where a person starts browsing)."""
        user_name = self.persistent_id(token)
        if user_name is None:
            return []
        user = self.store.user(user_name)
        if user is not None and user["is_admin"]:
            return [{"path": "", "role": "owner"}]
        principals = self._principals(user_name)
        best: dict[str, str] = {}
        for path, role in self.store.grants_for(principals):
            if role in ROLE_RANK and ROLE_RANK[role] > ROLE_RANK.get(best.get(path, ""), -1):
                best[path] = role
        return [{"path": p, "role": r} for p, r in sorted(best.items())]

    def login(self, user_name: str, password: str, address: str = "") -> tuple[str, Any]:
        """Check a password (slow on purpose: run it off the event loop); return a session.

        The attempt is counted first (:attr:`limiter`), so concurrent guesses cannot outrun
        the limit. Raises :class:`SignInRefused` with one message for any wrong name or
        password, and :class:`TooManyAttempts` once a limit is reached.
        """
        key = user_name.strip().lower()
        reservation = self.limiter.reserve(key, address)
        user = self.store.user(key)
        # An account without a password yet (made with a one-time link) is refused like a
        # wrong password, in the same time: nobody learns before signing in that it exists.
        if not check_password(password, user["password_hash"] if user else None):
            self.limiter.fail(reservation)
            raise SignInRefused(WRONG_SIGN_IN)
        self.limiter.succeed(reservation)
        if user is not None and user["disabled"]:
            # Said only to whoever knows the password: the account exists but is off.
            raise SignInRefused("This account is disabled; an administrator can enable it again")
        self.store.signed_in(key)
        return self.store.new_token(key, "session", "browser", self.session_lifetime)

    def logout(self, token: str) -> None:
        found = self.store.token_user(token)
        if found:
            self.store.revoke_token(found[0], found[1])

    # shares: the REST handlers check share rights first; these only record.
    def list_shares(self, path: str) -> list[dict[str, Any]]:
        return self.store.grants_on(path)

    def add_share(self, path: str, principal: str, role: str, granted_by: str) -> None:
        self.store.put_grant(self.check_principal(principal), path, role, granted_by)

    def remove_share(self, path: str, principal: str) -> bool:
        return self.store.delete_grant(principal, path)

    def share_role(self, path: str, principal: str) -> str | None:
        for grant in self.store.grants_on(path):
            if grant["principal"] == principal and grant["path"] == path.strip("/"):
                return str(grant["role"])
        return None

    def file_moved(self, old: str, new: str) -> None:
        self.store.move_grants(old, new)

    # personal API tokens
    def create_token(self, token: str, label: str, lifetime: float | None) -> tuple[str, Any]:
        user_name = self.persistent_id(token)
        if user_name is None or user_name == ANONYMOUS:
            raise NotAllowed("Sign in to create tokens")
        return self.store.new_token(user_name, "api", label, lifetime)

    def list_tokens(self, token: str) -> list[dict[str, Any]]:
        user_name = self.persistent_id(token)
        return self.store.tokens(user_name) if user_name else []

    def revoke_token(self, token: str, token_id: str) -> bool:
        user_name = self.persistent_id(token)
        return bool(user_name) and self.store.revoke_token(str(user_name), token_id)

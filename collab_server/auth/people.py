"""The people directory: the display name last seen for each persistent id.

Gallery cards, app listings, published copies and app runs carry a person's *persistent id*
(``owner``, ``publisher``, ``user``). With a JWT provider that is an opaque ``sub``; people
expect a name. This module owns table ``people`` (concern ``people``, ``core.db.migrate``):
one row per persistent id with the display name the provider gave for it when that person was
last seen, and the time it was recorded.

* **Recording** (:meth:`PeopleDirectory.notice`) happens where identities are resolved: the
  Jupyter adapter (``auth.jupyter``) calls it on every request and connection. It never holds
  the request up: an in-memory map of what is stored answers "nothing new" without SQL, and a
  new or changed name is written by a background task (:meth:`PeopleDirectory.seen`; one per
  person at a time). A person seen for the first time in this process costs one primary-key
  read. A write that finds the database locked is given up after :data:`WRITE_BOUND` (the
  next request tries again); a request never waits for it: while another process held the
  lock, every request of a person not yet named waited for that bound. A name equal to the id
  teaches nothing and never replaces a known name (a token without a name claim).
* **Looking up** (:meth:`PeopleDirectory.names`, :meth:`PeopleDirectory.add_names`): one query
  for any number of ids; :meth:`PeopleDirectory.ids_named` goes the other way for the
  gallery's ``owner:`` filter. A provider with the optional ``DisplayNames`` capability (the local
  accounts: ``auth_users.display_name``) is asked too, and its answer wins: it knows people
  who never signed in since their account was made or renamed, and a rename by an
  administrator shows at once. An id known to neither is its own name.

Multi-tenant: the directory only answers for ids the caller names, and the handlers only name
ids they already return to that caller, so a name tells nobody who exists. There is no listing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from typing import Any

import sqlite_utils

from ..core.db import Migration, migrate, write
from ..core.errors import Unavailable
from ..core.time import now_iso
from .provider import DisplayNames, capability, resolve

PEOPLE_SETTING = "collab_people"

# Names longer than this are cut (a provider's claim is not ours to trust with megabytes).
MAX_NAME = 200
# People whose stored name this process keeps in memory; past it the map starts afresh (the
# next sighting of each costs one read again, never a write).
MAX_REMEMBERED = 100_000
# How long recording a name may wait for a database held by another process, in a request.
WRITE_BOUND = 1.0


def _schema_v1(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE people (id TEXT PRIMARY KEY, display_name TEXT NOT NULL,"
        " updated TEXT NOT NULL) WITHOUT ROWID"
    )


def _schema_v2(conn: sqlite3.Connection) -> None:
    # Searching the gallery for ``owner:"Ana Lopez"`` finds people by name (ids_named).
    conn.execute("CREATE INDEX people_by_name ON people (display_name COLLATE NOCASE)")


MIGRATIONS: list[Migration] = [_schema_v1, _schema_v2]


def clean_name(person_id: str, display_name: Any) -> str | None:
    """The name worth recording for ``person_id``, or None when it teaches nothing (empty, or
    the id itself)."""
    if not isinstance(display_name, str):
        return None
    name = " ".join(display_name.split())[:MAX_NAME]
    return name if name and name != person_id else None


class PeopleDirectory:
    """Display names by persistent id, in the server's database (see the module docstring)."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        provider: Any = None,
        log: logging.Logger | None = None,
    ) -> None:
        migrate(db, "people", MIGRATIONS)
        self._conn = db.conn
        self._provider = provider
        self._log = log or logging.getLogger(__name__)
        # id -> the name stored for it, as far as this process knows (written, being written
        # or read): look-ups see it at once, before a background write lands.
        self._known: dict[str, str] = {}
        # id -> the name a background task is writing (shown by look-ups meanwhile).
        self._writing: dict[str, str] = {}
        self._tasks: set[asyncio.Task[bool]] = set()

    # -- recording --------------------------------------------------------------------------

    def notice(self, person_id: str, display_name: Any) -> None:
        """:meth:`seen`, without making the caller wait: a name to write is written by a
        background task (one per person at a time)."""
        name = clean_name(person_id, display_name)
        if not person_id or name is None or self._known.get(person_id) == name:
            return
        if person_id in self._writing:
            return  # the next request after this write sees whether the name changed again
        self._writing[person_id] = name
        task = asyncio.ensure_future(self.seen(person_id, name))
        self._tasks.add(task)

        def done(finished: asyncio.Task[bool]) -> None:
            self._tasks.discard(finished)
            self._writing.pop(person_id, None)
            if not finished.cancelled() and finished.exception() is not None:
                error = finished.exception()
                self._log.warning("People: recording a name failed: %s", type(error).__name__)

        task.add_done_callback(done)

    async def settled(self) -> None:
        """Wait for the names being written (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def seen(self, person_id: str, display_name: Any) -> bool:
        """Remember that ``person_id`` goes by ``display_name`` now. True when it was written
        (new or changed); False when nothing needed writing or the write was given up."""
        name = clean_name(person_id, display_name)
        if not person_id or name is None or self._known.get(person_id) == name:
            return False
        if person_id not in self._known:
            try:
                stored = self._stored_one(person_id)
            except sqlite3.Error:
                return False  # a database busy even for reading: next request
            if stored == name:
                self._remember(person_id, name)
                return False
        previous = self._known.get(person_id)
        # Said before the write: another request of the same person meanwhile writes nothing.
        self._remember(person_id, name)
        now = now_iso()

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO people (id, display_name, updated) VALUES (?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET display_name = excluded.display_name,"
                " updated = excluded.updated",
                [person_id, name, now],
            )

        try:
            await write(self._conn, work, bound=WRITE_BOUND)
        except (Unavailable, sqlite3.Error) as e:
            if self._known.get(person_id) == name:
                self._forget(person_id, previous)
            self._log.warning("People: could not record a display name: %s", type(e).__name__)
            return False
        return True

    def _remember(self, person_id: str, name: str) -> None:
        if person_id not in self._known and len(self._known) >= MAX_REMEMBERED:
            self._known.clear()
        self._known[person_id] = name

    def _forget(self, person_id: str, previous: str | None) -> None:
        if previous is None:
            self._known.pop(person_id, None)
        else:
            self._known[person_id] = previous

    def _stored_one(self, person_id: str) -> str | None:
        row = self._conn.execute(
            "SELECT display_name FROM people WHERE id = ?", [person_id]
        ).fetchone()
        return None if row is None else str(row[0])

    # -- looking up -------------------------------------------------------------------------

    def stored_names(self, person_ids: Iterable[str]) -> dict[str, str]:
        """The recorded names of those of ``person_ids`` that have one: one query."""
        wanted = sorted({i for i in person_ids if i})
        if not wanted:
            return {}
        rows = self._conn.execute(
            "SELECT id, display_name FROM people WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps(wanted)],
        ).fetchall()
        return {str(person_id): str(name) for person_id, name in rows}

    def ids_named(self, names: Iterable[str]) -> dict[str, list[str]]:
        """For each of ``names``, the ids of the people last seen going by it (case and
        spacing aside): the gallery's ``owner:NAME`` filter, which a person types with the
        name they see on a card rather than an id. Only what was recorded (or is being
        written) is searched; a provider's ``DisplayNames`` cannot be asked by name."""
        found: dict[str, list[str]] = {}
        for typed in {n for n in names if n}:
            name = " ".join(typed.split())
            try:
                rows = self._conn.execute(
                    "SELECT id FROM people WHERE display_name = ? COLLATE NOCASE ORDER BY id",
                    [name],
                ).fetchall()
                ids = {str(row[0]) for row in rows}
            except sqlite3.Error as e:  # a search without names still answers with ids
                self._log.warning("People: could not look names up: %s", type(e).__name__)
                ids = set()
            folded = name.casefold()  # and the names still on their way to the table
            ids.update(i for i, n in self._writing.items() if n.casefold() == folded)
            found[typed] = sorted(ids)
        return found

    async def names(self, person_ids: Iterable[str]) -> dict[str, str]:
        """A name for each of ``person_ids``: the provider's current one where it has the
        ``DisplayNames`` capability and knows the person, else the one last seen, else the id."""
        wanted = sorted({i for i in person_ids if i})
        if not wanted:
            return {}
        try:
            found = self.stored_names(wanted)
        except sqlite3.Error as e:  # a name is never worth failing a listing
            self._log.warning("People: could not read display names: %s", type(e).__name__)
            found = {}
        # What this process saw last, also while it is being written.
        found.update({i: self._known[i] for i in wanted if i in self._known})
        found.update({i: self._writing[i] for i in wanted if i in self._writing})
        found.update(await self._provider_names(wanted))
        return {i: found.get(i) or i for i in wanted}

    async def _provider_names(self, wanted: list[str]) -> dict[str, str]:
        provider = capability(self._provider, DisplayNames)
        if provider is None:
            return {}
        try:
            answer = await resolve(provider.display_names(wanted))
        except Exception as e:  # an operator's provider: its failure costs names, not the page
            self._log.warning("People: the provider's display_names failed: %s", type(e).__name__)
            return {}
        asked = set(wanted)
        return {
            str(i): name
            for i, n in (answer or {}).items()
            if str(i) in asked and (name := clean_name(str(i), n)) is not None
        }

    async def add_names(
        self, rows: Sequence[MutableMapping[str, Any]], *fields: str
    ) -> Sequence[MutableMapping[str, Any]]:
        """Give each row, for each of ``fields`` it has (a persistent id, e.g. ``owner``),
        ``{field}_name`` beside it (the id when no name is known; "" for no one): one look-up
        for all of them. Only ids already in the rows are named."""
        ids = [str(row[f]) for row in rows for f in fields if row.get(f)]
        names = await self.names(ids)
        for row in rows:
            for f in fields:
                if f in row:
                    value = row[f]
                    row[f"{f}_name"] = names.get(str(value), str(value)) if value else value
        return rows


def people_of(settings: Mapping[str, Any]) -> PeopleDirectory:
    """The server's directory, from the web application's settings (put there by the app)."""
    directory = settings.get(PEOPLE_SETTING)
    if directory is None:
        raise RuntimeError("No people directory is configured")
    return directory  # type: ignore[no-any-return]

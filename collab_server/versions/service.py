"""The versions service: what the REST API, checkpoints and the app's wiring call.

It owns the rules around the :class:`~.store.VersionStore`: which path is a notebook (400 /
415 / 404), reading the *current* state (the live room's document when it is open, else the
file), cutting versions on label, restore and publish, the restore as a forward edit of the
live room (:mod:`.restore`), published copies and clone lineage (two tables of its own), and
retention on a schedule.

The live rooms are reached through :class:`LiveNotebooks`, a narrow protocol that today's
``room_adapter.py`` implements over the rooms' public API; when rooms declare their extension
points (events per persisted batch with authors, requested-save events, a server-change hook)
only the adapter changes.

The store runs on the event loop: its SQLite statements are short. Retention runs in a thread
on a connection of its own (thinning many files can take a while).
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import posixpath
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import sqlite_utils
from jupyter_core.utils import ensure_async
from pycrdt import Doc

from ..core.errors import CollabError, Forbidden, Invalid, NotFound, Unprocessable, Unsupported
from . import canonical
from .blobs import BlobBackend
from .diff import diff_notebooks
from .restore import apply_notebook, keep_comments
from .retention import RetentionPolicy
from .store import Version, VersionNotFound, VersionStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS published_notebooks (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    source_file_id TEXT NOT NULL,
    source_version TEXT NOT NULL,
    content_id TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    stripped INTEGER NOT NULL,
    publisher TEXT NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE INDEX IF NOT EXISTS published_by_source ON published_notebooks (source_file_id);
CREATE TABLE IF NOT EXISTS notebook_clones (
    file_id TEXT PRIMARY KEY,
    source_file_id TEXT,
    source_version TEXT,
    published_id TEXT,
    published_version INTEGER,
    cloned_by TEXT NOT NULL,
    created TEXT NOT NULL
);
"""

# A file name's bytes, leaving room for ".ipynb", a "-N" suffix and the contents manager's
# temporary ".~" prefix within the 255 bytes file systems allow.
MAX_NAME_BYTES = 230
MAX_LABEL = 200
MAX_TITLE = 200
MAX_DESCRIPTION = 5000


class LiveNotebooks(Protocol):
    """What the versions need of the live rooms (``room_adapter.RoomsAdapter`` today)."""

    def read(self, file_id: str) -> dict[str, Any] | None:
        """The live notebook of an open room, or None when no room holds the file."""

    async def open(self, file_id: str, path: str) -> None:
        """Load the file's room (it closes by itself once nobody uses it)."""

    def apply_server_change(self, file_id: str, source: str, fn: Callable[[Doc], None]) -> bool:
        """Run ``fn`` on the room's document in one transaction, broadcast and save it;
        False when the room is not open."""


class FileIds(Protocol):
    def get_id(self, path: str) -> str | None: ...
    def get_path(self, file_id: str) -> str | None: ...
    async def ensure(self, path: str) -> tuple[str, bool]: ...


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def name_from_title(title: str) -> str:
    """A file name (without ``.ipynb``) for a copy of a notebook titled ``title``: no
    folders, no hidden file, at most 100 characters and :data:`MAX_NAME_BYTES` bytes of UTF-8
    (cut at a character, never inside one)."""
    name = re.sub(r"[/\\:\x00-\x1f]", "-", title).lstrip(". ") or "Untitled"
    cut = name[:100].encode()[:MAX_NAME_BYTES].decode("utf-8", "ignore")
    return cut.rstrip() or "Untitled"


def notebook_path(path: str) -> str:
    """``path`` as the API names it (400 if empty or leaving the root, 415 if no notebook)."""
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts:
        raise Invalid("Name a notebook: the path is empty")
    if ".." in parts:
        raise Invalid("The path may not leave the server's root")
    api_path = "/".join(parts)
    if not api_path.endswith(".ipynb"):
        raise Unsupported("Only notebooks (.ipynb) have versions")
    return api_path


@dataclass(frozen=True)
class Published:
    id: str
    version: int
    source_file_id: str
    source_version: str
    content_id: str
    title: str
    description: str
    stripped: bool
    publisher: str
    created: str

    def to_json(self, source_path: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "description": self.description,
            "strip_outputs": self.stripped,
            "publisher": self.publisher,
            "created": self.created,
            "url": f"/api/collab/published/{self.id}?version={self.version}",
        }
        if source_path is not None:
            out["path"] = source_path
        return out


class VersionService:
    def __init__(
        self,
        db: sqlite_utils.Database,
        live: LiveNotebooks,
        file_ids: FileIds,
        contents_manager: Any,
        log: logging.Logger,
        backend: BlobBackend | None = None,
        retention: RetentionPolicy | None = None,
    ) -> None:
        self.db = db
        self.store = VersionStore(db, backend)
        self.live = live
        self.file_ids = file_ids
        self.contents = contents_manager
        self.log = log
        self.retention = retention or RetentionPolicy()
        self._conn = db.conn
        self._conn.executescript(_SCHEMA)
        self._retention_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()  # cuts and deletions under way
        # Who edited a file since its last version (``auto.AutoVersions.claim`` once wired):
        # a version the service cuts (label, publish, restore, checkpoint) credits them too.
        self.claim_authors: Callable[[str], builtins.list[dict[str, str]]] = lambda _: []

    # -- reading the current state -----------------------------------------------------

    async def _file(self, api_path: str) -> str:
        """The file id of an existing notebook (404 if there is none)."""
        exists = await ensure_async(self.contents.file_exists(api_path))
        if not exists:
            raise NotFound(f"No notebook {api_path!r}")
        file_id, _ = await self.file_ids.ensure(api_path)
        return file_id

    async def _read_file(self, api_path: str) -> dict[str, Any]:
        try:
            model = await ensure_async(
                self.contents.get(api_path, content=True, type="notebook", format="json")
            )
        except Exception as e:  # unreadable JSON: jupyter_server raises an HTTPError 400
            raise Unprocessable(f"{api_path!r} is not a valid notebook") from e
        nb: dict[str, Any] = _plain(model["content"])
        try:
            canonical.validate(nb)
        except canonical.InvalidNotebook as e:
            raise Unprocessable(f"{api_path!r} is not a valid notebook: {e}") from e
        return nb

    async def current(self, path: str) -> tuple[str, str, dict[str, Any]]:
        """(API path, file id, the live notebook: the open room's document, else the file)."""
        api_path = notebook_path(path)
        file_id = await self._file(api_path)
        live = self.live.read(file_id)
        return api_path, file_id, live if live is not None else await self._read_file(api_path)

    # -- versions ----------------------------------------------------------------------

    async def list_versions(
        self, path: str, limit: int = 50, before: int | None = None
    ) -> dict[str, Any]:
        api_path = notebook_path(path)
        file_id = await self._file(api_path)
        page = self.store.list(file_id, limit, before)
        return {
            "versions": [v.to_json() for v in page.versions],
            "next": page.next_before,
        }

    async def get(self, path: str, version_id: str, outputs: bool = True) -> dict[str, Any]:
        api_path = notebook_path(path)
        nb = await self._version(await self._file(api_path), version_id)
        return nb if outputs else canonical.strip_outputs(nb)

    async def _version(self, file_id: str, version_id: str) -> dict[str, Any]:
        try:
            return await self.store.get_async(file_id, version_id)
        except VersionNotFound:
            raise NotFound(f"No version {version_id!r} of this notebook") from None

    async def diff(
        self, path: str, version_id: str, to: str = "current", outputs: bool = False
    ) -> dict[str, Any]:
        _, file_id, live = await self.current(path)
        base = await self._version(file_id, version_id)
        target = live if to == "current" else await self._version(file_id, to)
        entries = diff_notebooks(base, target, outputs=outputs)
        return {"base": version_id, "to": to, "diff": entries}

    async def label(self, path: str, label: str | None, author: dict[str, str]) -> Version:
        """A named version of the current state (kind ``save``)."""
        if label is not None and (not isinstance(label, str) or len(label) > MAX_LABEL):
            raise Invalid(f'"label" must be text of at most {MAX_LABEL} characters')
        _, file_id, nb = await self.current(path)
        authors = [*self.claim_authors(file_id), author]
        return await self.store.add_async(file_id, nb, "save", authors=authors, label=label or None)

    async def rename(self, path: str, version_id: str, label: str | None) -> Version:
        """Name (or with None, unname) a version that exists already."""
        if label is not None and (not isinstance(label, str) or len(label) > MAX_LABEL):
            raise Invalid(f'"label" must be text of at most {MAX_LABEL} characters')
        file_id = await self._file(notebook_path(path))
        try:
            return self.store.label(file_id, version_id, label.strip() or None if label else None)
        except VersionNotFound:
            raise NotFound(f"No version {version_id!r} of this notebook") from None

    async def restore(self, path: str, version_id: str, author: dict[str, str] | None) -> Version:
        """The live room becomes ``version_id`` as one forward edit; a ``restore`` version."""
        api_path = notebook_path(path)
        file_id = await self._file(api_path)
        target = await self._version(file_id, version_id)
        if self.live.read(file_id) is None:
            await self.live.open(file_id, api_path)
        # Keep what is being replaced, so the restore itself can be undone.
        before = self.live.read(file_id)
        if before is None:  # the room closed between opening and editing (file deleted?)
            raise NotFound(f"No notebook {api_path!r}")
        await self.store.add_async(file_id, before, "auto", authors=self.claim_authors(file_id))
        # Read and edit in one step on the loop (no await between): the edit is computed
        # against exactly the document it is applied to (re-read: the add may have waited).
        before = self.live.read(file_id)
        if before is None:
            raise NotFound(f"No notebook {api_path!r}")
        applied = self.live.apply_server_change(
            file_id, "restore", lambda doc: apply_notebook(doc, keep_comments(target, before))
        )
        if not applied:  # the room closed between opening and editing (file deleted?)
            raise NotFound(f"No notebook {api_path!r}")
        return await self.store.add_async(
            file_id, target, "restore", authors=[author] if author else []
        )

    def cut_in_background(
        self,
        file_id: str,
        nb: dict[str, Any],
        kind: str,
        authors: builtins.list[dict[str, str]],
        done: Callable[[], None] | None = None,
    ) -> None:
        """An automatic cut (``auto.AutoVersions``): from a room event, nobody waits on it.
        ``done`` runs once the version is stored (not if storing it failed).

        On the database back end it is done when this returns (so a room closing at shutdown
        still gets its version); on a network one it runs as a task."""
        if self.store.backend.transactional:
            self.store.add(file_id, nb, kind, authors=authors)
            if done is not None:
                done()
            return

        async def cut() -> None:
            await self.store.add_async(file_id, nb, kind, authors=authors)
            if done is not None:
                done()

        task = asyncio.ensure_future(cut())
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("Cutting a version failed: %s", task.exception())

    async def apply_edit(
        self,
        path: str,
        make_target: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        kind: str,
        authors: list[dict[str, str]],
        label: str | None = None,
    ) -> Version:
        """The live room becomes ``make_target(live notebook)`` as one forward edit, the way
        a restore is (the state before is kept as an ``auto`` version); a ``kind`` version
        of the result is recorded. ``make_target`` runs on the document it edits, with no
        ``await`` in between, and may raise to refuse (nothing is changed then). Used by
        the gallery's change requests."""
        api_path = notebook_path(path)
        file_id = await self._file(api_path)
        if self.live.read(file_id) is None:
            await self.live.open(file_id, api_path)
        before = self.live.read(file_id)
        if before is None:  # the room closed between opening and editing (file deleted?)
            raise NotFound(f"No notebook {api_path!r}")
        make_target(before)  # a refusal changes nothing, not even the "auto" version
        await self.store.add_async(file_id, before, "auto")
        # As in a restore: read, compute and edit in one step on the loop (no await between),
        # the storing above may have waited while people typed.
        before = self.live.read(file_id)
        if before is None:
            raise NotFound(f"No notebook {api_path!r}")
        target = make_target(before)
        applied = self.live.apply_server_change(
            file_id, "restore", lambda doc: apply_notebook(doc, keep_comments(target, before))
        )
        if not applied:
            raise NotFound(f"No notebook {api_path!r}")
        return await self.store.add_async(file_id, target, kind, authors=authors, label=label)

    async def version_content(self, file_id: str, version_id: str) -> dict[str, Any] | None:
        """A version's notebook, or None if there is no such version (any more)."""
        try:
            return await self.store.get_async(file_id, version_id)
        except VersionNotFound:
            return None

    # -- checkpoints (the contents API's, see ``checkpoints.py``) ------------------------

    async def versions_of(self, path: str, limit: int) -> builtins.list[Version]:
        file_id = await self._file(notebook_path(path))
        return self.store.list(file_id, limit).versions

    async def checkpoint(self, path: str) -> Version:
        """A ``save`` version of the current state (JupyterLab asks right after a save)."""
        _, file_id, nb = await self.current(path)
        return await self.store.add_async(file_id, nb, "save", authors=self.claim_authors(file_id))

    async def restore_checkpoint(self, path: str, version_id: str) -> Version:
        """A forward edit when the room is open, else the file is written."""
        api_path = notebook_path(path)
        file_id = await self._file(api_path)
        target = await self._version(file_id, version_id)
        if self.live.read(file_id) is not None:
            return await self.restore(api_path, version_id, author=None)
        current = await self._read_file(api_path)
        model = {"type": "notebook", "format": "json", "content": keep_comments(target, current)}
        await ensure_async(self.contents.save(model, api_path))
        return await self.store.add_async(file_id, target, "restore")

    # -- publishing --------------------------------------------------------------------

    def _published_rows(self, where: str, args: Sequence[Any]) -> list[Published]:
        rows = self._conn.execute(
            "SELECT id, version, source_file_id, source_version, content_id, title, description,"
            f" stripped, publisher, created FROM published_notebooks {where}",
            list(args),
        ).fetchall()
        return [
            Published(
                id=r[0],
                version=r[1],
                source_file_id=r[2],
                source_version=r[3],
                content_id=r[4],
                title=r[5],
                description=r[6],
                stripped=bool(r[7]),
                publisher=r[8],
                created=r[9],
            )
            for r in rows
        ]

    async def publish(
        self,
        path: str,
        author: dict[str, str],
        strip: bool = True,
        title: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        if title is not None and (not isinstance(title, str) or len(title) > MAX_TITLE):
            raise Invalid(f'"title" must be text of at most {MAX_TITLE} characters')
        if description is not None and (
            not isinstance(description, str) or len(description) > MAX_DESCRIPTION
        ):
            raise Invalid(f'"description" must be text of at most {MAX_DESCRIPTION} characters')
        if not isinstance(strip, bool):
            raise Invalid('"strip_outputs" must be true or false')
        api_path, file_id, nb = await self.current(path)
        authors = [*self.claim_authors(file_id), author]
        source = await self.store.add_async(file_id, nb, "publish", authors=authors)
        self.store.pin(file_id, source.id)
        # Never the comment threads: they are the team's discussion, not the notebook.
        copy = keep_comments(canonical.strip_outputs(nb) if strip else nb, {})
        earlier = self._published_rows("WHERE source_file_id = ? ORDER BY version DESC", [file_id])
        pid = earlier[0].id if earlier else secrets.token_urlsafe(9)
        number = earlier[0].version + 1 if earlier else 1
        content = await self.store.add_async(f"published:{pid}", copy, "publish", authors=[author])
        self.store.pin(f"published:{pid}", content.id)
        default_title = posixpath.basename(api_path)[: -len(".ipynb")]
        row = Published(
            pid, number, file_id, source.id, content.id,
            title if title is not None else (earlier[0].title if earlier else default_title),
            description if description is not None else "",
            strip, author["id"], _now(),
        )  # fmt: skip
        self._conn.execute(
            "INSERT INTO published_notebooks (id, version, source_file_id, source_version,"
            " content_id, title, description, stripped, publisher, created)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            [row.id, row.version, row.source_file_id, row.source_version, row.content_id,
             row.title, row.description, int(row.stripped), row.publisher, row.created],
        )  # fmt: skip
        return {**row.to_json(api_path), "version": number, "source_version": source.id}

    def published(self, pid: str, version: int | None = None) -> Published:
        """A published copy (the newest version unless ``version``); 404 if there is none."""
        if version is None:
            rows = self._published_rows("WHERE id = ? ORDER BY version DESC LIMIT 1", [pid])
        else:
            rows = self._published_rows("WHERE id = ? AND version = ?", [pid, version])
        if not rows:
            raise NotFound("No such published notebook (or version)")
        return rows[0]

    async def unpublish(self, pid: str) -> int:
        """Withdraw a published copy, every version of it (its content is forgotten; the
        source notebook's versions stay). Returns how many versions it had."""
        rows = self._published_rows("WHERE id = ?", [pid])
        if not rows:
            raise NotFound("No such published notebook (or version)")
        self._conn.execute("DELETE FROM published_notebooks WHERE id = ?", [pid])
        await self.store.forget_async(f"published:{pid}")
        return len(rows)

    async def published_content(self, row: Published) -> dict[str, Any]:
        return await self.store.get_async(f"published:{row.id}", row.content_id)

    def published_ids(self) -> list[Published]:
        """The newest version of every published notebook."""
        return self._published_rows(
            "WHERE version = (SELECT MAX(p.version) FROM published_notebooks p"
            " WHERE p.id = published_notebooks.id) ORDER BY created DESC, rowid DESC",
            [],
        )

    def source_path(self, row: Published) -> str | None:
        return self.file_ids.get_path(row.source_file_id)

    # -- cloning -----------------------------------------------------------------------

    async def clone_source(self, source: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the notebook to copy, its lineage row) for a clone request's ``source``."""
        if not isinstance(source, dict):
            raise Invalid('"source" must be {"path", "version"} or {"published", "version"}')
        if "published" in source:
            pid, number = source.get("published"), source.get("version")
            if not isinstance(pid, str) or (number is not None and not isinstance(number, int)):
                raise Invalid('"published" must be an id and "version" a number')
            row = self.published(pid, number)
            lineage = {"published_id": row.id, "published_version": row.version,
                       "source_file_id": row.source_file_id,
                       "source_version": row.source_version}  # fmt: skip
            return await self.published_content(row), lineage
        path, version = source.get("path"), source.get("version")
        if not isinstance(path, str) or (version is not None and not isinstance(version, str)):
            raise Invalid('"path" must be a notebook path and "version" a version id')
        if version is None:
            _, file_id, nb = await self.current(path)
            head = await self.store.add_async(file_id, nb, "save")
            version = head.id
        else:
            file_id = await self._file(notebook_path(path))
            nb = await self._version(file_id, version)
        return nb, {"source_file_id": file_id, "source_version": version}

    async def clone_target(
        self, target: Any, source_name: str, may_write: Callable[[str], Awaitable[bool]]
    ) -> str:
        """A free path for the copy: ``name.ipynb``, else ``name-1.ipynb``, ``name-2``…

        Rights first: what exists where the caller may not write is none of their business.
        """
        if not isinstance(target, str):
            raise Invalid('"target" must be a folder or a notebook path')
        if any(ord(c) < 32 for c in target):
            raise Invalid("The target may not contain control characters")
        parts = [p for p in target.replace("\\", "/").split("/") if p not in ("", ".")]
        if ".." in parts:
            raise Invalid("The target may not leave the server's root")
        if any(len(p.encode()) > MAX_NAME_BYTES for p in parts):
            raise Invalid(f"A name in the target is too long (at most {MAX_NAME_BYTES} bytes)")
        wanted = "/".join(parts)
        folder = wanted if not wanted.endswith(".ipynb") else posixpath.dirname(wanted)
        if not wanted.endswith(".ipynb"):
            wanted = posixpath.join(wanted, source_name) if wanted else source_name
        if not await may_write(wanted):
            raise Forbidden("You may not create a notebook there")
        if folder and not await ensure_async(self.contents.dir_exists(folder)):
            raise NotFound(f"No folder {folder!r}")
        stem, folder = posixpath.basename(wanted)[: -len(".ipynb")], posixpath.dirname(wanted)
        if len(stem.encode()) > MAX_NAME_BYTES:
            raise Invalid(f"The notebook's name is too long (at most {MAX_NAME_BYTES} bytes)")
        candidate, n = wanted, 0
        while await ensure_async(self.contents.exists(candidate)):
            n += 1
            candidate = posixpath.join(folder, f"{stem}-{n}.ipynb")
        if candidate != wanted and not await may_write(candidate):
            raise Forbidden("You may not create a notebook there")
        return candidate

    async def clone(
        self,
        source: Any,
        target: Any,
        author: dict[str, str],
        may_write: Callable[[str], Awaitable[bool]],
        source_name: str = "Untitled.ipynb",
    ) -> str:
        nb, lineage = await self.clone_source(source)
        path = await self.clone_target(target, source_name, may_write)
        # A copy starts without the source's comment threads (their people and places are
        # the source's; signed for its file, they would show up as imported in the copy).
        model = {"type": "notebook", "format": "json", "content": keep_comments(nb, {})}
        await ensure_async(self.contents.save(model, path))
        file_id, _ = await self.file_ids.ensure(path)
        self._conn.execute(
            "INSERT OR REPLACE INTO notebook_clones (file_id, source_file_id, source_version,"
            " published_id, published_version, cloned_by, created) VALUES (?,?,?,?,?,?,?)",
            [file_id, lineage.get("source_file_id"), lineage.get("source_version"),
             lineage.get("published_id"), lineage.get("published_version"),
             author["id"], _now()],
        )  # fmt: skip
        return path

    # -- what the gallery's notebook info shows (``GalleryService`` hooks) --------------

    def versions_count(self, file_id: str) -> int:
        return self.store.size(file_id).versions

    def published_copies(self, file_id: str) -> list[dict[str, Any]]:
        rows = self._published_rows(
            "WHERE source_file_id = ? ORDER BY version DESC LIMIT 1", [file_id]
        )
        return [row.to_json() for row in rows]

    def cloned_from(self, file_id: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT source_file_id, source_version, published_id, published_version, created"
            " FROM notebook_clones WHERE file_id = ?",
            [file_id],
        ).fetchone()
        if row is None:
            return None
        source_file_id, version, pid, pversion, created = row
        # No path: whoever reads the copy may not be allowed to read (or learn the name of)
        # the source. ``source_path`` gives it to a caller that checks rights first.
        out: dict[str, Any] = {"file_id": source_file_id, "version": version, "created": created}
        if pid is not None:
            out["published"] = {"id": pid, "version": pversion}
        return out

    # -- deletion and retention --------------------------------------------------------

    def forget(self, file_ids: Sequence[str]) -> None:
        """The files were deleted: drop their versions (published copies stay)."""
        for file_id in file_ids:
            if self.store.backend.transactional:
                self.store.forget(file_id)
            else:  # the deletions wait on the network: not on the event loop
                task = asyncio.ensure_future(self.store.forget_async(file_id))
                self._background.add(task)
                task.add_done_callback(self._background_done)

    def start(self, interval: float) -> None:
        if interval > 0 and self._retention_task is None:
            self._retention_task = asyncio.ensure_future(self._retention_loop(interval))

    async def stop(self) -> None:
        task, self._retention_task = self._retention_task, None
        if task is not None:
            task.cancel()

    async def _retention_loop(self, interval: float) -> None:
        database = _database_file(self.db)
        while True:
            await asyncio.sleep(interval)
            try:
                if self.store.backend.transactional:
                    dropped = await asyncio.to_thread(apply_retention, database, self.retention)
                else:
                    # S3 does not join the SQLite transaction: a thinning in another thread
                    # could delete a blob an ``add`` here is about to reuse. One at a time.
                    dropped = 0
                    for f in self.store.file_ids():
                        dropped += len(await self.store.apply_retention_async(f, self.retention))
                if dropped:
                    self.log.info("Retention dropped %d old automatic versions", dropped)
            except Exception:
                self.log.exception("Version retention failed; will retry")


def apply_retention(database: Path, policy: RetentionPolicy) -> int:
    """Thin every file's versions (SQLite blobs), on a connection of its own: run it in a
    thread. SQLite's locking keeps it apart from the server's own writes."""
    from ..core.db import open_database

    db = open_database(database)
    try:
        store = VersionStore(db)
        return sum(len(store.apply_retention(f, policy)) for f in store.file_ids())
    finally:
        db.conn.close()


def _database_file(db: sqlite_utils.Database) -> Path:
    for _, name, file in db.conn.execute("PRAGMA database_list").fetchall():
        if name == "main" and file:
            return Path(file)
    raise ValueError("the server database is not a file")


def _plain(value: Any) -> Any:
    """nbformat's NotebookNode as plain dicts and lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


__all__ = ["CollabError", "LiveNotebooks", "VersionService", "notebook_path"]

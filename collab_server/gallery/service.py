"""The gallery at run time: wiring to the server, the index kept current, background work.

This module owns the gallery's threads and connections and everything that happens without a
request: following contents events, the periodic scan of the root for outside changes, the
initial build, debounced health updates after executions, and the similarity refresh. The REST
handlers (:mod:`.handlers`) call :meth:`GalleryService.read` and :meth:`GalleryService.write`.

**Threads.** The event loop never runs gallery SQL or parses a notebook. Three single-thread
executors, each with its own SQLite connection to the server database:

* *write*: every gallery write (index upserts from saves and scans, moves, removals, tags,
  stars, views, runs, executions, health), in order, so a rename never overtakes the save
  before it; a bulk build goes in batches (``batch_size`` notebooks a transaction), each its
  own job, so a tag or a star waits for one batch at most;
* *read*: searches and listings. The permission filter may fill temporary tables and register
  a function on the connection (:func:`.index.readable_clause`), so every search runs on this
  one thread and connection;
* *background*: :meth:`.recommend.Recommender.refresh_similar` (tens of seconds over a large
  server), which would otherwise hold up every write.

WAL lets the reader see each committed write at once, and lets the rooms' writes go on; the
gallery's connections wait up to ``busy_timeout`` seconds for the write lock (off the loop).

**Outside changes.** Every ``scan_interval`` seconds the write thread lists the ``.ipynb`` files
under the root (hidden names and symbolic links skipped, as the contents manager does) with
their modification times, compares them with the index, and re-indexes what changed, indexes
what is new and forgets what is gone. Its cost is one directory listing and one ``stat`` per
notebook per scan — measured at 0.11 s of one thread for 10,000 notebooks in 100 folders
(warm cache, a loaded 2-core machine), so about 1% of a core at the default 10 s — plus
parsing the notebooks that changed; at most ``scan_max_files`` entries are looked at in one
scan, and a scan cut short forgets nothing.

**Recommendations kept a while.** A person's recommendation candidates (co-viewing, similar
text, group popularity: the costly queries) are kept on the read thread for
``recommend_ttl`` seconds, and dropped sooner when that person views or runs a notebook, a
notebook is added, moved or removed, similarity is refreshed, their groups change or the
provider's permissions revision moves. Permissions, ownership and "viewed lately" are never
kept: :meth:`.recommend.Recommender.rank` checks every candidate (and every notebook a reason
names) against the database and the request's permissions on each call.

**Owner.** Neither the contents events nor the built-in providers record who created a file.
The gallery's owner of a notebook is the first person seen saving it through the server (the
request that caused the contents event: jupyter_server's ``CallContext``); a notebook found by
the scan has no owner until someone saves it. An owner, once set, is kept. A comment is saved
into the file outside its request's context (:mod:`..comments.service`): commenting is no
authorship.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils
from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable

from ..contents import FileIdStore
from ..core import db as database
from .activity import Execution, GalleryActivity
from .changes import ChangeRequests, NotebookHistory
from .extract import TEXT_VERSION, cell_source, source_hash
from .health import BLEND_DAYS, WINDOW_DAYS, Health, compute_health
from .index import GalleryIndex, Readable
from .recommend import Candidate, Recommendation, Recommender

T = TypeVar("T")
DAY = 86400.0
NOTEBOOK_EVENTS = ("save", "create", "upload", "copy")
MAX_CACHED_PEOPLE = 10_000  # people whose recommendation candidates are kept at once


def _is_notebook(path: str) -> bool:
    return path.endswith(".ipynb")


class GalleryService(LoggingConfigurable):
    """The gallery of one server: index, activity and recommendations, kept current."""

    scan_interval = Float(
        10.0,
        help="Seconds between scans of the root folder for notebooks changed outside the "
        "server (edited on disk, copied in, deleted). 0 turns the scan off.",
    ).tag(config=True)
    scan_max_files = Integer(
        200_000, help="Files one scan looks at, at most (the rest wait for a later scan)."
    ).tag(config=True)
    batch_size = Integer(
        50, help="Notebooks indexed per transaction when building or rescanning in bulk."
    ).tag(config=True)
    max_notebook_bytes = Integer(
        64 * 1024 * 1024, help="Larger notebook files are not indexed."
    ).tag(config=True)
    similar_interval = Float(
        600.0,
        help="Seconds between refreshes of 'similar notebooks' (only when notebooks changed "
        "since the last one; each takes up to tens of seconds in a background thread).",
    ).tag(config=True)
    health_delay = Float(
        2.0, help="Seconds after the last execution of a notebook before its health is updated."
    ).tag(config=True)
    recent_days = Integer(
        14, help="A notebook a person viewed in these many days is not recommended to them."
    ).tag(config=True)
    recommend_ttl = Float(
        60.0,
        help="Seconds a person's recommendation candidates are kept (dropped sooner when they "
        "view or run a notebook, notebooks are added, moved or removed, similarity is "
        "refreshed, or permissions change). Permissions, ownership and 'viewed lately' are "
        "checked again on every request. 0: compute on every request.",
    ).tag(config=True)
    trending_days = Integer(7, help="The window of 'trending' (days).").tag(config=True)
    busy_timeout = Float(
        10.0, help="Seconds a gallery write waits for the database lock (off the event loop)."
    ).tag(config=True)

    def __init__(self, db_path: Path, root_dir: str, synchronous: str = "NORMAL", **kwargs: Any):
        super().__init__(**kwargs)
        self.root = Path(root_dir)
        timeout_ms = int(self.busy_timeout * 1000)

        def connect() -> sqlite_utils.Database:
            return database.open_database(db_path, synchronous, busy_timeout_ms=timeout_ms)

        self._write_db, self._read_db, self._background_db = connect(), connect(), connect()
        self.index = GalleryIndex(self._write_db)  # creates the tables
        self._sessions_counted: set[str] = set()  # "kernel:person" already counted as a run
        self.activity = GalleryActivity(self._write_db)
        self._file_ids = FileIdStore(self._write_db)
        self.reader_index = GalleryIndex(self._read_db)
        self.reader_activity = GalleryActivity(self._read_db)
        self.reader_recommender = Recommender(self._read_db)
        self.changes = ChangeRequests(self._write_db)
        self.reader_changes = ChangeRequests(self._read_db)
        self.reader_file_ids = FileIdStore(self._read_db)
        self._similar = Recommender(self._background_db)
        self._write_pool = ThreadPoolExecutor(1, "gallery-write")
        self._read_pool = ThreadPoolExecutor(1, "gallery-read")
        self._background_pool = ThreadPoolExecutor(1, "gallery-background")
        # Bumped after every write: the cache of what a person may read keys on it.
        self.generation = 0
        self._similar_generation = -1
        # Filled by the handlers: what a person may read, keyed by (person, permissions
        # revision, generation).
        self.readable_cache: dict[Any, Readable] = {}
        # Recommendation candidates per person (read thread only), valid while the key
        # (:meth:`_candidates_key`) holds and until their expiry (monotonic time). Bumped after
        # the write commits, so a key read before computing never outlives the data it saw.
        self._candidates: dict[str, tuple[Any, float, list[Candidate]]] = {}
        self._index_generation = 0  # notebooks added, moved, removed; similarity refreshed
        self._person_generation: dict[str, int] = {}  # per person: views and runs
        self._health_timers: dict[str, asyncio.TimerHandle] = {}
        # Saved notebooks waiting to be indexed → who saved them ("" if nobody known yet).
        self._pending_saves: dict[str, str] = {}
        self._pending_lock = threading.Lock()  # the loop adds, the write thread takes
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._first_scan_done = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = False
        # The notebooks' history (versions, publishing, cloning), when that feature is on:
        # the info endpoint shows it, change requests apply through it. See attach_history.
        self.history: NotebookHistory | None = None

    def attach_history(self, history: NotebookHistory) -> None:
        """The extension point of the versions feature (``versions.wiring``). Without it the
        info endpoint answers 0 / [] / None and change requests say the feature is off."""
        self.history = history

    @classmethod
    def for_app(cls, app: Any) -> GalleryService:
        """The service of a :class:`~collab_server.app.CollabServer` (one line of wiring),
        started once the event loop runs."""
        service = cls(
            _main_database_file(app.db), app.serverapp.root_dir, app.sqlite_synchronous,
            parent=app, log=app.log.getChild("gallery"),
        )  # fmt: skip
        app.serverapp.io_loop.add_callback(service.start)
        return service

    # ---- running work ---------------------------------------------------------------------

    async def read(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the search thread (it may use the ``reader_*`` objects)."""
        return await asyncio.get_running_loop().run_in_executor(self._read_pool, work)

    async def write(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the write thread (it may use :attr:`index` and :attr:`activity`)."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._write_pool, work)
        finally:
            self.generation += 1

    def _submit(self, work: Callable[[], Any], what: str) -> None:
        """Fire-and-forget a write; a failure is logged (never with a path or a token)."""
        if self._stopped:
            return

        async def run() -> None:
            try:
                await self.write(work)
            except Exception as e:
                self.log.warning("Gallery: could not %s: %s", what, type(e).__name__)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.append(task)
        task.add_done_callback(self._tasks.remove)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop, self._loop_thread = loop, threading.get_ident()
        self._tasks.append(loop.create_task(self._scan_loop()))
        self._tasks.append(loop.create_task(self._similar_loop()))

    async def stop(self) -> None:
        self._stopped = True
        for timer in self._health_timers.values():
            timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        for pool in (self._write_pool, self._read_pool, self._background_pool):
            pool.shutdown(wait=False, cancel_futures=True)

    # ---- contents events --------------------------------------------------------------------

    def contents_event(self, data: dict[str, Any]) -> None:
        """Follow one jupyter_server contents event (``save``, ``rename``, ``copy``,
        ``delete``…). Call it from the event listener: the request that caused the event is
        read from jupyter_server's call context (the first saver becomes the owner)."""
        action, path = data.get("action"), str(data.get("path") or "").strip("/")
        if action in NOTEBOOK_EVENTS and _is_notebook(path):
            who = _caller()
            # A room saves every second or so while people type: a save still waiting in
            # the queue will read the newest file anyway, so later ones are not queued again
            # (but the first person known to have saved it is kept for it).
            with self._pending_lock:
                if path in self._pending_saves:
                    self._pending_saves[path] = self._pending_saves[path] or who
                    return
                self._pending_saves[path] = who

            def index_saved() -> None:
                with self._pending_lock:
                    saver = self._pending_saves.pop(path, "")
                self._index_one(path, saver)

            self._submit(index_saved, "index a saved notebook")
        elif action == "rename" and data.get("source_path") is not None:
            old = str(data["source_path"]).strip("/")
            self._submit(lambda: self._moved(old, path), "follow a rename")
        elif action == "delete":
            self._submit(lambda: self._deleted(path), "forget a deleted notebook")

    def _moved(self, old: str, new: str) -> None:
        moved = self.index.move(old, new)
        if moved == 0 and _is_notebook(new):  # not indexed before: index it now
            self._index_one(new, "")
        self._index_generation += 1

    def _deleted(self, path: str) -> None:
        for file_id in self.index.under(path):
            self.index.remove(file_id)
        self._index_generation += 1

    # ---- indexing (write thread) ---------------------------------------------------------

    def _load(self, path: str) -> tuple[dict[str, Any], float] | None:
        """The notebook at API path ``path`` and its modification time, or None if it is not
        a readable notebook file (gone, a link, too large, not JSON)."""
        os_path = self.root / path
        try:
            info = os_path.lstat()
            if not stat.S_ISREG(info.st_mode) or info.st_size > self.max_notebook_bytes:
                return None
            if _through_link(self.root, os_path):
                return None
            nb = json.loads(os_path.read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            return None
        return nb, info.st_mtime

    def _index_one(self, path: str, who: str) -> None:
        loaded = self._load(path)
        if loaded is None:
            return
        nb, mtime = loaded
        file_id, _ = self._file_ids.index(path)
        indexed_owner = self.index.indexed_owner(file_id)
        known = indexed_owner is not None
        owner = indexed_owner or who
        self.index.upsert(file_id, path, nb, owner=owner, updated=mtime)
        # A new notebook may be a candidate; an edit of a known one waits for the similarity
        # refresh (a room saves every second or so: it must not drop everyone's candidates).
        if not known:
            self._index_generation += 1

    def _index_batch(self, paths: list[str]) -> int:
        rows = []
        for path in paths:
            loaded = self._load(path)
            if loaded is None:
                continue
            file_id, _ = self._file_ids.index(path)
            rows.append((file_id, path, loaded[0], self.index.owner_of(file_id), loaded[1]))
        return self.index.upsert_many(rows)

    def _plan_scan(self) -> tuple[list[str], list[str], bool]:
        """What changed on disk: (paths to (re)index, file ids to forget, whether every
        notebook is indexed again because the index's text is of an older kind)."""
        on_disk, complete = notebooks_under(self.root, self.scan_max_files)
        indexed = self.index.indexed()
        everything = complete and self.index.text_version() < TEXT_VERSION
        changed = [
            p for p, mtime in on_disk.items()
            if everything or indexed.get(p, ("", -1.0))[1] != mtime
        ]  # fmt: skip
        # A scan cut short knows nothing of the files it did not reach: forget nothing then.
        gone = [f for p, (f, _) in indexed.items() if p not in on_disk] if complete else []
        return sorted(changed), gone, everything

    async def scan(self) -> int:
        """One scan of the root; returns the notebooks (re)indexed or forgotten."""
        changed, gone, everything = await self.write(self._plan_scan)
        if gone:
            await self.write(lambda: [self.index.remove(f) for f in gone])
        for i in range(0, len(changed), self.batch_size):
            batch = changed[i : i + self.batch_size]
            await self.write(lambda batch=batch: self._index_batch(batch))  # type: ignore[misc]
        if everything:
            await self.write(lambda: self.index.set_text_version(TEXT_VERSION))
        if changed or gone:
            self._index_generation += 1
        return len(changed) + len(gone)

    async def _scan_loop(self) -> None:
        first, pruned = True, 0.0
        while not self._stopped:
            try:
                started = time.monotonic()
                if started - pruned > 3600 or first:
                    # The log only matters for the health window plus the 7-day blend.
                    keep_from = time.time() - (WINDOW_DAYS + BLEND_DAYS) * DAY
                    await self.write(partial(self.activity.prune_executions, keep_from))
                    pruned = started
                count = await self.scan()
                if first or count > 100:
                    self.log.info(
                        "Gallery: %d notebooks indexed or forgotten in %.1f s",
                        count, time.monotonic() - started,
                    )  # fmt: skip
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.log.warning("Gallery: the scan failed: %s", type(e).__name__)
            if first:
                self._first_scan_done.set()  # similarity is first computed over the build
            first = False
            if self.scan_interval <= 0:
                return
            await asyncio.sleep(self.scan_interval)

    async def _similar_loop(self) -> None:
        loop = asyncio.get_running_loop()
        await self._first_scan_done.wait()
        while not self._stopped:
            generation = self.generation
            if generation != self._similar_generation:
                try:
                    await loop.run_in_executor(self._background_pool, self._similar.refresh_similar)
                    self._similar_generation = generation
                    self._index_generation += 1
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    self.log.warning("Gallery: similarity refresh failed: %s", type(e).__name__)
            await asyncio.sleep(max(self.similar_interval, 0.5))

    # ---- executions and runs (the kernels feature calls these, on the event loop) ---------

    def kernel_execution(self, record: Any, code_index: int | None) -> None:
        """One finished run from the notebook's shared kernel (``kernels``' execution log
        record): the health formula's input, and a run of the notebook the first time a person
        runs code in a kernel session."""
        at = _parse_time(record.ended_at)
        session = f"{record.kernel_id}:{record.who}"
        self.record_execution(
            record.file_id,
            record.cell_id,
            code_index if code_index is not None else 0,
            (record.source_sha256 or "")[:16],  # extract.source_hash's form
            record.who,
            session,
            record.status == "ok",
            at,
        )
        if session not in self._sessions_counted:
            self._sessions_counted.add(session)
            self.record_run(record.file_id, record.who, at)

    def record_execution(
        self,
        file_id: str,
        cell_id: str,
        cell_index: int,
        source_hash: str,
        who: str,
        session: str,
        ok: bool,
        at: float | None = None,
    ) -> None:
        """Log one cell execution (the health formula's input); health follows shortly."""
        self.record_executions(
            file_id,
            [Execution(cell_id, cell_index, source_hash, who, session, ok,
                       time.time() if at is None else at)],
        )  # fmt: skip

    def record_executions(self, file_id: str, executions: list[Execution]) -> None:
        def on_loop() -> None:
            self._submit(
                lambda: self.activity.record_executions(file_id, executions), "log executions"
            )
            self._schedule_health(file_id)

        self._on_loop(on_loop)

    def record_run(self, file_id: str, who: str, at: float | None = None) -> None:
        """Count one run of a notebook by ``who`` (a person ran its code)."""

        def run() -> None:
            self.activity.record_run(file_id, who, at)
            self._touched(who)

        self._on_loop(lambda: self._submit(run, "count a run"))

    async def record_view(self, file_id: str, who: str) -> None:
        """Count one view of a notebook by ``who``."""

        def view() -> None:
            self.activity.record_view(file_id, who)
            self._touched(who)

        await self.write(view)

    def _touched(self, who: str) -> None:
        # After the write committed: ``who``'s co-viewing evidence is computed again.
        self._person_generation[who] = self._person_generation.get(who, 0) + 1

    def _on_loop(self, work: Callable[[], None]) -> None:
        # The kernels feature may report from its own threads: hop onto the event loop.
        if self._loop is None or threading.get_ident() == self._loop_thread:
            work()
        else:
            self._loop.call_soon_threadsafe(work)

    def _schedule_health(self, file_id: str) -> None:
        # Debounced per notebook: a notebook run top to bottom is scored once, at the end.
        timer = self._health_timers.pop(file_id, None)
        if timer is not None:
            timer.cancel()

        def due() -> None:
            self._health_timers.pop(file_id, None)
            self._submit(lambda: self._update_health(file_id), "update health")

        loop = asyncio.get_running_loop()
        self._health_timers[file_id] = loop.call_later(self.health_delay, due)

    def _update_health(self, file_id: str) -> None:
        health = self.health(file_id, self.index, self.activity)
        if health is not None:
            self.index.set_health(file_id, health.score)

    def health(self, file_id: str, index: GalleryIndex, activity: GalleryActivity) -> Health | None:
        """The notebook's health now (read the file's code cells, the log, the stored
        previous score); None if the notebook is not indexed or not readable."""
        facts = index.notebook(file_id)
        if facts is None:
            return None
        loaded = self._load(facts["path"])
        if loaded is None:
            return None
        code_cells = [
            (str(c.get("id") or i), source_hash(cell_source(c)))
            for i, c in enumerate(loaded[0]["cells"])
            if isinstance(c, dict) and c.get("cell_type") == "code"
        ]
        now = time.time()
        return compute_health(
            activity.executions(file_id, now - WINDOW_DAYS * DAY),
            code_cells,
            now=now,
            previous_score=facts.get("previous_health"),
            code_changed=facts.get("code_changed"),
        )

    # ---- recommendations ---------------------------------------------------------------------

    def _candidates_key(
        self, person: str, groups: dict[str, list[str]] | None, revision: Any
    ) -> tuple[Any, ...]:
        members = tuple(sorted((g, tuple(sorted(m))) for g, m in (groups or {}).items()))
        generation = self._person_generation.get(person, 0)
        return (revision, self._index_generation, generation, members)

    def recommend(
        self,
        person: str,
        readable: Readable,
        limit: int = 20,
        groups: dict[str, list[str]] | None = None,
        revision: Any = None,
    ) -> list[Recommendation]:
        """Personal recommendations, topped up with popular notebooks (read thread).
        ``groups``: the person's groups and their members, from the provider; ``revision``:
        the provider's permissions revision (None if it has none).

        The candidates (co-viewing, similarity, group popularity: the costly part) are kept
        per person for :attr:`recommend_ttl` seconds; whether the person may still read each
        one (and each notebook a reason names), owns it or viewed it lately is checked on
        every call, so a notebook they lost read on is gone from the very next answer."""
        recommender, now = self.reader_recommender, time.time()
        key = self._candidates_key(person, groups, revision)
        cached = self._candidates.get(person)
        if cached is not None and cached[0] == key and cached[1] > time.monotonic():
            candidates = cached[2]
        else:
            # The key is read before the data: a write that lands meanwhile bumps it.
            expires = time.monotonic() + self.recommend_ttl
            candidates = recommender.candidates(
                person, readable, groups=groups, now=now, recent_days=self.recent_days
            )
            if self.recommend_ttl > 0:
                if len(self._candidates) >= MAX_CACHED_PEOPLE:
                    self._candidates.clear()
                self._candidates[person] = (key, expires, candidates)
        found = recommender.rank(
            person, readable, candidates, now=now, recent_days=self.recent_days, limit=limit
        )
        if len(found) < limit:
            have = {r.file_id for r in found}
            found += [
                r for r in self.reader_recommender.starter(
                    person, readable, recent_days=self.recent_days, limit=limit
                ) if r.file_id not in have
            ][: limit - len(found)]  # fmt: skip
        return found


def _caller() -> str:
    """The person whose request led to the current contents event, or ""."""
    try:
        from jupyter_server import CallContext

        handler = CallContext.get(CallContext.JUPYTER_HANDLER)
        user = getattr(handler, "current_user", None) if handler is not None else None
        return str(getattr(user, "username", "") or "")
    except Exception:
        return ""


def _main_database_file(db: sqlite_utils.Database) -> Path:
    for _, name, file in db.conn.execute("PRAGMA database_list").fetchall():
        if name == "main" and file:
            return Path(file)
    raise ValueError("the server database is not a file")


def _through_link(root: Path, os_path: Path) -> bool:
    current = os_path.parent
    while current != root and root in current.parents:
        if current.is_symlink():
            return True
        current = current.parent
    return False


def notebooks_under(root: Path, limit: int) -> tuple[dict[str, float], bool]:
    """``{api path: mtime}`` of the ``.ipynb`` files under ``root`` (hidden names and
    symbolic links skipped, at most ``limit`` entries looked at), and whether every entry
    was looked at."""
    found: dict[str, float] = {}
    stack = [(root, "")]
    seen = 0
    while stack and seen < limit:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    seen += 1
                    if entry.name.startswith(".") or entry.is_symlink():
                        continue
                    api_path = prefix + entry.name
                    if entry.is_dir(follow_symlinks=False):
                        stack.append((Path(entry.path), api_path + "/"))
                    elif entry.name.endswith(".ipynb") and entry.is_file(follow_symlinks=False):
                        try:
                            found[api_path] = entry.stat(follow_symlinks=False).st_mtime
                        except OSError:
                            continue
        except OSError:
            continue
    return found, not stack and seen < limit


def _parse_time(value: str | None) -> float | None:
    if not value:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None

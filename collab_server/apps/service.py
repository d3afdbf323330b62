"""The apps service: who may run what, limits, identity, and what a run records.

A run executes exactly one published version (read from the versions service, never the
workspace file), with the caller's parameters injected after the ``parameters`` cell by
papermill (``injected-parameters``), in a kernel of its own — fresh, or warm from the pool —
whose environment carries the caller's identity: ``JUPYTER_AUTH_ID`` (their persistent id)
and whatever the provider's ``kernel_env(token)`` adds (``JUPYTER_AUTH_TOKEN`` if it allows
it). Never the publisher's: the publisher's rights play no part in a run.

Permission: action ``run`` on ``apps:{published_id}`` (the provider decides); whoever may
``share`` and ``execute`` the source notebook (its publishers, if they may run code) may run
it too. Those publishers (and administrators) may open it to every signed-in person
(:meth:`AppsService.set_run_audience`, through the provider's ``ResourceSharing``). A run and
its outputs are visible to the person who ran it, and to those they share
it with (``sharing.py``: a person, a group, every signed-in person) who may also ``read`` the
app — sharing a run never shows an app to someone who may not see it. Only the owner cancels,
shares or unshares a run; to anyone else who may not read it, it does not exist (404).

Limits: runs one person may have under way (queued or running; more → 429), runs the server
executes at once (more wait in a queue of bounded length; a full queue → 429), and a
timeout per run (interrupt, then kill). Cancelling a run kills its kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from cryptography.fernet import Fernet, InvalidToken
from nbclient.exceptions import CellExecutionError
from papermill.parameterize import parameterize_notebook

from ..auth.handlers import off_loop
from ..auth.jupyter import anonymous_allowed
from ..auth.provider import (
    GroupAdmin,
    Groups,
    ResourceSharing,
    UserAdmin,
    capability,
    resolve,
)
from ..core.datadir import private_key
from ..core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    NotSupportedByProvider,
    RateLimited,
    Unprocessable,
)
from ..core.time import iso, now_iso
from ..kernels.environment import DEFAULT_DROP, inherited_environment
from ..kernels.service import kernel_env_of
from ..versions.service import Published, VersionService
from .audience import RESTRICTED, RUNNER, audiences_to_remove, check_run_audience, run_audience
from .executor import AppKernel, RunTimedOut, client_for, run_cells, with_timeout
from .notebook import (
    code_cells,
    preload_report,
    progress_of,
    report_html,
    result_of,
    setup_count,
)
from .pool import Parked, WarmPool
from .schedules import Scheduler, check_cron
from .schema import app_schema, check_parameters, kernel_language
from .sharing import MAX_SHARES, check_principal, principals_of
from .store import AppStore, Run, Schedule, new_id

IDENTITY_VARIABLES = ("JUPYTER_AUTH_ID", "JUPYTER_AUTH_TOKEN")


@dataclass
class AppsOptions:
    run_timeout: float = 600.0
    max_runs_per_user: int = 4
    max_concurrent_runs: int = 4
    max_queued_runs: int = 64
    pool_size: int = 1
    pool_idle: float = 900.0
    schedule_min_interval: float = 60.0
    schedule_tick: float = 1.0
    keep_runs_days: float = 30.0
    # The server's variables a run's kernel does not inherit: the kernels' own setting
    # (``kernel_env_drop`` / ``kernel_env_keep``), so an app never sees the server's secrets.
    env_drop: tuple[str, ...] = DEFAULT_DROP
    env_keep: tuple[str, ...] = ()


@dataclass(frozen=True)
class Caller:
    username: str
    token: str = ""


@dataclass(frozen=True)
class App:
    row: Published
    notebook: dict[str, Any]
    schema: dict[str, Any]

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def version(self) -> int:
        return self.row.version

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.row.id,
            "title": self.row.title,
            "description": self.row.description,
            "version": self.row.version,
            "published": self.row.created,
            "publisher": self.row.publisher,
            "parameters": self.schema,
            "url": f"/apps/{self.row.id}",
        }


@dataclass
class ActiveRun:
    run: Run
    caller: Caller
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class AppsService:
    def __init__(
        self,
        store: AppStore,
        versions: VersionService,
        provider: Any,
        options: AppsOptions,
        *,
        root_dir: str,
        secret_dir: Path,
        server_url: Callable[[], str] = lambda: "",
        kernel_spec_manager: Any = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.store = store
        self.versions = versions
        self.provider = provider
        self.options = options
        self.root_dir = root_dir
        self.server_url = server_url
        self.kernel_spec_manager = kernel_spec_manager
        self.log = log or logging.getLogger("collab_server.apps")
        self.pool = WarmPool(options.pool_size, options.pool_idle)
        self.active: dict[str, ActiveRun] = {}
        self._slots = asyncio.Semaphore(max(1, options.max_concurrent_runs))
        self._running = 0
        self._apps: dict[tuple[str, int], App] = {}
        self._fernet = Fernet(_secret(secret_dir))
        self.scheduler = Scheduler(
            lambda: self.store.schedules(active_only=True),  # read each tick: keep it small
            self._fire,
            tick=options.schedule_tick,
        )
        self._housekeeping: asyncio.Task[None] | None = None
        self._preload: asyncio.Future[None] | None = None

    # -- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        closed = await self.store.close_interrupted("The server stopped during the run")
        if closed:
            self.log.info("Closed %d app runs the server stopped during", closed)
        self.scheduler.start()
        self._housekeeping = asyncio.ensure_future(self._housekeep())

    async def stop(self) -> None:
        await self.scheduler.stop()
        if self._housekeeping is not None:
            self._housekeeping.cancel()
        for active in list(self.active.values()):
            if active.task is not None:
                active.task.cancel()
        for active in list(self.active.values()):
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(active.done.wait(), 10)
        await self.pool.close()

    async def _housekeep(self) -> None:
        while True:
            await asyncio.sleep(30)
            self.pool.drain_idle()
            if self.options.keep_runs_days > 0:
                cutoff = iso(time.time() - self.options.keep_runs_days * 86400)
                try:
                    await self.store.prune(cutoff)
                except Exception:  # the database is busy: next time
                    self.log.debug("Could not prune old app runs", exc_info=True)

    # -- apps -----------------------------------------------------------------------------

    async def app(self, pid: str, version: int | None = None) -> App:
        """The app of a published notebook (its newest version unless ``version``)."""
        row = self.versions.published(pid, version)  # NotFound for no such copy
        key = (row.id, row.version)
        found = self._apps.get(key)
        if found is None:
            notebook = await self.versions.published_content(row)
            found = App(row, notebook, app_schema(notebook))
            if len(self._apps) > 256:
                self._apps.clear()
            self._apps[key] = found
        return found

    async def allowed(self, token: str, action: str, resource: str) -> bool:
        if not token and not anonymous_allowed(self.provider):
            return False
        return bool(await resolve(self.provider.allowed(token, action, resource)))

    async def may_run(self, token: str, pid: str, row: Published | None = None) -> bool:
        """``run`` on ``apps:{pid}``; or ``share`` and ``execute`` on its source notebook (its
        publishers, when they may run code: publishing alone must not let someone run code
        they could not run in the notebook). ``row``: the published copy, if already read."""
        if await self.allowed(token, "run", f"apps:{pid}"):
            return True
        if row is None:
            try:
                row = self.versions.published(pid)
            except NotFound:
                return False
        source = self.versions.source_path(row)
        if source is None:
            return False
        resource = f"contents:{source}"
        return await self.allowed(token, "share", resource) and await self.allowed(
            token, "execute", resource
        )

    async def access(self, token: str, pid: str, row: Published | None = None) -> tuple[bool, bool]:
        """(may see, may run) the app: each right asked once."""
        runnable = await self.may_run(token, pid, row)
        return runnable or await self.allowed(token, "read", f"apps:{pid}"), runnable

    async def may_see(self, token: str, pid: str) -> bool:
        """May the caller see the app's description (``read`` on ``apps:{pid}`` suffices)."""
        return (await self.access(token, pid))[0]

    async def listing(self, token: str, limit: int) -> list[dict[str, Any]]:
        """The apps the caller may see, newest first, each with ``may_run`` and ``inputs``
        (how many parameters its form has). A published notebook without code is no app and
        is left out. ``path`` (the workspace notebook it was published from) is there only
        for callers who may read that notebook: the gallery links a notebook's card to its app
        with it, and nobody learns where a notebook they may not read lives."""
        found: list[dict[str, Any]] = []
        shapes = self.store.shapes()
        for row in self.versions.published_ids():
            if len(found) >= limit:
                break
            seen, runnable = await self.access(token, row.id, row)
            if not seen:
                continue
            shape = shapes.get((row.id, row.version)) or await self._shape(row.id, row.version)
            if shape is None or not shape[0]:
                continue
            item: dict[str, Any] = {
                "id": row.id,
                "title": row.title,
                "description": row.description,
                "version": row.version,
                "published": row.created,
                "publisher": row.publisher,
                "may_run": runnable,
                "inputs": shape[1],
                "url": f"/apps/{row.id}",
            }
            source = self.versions.source_path(row)
            if source is not None and await self.allowed(token, "read", f"contents:{source}"):
                item["path"] = source
            found.append(item)
        return found

    async def _shape(self, pid: str, version: int) -> tuple[bool, int] | None:
        """Whether a published version has code, and its number of inputs; recorded once
        (the notebook is read only the first time)."""
        try:
            app = await self.app(pid, version)
        except NotFound:
            return None
        code = any(cell.get("cell_type") == "code" for cell in app.notebook.get("cells", []))
        inputs = len(app.schema.get("properties") or {})
        with contextlib.suppress(Exception):  # a busy database: recorded next time
            await self.store.add_shape(pid, version, code, inputs)
        return code, inputs

    def describe(self, app: App, may_run: bool) -> dict[str, Any]:
        if may_run:  # someone who may only look at an app starts no kernel for it
            self._warm(app)
        if self._preload is None:  # someone looks at an app: a report may be asked for soon
            self._preload = asyncio.ensure_future(asyncio.to_thread(preload_report))
        return {**app.to_json(), "may_run": may_run, "pool": self.pool.stats(app.id)}

    # -- who may run it -------------------------------------------------------------------

    async def run_audience(self, token: str, pid: str) -> str:
        """Who, as a whole audience, may run the app (:mod:`.audience`); for whoever may
        see it (404 otherwise) or choose it."""
        row, _ = await self._audience_rights(token, pid)
        sharing = self._resource_sharing()
        return run_audience(await off_loop(sharing.list_resource_grants, f"apps:{row.id}"))

    async def set_run_audience(self, caller: Caller, pid: str, wanted: Any) -> str:
        """Open the app to every signed-in person (role ``runner`` for ``signed-in``) or
        close it to the people granted one by one (``restricted``). Chosen by whoever may
        ``share`` and ``execute`` in its source notebook, or an administrator: an app's kernel
        runs with the server's rights, so publishing must not let someone have others run
        code they could not run themselves."""
        row, reason = await self._audience_rights(caller.token, pid)
        if reason:
            raise Forbidden(reason)
        sharing = self._resource_sharing()
        audience = check_run_audience(wanted)
        resource = f"apps:{row.id}"
        grants = await off_loop(sharing.list_resource_grants, resource)
        for principal in audiences_to_remove(grants, audience):
            await off_loop(sharing.remove_resource_grant, resource, principal)
        if audience != RESTRICTED:
            await off_loop(sharing.add_resource_grant, resource, audience, RUNNER, caller.username)
        return audience

    async def _audience_rights(self, token: str, pid: str) -> tuple[Published, str]:
        """(the app's published copy, why the caller may not choose who runs it — "" when
        they may). 404 when they may not see the app: its publishers (who may ``share`` its
        notebook) and administrators see it, besides its readers and runners."""
        try:
            row = self.versions.published(pid)
        except NotFound:
            raise NotFound("No such app") from None
        if await self.allowed(token, "admin", "server"):
            return row, ""
        source = self.versions.source_path(row)
        resource = f"contents:{source}"
        publisher = source is not None and await self.allowed(token, "share", resource)
        if publisher:
            if await self.allowed(token, "execute", resource):
                return row, ""
            return row, (
                "You may not run code in its notebook, so you may not let others run it as "
                "an app (an app runs its code on this server)"
            )
        if not (await self.access(token, pid, row))[0]:
            raise NotFound("No such app")
        return row, "Only people who may share its notebook choose who may run an app"

    def _resource_sharing(self) -> ResourceSharing:
        sharing = capability(self.provider, ResourceSharing)
        if sharing is None:
            raise NotSupportedByProvider(
                "This server's sign-in system cannot open an app to an audience; "
                "ask its operator to grant running it"
            )
        return sharing

    # -- runs -----------------------------------------------------------------------------

    async def submit(
        self,
        caller: Caller,
        app: App,
        parameters: Any,
        schedule_id: str | None = None,
    ) -> Run:
        checked = check_parameters(app.schema, parameters)
        mine = sum(1 for a in self.active.values() if a.run.owner == caller.username)
        limit = self.options.max_runs_per_user
        if limit and mine >= limit:
            raise RateLimited(
                f"You already have {mine} app runs under way, the most one person may; "
                "wait for one to finish or cancel it",
                retry_after=5,
            )
        waiting = sum(1 for a in self.active.values() if a.run.status == "queued")
        busy = self._running >= self.options.max_concurrent_runs
        if busy and waiting >= self.options.max_queued_runs:
            raise RateLimited(
                "The server is running as many app runs as it can; try again shortly",
                retry_after=5,
            )
        run = Run(new_id(), app.id, app.version, caller.username, checked)
        run.schedule_id = schedule_id
        run.progress = {"cell": 0, "of": len(code_cells(app.notebook))}
        await self.store.add_run(run)
        active = ActiveRun(run, caller)
        self.active[run.id] = active
        active.task = asyncio.ensure_future(self._execute(active, app))
        return run

    async def _execute(self, active: ActiveRun, app: App) -> None:
        run = active.run
        # The outcome reaches the live run (what GET shows) only once it is stored with the
        # executed notebook: a client that sees "succeeded" can fetch the report at once.
        outcome: dict[str, Any] = {}
        nb: Any = None
        kernel: AppKernel | None = None
        try:
            async with self._slots:
                self._running += 1
                try:
                    run.status, run.started = "running", now_iso()
                    await self.store.save_run(run)
                    nb, kernel, start = await self._prepare(active, app)
                    client = client_for(nb, kernel)

                    at = progress_of(code_cells(nb))

                    def on_cell(index: int) -> None:
                        run.progress = at(index)

                    await with_timeout(
                        kernel,
                        run_cells(client, code_cells(nb, start), on_cell),
                        self.options.run_timeout,
                    )
                    outcome.update(status="succeeded", result=result_of(nb))
                finally:
                    self._running -= 1
        except CellExecutionError as e:
            outcome.update(
                status="failed",
                error={"ename": str(e.ename), "evalue": str(e.evalue), "cell": _cell_of(run)},
                result=result_of(nb) if nb is not None else None,
            )
        except RunTimedOut as e:
            outcome.update(status="timed_out", error={"ename": "Timeout", "evalue": str(e)})
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            error = {"ename": "Cancelled", "evalue": "The run was cancelled"}
            outcome.update(status="cancelled", error=error)
        except Exception as e:
            self.log.warning("App run %s failed to run: %s", run.id, e)
            error = {"ename": type(e).__name__, "evalue": str(e)[:1000]}
            outcome.update(status="failed", error=error)
        finally:
            if kernel is not None:
                await kernel.shutdown()
            outcome.setdefault("status", "failed")
            ended = dataclasses.replace(run, ended=now_iso(), **outcome)
            try:
                await self.store.save_run(ended, _plain(nb) if nb is not None else None)
            except Exception:
                self.log.exception("App run %s could not be recorded", run.id)
            for name in ("status", "result", "error", "ended"):
                setattr(run, name, getattr(ended, name))
            self.active.pop(run.id, None)
            active.done.set()

    async def _prepare(self, active: ActiveRun, app: App) -> tuple[Any, AppKernel, int]:
        """(the notebook to run, its kernel, the first cell index to run)."""
        run = active.run
        nb = parameterize(app.notebook, run.parameters)
        identity = await self._identity(active.caller)
        parked = self.pool.take(app.id, app.version) if self._poolable(app) else None
        self._warm(app)
        if parked is not None:
            try:
                await parked.kernel.set_env(identity)
            except BaseException:
                await parked.kernel.shutdown()
                raise
            skip = setup_count(app.notebook)
            for index in range(skip):  # the setup cells ran in the warm kernel
                nb.cells[index] = copy.deepcopy(parked.notebook.cells[index])
            run.warm = True
            return nb, parked.kernel, skip
        kernel = await self._start_kernel(app, {**self._base_env(), **identity})
        return nb, kernel, 0

    async def _start_kernel(self, app: App, env: dict[str, str]) -> AppKernel:
        kernel_name, _ = kernel_language(app.notebook)
        return await AppKernel.start(
            kernel_name, env, self._cwd(app), kernel_spec_manager=self.kernel_spec_manager
        )

    def _poolable(self, app: App) -> bool:
        # The caller's identity is set in a warm kernel by Python code.
        return self.pool.enabled and kernel_language(app.notebook)[1].lower() == "python"

    def _warm(self, app: App) -> None:
        if not self._poolable(app):
            return

        async def factory() -> Parked:
            nb = as_node(app.notebook)
            kernel = await self._start_kernel(app, self._base_env())
            try:
                client = client_for(nb, kernel)
                setup = [i for i in code_cells(nb) if i < setup_count(app.notebook)]
                await with_timeout(kernel, run_cells(client, setup), self.options.run_timeout)
            except BaseException:
                await kernel.shutdown()
                raise
            return Parked(kernel, nb)

        self.pool.want(app.id, app.version, factory)

    def _base_env(self) -> dict[str, str]:
        """The server's environment without what looks like a secret (as any kernel's) and
        without an identity: the caller's is added to a run's kernel, never a parked one's."""
        inherited = inherited_environment(os.environ, self.options.env_drop, self.options.env_keep)
        env = {k: v for k, v in inherited.items() if k not in IDENTITY_VARIABLES}
        url = self.server_url()
        if url:
            env["COLLAB_SERVER_URL"] = url
        return env

    async def _identity(self, caller: Caller) -> dict[str, str]:
        """The caller's identity for the kernel: their id, then the provider's choice."""
        return {
            "JUPYTER_AUTH_ID": caller.username,
            **await kernel_env_of(self.provider, caller.token),
        }

    def _cwd(self, app: App) -> str:
        # The source notebook's folder, so relative data files are found as in the editor.
        source = self.versions.source_path(app.row)
        root = Path(self.root_dir)
        if source:
            folder = root / Path(source).parent
            if folder.is_dir():
                return str(folder)
        return str(root)

    def run(self, run_id: str, owner: str) -> Run:
        """The run (its live state while under way); 404 unless ``owner`` ran it (what the
        owner alone does: cancel, share; readers go through :meth:`readable_run`)."""
        active = self.active.get(run_id)
        run = active.run if active is not None else self.store.run(run_id)
        if run is None or run.owner != owner:
            raise NotFound("No such run")
        return run

    async def wait(self, run_id: str, seconds: float) -> None:
        active = self.active.get(run_id)
        if active is not None and seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(active.done.wait(), seconds)

    async def cancel(self, run_id: str, owner: str) -> Run:
        run = self.run(run_id, owner)
        active = self.active.get(run_id)
        if active is None or active.task is None:
            raise Conflict(f"The run has already ended ({run.status})")
        active.task.cancel()
        await active.done.wait()
        return active.run

    def runs(
        self, owner: str, app_id: str | None, schedule_id: str | None, limit: int
    ) -> list[Run]:
        stored = self.store.runs(owner, app_id, schedule_id, limit)
        # Runs under way: their live state (progress) rather than the stored one.
        return [self.active[r.id].run if r.id in self.active else r for r in stored]

    async def readable_run(self, run_id: str, caller: Caller) -> Run:
        """The run if ``caller`` ran it, or it is shared with them and they may still read its
        app; else 404 (the same answer as no such run)."""
        active = self.active.get(run_id)
        run = active.run if active is not None else self.store.run(run_id)
        if run is None:
            raise NotFound("No such run")
        if run.owner == caller.username:
            return run
        principals = await self.principals(caller)
        if not self.store.shared_with_any(run.id, principals):
            raise NotFound("No such run")
        if not await self.may_see(caller.token, run.app_id):
            raise NotFound("No such run")
        return run

    async def principals(self, caller: Caller) -> list[str]:
        """What ``caller`` answers to: themselves, their groups (when the provider tells),
        and ``signed-in`` when they are (a token of theirs, not anonymous access)."""
        groups: list[str] = []
        provider = capability(self.provider, Groups)
        if provider is not None and caller.token:
            groups = list(await resolve(provider.groups_of(caller.token)))
        return principals_of(caller.username, bool(caller.token), groups)

    async def notebook(self, run_id: str, caller: Caller) -> dict[str, Any]:
        return self._notebook_of(await self.readable_run(run_id, caller))

    def _notebook_of(self, run: Run) -> dict[str, Any]:
        nb = self.store.notebook(run.id)
        if nb is None:
            raise Conflict("The run has not finished yet; its notebook is kept when it ends")
        return nb

    async def report(self, run_id: str, caller: Caller) -> str:
        run = await self.readable_run(run_id, caller)
        nb = self._notebook_of(run)
        try:
            title = self.versions.published(run.app_id).title  # one row, not the notebook
        except NotFound:
            title = "Report"
        return await asyncio.to_thread(report_html, nb, title)

    async def shared_runs(self, caller: Caller, app_id: str | None, limit: int) -> list[Run]:
        """Other people's runs shared with ``caller``, of apps they may still read."""
        stored = self.store.runs_shared_with(
            await self.principals(caller), caller.username, app_id, limit
        )
        visible: dict[str, bool] = {}
        found = []
        for run in stored:
            if run.app_id not in visible:
                visible[run.app_id] = await self.may_see(caller.token, run.app_id)
            if visible[run.app_id]:
                found.append(self.active[run.id].run if run.id in self.active else run)
        return found

    # -- sharing runs ---------------------------------------------------------------------

    def shares(self, run_id: str, owner: str) -> list[dict[str, Any]]:
        self.run(run_id, owner)
        return self.store.shares(run_id)

    async def share(self, run_id: str, caller: Caller, principal: Any) -> list[dict[str, Any]]:
        owner = caller.username
        run = self.run(run_id, owner)
        checked = check_principal(principal, owner)
        await known_principal(self.provider, checked, caller.token)
        if not await self.store.add_share(run.id, checked, owner, MAX_SHARES):
            raise Conflict(f"A run can be shared with at most {MAX_SHARES} people and groups")
        return self.store.shares(run.id)

    async def unshare(self, run_id: str, owner: str, principal: str) -> None:
        run = self.run(run_id, owner)
        if not await self.store.remove_share(run.id, principal):
            raise NotFound("The run is not shared with them")

    # -- schedules ------------------------------------------------------------------------

    async def add_schedule(self, caller: Caller, app: App, cron: Any, parameters: Any) -> Schedule:
        expression = check_cron(cron, self.options.schedule_min_interval)
        checked = check_parameters(app.schema, parameters)
        if not caller.token:
            raise Unprocessable("A schedule runs as you: sign in with a token first")
        schedule = Schedule(new_id(), app.id, caller.username, expression, checked, now_iso())
        await self.store.add_schedule(schedule, self._fernet.encrypt(caller.token.encode()))
        self.scheduler.wake()
        return schedule

    def schedule(self, schedule_id: str, owner: str) -> Schedule:
        found = self.store.schedule(schedule_id)
        if found is None or found.owner != owner:
            raise NotFound("No such schedule")
        return found

    async def delete_schedule(self, schedule_id: str, owner: str) -> None:
        self.schedule(schedule_id, owner)
        await self.store.delete_schedule(schedule_id)

    async def _fire(self, schedule: Schedule, now: Any) -> None:
        await self.store.fired(schedule.id, iso(now))
        sealed = self.store.sealed_token(schedule.id)
        try:
            token = self._fernet.decrypt(sealed or b"").decode()
        except InvalidToken:
            token = ""
        who = await resolve(self.provider.persistent_id(token)) if token else None
        if who != schedule.owner:
            await self._stop(schedule, "The sign-in of the person who made it is no longer valid")
            return
        try:
            app = await self.app(schedule.app_id)
        except NotFound:
            await self._stop(schedule, "The app no longer exists")
            return
        if not await self.may_run(token, schedule.app_id):
            await self._stop(schedule, "The person who made it may no longer run the app")
            return
        if any(a.run.schedule_id == schedule.id for a in self.active.values()):
            self.log.info("Schedule %s: the previous run is still under way; skipped", schedule.id)
            return
        try:
            await self.submit(Caller(schedule.owner, token), app, schedule.parameters, schedule.id)
        except RateLimited as e:
            self.log.info("Schedule %s skipped a run: %s", schedule.id, e.message)
        except Unprocessable as e:
            await self._stop(schedule, f"Its parameters no longer fit the app: {e.message}")

    async def _stop(self, schedule: Schedule, reason: str) -> None:
        self.log.info("Schedule %s stopped: %s", schedule.id, reason)
        await self.store.stop_schedule(schedule.id, reason)


async def known_principal(provider: Any, principal: str, token: str) -> None:
    """404 for a person or group ``provider`` can tell does not exist (``UserAdmin``,
    ``Groups``, ``GroupAdmin``); a provider that cannot tell has the name taken as given.

    With ``Groups``, a run is shared only with a group of the sharer's own (``token``'s):
    one answer for "no such group" and "not yours", so nobody learns other tenants' groups."""
    kind, _, name = principal.partition(":")
    if kind == "user":
        users = capability(provider, UserAdmin)
        if users is not None:
            try:
                await off_loop(users.user_record, name)
            except NotFound:
                raise NotFound(f'There is no person "{name}"') from None
    elif kind == "group":
        groups = capability(provider, Groups)
        admin = capability(provider, GroupAdmin)
        if groups is not None:
            if name not in await off_loop(groups.groups_of, token):
                raise NotFound(f'You are not in a group "{name}": share with one of yours')
            return
        elif admin is not None:
            listed = await off_loop(admin.list_groups)
            known = any(g.get("name") == name for g in listed)
        else:
            return
        if not known:
            raise NotFound(f'There is no group "{name}"')


def parameterize(notebook: dict[str, Any], parameters: dict[str, Any]) -> Any:
    """A copy of ``notebook`` with papermill's ``injected-parameters`` cell after
    ``parameters`` (only when parameters are given: the defaults are the notebook's)."""
    nb = as_node(notebook)
    if not parameters:
        return nb
    kernel_name, language = kernel_language(notebook)
    # papermill reads ``cell.metadata.tags`` and ``metadata.papermill`` as present (its own
    # runs add them first); added for it, then the cells are left as they were published.
    untagged = [cell for cell in nb.cells if "tags" not in cell.metadata]
    for cell in untagged:
        cell.metadata["tags"] = []
    nb.metadata.setdefault("papermill", {})
    nb = parameterize_notebook(nb, parameters, kernel_name=kernel_name, language=language)
    for cell in untagged:
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]
    return nb


def as_node(notebook: dict[str, Any]) -> Any:
    """A fresh NotebookNode of ``notebook`` as a file reads (multi-line sources joined into
    strings, which nbclient needs), whatever shape the stored JSON has."""
    return nbformat.reads(json.dumps(notebook), as_version=4)


def _cell_of(run: Run) -> int | None:
    return run.progress.get("cell") if run.progress else None


def _plain(nb: Any) -> dict[str, Any]:
    """A NotebookNode as plain JSON data (what the store keeps)."""
    value: dict[str, Any] = json.loads(nbformat.writes(nbformat.from_dict(nb), version=4))
    return value


def _secret(folder: Path) -> bytes:
    """This server's key for the tokens schedules keep (created once, private)."""
    return private_key(folder, "apps-schedule.key", Fernet.generate_key)


__all__ = ["App", "AppsOptions", "AppsService", "Caller"]

"""The server application and the ``collab-server`` command.

:class:`CollabServer` is a jupyter_server ``ExtensionApp``: everything jupyter_server does
(contents, kernels, sessions, terminals, its REST API, traitlets configuration from the
command line and from ``collab_server_config.py``) stays, with identity and authorization
routed through the operator's provider and the collaboration endpoints served by our rooms.

It wires the concerns together and holds their configuration; it owns no behaviour itself.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import sys
from pathlib import Path
from typing import IO, Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Enum, Float, Integer, Type, Unicode, default

from . import __version__, logs
from .apps.wiring import AppsTraits, apps_handlers, start_apps
from .auth import FileMoves, StartupToken, capability
from .auth.admin_handlers import admin_handlers
from .auth.handlers import auth_handlers
from .auth.jupyter import PROVIDER_SETTING, lab_page_config_hook
from .auth.people import PEOPLE_SETTING, PeopleDirectory
from .comments import CommentsService
from .comments.handlers import SERVICE_SETTING as COMMENTS_SETTING
from .comments.handlers import comments_handlers
from .contents import FileIdStore
from .contents.handlers import contents_handlers
from .core import datadir
from .core.db import open_database
from .gallery.handlers import SERVICE_SETTING as GALLERY_SETTING
from .gallery.handlers import gallery_handlers
from .gallery.service import GalleryService
from .kernels.wiring import KernelsTraits, kernels_handlers, start_kernels
from .pages import page_handlers
from .rooms import (
    MANAGER_SETTING,
    AwarenessLimits,
    RoomHandler,
    RoomManager,
    RoomSettings,
    SessionHandler,
    UpdateStore,
)
from .versions.wiring import VersionsTraits, start_versions, versions_handlers

_CONTENTS_EVENTS = "https://events.jupyter.org/jupyter_server/contents_service/v1"


class CollabServer(AppsTraits, VersionsTraits, KernelsTraits, ExtensionApp):
    """A multi-tenant, real-time collaborative Jupyter notebook server."""

    name = "collab_server"
    description = __doc__
    extension_url = "/"
    load_other_extensions = True

    serverapp_config = {
        "identity_provider_class": "collab_server.auth.jupyter.CollabIdentityProvider",
        "authorizer_class": "collab_server.auth.jupyter.CollabAuthorizer",
        # Saves that never leave a half-written file for other readers (see the module).
        "contents_manager_class": "collab_server.contents.manager.CollabFileContentsManager",
        # Containers and CI run as root; refusing to start there helps nobody. Kernels still
        # run with the server's rights, which is why ``execute`` is a separate permission.
        "allow_root": True,
    }

    @classmethod
    def make_serverapp(cls, **kwargs: Any) -> Any:
        # Set when the ServerApp is made, before any extension is linked (serverapp_config is
        # applied later, and naming jpserver_extensions there would stop jupyter_server from
        # finding other extensions such as JupyterLab).
        extensions = dict(kwargs.pop("jpserver_extensions", None) or {})
        # jupyter-collaboration's server extension serves the same routes: never load both.
        extensions.update({"jupyter_server_ydoc": False, "jupyter_collaboration": False})
        kwargs["jpserver_extensions"] = extensions
        # A server whose extension failed to load would run without its collaboration routes
        # or its authorizer: refuse to start instead, and say why.
        kwargs.setdefault("reraise_server_extension_failures", True)
        return super().make_serverapp(**kwargs)

    aliases = {
        "root-dir": "ServerApp.root_dir",
        "data-dir": "CollabServer.data_dir",
        "ip": "ServerApp.ip",
        "port": "ServerApp.port",
    }
    flags = {
        "no-browser": ({"ServerApp": {"open_browser": False}}, "Do not open a browser."),
    }

    authorization_provider_class = Type(
        default_value="collab_server.auth.accounts.AccountsProvider",
        klass=object,
        help="The authorization provider: a class with persistent_id(token) and "
        "allowed(token, action, resource), imported from sys.path.",
    ).tag(config=True)

    data_dir = Unicode(
        help="Where the SQLite database and secrets live. Default: a folder of its own per "
        "root directory, <jupyter data dir>/collab_server/<hash of the resolved root dir>."
    ).tag(config=True)

    save_delay = Float(1.0, help="Seconds after the last change before the file is saved.").tag(
        config=True
    )
    max_save_interval = Float(
        10.0, help="While people keep typing, save at least this often (seconds)."
    ).tag(config=True)
    file_poll_interval = Float(
        1.0, help="Seconds between checks of open files for changes made outside the server."
    ).tag(config=True)
    room_cleanup_delay = Float(
        60.0, help="Seconds an empty room stays in memory before it is closed."
    ).tag(config=True)
    max_message_size = Integer(
        8 * 1024 * 1024, help="Largest websocket message accepted (bytes); larger closes 1009."
    ).tag(config=True)
    max_client_backlog = Integer(
        32 * 1024 * 1024,
        help="Bytes queued for one client before it is disconnected as too slow.",
    ).tag(config=True)
    compact_max_updates = Integer(
        1000, help="Compact a document's update log once it holds this many updates."
    ).tag(config=True)
    compact_min_bytes = Integer(
        64 * 1024, help="…or once the log is larger than both the snapshot and this many bytes."
    ).tag(config=True)
    compact_min_interval = Float(
        10.0,
        help="Seconds between two compactions of a large document's log (snapshot above 256 KiB):"
        " a cell streaming output would otherwise make typing wait for a re-encoded snapshot "
        "every second.",
    ).tag(config=True)
    reauthorize_interval = Float(
        2.0,
        help="Seconds between re-checks of each open websocket's rights: a revoked token or "
        "share closes (or makes read-only) the connection within this time.",
    ).tag(config=True)
    max_sockets_per_user = Integer(
        50,
        help="Open collaboration websockets one person may hold across the server (every "
        "tab opens a few); more are refused with 429. 0: no limit.",
    ).tag(config=True)
    global_presence = Enum(
        ["self", "signed-in"],
        default_value="self",
        help='Who is shown in JupyterLab:globalAwareness. "self": each connection only gets '
        'its own presence back (people of other tenants stay invisible). "signed-in": '
        "everyone signed in is shown, by name only (the document they have open is never "
        "relayed).",
    ).tag(config=True)
    awareness_max_state_bytes = Integer(
        8 * 1024, help="Largest awareness (presence) state of one client, in bytes of JSON."
    ).tag(config=True)
    awareness_max_client_ids = Integer(
        4, help="Awareness client ids one connection may speak for."
    ).tag(config=True)
    awareness_rate = Float(
        10.0,
        help="Awareness updates per second one connection may send on average (bursts of "
        "twice as many); above it only the latest state is kept and sent when due. 0: no limit.",
    ).tag(config=True)
    awareness_window = Float(
        0.05,
        help="Seconds a room gathers presence changes before sending them as one message.",
    ).tag(config=True)
    store_retry_seconds = Float(
        10.0,
        help="How long a room holds changes back and retries while the database is locked by "
        "another process, before it closes its connections (1011) to resync.",
    ).tag(config=True)
    sqlite_synchronous = Unicode(
        "NORMAL", help="SQLite synchronous mode: NORMAL survives a crash, FULL a power cut."
    ).tag(config=True)

    def _config_file_name_default(self) -> str:
        # ``collab_server_config.py`` in any Jupyter config directory (``jupyter --paths``).
        return "collab_server_config"

    @default("data_dir")
    def _default_data_dir(self) -> str:
        root = self.serverapp.root_dir if self.serverapp is not None else "."
        return str(datadir.default_data_dir(root))

    # -- wiring ---------------------------------------------------------------------------

    def initialize_settings(self) -> None:
        serverapp = self.serverapp
        assert serverapp is not None, "the extension is loaded by a ServerApp"
        logs.install(self.log)
        logs.install(serverapp.log)
        serverapp.log.addFilter(_JupyterBannerFilter())
        data_dir = Path(self.data_dir).expanduser()
        self.db = self._open_data_dir(data_dir)
        self.provider = self._make_provider()
        # Names beside the ids of owners, publishers and runners (recorded as people are seen).
        self.people = PeopleDirectory(self.db, self.provider, self.log.getChild("people"))
        self.file_ids = FileIdStore(self.db)
        self.store = UpdateStore(self.db)
        self.rooms = RoomManager(
            store=self.store,
            file_ids=self.file_ids,
            contents_manager=serverapp.contents_manager,
            settings=RoomSettings(
                save_delay=self.save_delay,
                max_save_interval=self.max_save_interval,
                poll_interval=self.file_poll_interval,
                compact_max_updates=self.compact_max_updates,
                compact_min_bytes=self.compact_min_bytes,
                compact_min_interval=self.compact_min_interval,
                awareness=AwarenessLimits(
                    max_state_bytes=self.awareness_max_state_bytes,
                    max_ids=self.awareness_max_client_ids,
                ),
                awareness_rate=self.awareness_rate,
                awareness_burst=2 * self.awareness_rate,
                awareness_window=self.awareness_window,
                store_retry=self.store_retry_seconds,
            ),
            cleanup_delay=self.room_cleanup_delay,
            max_message_size=self.max_message_size,
            max_client_backlog=self.max_client_backlog,
            reauthorize_interval=self.reauthorize_interval,
            max_sockets_per_user=self.max_sockets_per_user,
            global_presence=self.global_presence,
            log=self.log.getChild("rooms"),
        )
        # Features plug into the rooms through declared extension points, one line each.
        self.comments = CommentsService.plug_into(
            self.rooms, self.db, self.log.getChild("comments"), parent=self, secret_dir=data_dir
        )
        self.settings[GALLERY_SETTING] = self.gallery = GalleryService.for_app(self)
        self.settings.update(
            {
                PROVIDER_SETTING: self.provider,
                PEOPLE_SETTING: self.people,
                MANAGER_SETTING: self.rooms,
                COMMENTS_SETTING: self.comments,
                # JupyterLab (the [lab] extra) starts no kernel for people who may not run code.
                "page_config_hook": lab_page_config_hook,
                # 501 (no such capability) and 503 (busy, retry) are expected: one warning line.
                "log_function": logs.request_logger(serverapp.web_app.settings["log_function"]),
            }
        )
        assert serverapp.event_logger is not None
        serverapp.event_logger.add_listener(
            schema_id=_CONTENTS_EVENTS, listener=self._on_contents_event
        )
        self.kernels = start_kernels(self, data_dir)
        self.kernels.add_execution_listener(self.gallery.kernel_execution)  # health, runs
        self.versions = start_versions(self)  # also the gallery's versions/published/clone hooks
        self.apps = start_apps(self, data_dir)  # published notebooks run with parameters
        # jupyter_server's browser-open file (``--ServerApp.open_browser``) leads to this
        # token's URL; its own printed URLs are dropped (_JupyterBannerFilter): ours is the one.
        startup = capability(self.provider, StartupToken)
        serverapp.identity_provider.token = startup.startup_token() if startup else ""
        serverapp.io_loop.add_callback(self._announce_url)
        signal.signal(signal.SIGINT, self._on_sigint)

    def _open_data_dir(self, data_dir: Path) -> Any:
        """Hold the data directory, make it private, open the database and check it is sound.

        Each failure stops the server with a message (never a traceback): a second server on
        the same directory would lose edits, and a damaged database would answer 500 later.
        """
        try:
            changed = datadir.secure(data_dir)
            self._data_dir_lock: IO[bytes] = datadir.lock(data_dir)
            db = open_database(datadir.database_path(data_dir), self.sqlite_synchronous)
            datadir.check_integrity(db.conn, data_dir)
        except datadir.DataDirError as e:
            _refuse_to_start(str(e))
        except sqlite3.DatabaseError as e:
            _refuse_to_start(str(datadir.damaged(data_dir, str(e))))
        except OSError as e:
            _refuse_to_start(f"Cannot use the data directory {data_dir}: {e.strerror}")
        legacy = data_dir.parent / datadir.DATABASE_NAME
        root = self.serverapp.root_dir if self.serverapp is not None else "."
        if data_dir == datadir.default_data_dir(root) and legacy.exists():
            # Versions before 0.5 shared one default data directory between all root
            # directories: say where the old accounts are rather than silently start afresh.
            self.log.warning(
                "A database of an older version (shared by every root directory) is in the "
                "folder above this server's data directory; to keep using it, start with "
                "--data-dir pointing at that folder"
            )
        if changed:
            self.log.warning(
                "Made the data directory private (it holds every tenant's documents and "
                "password hashes): %s",
                ", ".join(changed),
            )
        return db

    def _on_sigint(self, signum: int, frame: Any) -> None:
        # jupyter_server asks "are you sure?" on a terminal and, without one, lets the
        # KeyboardInterrupt skip every shutdown hook (open documents would not be saved).
        # One Ctrl+C stops cleanly, as SIGTERM does; a second one interrupts at once (the
        # banner says so; jupyter_server's "twice to skip confirmation" line is dropped).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self.log.critical("Interrupted: saving open documents and stopping")
        assert self.serverapp is not None
        self.serverapp.stop(from_signal=True)

    def _announce_url(self) -> None:
        # Printed, not logged: log lines never carry tokens, but the operator needs this one.
        assert self.serverapp is not None
        token = self.serverapp.identity_provider.token
        url = self.serverapp.connection_url + (f"?token={token}" if token else "")
        once = " (a one-time link: it signs you in as admin)" if token.startswith("cs1_") else ""
        print(
            f"\n    collab_server {__version__} is ready. Open this URL in a browser{once}:\n\n"
            f"        {url}\n\n"
            f"    Data directory: {Path(self.data_dir).expanduser()}\n"
            "    Press Control-C once to save open documents and stop.\n",
            flush=True,
        )

    def _make_provider(self) -> Any:
        cls: Any = self.authorization_provider_class
        try:
            from traitlets.config import Configurable

            if isinstance(cls, type) and issubclass(cls, Configurable):
                return cls(parent=self)
            return cls()
        except Exception as e:
            raise SystemExit(f"Cannot construct the authorization provider {cls!r}: {e}") from e

    def initialize_handlers(self) -> None:
        self.handlers.extend(
            [
                (r"/api/collaboration/session/(.*)", SessionHandler),
                (r"/api/collaboration/room/(.+)", RoomHandler),
                *auth_handlers(),
                *admin_handlers(),
                *comments_handlers(),
                *contents_handlers(),
                *page_handlers(),
                *kernels_handlers(),
                *gallery_handlers(),
                *versions_handlers(),
                *apps_handlers(),
            ]
        )

    async def _on_contents_event(self, logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        action, path = data.get("action"), data.get("path", "")
        if action == "rename" and data.get("source_path") is not None:
            await self.file_ids.moved(data["source_path"], path)
            self.rooms.file_moved(data["source_path"], path)
            # Access follows the file: a renamed notebook keeps who may see it.
            moves = capability(self.provider, FileMoves)
            if moves is not None:
                moves.file_moved(data["source_path"], path)
        elif action == "delete":
            # Open rooms of the file (or of files in the folder) close for good and their
            # stored documents are forgotten; no later save may bring the file back.
            forgotten = await self.file_ids.forgotten(path)
            self.rooms.file_deleted(path, forgotten)
            self.versions.forget(forgotten)  # a deleted notebook's history goes with it
        self.gallery.contents_event(data)  # after the file ids moved or were forgotten

    async def stop_extension(self) -> None:
        """Save every open room before the process exits (SIGTERM / SIGINT)."""
        self.log.info("Saving open documents before shutdown")
        await self.apps.stop()
        await self.kernels.stop()
        await self.versions.stop()
        await self.rooms.stop_all()
        await self.gallery.stop()
        self.db.conn.close()

    def start(self) -> None:  # pragma: no cover - the command line path
        super().start()


def serve(argv: list[str] | None = None) -> None:
    """Start the server (the ``collab-server`` command without a sub-command, see
    :mod:`.command`)."""
    CollabServer.launch_instance(argv)
    _let_pending_callbacks_run()


def _refuse_to_start(message: str) -> Any:
    # SystemExit passes through jupyter_server's extension loading; no traceback is printed.
    print(f"collab-server cannot start: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


class _JupyterBannerFilter(logging.Filter):
    """Drops jupyter_server's start-up URLs and its "Control-C twice" advice.

    Its URLs carry jupyter_server's own idea of the token (or ``?token=...``), its ``file://``
    page duplicates ours, and its shutdown advice contradicts ours (one Control-C saves and
    stops): the app prints one URL and one instruction instead.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage().strip()
        except Exception:
            return True
        if message.startswith(("Use Control-C to stop this server", "To access the server")):
            return False
        if message.startswith("Jupyter Server ") and "is running at" in message:
            return False
        # The URL lines of running_server_info, each its own record.
        return not (message.startswith(("http://", "https://")) and " " not in message)


def _let_pending_callbacks_run() -> None:
    # jupyter_server stops the event loop from inside its shutdown coroutine, so callbacks
    # scheduled after that never run. AnyIO stops its worker threads (which the contents
    # manager uses for file I/O) in such callbacks, when the task that started them ends;
    # those non-daemon threads would otherwise keep the process alive after a clean
    # shutdown. Everything is saved by now: give the loop one more turn, then tell any
    # worker still waiting for work to finish.
    import asyncio
    import threading

    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        loop = None
    if loop is not None and not loop.is_closed() and not loop.is_running():
        loop.run_until_complete(asyncio.sleep(0.05))
    for thread in threading.enumerate():
        stop = getattr(thread, "stop", None)
        if thread.name == "AnyIO worker thread" and callable(stop):
            stop()

"""The server application and the ``collab-server`` command.

:class:`CollabServer` is a jupyter_server ``ExtensionApp``: everything jupyter_server does
(contents, kernels, sessions, terminals, its REST API, traitlets configuration from the
command line and from ``collab_server_config.py``) stays, with identity and authorization
routed through the operator's provider and the collaboration endpoints served by our rooms.

It wires the concerns together and holds their configuration; it owns no behaviour itself.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Integer, Type, Unicode, default

from . import logs
from .auth.cli import SUBCOMMANDS
from .auth.handlers import auth_handlers
from .auth.jupyter import PROVIDER_SETTING
from .comments import CommentsService
from .comments.handlers import SERVICE_SETTING as COMMENTS_SETTING
from .comments.handlers import comments_handlers
from .contents import FileIdStore
from .contents.handlers import contents_handlers
from .db import open_database
from .kernels.wiring import KernelsTraits, kernels_handlers, start_kernels
from .pages import page_handlers
from .rooms import (
    MANAGER_SETTING,
    RoomHandler,
    RoomManager,
    RoomSettings,
    SessionHandler,
    UpdateStore,
)

_CONTENTS_EVENTS = "https://events.jupyter.org/jupyter_server/contents_service/v1"


class CollabServer(KernelsTraits, ExtensionApp):
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

    data_dir = Unicode(help="Where the SQLite database and secrets live.").tag(config=True)

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
    reauthorize_interval = Float(
        2.0,
        help="Seconds between re-checks of each open websocket's rights: a revoked token or "
        "share closes (or makes read-only) the connection within this time.",
    ).tag(config=True)
    sqlite_synchronous = Unicode(
        "NORMAL", help="SQLite synchronous mode: NORMAL survives a crash, FULL a power cut."
    ).tag(config=True)

    def _config_file_name_default(self) -> str:
        # ``collab_server_config.py`` in any Jupyter config directory (``jupyter --paths``).
        return "collab_server_config"

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return os.path.join(jupyter_data_dir(), "collab_server")

    # -- wiring ---------------------------------------------------------------------------

    def initialize_settings(self) -> None:
        serverapp = self.serverapp
        assert serverapp is not None, "the extension is loaded by a ServerApp"
        logs.install(self.log)
        logs.install(serverapp.log)
        self.provider = self._make_provider()
        data_dir = Path(self.data_dir).expanduser()
        self.db = open_database(data_dir / "collab.sqlite", self.sqlite_synchronous)
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
            ),
            cleanup_delay=self.room_cleanup_delay,
            max_message_size=self.max_message_size,
            max_client_backlog=self.max_client_backlog,
            reauthorize_interval=self.reauthorize_interval,
            log=self.log.getChild("rooms"),
        )
        self.comments = CommentsService(self.rooms, self.db, self.log.getChild("comments"))
        self.settings.update(
            {
                PROVIDER_SETTING: self.provider,
                MANAGER_SETTING: self.rooms,
                COMMENTS_SETTING: self.comments,
            }
        )
        assert serverapp.event_logger is not None
        serverapp.event_logger.add_listener(
            schema_id=_CONTENTS_EVENTS, listener=self._on_contents_event
        )
        self.kernels = start_kernels(self, data_dir)
        # jupyter_server prints its own start-up URL with this token.
        startup_token = getattr(self.provider, "startup_token", None)
        serverapp.identity_provider.token = startup_token() if startup_token else ""
        self.log.info("Database: %s", data_dir / "collab.sqlite")
        serverapp.io_loop.add_callback(self._announce_url)
        signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        # jupyter_server asks "are you sure?" on a terminal and, without one, lets the
        # KeyboardInterrupt skip every shutdown hook (open documents would not be saved).
        # One Ctrl+C stops cleanly, as SIGTERM does; a second one interrupts at once.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self.log.critical("Interrupted: saving open documents and stopping")
        assert self.serverapp is not None
        self.serverapp.stop(from_signal=True)

    def _announce_url(self) -> None:
        # Printed, not logged: log lines never carry tokens, but the operator needs this one.
        assert self.serverapp is not None
        token = self.serverapp.identity_provider.token
        url = self.serverapp.connection_url + (f"?token={token}" if token else "")
        print(
            f"\n    collab_server is ready. Open this URL in a browser:\n\n        {url}\n",
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
                *comments_handlers(),
                *contents_handlers(),
                *page_handlers(),
                *kernels_handlers(),
            ]
        )

    async def _on_contents_event(self, logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        action, path = data.get("action"), data.get("path", "")
        if action == "rename" and data.get("source_path") is not None:
            self.file_ids.move(data["source_path"], path)
            self.rooms.file_moved(data["source_path"], path)
            # Access follows the file: a renamed notebook keeps who may see it.
            moved = getattr(self.provider, "file_moved", None)
            if callable(moved):
                moved(data["source_path"], path)
        elif action == "delete":
            self.file_ids.forget(path)

    async def stop_extension(self) -> None:
        """Save every open room before the process exits (SIGTERM / SIGINT)."""
        self.log.info("Saving open documents before shutdown")
        await self.kernels.stop()
        await self.rooms.stop_all()
        self.db.conn.close()

    def start(self) -> None:  # pragma: no cover - the command line path
        super().start()


def main(argv: list[str] | None = None) -> None:
    """The ``collab-server`` command (and its sub-commands, such as ``create-user``)."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in SUBCOMMANDS:
        raise SystemExit(SUBCOMMANDS[args[0]](args[1:]))
    CollabServer.launch_instance(argv)
    _let_pending_callbacks_run()


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

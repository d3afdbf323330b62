"""How the server application takes the kernels in: their options and their wiring.

:class:`KernelsTraits` holds the ``CollabServer.*`` options of shared kernels (the app class
inherits it, so ``--CollabServer.max_kernels=…`` works); :func:`start_kernels` builds the
service from the app's parts and registers what the web application needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from traitlets import Float, Integer, List, Unicode
from traitlets.config import Configurable

from ..auth.jupyter import KERNEL_PATH_SETTING
from ..rooms import Connection, Room, RoomAddress, RoomObserver
from .environment import DEFAULT_DROP
from .handlers import SERVICE_SETTING, kernels_handlers
from .lab import HOOK_SETTING, server_side_execution_hook
from .log import ExecutionLog
from .outputs import DEFAULT_MAX_STREAM_CHARS
from .service import KernelOptions, KernelService

__all__ = ["KernelsTraits", "kernels_handlers", "start_kernels"]


class KernelsTraits(Configurable):
    kernel_cull_idle_seconds = Float(
        3600.0,
        help="Shut down a notebook's kernel once it has been idle this long (seconds) with "
        "nobody in the notebook.",
    ).tag(config=True)
    max_kernels_per_user = Integer(
        4, help="Kernels one person may have running at once (0: no limit)."
    ).tag(config=True)
    max_kernels = Integer(32, help="Kernels the server runs at once (0: no limit).").tag(
        config=True
    )
    kernel_max_stream_chars = Integer(
        DEFAULT_MAX_STREAM_CHARS,
        help="Stream text one cell keeps in the notebook (characters); past it the head and "
        "tail stay and the full text is downloadable.",
    ).tag(config=True)
    kernel_max_outputs = Integer(1000, help="Outputs one cell keeps in the notebook.").tag(
        config=True
    )
    kernel_env_drop = List(
        Unicode(),
        default_value=list(DEFAULT_DROP),
        help="Server environment variables kernels do not inherit: shell-style patterns of "
        "names, case-insensitive (by default whatever looks like a secret, and the server's "
        "own COLLAB_* settings). What the provider's kernel_env gives always arrives.",
    ).tag(config=True)
    kernel_env_keep = List(
        Unicode(),
        default_value=[],
        help="Server environment variables kernels inherit even though they match "
        "kernel_env_drop (names or patterns, e.g. JUPYTERHUB_API_TOKEN).",
    ).tag(config=True)
    kernel_max_output_rate = Integer(
        200_000,
        help="Output text a cell brings to the shared document per second (characters) "
        "before its updates are held longer than usual (at most 3 s) and batched: a cell "
        "printing megabytes a second then costs everyone's typing little, and capped text "
        "that scrolled past meanwhile is never written (0: no limit).",
    ).tag(config=True)


def start_kernels(app: Any, data_dir: Path) -> KernelService:
    """Build the kernels service for ``app`` (a CollabServer in ``initialize_settings``)."""
    serverapp = app.serverapp
    options = KernelOptions(
        cull_idle_seconds=app.kernel_cull_idle_seconds,
        max_kernels_per_user=app.max_kernels_per_user,
        max_kernels=app.max_kernels,
        max_stream_chars=app.kernel_max_stream_chars,
        max_outputs=app.kernel_max_outputs,
        max_output_rate=app.kernel_max_output_rate,
        env_drop=tuple(app.kernel_env_drop),
        env_keep=tuple(app.kernel_env_keep),
        check_interval=max(0.1, min(1.0, app.kernel_cull_idle_seconds / 2)),
    )
    service = KernelService(
        kernel_manager=serverapp.kernel_manager,
        contents_manager=serverapp.contents_manager,
        rooms=app.rooms,
        file_ids=app.file_ids,
        provider=app.provider,
        execution_log=ExecutionLog(app.db),
        data_dir=data_dir,
        options=options,
        log=app.log.getChild("kernels"),
    )
    app.settings.update(
        {
            SERVICE_SETTING: service,
            KERNEL_PATH_SETTING: service.kernel_path,
            HOOK_SETTING: server_side_execution_hook(app.settings.get(HOOK_SETTING)),
        }
    )
    app.rooms.add_observer(_LateJoiners(service))
    service.server_url = lambda: loopback_url(serverapp)
    serverapp.io_loop.add_callback(service.start)
    return service


class _LateJoiners(RoomObserver):
    """Someone who joins a notebook's room gets its kernel's current state at once (queued
    and running cells, a pending prompt), not only at the next change."""

    def __init__(self, service: KernelService) -> None:
        self.service = service

    def joined(self, room: Room, conn: Connection) -> None:
        file_id = room.address.file_id
        if file_id is None or room.address != RoomAddress.notebook(file_id):
            return
        if file_id in self.service.notebooks or file_id in self.service.lost:
            room.send_raw(self.service.state_message(file_id), lambda c: c is conn)


def loopback_url(serverapp: Any) -> str:
    """This server's URL as code on the same machine reaches it (``""`` on a Unix socket)."""
    if getattr(serverapp, "sock", ""):
        return ""
    ip = str(serverapp.ip or "")
    if ip in ("", "0.0.0.0", "*", "localhost"):
        host = "127.0.0.1"
    elif ip == "::":
        host = "[::1]"
    else:
        host = f"[{ip}]" if ":" in ip else ip
    scheme = "https" if serverapp.certfile else "http"
    return f"{scheme}://{host}:{serverapp.port}{serverapp.base_url.rstrip('/')}"

"""How the server application takes apps in: their options and their wiring.

:class:`AppsTraits` holds the ``CollabServer.apps_*`` options (the app class inherits it);
:func:`start_apps` builds the service from the app's parts (the database, the versions
service for published copies, the provider, this server's URL for ``COLLAB_SERVER_URL``) and
registers it for the handlers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from traitlets import Float, Integer
from traitlets.config import Configurable

from ..kernels.wiring import loopback_url
from .handlers import SERVICE_SETTING, apps_handlers
from .service import AppsOptions, AppsService
from .store import AppStore

__all__ = ["AppsTraits", "apps_handlers", "start_apps"]


class AppsTraits(Configurable):
    apps_run_timeout = Float(
        600.0,
        help="Seconds one app run may take; past it its kernel is interrupted, then killed.",
    ).tag(config=True)
    apps_max_runs_per_user = Integer(
        4,
        help="App runs one person may have under way (queued or running); more get 429. 0: "
        "no limit.",
    ).tag(config=True)
    apps_max_concurrent_runs = Integer(
        4, help="App runs the server executes at once; more wait in a queue."
    ).tag(config=True)
    apps_max_queued_runs = Integer(
        64, help="App runs that may wait for a free slot; more get 429."
    ).tag(config=True)
    apps_pool_size = Integer(
        1,
        help="Warm kernels kept parked per app (started, cells above the parameters cell "
        "run); each serves one run. 0: every run starts a kernel.",
    ).tag(config=True)
    apps_pool_idle_seconds = Float(
        900.0, help="An app's warm kernels are shut down after this long without a run."
    ).tag(config=True)
    apps_keep_runs_days = Float(
        30.0,
        help="Finished app runs (and their executed notebooks) are kept this many days. "
        "0: forever.",
    ).tag(config=True)
    apps_schedule_min_interval = Float(
        60.0, help="Shortest interval between two runs of one schedule (seconds)."
    ).tag(config=True)


def start_apps(app: Any, data_dir: Path) -> AppsService:
    """Build the apps service for ``app`` (a CollabServer in ``initialize_settings``, after
    the versions service)."""
    serverapp = app.serverapp
    service = AppsService(
        AppStore(app.db),
        app.versions,
        app.provider,
        AppsOptions(
            run_timeout=app.apps_run_timeout,
            max_runs_per_user=app.apps_max_runs_per_user,
            max_concurrent_runs=max(1, app.apps_max_concurrent_runs),
            max_queued_runs=max(0, app.apps_max_queued_runs),
            pool_size=max(0, app.apps_pool_size),
            pool_idle=app.apps_pool_idle_seconds,
            schedule_min_interval=max(0.0, app.apps_schedule_min_interval),
            keep_runs_days=max(0.0, app.apps_keep_runs_days),
            env_drop=tuple(app.kernel_env_drop),
            env_keep=tuple(app.kernel_env_keep),
        ),
        root_dir=str(serverapp.root_dir),
        secret_dir=data_dir,
        server_url=lambda: loopback_url(serverapp),
        kernel_spec_manager=serverapp.kernel_spec_manager,
        log=app.log.getChild("apps"),
    )
    app.settings[SERVICE_SETTING] = service
    serverapp.io_loop.add_callback(service.start)
    return service

"""How the server application takes the versions in: their options and their wiring.

:class:`VersionsTraits` holds the ``CollabServer.versions_*`` options (the app class inherits
it); :func:`start_versions` builds the service from the app's parts, registers it for the
handlers, registers the automatic versions (:mod:`.auto`) as a room observer and gives the
gallery its versions, published-copies and lineage hooks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from traitlets import Float, Unicode
from traitlets.config import Configurable

from .auto import AutoVersions
from .blobs import BlobBackend
from .checkpoints import VersionCheckpoints
from .handlers import SERVICE_SETTING, versions_handlers
from .retention import RetentionPolicy
from .room_adapter import RoomsAdapter
from .service import VersionService

__all__ = ["VersionsTraits", "start_versions", "versions_handlers"]


class VersionsTraits(Configurable):
    versions_s3_url = Unicode(
        "",
        help="Keep version contents in S3 instead of the database: "
        "s3://[KEY:SECRET@]BUCKET[/PREFIX][?endpoint=URL&region=R&profile=P&addressing=path"
        "&connect_timeout=S&read_timeout=S&max_attempts=N&concurrency=N&cache_mb=M]. "
        "Credentials default to boto3's chain. Empty: in the database.",
    ).tag(config=True)
    versions_idle_gap = Float(
        120.0,
        help="Seconds without an edit after which a notebook's edits become an automatic version.",
    ).tag(config=True)
    versions_max_interval = Float(
        600.0,
        help="Editing that never pauses still becomes an automatic version this often "
        "(seconds, counted from the first edit since the last version).",
    ).tag(config=True)
    versions_retention_interval = Float(
        3600.0, help="Seconds between thinnings of old automatic versions (0: never)."
    ).tag(config=True)
    versions_keep_all_hours = Float(
        24.0, help="Every automatic version younger than this many hours is kept."
    ).tag(config=True)
    versions_hourly_days = Float(
        7.0,
        help="Older automatic versions keep one per hour up to this many days, then one per "
        "day. Labelled, published and restore versions are never dropped.",
    ).tag(config=True)


def _backend(app: Any) -> BlobBackend | None:
    if not app.versions_s3_url:
        return None
    from .s3 import S3Blobs, S3Options

    try:
        options = S3Options.from_url(app.versions_s3_url)
    except ValueError as e:
        raise SystemExit(f"CollabServer.versions_s3_url: {e}") from None
    return S3Blobs(options.under("versions"))


def start_versions(app: Any) -> VersionService:
    """Build the versions service for ``app`` (a CollabServer in ``initialize_settings``)."""
    service = VersionService(
        app.db,
        RoomsAdapter(app.rooms, app.log.getChild("versions")),
        app.file_ids,
        app.serverapp.contents_manager,
        app.log.getChild("versions"),
        backend=_backend(app),
        retention=RetentionPolicy(
            keep_all_for=timedelta(hours=app.versions_keep_all_hours),
            hourly_until=timedelta(days=app.versions_hourly_days),
        ),
    )
    app.settings[SERVICE_SETTING] = service
    # Automatic versions (saves, idle gaps, outside changes) follow the rooms' events.
    auto = AutoVersions(
        service,
        app.log.getChild("versions"),
        idle_gap=app.versions_idle_gap,
        max_interval=app.versions_max_interval,
    )
    app.rooms.add_observer(auto)
    service.claim_authors = auto.claim
    app.gallery.attach_history(service)  # info shows history; change requests apply here
    # Stock JupyterLab's checkpoints become the notebook's versions (other files keep
    # jupyter_server's own). Set here, not as ``checkpoints_class``: they need the service.
    contents = app.serverapp.contents_manager
    contents.checkpoints = VersionCheckpoints(
        service, contents.checkpoints, parent=contents, log=contents.log
    )
    app.serverapp.io_loop.add_callback(service.start, app.versions_retention_interval)
    return service

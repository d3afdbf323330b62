"""collab_server: a multi-tenant, real-time collaborative Jupyter notebook server."""

from typing import Any

__version__ = "0.6.0"


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import CollabServer

    return [{"module": "collab_server.app", "app": CollabServer}]

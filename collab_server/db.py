"""Compatibility: the database helpers live in :mod:`collab_server.core.db`."""

from .core.db import (  # noqa: F401 - re-exported names used by other packages
    BUSY_MESSAGE,
    BUSY_TIMEOUT_MS,
    WRITE_BOUND_SECONDS,
    DatabaseBusy,
    Migration,
    database_dir,
    is_busy,
    migrate,
    open_database,
    transaction,
    write,
)

"""Compatibility: the data directory lives in :mod:`collab_server.core.datadir`."""

from .core.datadir import (  # noqa: F401 - re-exported
    DATABASE_NAME,
    LOCK_NAME,
    DataDirError,
    check_integrity,
    damaged,
    database_path,
    default_data_dir,
    lock,
    secure,
)

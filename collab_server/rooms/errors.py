"""Why a room cannot be opened or goes on no longer: :mod:`core.errors` types, nothing else.

The websocket handler maps each to its close code (``error.close``) in one place; rooms never
pick close codes themselves. :func:`announced` says which of them the client is also told
about in a RAW ``{"type":"error","reason","message"}`` before the close (the reasons a page
acts on: an invalid file, a store that cannot write).
"""

from __future__ import annotations

from ..core.errors import CollabError, Invalid, NotFound, Unavailable


class RoomNotFound(NotFound):
    """The room id names no known file, or no registered kind of room."""


class FileLoadError(CollabError):
    """The room's file could not be loaded (the subclasses say why)."""

    @property
    def close_code(self) -> int:
        """The close code (kept for callers written before the one error model)."""
        return self.close


class InvalidFile(FileLoadError, Invalid):
    """Not a valid document of the room's kind (a broken notebook JSON, a decoding error)."""

    reason = "invalid_file"


class FileMissing(FileLoadError, NotFound):
    """The file is gone."""


class FileUnreadable(FileLoadError):
    """The contents manager failed for another reason."""

    status, close, reason = 500, 4500, "unreadable"


class StoreUnavailable(Unavailable):
    """A write to the update store failed (disk full, read-only, locked past the busy
    timeout): the room cannot accept changes now."""

    reason = "store_unavailable"


class StoreBusy(StoreUnavailable):
    """Another connection holds the database lock; retrying later may succeed."""


def announced(error: CollabError) -> bool:
    """Whether a client is sent a RAW error before its socket closes with ``error.close``."""
    return isinstance(error, (InvalidFile, StoreUnavailable))

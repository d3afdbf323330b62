"""Real-time rooms: the websocket endpoints, one room per document, the update store, and
load/save between the CRDT document and its file.

Layout (one job per module):

* ``handlers`` — the collaboration endpoints (session PUT, room websocket); maps room errors
  to close codes in one place
* ``manager`` — open rooms, idle unload, holds, file moves/deletions; the extension registry
* ``address`` — :class:`RoomAddress` (the one place room ids are built/parsed) and room kinds
* ``room`` — :class:`PresenceRoom`, :class:`DocumentRoom` (server-authoritative),
  :class:`FileRoom` (file-backed): lifecycle and message dispatch over the parts below
* ``pipeline`` — apply → persist → publish of one document
* ``fanout`` — :class:`FanOut` interface and the in-process :class:`LocalFanOut`
* ``presence`` — awareness rate limiting and windows
* ``filesync`` — debounced saves, save lock, disk poll, three-way merge, file filters
* ``events`` — :class:`Source` of a change, :class:`RoomObserver` (no-op base) and events
* ``limits`` — sockets per person (:class:`ConnectionLimits`)
* ``errors`` — room errors as :mod:`core.errors` types
* ``store``, ``disk``, ``document``, ``protocol``, ``awareness`` — small pure leaves

A feature plugs in with one call in ``app.py`` that registers its room kinds, file filters
and observers on the manager (see :mod:`.manager`); it uses rooms through
``apply_server_change``, ``send_raw``, ``hold``/``unhold`` and observer events, never a
room's private state.
"""

from .address import GLOBAL_AWARENESS, RoomAddress, RoomKind
from .awareness import AwarenessLimits
from .events import PersistedBatch, RoomObserver, Source
from .fanout import Connection, FanOut, LocalFanOut
from .filesync import FileFilter
from .handlers import MANAGER_SETTING, RoomHandler, SessionHandler
from .limits import ConnectionLimits, LocalConnectionLimits
from .manager import RoomManager
from .room import DocumentRoom, FileRoom, PresenceRoom, Room, RoomSettings
from .store import UpdateStore

__all__ = [
    "GLOBAL_AWARENESS",
    "MANAGER_SETTING",
    "AwarenessLimits",
    "Connection",
    "ConnectionLimits",
    "DocumentRoom",
    "FanOut",
    "FileFilter",
    "FileRoom",
    "LocalConnectionLimits",
    "LocalFanOut",
    "PersistedBatch",
    "PresenceRoom",
    "Room",
    "RoomAddress",
    "RoomHandler",
    "RoomKind",
    "RoomManager",
    "RoomObserver",
    "RoomSettings",
    "SessionHandler",
    "Source",
    "UpdateStore",
]

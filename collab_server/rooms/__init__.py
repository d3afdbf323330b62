"""Real-time rooms: the websocket endpoints, one room per document, the update store, and
load/save between the CRDT document and its file."""

from .awareness import AwarenessLimits
from .handlers import MANAGER_SETTING, RoomHandler, SessionHandler
from .manager import GLOBAL_AWARENESS, RoomManager
from .room import Room, RoomSettings
from .store import UpdateStore

__all__ = [
    "GLOBAL_AWARENESS",
    "MANAGER_SETTING",
    "AwarenessLimits",
    "Room",
    "RoomHandler",
    "RoomManager",
    "RoomSettings",
    "SessionHandler",
    "UpdateStore",
]

"""Room addresses and room kinds: the one place room ids are built and parsed.

A room id on the wire is ``{format}:{type}:{fileId}`` (a document) or
``JupyterLab:globalAwareness`` (the global presence room). Code outside ``rooms/`` never
builds or splits these strings: it uses :class:`RoomAddress` (``RoomAddress.notebook(file_id)``,
``RoomAddress.document(kind, file_id)``, ``room.address.file_id``).

A :class:`RoomKind` says what a document room of one ``{format}:{type}`` is: file-backed
(the document is loaded from and saved to its file; clients with ``write`` edit it) or
server-authoritative (stored like every document, but only the server changes it; no file of
its own), which permission resource governs it, and what fills a new one. The manager holds
the registry: the built-in file kinds (``json:notebook``, ``text:file``) are registered by
``rooms`` itself; a feature registers its own (comments registers ``json:comments``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .document import SUPPORTED_KINDS, DocumentKind
from .errors import RoomNotFound

if TYPE_CHECKING:
    from .room import DocumentRoom

GLOBAL_AWARENESS = "JupyterLab:globalAwareness"

NOTEBOOK = SUPPORTED_KINDS[("json", "notebook")]


@dataclass(frozen=True)
class RoomAddress:
    """What a room id names: a document (kind + file id) or the global presence room."""

    kind: DocumentKind | None
    file_id: str | None

    @classmethod
    def document(cls, kind: DocumentKind, file_id: str) -> RoomAddress:
        return cls(kind, file_id)

    @classmethod
    def notebook(cls, file_id: str) -> RoomAddress:
        return cls(NOTEBOOK, file_id)

    @classmethod
    def global_awareness(cls) -> RoomAddress:
        return cls(None, None)

    @classmethod
    def parse(cls, room_id: str) -> RoomAddress:
        """The address a room id names (its kind not checked against a registry: see
        :meth:`RoomKinds.resolve`). Raises :class:`RoomNotFound` for a malformed id."""
        if room_id == GLOBAL_AWARENESS:
            return cls(None, None)
        parts = room_id.split(":", 2)
        if len(parts) != 3 or not parts[2]:
            raise RoomNotFound(f"{room_id!r} is not a room id ({{format}}:{{type}}:{{fileId}})")
        return cls(DocumentKind(parts[0], parts[1]), parts[2])

    @property
    def room_id(self) -> str:
        if self.kind is None or self.file_id is None:
            return GLOBAL_AWARENESS
        return f"{self.kind.format}:{self.kind.type}:{self.file_id}"


Initializer = Callable[["DocumentRoom", str], Awaitable[None]]


@dataclass(frozen=True)
class RoomKind:
    """How the manager opens document rooms of one ``{format}:{type}``."""

    kind: DocumentKind
    # True: loaded from and saved to its file. False: server-authoritative (only the server
    # writes it, e.g. comments; clients' updates are dropped whatever their rights).
    file_backed: bool = True
    # The permission resource prefix: rights on ``{resource}:{path}`` govern the room.
    resource: str = "contents"
    # Fills a new room once it is loaded (``room``, the file's current path).
    initialize: Initializer | None = None


class RoomKinds:
    """The registry of document room kinds (owned by the room manager)."""

    def __init__(self) -> None:
        self._kinds: dict[DocumentKind, RoomKind] = {}
        for kind in SUPPORTED_KINDS.values():
            self.register(RoomKind(kind))

    def register(self, spec: RoomKind) -> None:
        self._kinds[spec.kind] = spec

    def get(self, kind: DocumentKind) -> RoomKind | None:
        return self._kinds.get(kind)

    def __iter__(self) -> Iterator[RoomKind]:
        return iter(list(self._kinds.values()))

    def resolve(self, room_id: str) -> RoomAddress:
        """The address of ``room_id`` if it names a registered kind (or the presence room);
        raises :class:`RoomNotFound` otherwise."""
        address = RoomAddress.parse(room_id)
        if address.kind is not None and address.kind not in self._kinds:
            supported = ", ".join(f"{f}:{t}" for f, t in SUPPORTED_KINDS)
            raise RoomNotFound(
                f"unsupported document kind {address.kind.format}:{address.kind.type} ({supported})"
            )
        return address

"""The room parts in process: the pipeline (apply → persist → publish), server changes in a
file-backed room (stored, broadcast, autosaved), observers, kinds, holds and addresses."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from pycrdt import Array, Doc, Map, Text

from collab_server.contents import FileIdStore
from collab_server.contents.manager import CollabFileContentsManager
from collab_server.core import db as database
from collab_server.core.errors import NotFound
from collab_server.rooms import (
    DocumentRoom,
    FileRoom,
    PersistedBatch,
    RoomAddress,
    RoomKind,
    RoomManager,
    RoomObserver,
    RoomSettings,
    Source,
    UpdateStore,
)
from collab_server.rooms.document import DocumentKind
from collab_server.rooms.errors import RoomNotFound
from collab_server.rooms.events import ROOM
from collab_server.rooms.fanout import LocalFanOut
from collab_server.rooms.pipeline import DocumentPipeline
from collab_server.rooms.protocol import MessageType, Reader, SyncMessage, SyncType
from support.notebooks import read_notebook, write_notebook

LOG = logging.getLogger("test.rooms")


class Recorder:
    """A connection that records what it is sent (stands in for a websocket)."""

    def __init__(self, name: str, can_write: bool = True) -> None:
        self.user: dict[str, Any] = {"username": name}
        self.can_write = can_write
        self.label = name
        self.sent: list[bytes] = []

    def send(self, message: bytes, wire: bytes | None = None) -> None:
        self.sent.append(message)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        pass

    def updates(self) -> list[bytes]:
        found = []
        for message in self.sent:
            reader = Reader(message)
            if reader.var_uint() == MessageType.SYNC and reader.var_uint() == SyncType.UPDATE:
                found.append(reader.var_bytes())
        return found

    def raw(self) -> list[dict[str, Any]]:
        found = []
        for message in self.sent:
            reader = Reader(message)
            if reader.var_uint() == MessageType.RAW:
                found.append(json.loads(reader.var_string()))
        return found


class Events(RoomObserver):
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def persisted(self, room: DocumentRoom, batch: PersistedBatch) -> None:
        self.seen.append(("persisted", batch))

    def file_saved(self, room: DocumentRoom, path: str, content: Any, reason: str) -> None:
        self.seen.append(("saved", (path, reason)))

    def joined(self, room: Any, conn: Any) -> None:
        self.seen.append(("joined", conn.label))

    def room_opened(self, room: Any) -> None:
        self.seen.append(("opened", room.room_id))

    def of(self, name: str) -> list[Any]:
        return [value for kind, value in self.seen if kind == name]


class Broken(RoomObserver):
    def persisted(self, room: DocumentRoom, batch: PersistedBatch) -> None:
        raise RuntimeError("an observer's bug")

    def joined(self, room: Any, conn: Any) -> None:
        raise RuntimeError("an observer's bug")


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def make_manager(tmp_path: Path, **settings: Any) -> tuple[RoomManager, Path]:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    db = database.open_database(tmp_path / "data" / "collab.sqlite")
    options = {"save_delay": 0.05, "max_save_interval": 1.0, "poll_interval": 60.0, **settings}
    manager = RoomManager(
        store=UpdateStore(db),
        file_ids=FileIdStore(db),
        contents_manager=CollabFileContentsManager(root_dir=str(root)),
        settings=RoomSettings(**options),
        cleanup_delay=0.05,
        max_message_size=1 << 20,
        max_client_backlog=1 << 20,
        log=LOG,
    )
    return manager, root


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def append_to_first_cell(text: str) -> Callable[[Doc], None]:
    def edit(doc: Doc) -> None:
        source = doc.get("cells", type=Array)[0]["source"]
        assert isinstance(source, Text)
        source += text

    return edit


def test_a_server_change_is_persisted_broadcast_and_autosaved(tmp_path: Path) -> None:
    """A kernel writing into the notebook (no client involved) is stored with its author,
    sent to everyone in the room, and saved to the .ipynb by the autosave."""
    manager, root = make_manager(tmp_path)
    events = Events()
    manager.add_observer(Broken())  # an observer's exception never breaks the room
    manager.add_observer(events)
    path = write_notebook(root, ["x = 1"], "k.ipynb")

    async def scenario() -> None:
        file_id, _ = await manager.file_ids.ensure(path)
        room = await manager.open(RoomAddress.notebook(file_id), path)
        assert isinstance(room, FileRoom)
        watcher = Recorder("ann", can_write=False)
        room.join(watcher)
        assert events.of("joined") == ["ann"]
        assert room.apply_server_change(Source.kernel(), append_to_first_cell("  # out"))
        # Stored and broadcast when the call returns.
        assert watcher.updates(), "the change was not broadcast"
        assert manager.store.authors_since(room.room_id, 0) == {"kernel": 1}
        batch = events.of("persisted")[0]
        assert batch.authors == frozenset({"kernel"}) and batch.edit
        # Autosaved: the file gets the change.
        await wait_for(lambda: events.of("saved") != [])
        assert events.of("saved")[0] == (path, "autosave")
        assert read_notebook(root, path).cells[0].source == "x = 1  # out"
        room.leave(watcher)
        await manager.stop_all()

    run(scenario)


def test_a_client_update_is_stored_then_sent_to_others_not_echoed(tmp_path: Path) -> None:
    manager, root = make_manager(tmp_path)
    path = write_notebook(root, ["a"], "c.ipynb")

    async def scenario() -> None:
        file_id, _ = await manager.file_ids.ensure(path)
        room = await manager.open(RoomAddress.notebook(file_id), path)
        assert isinstance(room, FileRoom)
        ann, bob = Recorder("ann"), Recorder("bob")
        room.join(ann)
        room.join(bob)
        # Ann's client makes an edit on its own copy of the document.
        client: Doc = Doc()
        client.apply_update(room.doc.get_update())
        before = client.get_state()
        append_to_first_cell("b")(client)
        update = client.get_update(before)
        room.handle(ann, SyncMessage(SyncType.UPDATE, update))
        # (The first edit's batch also carries the room's ``dirty`` flag: everyone gets it.)
        await wait_for(lambda: len(bob.updates()) == 1)
        assert manager.store.authors_since(room.room_id, 0) == {"ann": 1}
        before = client.get_state()
        append_to_first_cell("c")(client)
        room.handle(ann, SyncMessage(SyncType.UPDATE, client.get_update(before)))
        await wait_for(lambda: len(bob.updates()) == 2)
        assert len(ann.updates()) == 1  # its own update is not echoed to its author
        assert manager.store.authors_since(room.room_id, 0) == {"ann": 2}
        await manager.stop_all()
        assert read_notebook(root, path).cells[0].source == "abc"

    run(scenario)


def test_the_pipeline_merges_a_tick_of_updates_into_one_message(tmp_path: Path) -> None:
    db = database.open_database(tmp_path / "collab.sqlite")
    store = UpdateStore(db)
    fanout = LocalFanOut()
    batches: list[PersistedBatch] = []
    doc: Doc = Doc()

    async def scenario() -> None:
        pipeline = DocumentPipeline(
            "json:x:1",
            doc,
            store=store,
            fanout=fanout,
            settings=RoomSettings(),
            log=LOG,
            spawn=lambda aw: None,
            on_persisted=batches.append,
            on_failed=lambda error: None,
        )
        pipeline.attach()
        watcher = Recorder("w")
        fanout.add(watcher)
        with pipeline.writing(Source.kernel()):
            doc.get("m", type=Map)["a"] = 1
        with pipeline.writing(ROOM):
            doc.get("m", type=Map)["b"] = 2
        assert watcher.sent == []  # nothing is sent before it is stored
        await asyncio.sleep(0.01)
        assert len(watcher.updates()) == 1  # one merged message
        assert len(store.load("json:x:1").updates) == 2
        assert batches == [PersistedBatch(frozenset({"kernel"}), 2, True)]
        pipeline.close()
        doc.get("m", type=Map)["c"] = 3  # after close: nothing stored or sent
        await asyncio.sleep(0.01)
        assert len(store.load("json:x:1").updates) == 2

    run(scenario)


def test_kinds_addresses_and_holds(tmp_path: Path) -> None:
    manager, root = make_manager(tmp_path)
    notes = DocumentKind("json", "notes")
    seeded: list[str] = []

    async def seed(room: DocumentRoom, path: str) -> None:
        seeded.append(path)
        room.apply_server_change(
            Source.server(), lambda doc: doc.get("m", type=Map).update({"k": 1})
        )

    path = write_notebook(root, ["a"], "h.ipynb")

    async def scenario() -> None:
        address = RoomAddress.parse("json:notes:abc")
        with pytest.raises(RoomNotFound) as error:
            manager.address("json:notes:abc")
        assert isinstance(error.value, NotFound) and error.value.close == 4404
        manager.register_kind(RoomKind(notes, file_backed=False, resource="notes", initialize=seed))
        assert manager.address("json:notes:abc") == address
        assert address.room_id == "json:notes:abc"
        assert RoomAddress.notebook("f").room_id == "json:notebook:f"
        room = await manager.open(address, "h.ipynb")
        assert isinstance(room, DocumentRoom) and not isinstance(room, FileRoom)
        assert seeded == ["h.ipynb"] and room.doc.get("m", type=Map)["k"] == 1
        # A client cannot write a server-authoritative document, whatever its rights.
        client: Doc = Doc()
        client.get("m", type=Map)["forged"] = 1
        room.handle(Recorder("eve"), SyncMessage(SyncType.UPDATE, client.get_update()))
        assert "forged" not in room.doc.get("m", type=Map)

        # A held room outlives its cleanup delay; released, it closes.
        file_id, _ = await manager.file_ids.ensure(path)
        notebook = await manager.open(RoomAddress.notebook(file_id), path)
        manager.hold(notebook)
        manager.release(notebook)
        # Barrier: another room, released after it and not held, closes after its cleanup
        # delay; by then the held room's delay has passed too.
        other_path = write_notebook(root, ["b"], "h2.ipynb")
        other_id, _ = await manager.file_ids.ensure(other_path)
        other = await manager.open(RoomAddress.notebook(other_id), other_path)
        manager.release(other)
        await wait_for(lambda: manager.get(other.address) is None)
        assert manager.get(notebook.address) is notebook
        manager.unhold(notebook)
        await wait_for(lambda: manager.get(notebook.address) is None)
        await manager.stop_all()

    run(scenario)


class Merges(Events):
    def outside_change_merged(self, room: DocumentRoom, content: Any) -> None:
        self.seen.append(("merged", room.path))


def test_an_outside_change_is_merged_and_is_no_edit(tmp_path: Path) -> None:
    """File sync: a change made to the file outside the server is merged into the live
    document (stored as the file's, author ``disk``) and is not saved back as an edit."""
    manager, root = make_manager(tmp_path, poll_interval=0.05)
    events = Merges()
    manager.add_observer(events)
    path = write_notebook(root, ["one"], "o.ipynb")

    async def scenario() -> None:
        file_id, _ = await manager.file_ids.ensure(path)
        room = await manager.open(RoomAddress.notebook(file_id), path)
        watcher = Recorder("ann")
        room.join(watcher)
        await asyncio.sleep(0.05)  # a later mtime than the load's
        write_notebook(root, ["one, changed outside"], "o.ipynb")
        await wait_for(lambda: events.of("merged") == [path])
        cells = room.doc.get("cells", type=Array)
        assert str(cells[0]["source"]) == "one, changed outside"
        assert watcher.updates(), "the merge was not broadcast"
        assert manager.store.authors_since(room.room_id, 0) == {"disk": 1}
        assert all(not batch.edit for batch in events.of("persisted"))
        room.leave(watcher)
        await manager.stop_all()
        assert events.of("saved") == []  # nothing to write back

    run(scenario)


class Busy(RoomObserver):
    def __init__(self) -> None:
        self.busy = True
        self.asked = 0

    def keep_open(self, room: Any) -> bool:
        self.asked += 1
        return self.busy


def test_an_observer_keeps_a_busy_room_open(tmp_path: Path) -> None:
    manager, root = make_manager(tmp_path)
    busy = Busy()
    manager.add_observer(busy)
    path = write_notebook(root, ["a"], "b.ipynb")

    async def scenario() -> None:
        file_id, _ = await manager.file_ids.ensure(path)
        room = await manager.open(RoomAddress.notebook(file_id), path)
        manager.release(room)
        # Barrier: the manager asked again after a later cleanup delay, and kept it open.
        await wait_for(lambda: busy.asked >= 3)
        assert manager.get(room.address) is room
        busy.busy = False
        await wait_for(lambda: manager.get(room.address) is None)
        assert room.stopped
        await manager.stop_all()

    run(scenario)


def test_a_closing_room_saves_its_comments_without_reopening_itself(tmp_path: Path) -> None:
    """A notebook room closing with unsaved changes (here a kernel's) saves, and the comments
    filter writes the threads: the comments document is seeded from the room being saved,
    never by opening that room again through the manager (which waits for the closing room's
    lock: the close would never finish)."""
    from collab_server.comments.service import CommentsService

    manager, root = make_manager(tmp_path, save_delay=60.0, max_save_interval=60.0)
    db = database.open_database(tmp_path / "data" / "comments.sqlite")
    CommentsService.plug_into(manager, db, LOG, secret_dir=tmp_path)
    events = Events()
    manager.add_observer(events)
    path = write_notebook(root, ["x = 1"], "closing.ipynb")

    async def scenario() -> None:
        file_id, _ = await manager.file_ids.ensure(path)
        room = await manager.open(RoomAddress.notebook(file_id), path)
        assert isinstance(room, FileRoom)
        assert room.apply_server_change(Source.kernel(), append_to_first_cell("  # out"))
        manager.release(room)  # nobody uses it: it closes after the cleanup delay, saving
        await wait_for(lambda: events.of("saved") != [], timeout=10)
        assert events.of("saved") == [(path, "close")]
        assert read_notebook(root, path).cells[0].source == "x = 1  # out"
        await manager.stop_all()

    run(scenario)

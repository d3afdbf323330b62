"""The execution queue of one kernel: order, batches, errors, interrupt, restart."""

from __future__ import annotations

from datetime import UTC, datetime

from collab_server.kernels.queue import ExecutionQueue

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _ids(items: object) -> list[str]:
    return [item.cell_id for item in items]  # type: ignore[attr-defined]


def _run_all(queue: ExecutionQueue, failing: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    ran = []
    while (item := queue.start_next()) is not None:
        ran.append(item.cell_id)
        queue.finish(failed=item.cell_id in failing)
    return ran


def test_first_in_first_out_one_at_a_time() -> None:
    queue = ExecutionQueue()
    queue.enqueue(["a"], "ann", T0)
    queue.enqueue(["b"], "bob", T0)
    first = queue.start_next()
    assert first is not None and first.cell_id == "a" and first.who == "ann"
    assert queue.start_next() is None  # "a" still runs
    queue.finish(failed=False)
    assert _run_all(queue) == ["b"]


def test_a_batch_is_never_interleaved() -> None:
    queue = ExecutionQueue()
    queue.enqueue(["x"], "bob", T0)
    queue.enqueue(["a1", "a2", "a3"], "ann", T0)
    queue.enqueue(["y"], "bob", T0)
    assert _run_all(queue) == ["x", "a1", "a2", "a3", "y"]


def test_an_error_drops_the_rest_of_its_batch_only() -> None:
    queue = ExecutionQueue()
    queue.enqueue(["a1", "a2", "a3"], "ann", T0)
    queue.enqueue(["b1"], "bob", T0)
    item = queue.start_next()
    assert item is not None and item.cell_id == "a1"
    queue.finish(failed=False)
    queue.start_next()
    ended, dropped = queue.finish(failed=True)
    assert ended is not None and ended.cell_id == "a2"
    assert _ids(dropped) == ["a3"]
    assert _run_all(queue) == ["b1"]


def test_a_cell_queued_twice_runs_once() -> None:
    queue = ExecutionQueue()
    assert _ids(queue.enqueue(["a", "b"], "ann", T0)) == ["a", "b"]
    assert _ids(queue.enqueue(["b", "c", "c"], "bob", T0)) == ["c"]
    assert _run_all(queue) == ["a", "b", "c"]


def test_a_running_cell_may_be_queued_again() -> None:
    queue = ExecutionQueue()
    queue.enqueue(["a"], "ann", T0)
    queue.start_next()
    assert _ids(queue.enqueue(["a"], "bob", T0)) == ["a"]
    queue.finish(failed=False)
    assert _run_all(queue) == ["a"]


def test_interrupt_drains_the_queue_but_not_the_running_cell() -> None:
    queue = ExecutionQueue()
    queue.enqueue(["a", "b"], "ann", T0)
    queue.enqueue(["c"], "bob", T0)
    queue.start_next()
    assert _ids(queue.drain()) == ["b", "c"]
    assert queue.running is not None and queue.running.cell_id == "a"
    queue.finish(failed=True)
    assert _run_all(queue) == []


def test_restart_drains_and_resets_the_running_cell() -> None:
    queue = ExecutionQueue()
    queue.enqueue(["a", "b"], "ann", T0)
    queue.start_next()
    running, drained = queue.reset()
    assert running is not None and running.cell_id == "a"
    assert _ids(drained) == ["b"]
    assert queue.running is None and queue.pending == ()
    assert queue.finish(failed=True) == (None, [])


def test_who_and_when_are_kept() -> None:
    queue = ExecutionQueue()
    later = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    queue.enqueue(["a"], "ann", T0)
    queue.enqueue(["b"], "bob", later)
    assert [(i.who, i.queued_at) for i in queue.pending] == [("ann", T0), ("bob", later)]
    assert queue.is_waiting("b") and not queue.is_waiting("z")

"""When versions are cut from a live document, and which automatic ones retention drops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collab_server.versions.policy import Cut, CutPolicy
from collab_server.versions.retention import RetentionPolicy, RowInfo, to_drop


def test_autosave_cadence_alone_never_cuts():
    """An edit every second (the cadence of the 1 s debounced file write) for 9 minutes."""
    policy = CutPolicy(idle_gap=120, max_interval=600)
    cuts = [policy.edit(float(t), "ann") for t in range(0, 540)]
    cuts += [policy.tick(float(t)) for t in range(0, 540, 7)]
    assert cuts == [None] * len(cuts)
    assert policy.dirty


def test_idle_gap_cuts_an_auto_version_with_the_authors():
    policy = CutPolicy(idle_gap=120, max_interval=600)
    assert policy.deadline() is None
    assert policy.edit(10.0, "ann") is None
    assert policy.edit(20.0, "bob") is None
    assert policy.edit(30.0, "ann") is None
    assert policy.deadline() == 150.0
    assert policy.tick(149.0) is None
    assert policy.tick(150.0) == Cut("auto", ("ann", "bob"))
    assert not policy.dirty and policy.deadline() is None
    assert policy.tick(1000.0) is None  # nothing edited since: nothing to cut


def test_continuous_editing_cuts_at_most_every_max_interval():
    policy = CutPolicy(idle_gap=120, max_interval=600)
    cuts = []
    for t in range(0, 1900, 5):  # an edit every 5 s for over half an hour: never idle
        cut = policy.edit(float(t), "ann")
        if cut:
            cuts.append((t, cut.kind))
    assert cuts == [(600, "auto"), (1205, "auto"), (1810, "auto")]
    # The timer path says the same: the deadline is the max interval when edits keep coming.
    policy = CutPolicy(idle_gap=120, max_interval=600)
    for t in range(0, 590, 60):
        policy.edit(float(t))
    assert policy.deadline() == 600.0
    assert policy.tick(600.0) == Cut("auto", ())


def test_save_cuts_only_if_something_changed():
    policy = CutPolicy()
    assert policy.save(1.0) is None
    policy.edit(2.0, "ann")
    assert policy.save(3.0) == Cut("save", ("ann",))
    assert policy.save(4.0) is None  # Ctrl+S twice
    assert policy.tick(500.0) is None  # and the idle timer has nothing left


def test_restore_publish_and_outside_changes_cut_at_once():
    policy = CutPolicy()
    assert policy.restore(1.0) == Cut("restore", ())
    policy.edit(2.0, "bob")
    assert policy.publish(3.0) == Cut("publish", ("bob",))
    assert policy.external(4.0) == Cut("external", ())
    assert not policy.dirty


def test_a_late_timer_does_not_lose_the_idle_cut():
    policy = CutPolicy(idle_gap=120, max_interval=600)
    policy.edit(0.0, "ann")
    # The timer never fired; the next edit comes 5 minutes later: the stretch is cut now.
    assert policy.edit(300.0, "bob") == Cut("auto", ("ann", "bob"))


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def rows(*spec: tuple[timedelta, str]) -> list[RowInfo]:
    return [RowInfo(n, NOW - age, kind) for n, (age, kind) in enumerate(spec, start=1)]


def test_retention_keeps_the_last_day_and_thins_by_hour_then_day():
    h = timedelta(hours=1)
    timeline = rows(
        (timedelta(days=9, hours=5), "auto"),  # 1: day D-9, dropped for 2
        (timedelta(days=9, hours=1), "auto"),  # 2: newest of its day
        (timedelta(days=3, minutes=50), "save"),  # 3: hour 11:00 of D-3, dropped for 4
        (timedelta(days=3, minutes=10), "auto"),  # 4: newest of that hour
        (timedelta(days=3, minutes=5), "restore"),  # 5: never dropped
        (timedelta(days=2, minutes=30), "external"),  # 6: its own hour
        (23 * h, "auto"),  # 7: within a day
        (22 * h, "auto"),  # 8
        (h, "auto"),  # 9 (head)
    )
    assert to_drop(timeline, NOW, RetentionPolicy()) == [1, 3]


def test_retention_never_drops_labelled_pinned_publish_restore_or_head():
    old = timedelta(days=30)
    timeline = [
        RowInfo(1, NOW - old, "auto", labelled=True),
        RowInfo(2, NOW - old, "auto", pinned=True),
        RowInfo(3, NOW - old, "publish"),
        RowInfo(4, NOW - old, "restore"),
        RowInfo(5, NOW - old, "auto"),
        RowInfo(6, NOW - old, "auto"),
    ]
    assert to_drop(timeline, NOW, RetentionPolicy()) == [5]  # 6 is the head and its day's own
    assert to_drop([], NOW, RetentionPolicy()) == []


def test_retention_windows_and_kinds_are_configurable():
    timeline = rows(
        (timedelta(hours=5, minutes=40), "save"),
        (timedelta(hours=5, minutes=20), "save"),
        (timedelta(hours=5, minutes=10), "auto"),
        (timedelta(minutes=1), "auto"),
    )
    assert to_drop(timeline, NOW, RetentionPolicy()) == []
    short = RetentionPolicy(keep_all_for=timedelta(hours=1))
    assert to_drop(timeline, NOW, short) == [1, 2]
    autos_only = RetentionPolicy(
        keep_all_for=timedelta(hours=1), thinnable_kinds=frozenset({"auto"})
    )
    assert to_drop(timeline, NOW, autos_only) == []

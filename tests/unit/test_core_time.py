"""The one time format (collab_server.core.time)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from collab_server.core.time import iso, now_iso, parse_iso


def test_now_is_utc_with_z_at_the_chosen_precision():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", now_iso())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", now_iso("seconds"))


def test_timestamps_and_other_zones_become_utc():
    assert iso(0, "seconds") == "1970-01-01T00:00:00Z"
    assert iso(1.5) == "1970-01-01T00:00:01.500Z"
    plus_two = dt.datetime(2026, 1, 2, 5, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert iso(plus_two, "seconds") == "2026-01-02T03:00:00Z"
    with pytest.raises(ValueError, match="naive"):
        iso(dt.datetime(2026, 1, 2))


def test_parse_reads_back_what_we_write_and_common_variants():
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    assert parse_iso(iso(moment)) == moment
    assert parse_iso("2026-01-02T03:04:05+00:00") == moment.replace(microsecond=0)
    assert parse_iso("2026-01-02T05:04:05+02:00") == moment.replace(microsecond=0)
    assert parse_iso("2026-01-02T03:04:05") == moment.replace(microsecond=0)  # taken as UTC
    for bad in ("yesterday", "", 12):
        with pytest.raises(ValueError):
            parse_iso(bad)  # type: ignore[arg-type]

"""The one error model (collab_server.core.errors) and its HTTP side (core.http)."""

from __future__ import annotations

import pytest
from tornado import web

import collab_server.auth as auth
from collab_server.core import errors
from collab_server.core.datadir import DataDirError
from collab_server.core.db import DatabaseBusy
from collab_server.core.http import (
    MAX_JSON_BODY,
    parse_json,
    retry_after_header,
    string_field,
    to_http_error,
)

TABLE = {
    errors.Invalid: (400, 4400),
    errors.Unauthenticated: (401, 4401),
    errors.Forbidden: (403, 4403),
    errors.NotFound: (404, 4404),
    errors.Conflict: (409, 4409),
    errors.TooLarge: (413, 1009),
    errors.Unsupported: (415, 4415),
    errors.Unprocessable: (422, 4422),
    errors.RateLimited: (429, 1008),
    errors.NotSupportedByProvider: (501, 4501),
    errors.Unavailable: (503, 1011),
}


@pytest.mark.parametrize("kind", list(TABLE))
def test_each_error_has_one_status_and_one_close_code(kind):
    error = kind("a message for a person")
    assert (errors.http_status(error), errors.close_code(error)) == TABLE[kind]
    assert error.message == str(error) == "a message for a person"
    assert isinstance(error, errors.CollabError)
    http = to_http_error(error)
    assert isinstance(http, web.HTTPError) and http.status_code == TABLE[kind][0]


def test_the_table_is_complete_and_reasons_are_distinct():
    assert set(errors.ERRORS) == set(TABLE)
    assert len({kind.reason for kind in errors.ERRORS}) == len(errors.ERRORS)


def test_a_close_code_maps_back_to_its_error():
    assert isinstance(errors.from_close_code(4404, "gone"), errors.NotFound)
    assert isinstance(errors.from_close_code(4400, "bad"), errors.Invalid)
    unknown = errors.from_close_code(4500, "load failed")  # no class of its own: a 400
    assert type(unknown) is errors.Invalid and unknown.message == "load failed"


def test_provider_errors_are_the_core_errors():
    # Custom providers raise these names (README, provider section): same classes, not a
    # parallel family, so every handler maps them the same way.
    assert auth.ProviderError is errors.CollabError
    assert auth.SignInRefused is errors.Unauthenticated
    assert auth.NotAllowed is errors.Forbidden
    assert auth.NotFound is errors.NotFound
    assert auth.Conflict is errors.Conflict
    assert auth.Busy is errors.Unavailable
    assert auth.ProviderError("plain").status == 400
    limited = auth.TooManyAttempts(7)
    assert isinstance(limited, errors.RateLimited) and limited.retry_after == 7
    assert retry_after_header(limited) == "7"
    assert retry_after_header(errors.Invalid("x")) is None
    assert retry_after_header(errors.Unavailable("x", retry_after=0.2)) == "1"


def test_old_provider_errors_are_translated_at_the_boundary():
    from collab_server.auth.provider import legacy_errors

    with pytest.raises(errors.NotFound, match="no such user"), legacy_errors():
        raise KeyError("no such user")
    with pytest.raises(errors.CollabError) as caught, legacy_errors():
        raise ValueError("bad principal")
    assert caught.value.status == 400
    with pytest.raises(errors.Conflict), legacy_errors():
        raise errors.Conflict("kept as it is")


def test_database_and_data_dir_errors_are_unavailable():
    busy = DatabaseBusy()
    assert isinstance(busy, errors.Unavailable) and busy.retry_after == 1
    assert isinstance(DataDirError("locked"), errors.Unavailable)


def test_json_bodies():
    assert parse_json(b'{"a": [1]}') == {"a": [1]}
    with pytest.raises(errors.Invalid, match="empty"):
        parse_json(b"  ")
    with pytest.raises(errors.Invalid, match="not valid JSON"):
        parse_json(b"{")
    with pytest.raises(errors.Invalid, match="nested more than 3"):
        parse_json(b"[[[[1]]]]", max_depth=3)
    with pytest.raises(errors.Invalid, match="invalid Unicode"):
        parse_json(b'{"\\ud800": 1}')
    with pytest.raises(errors.TooLarge):
        parse_json(b" " * (MAX_JSON_BODY + 1))
    assert string_field({"a": "x"}, "a") == "x"
    assert string_field({}, "a", required=False) == ""
    with pytest.raises(errors.Invalid, match='"a" must be a string'):
        string_field({"a": 1}, "a")
    with pytest.raises(errors.Invalid, match="longer than 2"):
        string_field({"a": "xyz"}, "a", max_length=2)

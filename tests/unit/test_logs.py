"""Secrets never survive into log lines (collab_server.logs)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from collab_server.logs import SecretScrubbingFilter, install, scrub

SECRET = "s3cr3t-T0ken_value.XYZ"


@pytest.mark.parametrize(
    "line",
    [
        f"403 GET /api/collaboration/room/json:notebook:abc?token={SECRET} (127.0.0.1)",
        f"GET /api/contents?foo=1&token={SECRET}&bar=2",
        f"GET /lab?TOKEN={SECRET}",
        f"GET /x?access_token={SECRET};other",
        f"POST /login body: user=ada&password={SECRET}",
        f"redirect to '/lab?auth={SECRET}'",
        f'url="http://h/x?token={SECRET}"',
        f"Authorization: token {SECRET}",
        f"Authorization: Bearer {SECRET}",
        f"headers={{'Authorization': 'bearer {SECRET}'}}",
        f"token={SECRET} at the start",
    ],
)
def test_scrub_removes_the_secret(line: str) -> None:
    cleaned = scrub(line)
    assert SECRET not in cleaned
    assert "[secret]" in cleaned


def test_scrub_keeps_everything_else() -> None:
    line = f"GET /api/contents/a.ipynb?format=json&token={SECRET}&type=notebook 200"
    assert scrub(line) == "GET /api/contents/a.ipynb?format=json&token=[secret]&type=notebook 200"
    assert scrub("nothing secret here: tokenizer=on, mytoken is short") == (
        "nothing secret here: tokenizer=on, mytoken is short"
    )


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("test-logs-scrubbing")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    install(log)
    yield log, out
    log.removeHandler(handler)


def test_installed_filter_scrubs_messages_and_arguments(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, out = logger
    log.warning("403 GET %s", f"/api/x?token={SECRET}")
    log.info("header %r", {"Authorization": f"token {SECRET}"})
    log.info(f"plain /lab?token={SECRET}")
    written = out.getvalue()
    assert SECRET not in written
    assert written.count("[secret]") == 3


def test_installed_filter_scrubs_tracebacks(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = logger
    try:
        raise RuntimeError(f"failed to fetch http://h/x?token={SECRET}")
    except RuntimeError:
        log.exception("request failed")
    assert SECRET not in out.getvalue()
    assert "request failed" in out.getvalue()


def test_install_is_idempotent(logger: tuple[logging.Logger, io.StringIO]) -> None:
    log, _ = logger
    install(log)
    for handler in log.handlers:
        assert sum(isinstance(f, SecretScrubbingFilter) for f in handler.filters) == 1


def test_a_record_whose_message_cannot_be_formatted_passes_unchanged() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d", ("not a number",), None)
    assert SecretScrubbingFilter().filter(record)
    assert record.msg == "%d"

"""The three bodies of POST /api/kernels/{kernel_id}/execute, bad input, staleness."""

from __future__ import annotations

from typing import Any

import pytest

from collab_server.kernels.requests import (
    MAX_CELLS,
    CellRef,
    ExecuteRequest,
    RequestError,
    StaleSource,
    UnknownCell,
    check_fresh,
    parse_execute,
    source_hash,
)

DOC = "json:notebook:5a1b"


def test_jupyterlab_shape() -> None:
    request = parse_execute({"cell_id": "c1", "document_id": DOC})
    assert request == ExecuteRequest(DOC, (CellRef("c1"),), "jupyterlab")
    assert not request.is_batch


def test_nbmodel_shape() -> None:
    body = {"code": "print(1)", "metadata": {"cell_id": "c1", "document_id": DOC}}
    request = parse_execute(body)
    assert request == ExecuteRequest(DOC, (CellRef("c1", code="print(1)"),), "nbmodel")


def test_documents_shape_is_a_batch() -> None:
    body = {
        "document_id": DOC,
        "cells": [
            {"cell_id": "c1", "source_hash": "3531899427"},
            {"cell_id": "c2", "source_hash": "0"},
        ],
        "client_id": "12",
        "request_id": "r",
    }
    request = parse_execute(body)
    assert request.shape == "documents" and request.is_batch
    assert request.cells == (
        CellRef("c1", source_hash="3531899427"),
        CellRef("c2", source_hash="0"),
    )


def test_source_hash_matches_jupyter_server_documents() -> None:
    # Values from jupyter-server-documents' own tests (MurmurHash2, seed 0, UTF-8 bytes).
    assert source_hash("print('hello')") == "3975440051"
    assert source_hash("") == "0"
    assert source_hash("1 + 1") == "3531899427"
    # Non-ASCII is hashed as UTF-8 bytes (its front end uses TextEncoder): 1, 2 and 3 tail
    # bytes all take their own branch.
    assert len({source_hash(s) for s in ["é", "aé", "éé", "x = 'ü'\n"]}) == 4


@pytest.mark.parametrize(
    "body, field",
    [
        ([], "body"),
        ("run", "body"),
        ({}, "body"),
        ({"document_id": DOC}, "cell_id"),
        ({"cell_id": "c1"}, "document_id"),
        ({"cell_id": 3, "document_id": DOC}, "cell_id"),
        ({"cell_id": "", "document_id": DOC}, "cell_id"),
        ({"cell_id": "c" * 300, "document_id": DOC}, "cell_id"),
        ({"code": 1, "metadata": {"cell_id": "c", "document_id": DOC}}, "code"),
        ({"code": "x"}, "metadata"),
        ({"code": "x", "metadata": {"document_id": DOC}}, "metadata.cell_id"),
        ({"code": "x", "metadata": {"cell_id": "c"}}, "metadata.document_id"),
        ({"cells": []}, "document_id"),
        ({"document_id": DOC, "cells": "c1"}, "cells"),
        ({"document_id": DOC, "cells": []}, "cells"),
        ({"document_id": DOC, "cells": ["c1"]}, "cells[0]"),
        ({"document_id": DOC, "cells": [{"source_hash": "1"}]}, "cells[0].cell_id"),
        ({"document_id": DOC, "cells": [{"cell_id": "c1"}]}, "cells[0].source_hash"),
        (
            {
                "document_id": DOC,
                "cells": [{"cell_id": "a", "source_hash": "1"}, {"cell_id": "b", "source_hash": 5}],
            },
            "cells[1].source_hash",
        ),
        (
            {"document_id": DOC, "cells": [{"cell_id": "a", "source_hash": "abc"}]},
            "cells[0].source_hash",
        ),
    ],
)
def test_each_bad_body_names_its_field(body: Any, field: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_execute(body)
    assert caught.value.field == field
    assert str(caught.value).startswith(field + ": ")


def test_too_many_cells() -> None:
    cells = [{"cell_id": f"c{i}", "source_hash": "0"} for i in range(MAX_CELLS + 1)]
    with pytest.raises(RequestError, match="more than"):
        parse_execute({"document_id": DOC, "cells": cells})


def test_fresh_requests_pass() -> None:
    sources = {"c1": "1 + 1", "c2": "print(1)"}
    check_fresh(parse_execute({"cell_id": "c1", "document_id": DOC}), sources)
    body: dict[str, Any] = {"code": "print(1)", "metadata": {"cell_id": "c2", "document_id": DOC}}
    check_fresh(parse_execute(body), sources)
    body = {"document_id": DOC, "cells": [{"cell_id": "c1", "source_hash": "3531899427"}]}
    check_fresh(parse_execute(body), sources)


def test_stale_code_or_hash_is_a_conflict() -> None:
    sources = {"c1": "1 + 2", "c2": "x"}
    body: dict[str, Any] = {"code": "1 + 1", "metadata": {"cell_id": "c1", "document_id": DOC}}
    with pytest.raises(StaleSource) as caught:
        check_fresh(parse_execute(body), sources)
    assert caught.value.cell_id == "c1"
    body = {
        "document_id": DOC,
        "cells": [
            {"cell_id": "c2", "source_hash": source_hash("x")},
            {"cell_id": "c1", "source_hash": "3531899427"},
        ],
    }
    with pytest.raises(StaleSource, match="'c1'"):
        check_fresh(parse_execute(body), sources)


def test_a_missing_cell_is_unknown() -> None:
    with pytest.raises(UnknownCell):
        check_fresh(parse_execute({"cell_id": "gone", "document_id": DOC}), {"c1": "x"})
    with pytest.raises(UnknownCell):
        check_fresh(parse_execute({"cell_id": "md", "document_id": DOC}), {"md": None})

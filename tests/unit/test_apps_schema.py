"""An app's parameters schema: inferred from the ``parameters`` cell, overridden by metadata,
and what callers submit checked against it."""

from __future__ import annotations

from typing import Any

import pytest

from collab_server.apps.schema import app_schema, check_parameters, infer_schema, tagged_index
from collab_server.core.errors import Unprocessable

PARAMETERS = """\
n = 3  # how many rows
rate: float = 0.5
name = "world"
flag = True
items = [1, 2]
options = {"a": 1}
day = "2024-01-01"  # first day
computed = len("ab")
nothing = None
"""


def notebook(parameters: str = PARAMETERS, metadata: dict[str, Any] | None = None) -> dict:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
            **(metadata or {}),
        },
        "cells": [
            {"cell_type": "code", "id": "a", "source": "import math", "metadata": {},
             "outputs": [], "execution_count": None},
            {"cell_type": "code", "id": "b", "source": parameters,
             "metadata": {"tags": ["parameters"]}, "outputs": [], "execution_count": None},
        ],
    }  # fmt: skip


def test_types_defaults_and_help_comments_are_inferred():
    props = infer_schema(notebook())["properties"]
    assert props["n"] == {"title": "n", "type": "integer", "default": 3,
                          "description": "how many rows"}  # fmt: skip
    assert props["rate"]["type"] == "number" and props["rate"]["default"] == 0.5
    assert props["name"]["type"] == "string" and props["name"]["default"] == "world"
    assert props["flag"]["type"] == "boolean" and props["flag"]["default"] is True
    assert props["items"] == {"title": "items", "type": "array", "default": [1, 2]}
    assert props["options"]["type"] == "object" and props["options"]["default"] == {"a": 1}
    assert props["day"]["description"] == "first day"
    # An expression is the notebook's to compute: no type, no default.
    assert props["computed"] == {"title": "computed"}
    assert props["nothing"] == {"title": "nothing", "default": None}
    assert list(props) == ["n", "rate", "name", "flag", "items", "options", "day",
                           "computed", "nothing"]  # fmt: skip


def test_an_annotated_float_with_an_integer_default_stays_a_number():
    props = infer_schema(notebook("x: float = 2\n"))["properties"]
    assert props["x"]["type"] == "number" and props["x"]["default"] == 2.0


def test_no_parameters_cell_means_no_parameters():
    nb = notebook()
    nb["cells"][1]["metadata"] = {}
    assert infer_schema(nb)["properties"] == {}
    assert tagged_index(nb, "parameters") == -1


def test_metadata_overrides_property_by_property():
    override = {
        "title": "Report",
        "properties": {
            "name": {"enum": ["world", "moon"], "description": "Who to greet"},
            "n": {"minimum": 1, "maximum": 10},
            "day": {"format": "date"},
        },
    }
    schema = app_schema(notebook(metadata={"collab": {"parameters": override}}))
    assert schema["title"] == "Report"
    assert schema["properties"]["name"] == {
        "title": "name", "type": "string", "default": "world", "enum": ["world", "moon"],
        "description": "Who to greet",
    }  # fmt: skip
    assert schema["properties"]["n"]["maximum"] == 10
    assert schema["properties"]["n"]["description"] == "how many rows"
    assert schema["properties"]["day"]["format"] == "date"
    with pytest.raises(Unprocessable, match='"name"'):
        check_parameters(schema, {"name": "mars"})
    with pytest.raises(Unprocessable, match='"n"'):
        check_parameters(schema, {"n": 11})


def test_an_invalid_override_is_refused_with_a_reason():
    bad = {"collab": {"parameters": {"properties": {"n": {"type": "integr"}}}}}
    with pytest.raises(Unprocessable, match="not a valid JSON Schema"):
        app_schema(notebook(metadata=bad))


def test_submitted_parameters_are_checked():
    schema = app_schema(notebook())
    ok = {"n": 5, "rate": 1, "name": "x", "flag": False, "items": [], "options": {}}
    assert check_parameters(schema, ok) == ok
    assert check_parameters(schema, None) == {}
    with pytest.raises(Unprocessable, match=r'Parameter "n": .*integer'):
        check_parameters(schema, {"n": "five"})
    with pytest.raises(Unprocessable, match='"flag"'):
        check_parameters(schema, {"flag": 1})
    with pytest.raises(Unprocessable, match='"n"'):
        check_parameters(schema, {"n": True})  # a boolean is not a number here
    with pytest.raises(Unprocessable, match='Unknown parameter "zz"'):
        check_parameters(schema, {"zz": 1, "n": 1})
    with pytest.raises(Unprocessable, match="JSON object"):
        check_parameters(schema, [1])
    # Parameters of no declared type take any JSON value.
    assert check_parameters(schema, {"computed": [1, {"a": None}]})

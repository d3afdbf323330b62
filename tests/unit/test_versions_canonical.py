"""Canonical form, content ids, output stripping and validation of notebooks."""

from __future__ import annotations

import copy
import json

import pytest

from collab_server.versions.canonical import (
    InvalidNotebook,
    canonical_json,
    content_id,
    strip_outputs,
    validate,
)


def notebook() -> dict:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3"},
            "collab": {"comments": {"schemaVersion": 1, "threads": [{"id": "t1"}]}},
        },
        "cells": [
            {"id": "a", "cell_type": "markdown", "metadata": {}, "source": "# Title\nText é"},
            {
                "id": "b",
                "cell_type": "code",
                "metadata": {"tags": ["x"]},
                "execution_count": 3,
                "source": "x = 1\nprint(x)\n",
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": "1\n"},
                    {
                        "output_type": "execute_result",
                        "execution_count": 3,
                        "metadata": {},
                        "data": {"text/plain": "1\n2", "application/json": {"a": [1, 2]}},
                    },
                ],
            },
        ],
    }


def as_on_disk(nb: dict) -> dict:
    """The same notebook as nbformat writes it: lines split into lists, keys in another order."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        cell["source"] = cell["source"].splitlines(True)
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = out["text"].splitlines(True)
            if "data" in out:
                out["data"]["text/plain"] = out["data"]["text/plain"].splitlines(True)
    reordered = json.loads(json.dumps(nb, sort_keys=True))
    return dict(reversed(list(reordered.items())))


def test_canonical_form_is_stable_across_key_order_and_split_lines():
    nb = notebook()
    disk = as_on_disk(nb)
    assert disk["cells"][1]["source"] == ["x = 1\n", "print(x)\n"]
    assert canonical_json(disk) == canonical_json(nb)
    assert content_id(disk) == content_id(nb)
    # Compact, sorted, UTF-8 (not escaped), source as one string, JSON MIME data untouched.
    text = canonical_json(nb).decode()
    assert text.startswith('{"cells":[{"cell_type":"markdown","id":"a"')
    assert "é" in text
    assert '"application/json":{"a":[1,2]}' in text
    assert len(content_id(nb)) == 64


def test_canonical_form_keeps_comments_and_minor_version_as_given():
    nb = notebook()
    nb["nbformat_minor"] = 4
    for cell in nb["cells"]:
        del cell["id"]
    parsed = json.loads(canonical_json(nb))
    assert parsed["nbformat_minor"] == 4
    assert all("id" not in c for c in parsed["cells"])  # no ids invented
    assert parsed["metadata"]["collab"]["comments"]["threads"] == [{"id": "t1"}]
    changed = copy.deepcopy(nb)
    changed["metadata"]["collab"]["comments"]["threads"].append({"id": "t2"})
    assert content_id(changed) != content_id(nb)


def test_content_id_does_not_change_its_input():
    disk = as_on_disk(notebook())
    before = copy.deepcopy(disk)
    content_id(disk)
    strip_outputs(disk)
    assert disk == before


def test_strip_outputs_clears_outputs_and_execution_counts():
    stripped = strip_outputs(notebook())
    code = stripped["cells"][1]
    assert code["outputs"] == [] and code["execution_count"] is None
    assert code["source"] == "x = 1\nprint(x)\n" and code["metadata"] == {"tags": ["x"]}
    assert stripped["cells"][0] == notebook()["cells"][0]
    validate(stripped)


def test_valid_notebooks_pass():
    validate(notebook())
    validate(as_on_disk(notebook()))
    old = notebook()
    old["nbformat_minor"] = 4
    for cell in old["cells"]:
        del cell["id"]
    validate(old)  # 4.4 has no cell ids


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda nb: nb.update(nbformat=3), "only nbformat 4 notebooks are accepted"),
        (lambda nb: nb.pop("cells"), "no list of cells"),
        (lambda nb: nb["cells"][1].pop("metadata"), "at /cells/1: 'metadata' is a required"),
        (
            lambda nb: nb["cells"][1].update(execution_count="three"),
            "at /cells/1/execution_count: 'three' is not of type",
        ),
        (lambda nb: nb["cells"][0].update(cell_type="picture"), "at /cells/0: not a valid item"),
        (lambda nb: nb.pop("metadata"), "'metadata' is a required property"),
    ],
)
def test_invalid_notebooks_are_rejected_with_a_message(change, message):
    nb = notebook()
    change(nb)
    with pytest.raises(InvalidNotebook) as caught:
        validate(nb)
    assert message in str(caught.value)


def test_invalid_message_does_not_echo_large_content():
    nb = notebook()
    nb["cells"][1]["outputs"][0] = {"output_type": "nonsense", "secret": "x" * 100_000}
    with pytest.raises(InvalidNotebook) as caught:
        validate(nb)
    assert len(str(caught.value)) < 300
    assert "xxxx" not in str(caught.value)


def test_not_a_notebook_at_all():
    for value in ([], "text", None, 3):
        with pytest.raises(InvalidNotebook, match="must be a JSON object"):
            validate(value)

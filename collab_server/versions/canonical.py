"""The canonical form of a notebook: the bytes a version's id (its content address) is hashed from.

This module is pure. It owns:

* :func:`canonical_json` — nbformat 4 JSON with sorted keys, compact separators, UTF-8 (not
  ASCII-escaped), and every multi-line string joined (``source``, stream ``text``, text-like
  MIME data, attachments), which is how nbformat holds a notebook in memory and the opposite of
  how it writes one to disk. Nothing else is changed: ``nbformat_minor`` stays as given (no
  upgrade, no cell ids invented) and metadata — including the comments under
  ``metadata.collab`` — is kept exactly as the file has it.
* :func:`content_id` — the sha256 of those bytes, in hex.
* :func:`strip_outputs` — nbgallery's rule before a notebook is shared: outputs and execution
  counts of code cells cleared.
* :func:`validate` — ``nbformat.validate`` turned into :class:`InvalidNotebook` with a message
  that says what is wrong and where (for a 422).
"""

from __future__ import annotations

import copy
import hashlib
import json
import warnings
from typing import Any

Notebook = dict[str, Any]
Cell = dict[str, Any]


class InvalidNotebook(ValueError):
    """A document that is not a valid nbformat 4 notebook; ``str()`` says why."""


def _is_json_mime(mime: str) -> bool:
    # Same rule as nbformat: JSON MIME data is structured, never a list of lines.
    return mime == "application/json" or (
        mime.startswith("application/") and mime.endswith("+json")
    )


def _joined_bundle(bundle: Any) -> Any:
    """``bundle`` with its multi-line strings joined; the same object if there were none."""
    if not isinstance(bundle, dict):
        return bundle
    split = [
        mime
        for mime, value in bundle.items()
        if not _is_json_mime(mime)
        and isinstance(value, list)
        and all(isinstance(line, str) for line in value)
    ]
    if not split:
        return bundle
    return {m: "".join(v) if m in split else v for m, v in bundle.items()}


def _joined_output(output: Any) -> Any:
    if not isinstance(output, dict):
        return output
    if output.get("output_type") in ("execute_result", "display_data"):
        data = _joined_bundle(output.get("data"))
        return output if data is output.get("data") else {**output, "data": data}
    if isinstance(output.get("text"), list):
        return {**output, "text": "".join(output["text"])}
    return output


def shared_cell(cell: Any) -> Any:
    """``cell`` with its multi-line strings joined (nbformat's ``rejoin_lines``), as a new
    top-level dict that may share nested values with ``cell``: read it, do not mutate it."""
    if not isinstance(cell, dict):
        return cell
    out = dict(cell)
    if isinstance(out.get("source"), list):
        out["source"] = "".join(out["source"])
    attachments = out.get("attachments")
    if isinstance(attachments, dict):
        out["attachments"] = {k: _joined_bundle(v) for k, v in attachments.items()}
    outputs = out.get("outputs")
    if isinstance(outputs, list):
        out["outputs"] = [_joined_output(o) for o in outputs]
    return out


def shared_view(nb: Notebook) -> Notebook:
    """``nb`` in canonical shape without copying what is already canonical (fast on large
    notebooks): nested values may be shared with ``nb``, so read it, do not mutate it."""
    out = {k: v for k, v in nb.items() if k != "cells"}
    out["cells"] = [shared_cell(c) for c in nb.get("cells") or ()]
    return out


def normalize(nb: Notebook) -> Notebook:
    """A copy of ``nb`` in canonical shape (see the module docstring); ``nb`` is not changed."""
    return copy.deepcopy(shared_view(nb))


def dumps(value: Any) -> bytes:
    """Canonical JSON bytes of any JSON value (no normalisation: see :func:`canonical_json`)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(nb: Notebook) -> bytes:
    """The canonical JSON bytes of a notebook."""
    return dumps(shared_view(nb))


def content_id(nb: Notebook) -> str:
    """The content address of a notebook: sha256 of its canonical JSON, in hex."""
    return sha256(canonical_json(nb))


def strip_outputs(nb: Notebook) -> Notebook:
    """A copy of ``nb`` with every code cell's outputs and execution count cleared."""
    view = shared_view(nb)
    # Cleared on the view's own top-level cell dicts, then copied: no output is ever copied.
    for cell in view["cells"]:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return copy.deepcopy(view)


def _where(path: Any) -> str:
    parts = [str(p) for p in path]
    return "/" + "/".join(parts) if parts else "the top level"


def validate(nb: Any) -> None:
    """Raise :class:`InvalidNotebook` unless ``nb`` is a valid nbformat 4 notebook.

    The schema is the one of the notebook's own ``nbformat_minor`` (nbformat picks it), so a
    4.4 notebook without cell ids is valid and a 4.5 one must have them.
    """
    if not isinstance(nb, dict):
        raise InvalidNotebook("a notebook must be a JSON object")
    major = nb.get("nbformat")
    if major != 4:
        raise InvalidNotebook(f"only nbformat 4 notebooks are accepted (got nbformat {major!r})")
    if not isinstance(nb.get("nbformat_minor"), int):
        raise InvalidNotebook("nbformat_minor must be an integer")
    if not isinstance(nb.get("cells"), list):
        raise InvalidNotebook("the notebook has no list of cells")
    import nbformat  # a heavy import: only the validating path pays for it
    from nbformat.validator import ValidationError

    try:
        # On a copy: nbformat repairs missing or duplicate cell ids in place (with a warning),
        # which it accepts as valid; so do we, and the caller's notebook is left alone.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nbformat.validate(normalize(nb))  # a deep copy: nbformat may repair it in place
    except ValidationError as err:
        path = list(getattr(err, "absolute_path", None) or getattr(err, "path", None) or ())
        raise InvalidNotebook(f"invalid notebook at {_where(path)}: {_reason(err)}") from None


_MAX_REASON = 200


def _reason(err: Any) -> str:
    # jsonschema's messages quote the offending value, which may be megabytes of output (or
    # data a person may not see): say what kind of thing is wrong instead of echoing it.
    validator = getattr(err, "validator", None)
    instance = getattr(err, "instance", None)
    if validator in ("oneOf", "anyOf"):
        kind = (
            instance.get("cell_type") or instance.get("output_type")
            if isinstance(instance, dict)
            else None
        )
        return f"not a valid item ({kind!r})" if kind else "not a valid item"
    message = str(getattr(err, "message", None) or str(err).splitlines()[0])
    return message if len(message) <= _MAX_REASON else message[: _MAX_REASON - 1] + "…"

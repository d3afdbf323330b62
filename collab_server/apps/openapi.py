"""An app described as an HTTP API (OpenAPI 3.1), from its parameters schema (pure).

``GET /api/collab/apps/{id}/openapi.json``: what a tool needs to call the notebook as a
service — start a run with parameters, wait for it, read its result — as Kernel Gateway's
HTTP mode and jupyrest describe theirs.
"""

from __future__ import annotations

import copy
from typing import Any

_RUN = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "app": {"type": "string"},
        "status": {"enum": ["queued", "running", "succeeded", "failed", "timed_out", "cancelled"]},
        "parameters": {"type": "object"},
        "user": {"type": "string"},
        "version": {"type": "integer"},
        "created": {"type": "string", "format": "date-time"},
        "started": {"type": ["string", "null"], "format": "date-time"},
        "ended": {"type": ["string", "null"], "format": "date-time"},
        "result": {"description": "The output of the cell tagged `result` (JSON, else text)"},
        "error": {"type": ["object", "null"]},
        "progress": {
            "type": ["object", "null"],
            "properties": {"cell": {"type": "integer"}, "of": {"type": "integer"}},
        },
    },
}

_MESSAGE = {
    "description": "Refused",
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"message": {"type": "string"}}}
        }
    },
}


def openapi(app: dict[str, Any], base_url: str = "/") -> dict[str, Any]:
    """The OpenAPI document of one app (``app`` is its description: id, title, …)."""
    pid = app["id"]
    parameters = copy.deepcopy(app["parameters"])
    run_ref = {"$ref": "#/components/schemas/Run"}
    run_response = {"content": {"application/json": {"schema": run_ref}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": app.get("title") or pid,
            "description": app.get("description") or "",
            "version": str(app.get("version", 1)),
        },
        "servers": [{"url": base_url.rstrip("/") or "/"}],
        "components": {
            "schemas": {"Parameters": parameters, "Run": _RUN},
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"token": []}],
        "paths": {
            f"/api/collab/apps/{pid}/runs": {
                "post": {
                    "summary": "Run the app with parameters",
                    "parameters": [
                        {
                            "name": "wait",
                            "in": "query",
                            "required": False,
                            "description": "Seconds to wait for the run to end (200 if it did)",
                            "schema": {"type": "number", "minimum": 0},
                        }
                    ],
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "parameters": {"$ref": "#/components/schemas/Parameters"}
                                    },
                                }
                            }
                        }
                    },
                    "responses": {
                        "200": {"description": "The run ended within `wait`", **run_response},
                        "202": {
                            "description": "Queued: poll /api/collab/runs/{id}",
                            **run_response,
                        },
                        "422": {**_MESSAGE, "description": "Invalid parameters (the field named)"},
                        "429": {**_MESSAGE, "description": "Too many runs under way"},
                    },
                }
            },
            "/api/collab/runs/{run_id}": {
                "get": {
                    "summary": "A run: status, progress, result",
                    "parameters": [
                        {
                            "name": "run_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": {"description": "The run", **run_response}},
                }
            },
        },
    }

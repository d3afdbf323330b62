"""Stock JupyterLab runs cells through the server in our rooms.

With the ``[lab]`` extra, jupyter-docprovider's cell executor is used when the page config
option ``serverSideExecution`` is ``"true"``: JupyterLab then sends
``POST /api/kernels/{kernel_id}/execute`` with ``{"cell_id", "document_id"}`` instead of
running code over the kernel websocket, and the outputs arrive through the shared document.

jupyterlab_server lets a server extension change the page config with the web application
setting ``page_config_hook(handler, page_config) -> page_config``; this one keeps any hook
already set and adds the option.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PageConfigHook = Callable[[Any, dict[str, Any]], dict[str, Any]]

HOOK_SETTING = "page_config_hook"


def server_side_execution_hook(previous: PageConfigHook | None) -> PageConfigHook:
    def hook(handler: Any, page_config: dict[str, Any]) -> dict[str, Any]:
        if previous is not None:
            page_config = previous(handler, page_config)
        page_config["serverSideExecution"] = "true"
        return page_config

    return hook

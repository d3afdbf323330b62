"""jupyter_server checkpoints served from the version history (stock JupyterLab's
"Save and Create Checkpoint" and "Revert Notebook to Checkpoint").

For notebooks, ``/api/contents/{path}/checkpoints``:

* ``GET`` lists the file's versions (newest first, one entry per content id, at most
  :data:`MAX_LISTED`), ``{"id": <version id>, "last_modified"}``;
* ``POST`` cuts a ``save`` version of the current state (JupyterLab sends it right after each
  save: that is the "explicit save" version);
* ``POST …/checkpoints/{id}`` restores: a forward edit of the live room when the notebook is
  open (everyone keeps their document), else the file is written; a ``restore`` version either
  way;
* ``DELETE …/checkpoints/{id}`` does nothing: the history is immutable (retention thins it,
  deleting the notebook forgets it). jupyter_server also calls it for every checkpoint when a
  file is deleted, so it must not fail.

Other files keep jupyter_server's own file checkpoints (the ``fallback``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jupyter_server.services.contents.checkpoints import AsyncCheckpoints
from tornado import web

from ..core.errors import CollabError
from .service import VersionService

MAX_LISTED = 100


def _is_notebook(path: str) -> bool:
    return path.strip("/").endswith(".ipynb")


class VersionCheckpoints(AsyncCheckpoints):
    """Checkpoints of notebooks are versions; other files use ``fallback``."""

    def __init__(self, service: VersionService, fallback: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service
        self.fallback = fallback

    @staticmethod
    def _model(version: Any) -> dict[str, Any]:
        created = datetime.fromisoformat(version.created.replace("Z", "+00:00"))
        return {"id": version.id, "last_modified": created}

    async def _guard(self, work: Any) -> Any:
        try:
            return await work
        except CollabError as e:
            raise web.HTTPError(e.status, e.message) from e

    async def create_checkpoint(self, contents_mgr: Any, path: str) -> dict[str, Any]:
        if not _is_notebook(path):
            return dict(await self.fallback.create_checkpoint(contents_mgr, path))
        version = await self._guard(self.service.checkpoint(path))
        return self._model(version)

    async def list_checkpoints(self, path: str) -> list[dict[str, Any]]:
        if not _is_notebook(path):
            return list(await self.fallback.list_checkpoints(path))
        versions = await self._guard(self.service.versions_of(path, MAX_LISTED))
        seen: set[str] = set()
        out = []
        for version in versions:
            if version.id not in seen:
                seen.add(version.id)
                out.append(self._model(version))
        return out

    async def restore_checkpoint(self, contents_mgr: Any, checkpoint_id: str, path: str) -> None:
        if not _is_notebook(path):
            await self.fallback.restore_checkpoint(contents_mgr, checkpoint_id, path)
            return
        await self._guard(self.service.restore_checkpoint(path, checkpoint_id))

    async def delete_checkpoint(self, checkpoint_id: str, path: str) -> None:
        if not _is_notebook(path):
            await self.fallback.delete_checkpoint(checkpoint_id, path)

    async def rename_checkpoint(self, checkpoint_id: str, old_path: str, new_path: str) -> None:
        # A notebook's versions follow its file id, which follows renames.
        if not _is_notebook(old_path):
            await self.fallback.rename_checkpoint(checkpoint_id, old_path, new_path)

    async def delete_all_checkpoints(self, path: str) -> None:
        if not _is_notebook(path):
            await self.fallback.delete_all_checkpoints(path)

    async def rename_all_checkpoints(self, old_path: str, new_path: str) -> None:
        if not _is_notebook(old_path):
            await self.fallback.rename_all_checkpoints(old_path, new_path)

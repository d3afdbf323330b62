"""The change-requests REST API (DESIGN section 11). Thin: rights, parsing, then the store
(:mod:`.changes`), the merge (:mod:`.merge`) and the versions' forward edit.

Under ``/api/collab/notebooks/{path}/change-requests``:

* ``GET`` ``?status=open|accepted|declined|cancelled|all`` (``read``) → ``{"change_requests":
  [...], "open"}``: people who may ``write`` see everyone's, anyone else only their own;
  ``open`` counts what the caller sees.
* ``POST`` ``{"message", "from": "copy.ipynb"}`` or ``{"message", "notebook": {…},
  "base_version"?}`` (``read`` on the notebook, and on the copy) → 201 the request. Its base
  is what the proposal started from: the version a copy was cloned from when it is a copy of
  this notebook (or ``base_version`` for a draft), else the notebook now. Outputs are dropped.
* ``GET  …/{id}`` (``write``, or the proposer) → the request with ``changes`` (per cell, with
  a line diff), ``diff`` (nbdime's format, base → proposal, as the versions' diff) and
  ``base`` (the notebook the diff applies to, outputs stripped),
  ``stale`` (the notebook changed since the base) and ``conflicts`` (cells that keep it from
  being accepted now: then accepting answers 409).
* ``POST …/{id}/accept`` ``{"comment"?}`` (``write``) → the request, ``accepted``, with the
  ``version`` recorded: the live room gets the changes as one forward edit (as a restore
  does: no reload, concurrent typing kept); when the notebook changed since the base, the
  changes are merged cell by cell (:func:`.merge.three_way`), or refused with 409 naming the
  cells when both sides changed the same ones. The version is a labelled ``save``
  (``Change request 3 from …``; authors the proposer and the person accepting), so retention
  keeps it; the state before is kept as an ``auto`` version.
* ``POST …/{id}/decline`` ``{"comment"?}`` (``write``) → the request, ``declined``.
* ``POST …/{id}/cancel`` (the proposer) → the request, ``cancelled``.

Rights are asked before anything is looked up. A request the caller may not see answers 404
like one that does not exist; deciding a request that is no longer open answers 409.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from ..auth.jupyter import is_allowed
from ..core.errors import Conflict, Forbidden, Invalid, NotFound, Unprocessable
from ..core.http import json_object, string_field, whole_number
from ..versions import canonical
from ..versions.diff import diff_notebooks
from ..versions.restore import keep_comments
from .changes import MAX_MESSAGE, MAX_NOTEBOOK_BYTES, STATUSES, ChangeRequest, NotebookHistory
from .handlers import GalleryHandler
from .merge import MergeConflict, same_content, summary, three_way

MAX_LIST = 200


def _proposal(nb: dict[str, Any]) -> dict[str, Any]:
    """What a request stores of a notebook: no outputs, no comment threads, no cell marked
    ``trusted`` (jupyter_server's mark when it reads a file, not content)."""
    out = keep_comments(canonical.strip_outputs(nb), {})
    for cell in out.get("cells") or ():
        if isinstance(cell, dict) and isinstance(cell.get("metadata"), dict):
            cell["metadata"].pop("trusted", None)
    return out


class ChangeRequestsHandler(GalleryHandler):
    @property
    def editor(self) -> NotebookHistory:
        editor = self.gallery.history
        if editor is None:
            raise Unprocessable("Change requests need the versions feature, which is off")
        return editor

    @property
    def author(self) -> dict[str, str]:
        user = self.current_user
        name = getattr(user, "display_name", "") or getattr(user, "name", "") or self.person
        return {"id": self.person, "name": str(name)}

    async def may(self, action: str, api_path: str) -> bool:
        return await is_allowed(self, action, f"contents:{api_path}")

    async def target(self, path: str, action: str) -> tuple[str, str]:
        """(API path, file id) of the notebook, the caller holding ``action`` on it."""
        try:
            api_path = await self.authorize(path, action)
        except web.HTTPError as e:
            if e.status_code == 403 and action == "write":
                raise Forbidden(
                    "Only people who may edit this notebook decide on its change requests"
                ) from None
            raise
        gallery = self.gallery
        file_id = await gallery.read(lambda: gallery.reader_file_ids.get_id(api_path))
        if file_id is None:  # never opened nor indexed yet: the versions give it an id (or 404)
            _, file_id, _ = await self.editor.current(api_path)
        return api_path, file_id

    async def change_request(self, file_id: str, number: str, may_write: bool) -> ChangeRequest:
        """The request, if the caller may see it (else 404, as if there were none)."""
        try:
            n = whole_number(number, "number", low=1)
        except Invalid:
            raise NotFound(f"No change request {number[:20]!r} on this notebook") from None
        gallery = self.gallery
        found = await gallery.read(lambda: gallery.reader_changes.get(file_id, n))
        if found is None or not (may_write or found.proposer == self.person):
            raise NotFound(f"No change request {n} on this notebook")
        return found

    def body(self) -> dict[str, Any]:
        return json_object(self) if self.request.body.strip() else {}


class ChangeRequestListHandler(ChangeRequestsHandler):
    async def get(self, path: str) -> None:
        api_path, file_id = await self.target(path, "read")
        status: str | None = self.get_query_argument("status", "open")
        if status == "all":
            status = None
        elif status not in STATUSES:
            raise Invalid(f'"status" is one of {", ".join(STATUSES)} or all')
        writer = await self.may("write", api_path)
        proposer = None if writer else self.person
        gallery = self.gallery
        found = await gallery.read(
            lambda: gallery.reader_changes.listing(file_id, status, proposer, MAX_LIST)
        )
        items = [r.to_json(api_path) for r in found]
        self.finish({"change_requests": items, "open": sum(r.status == "open" for r in found)})

    async def post(self, path: str) -> None:
        api_path, file_id = await self.target(path, "read")
        body = self.body()
        message = string_field(body, "message", max_length=MAX_MESSAGE).strip()
        if not message:
            raise Invalid('Say what the change does in "message"')
        editor, gallery = self.editor, self.gallery
        if "from" in body:
            source = string_field(body, "from", max_length=4096)
            copy_path = await self.authorize(source, "read")
            if copy_path == api_path:
                raise Invalid('"from" names the notebook itself; name your copy of it')
            _, copy_id, proposed = await editor.current(copy_path)
            base = None
            lineage = editor.cloned_from(copy_id)
            if lineage and lineage.get("file_id") == file_id and lineage.get("version"):
                base = await editor.version_content(file_id, str(lineage["version"]))
            kind = "copy"
        elif "notebook" in body:
            proposed = body["notebook"]
            try:
                canonical.validate(proposed)
            except canonical.InvalidNotebook as e:
                raise Unprocessable(f'"notebook" is not a valid notebook: {e}') from e
            base = None
            version = body.get("base_version")
            if version is not None:
                if not isinstance(version, str):
                    raise Invalid('"base_version" must be a version id')
                base = await editor.version_content(file_id, version)
                if base is None:
                    raise NotFound(f"No version {version!r} of this notebook")
            kind = "draft"
        else:
            raise Invalid(
                'Send "from" (the path of your copy) or "notebook" (the changed notebook)'
            )
        if base is None:
            _, _, base = await editor.current(api_path)
        base, proposed = _proposal(base), _proposal(proposed)
        if len(canonical.canonical_json(proposed)) > MAX_NOTEBOOK_BYTES:
            raise Invalid("The proposed notebook is too large for a change request")
        if same_content(base, proposed):
            raise Invalid("Nothing to propose: the copy has no changes to the notebook's cells")
        author = self.author
        created = await gallery.write(
            lambda: gallery.changes.create(file_id, author, message, kind, base, proposed)
        )
        self.set_status(201)
        self.finish(created.to_json(api_path))


class ChangeRequestHandler(ChangeRequestsHandler):
    async def get(self, path: str, number: str) -> None:
        api_path, file_id = await self.target(path, "read")
        found = await self.change_request(file_id, number, await self.may("write", api_path))
        gallery = self.gallery
        base, proposed = await gallery.read(
            lambda: gallery.reader_changes.contents(found.file_id, found.id)
        )
        out = found.to_json(api_path)
        out["changes"] = summary(base, proposed)
        out["diff"] = diff_notebooks(base, proposed)
        out["base"] = base  # what the diff's keys index (the page draws the diff over it)
        out["stale"], out["conflicts"] = False, []
        if found.status == "open":
            _, _, current = await self.editor.current(api_path)
            out["stale"] = not same_content(base, current)
            if out["stale"]:
                try:
                    three_way(base, proposed, current)
                except MergeConflict as e:
                    out["conflicts"] = e.cells or ["metadata"]
        self.finish(out)


class ChangeRequestActionHandler(ChangeRequestsHandler):
    # Requests being accepted now (the edit is applied before the request is marked): a
    # second accept, a decline or a cancel meanwhile answers 409 instead of racing it.
    _accepting: set[tuple[str, int]] = set()

    async def post(self, path: str, number: str, action: str) -> None:
        if action == "cancel":
            api_path, file_id = await self.target(path, "read")
            writer = await self.may("write", api_path)
            found = await self.change_request(file_id, number, writer)
            if found.proposer != self.person:
                raise Forbidden(
                    "Only the person who proposed a change cancels it; decline it instead"
                )
            result = await self._decide(file_id, found, "cancelled", "")
            self.finish(result.to_json(api_path))
            return
        api_path, file_id = await self.target(path, "write")
        found = await self.change_request(file_id, number, True)
        comment = string_field(self.body(), "comment", required=False, max_length=MAX_MESSAGE)
        if found.status != "open":
            raise Conflict(f"This change request was already {found.status}")
        if action == "decline":
            result = await self._decide(file_id, found, "declined", comment.strip())
        else:
            result = await self._accept(api_path, file_id, found, comment.strip())
        self.finish(result.to_json(api_path))

    async def _decide(
        self,
        file_id: str,
        found: ChangeRequest,
        status: str,
        comment: str,
        version: str | None = None,
    ) -> ChangeRequest:
        if status != "accepted" and (file_id, found.id) in self._accepting:
            raise Conflict("Someone is accepting this change request right now")
        gallery, me = self.gallery, self.author
        return await gallery.write(
            lambda: gallery.changes.decide(file_id, found.id, status, me, comment, version)
        )

    async def _accept(
        self, api_path: str, file_id: str, found: ChangeRequest, comment: str
    ) -> ChangeRequest:
        key = (file_id, found.id)
        if key in self._accepting:
            raise Conflict("Someone is accepting this change request right now")
        self._accepting.add(key)
        try:
            gallery = self.gallery
            base, proposed = await gallery.read(
                lambda: gallery.reader_changes.contents(found.file_id, found.id)
            )

            def merged(live: dict[str, Any]) -> dict[str, Any]:
                try:
                    return three_way(base, proposed, live)
                except MergeConflict as e:
                    raise Conflict(str(e)) from e

            proposer = {"id": found.proposer, "name": found.proposer_name}
            label = f"Change request {found.id} from {found.proposer_name}: {found.message}"
            version = await self.editor.apply_edit(
                api_path, merged, kind="save", authors=[proposer, self.author],
                label=label[:200],
            )  # fmt: skip
            return await self._decide(file_id, found, "accepted", comment, str(version.id))
        finally:
            self._accepting.discard(key)


def change_request_handlers() -> list[tuple[str, type[web.RequestHandler]]]:
    base = r"/api/collab/notebooks/(.+?\.ipynb)/change-requests"
    return [
        (rf"{base}/?", ChangeRequestListHandler),
        (rf"{base}/([^/]+)/(accept|decline|cancel)", ChangeRequestActionHandler),
        (rf"{base}/([^/]+)", ChangeRequestHandler),
    ]

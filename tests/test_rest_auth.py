"""Every jupyter_server REST handler asks the provider, with the concrete resource."""

from __future__ import annotations

import nbformat
import pytest


@pytest.fixture
def tenant_files(server):
    for folder in ("team-a", "team-b"):
        (server.root / folder).mkdir(exist_ok=True)
        nbformat.write(nbformat.v4.new_notebook(), server.root / folder / "doc.ipynb")


@pytest.mark.parametrize(
    ("token", "path", "status"),
    [
        ("tenant-a-token", "team-a/doc.ipynb", 200),
        ("tenant-a-token", "team-b/doc.ipynb", 403),
        ("tenant-a-token", "team-b", 403),
        ("viewer-token", "team-b/doc.ipynb", 200),
        ("forged-token", "team-a/doc.ipynb", 401),
    ],
)
async def test_contents_are_checked_per_path(server, tenant_files, token, path, status):
    async with server.client(token) as c:
        assert (await c.get(f"/api/contents/{path}")).status_code == status
        files = await c.get(f"/files/{path}") if path.endswith(".ipynb") else None
        if files is not None:
            assert files.status_code == status


async def test_viewer_cannot_write_over_rest(server, tenant_files):
    async with server.client("viewer-token") as c:
        r = await c.put(
            "/api/contents/team-a/doc.ipynb",
            json={"type": "notebook", "format": "json", "content": nbformat.v4.new_notebook()},
        )
        assert r.status_code == 403
        assert (await c.delete("/api/contents/team-a/doc.ipynb")).status_code == 403
    assert (server.root / "team-a" / "doc.ipynb").exists()


async def test_editor_can_write_over_rest(server, tenant_files):
    async with server.client("tenant-a-token") as c:
        r = await c.put(
            "/api/contents/team-a/new.ipynb",
            json={"type": "notebook", "format": "json", "content": nbformat.v4.new_notebook()},
        )
        assert r.status_code == 201
        r = await c.put(
            "/api/contents/team-b/new.ipynb",
            json={"type": "notebook", "format": "json", "content": nbformat.v4.new_notebook()},
        )
        assert r.status_code == 403
    assert not (server.root / "team-b" / "new.ipynb").exists()


@pytest.mark.parametrize(
    "route", ["/api/kernelspecs", "/api/kernels", "/api/sessions", "/api/config/x"]
)
async def test_server_resources_need_their_own_grant(server, route):
    # tenant-a holds a grant on one folder only: no kernels, sessions or server settings.
    async with server.client("tenant-a-token") as c:
        assert (await c.get(route)).status_code == 403
    async with server.client("admin-token") as c:
        assert (await c.get(route)).status_code == 200

"""``collab_server.client`` against a real server: typed DataFrames, permissions (a person of
team A never sees anything outside ``team-a/``), the activity roll-up, errors as the
documented exceptions, no token in any repr, message or traceback, the zero-configuration
path inside a kernel the server started, and the example notebook."""

from __future__ import annotations

import os
import pickle
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pandas as pd
import pytest

from collab_server.client import Client, ClientError, Forbidden, NotFound, TokenRefused
from collab_server.client import client as client_module
from collab_server.client.frames import dtypes
from support.notebooks import notebook_json
from support.server import ServerProcess

pytestmark = pytest.mark.timeout(120)

ADMIN, ALICE, RUNNER, TENANT = "admin-token", "alice-token", "runner-token", "tenant-a-token"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "client_recommender.ipynb"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path_factory.mktemp("client"),
        ["--GalleryService.scan_interval=0.3", "--GalleryService.health_delay=0.1"],
        # Gives kernels the starter's token: the zero-configuration path in a kernel.
        provider="support.providers.TokenInKernelProvider",
    ).start()
    yield process
    process.stop()


def http(srv: ServerProcess, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=srv.http_url, headers={"Authorization": f"token {token}"}, timeout=60
    )


def eventually(check: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.1)
    return found


def put(srv: ServerProcess, path: str, *cells: tuple[str, str]) -> None:
    (srv.root / path).parent.mkdir(parents=True, exist_ok=True)
    with http(srv, ADMIN) as c:
        r = c.put(
            f"/api/contents/{path}",
            json={"type": "notebook", "format": "json", "content": notebook_json(*cells)},
        )
        assert r.status_code in (200, 201), r.text


def run_cell(srv: ServerProcess, token: str, path: str, cell_id: str) -> httpx.Response:
    with http(srv, token) as c:
        r = c.post(f"/api/collab/kernels/{path}", json={})
        assert r.status_code in (200, 201), r.text
        state = r.json()
        return c.post(
            f"/api/kernels/{state['kernel']['id']}/execute",
            json={"cell_id": cell_id, "document_id": state["document_id"]},
        )


NOTEBOOKS = {
    "team-a/alpha.ipynb": [
        ("md", "# Alpha sales forecast\n\nForecasting sales with pandas."),
        ("code", "import pandas as pd\nimport numpy\nx = 1"),
    ],
    "team-a/beta.ipynb": [
        ("md", "# Beta sales report\n\nA report of sales by region."),
        ("code", "import json\ny = 2"),
    ],
    "secret/gamma.ipynb": [
        ("md", "# Gamma payroll\n\nSalaries of everyone, by person."),
        ("code", "import sqlite3\nz = 3"),
    ],
}


@pytest.fixture(scope="module")
def data(srv: ServerProcess) -> dict[str, Any]:
    """Three notebooks (one outside team A) with comments, views and runs."""
    for path, cells in NOTEBOOKS.items():
        put(srv, path, *cells)
    with http(srv, ADMIN) as c:
        eventually(
            lambda: c.get("/api/collab/search").json()["total"] == len(NOTEBOOKS),
            "the gallery indexed the notebooks",
        )
    with http(srv, ALICE) as c:
        for path in NOTEBOOKS:
            r = c.post(
                f"/api/collab/comments/{path}",
                json={"target": {"type": "cell", "cellId": "c1"}, "body": f"About {path}"},
            )
            assert r.status_code == 201, r.text
        for path in ("team-a/alpha.ipynb", "secret/gamma.ipynb"):
            assert c.post(f"/api/collab/notebooks/{path}/views").status_code == 204
    with http(srv, TENANT) as c:
        for path in ("team-a/alpha.ipynb", "team-a/beta.ipynb"):
            assert c.post(f"/api/collab/notebooks/{path}/views").status_code == 204
    # Rita runs code in alpha and in gamma: the execution log and runs in the activity.
    for path in ("team-a/alpha.ipynb", "secret/gamma.ipynb"):
        assert run_cell(srv, RUNNER, path, "c1").status_code == 200
    with http(srv, ADMIN) as c:
        eventually(
            lambda: sum(
                row["runs"] for row in c.get("/api/collab/activity").json()["activity"]
            ) == 2,
            "runs counted",
        )  # fmt: skip
    return {}


def test_dataframes_have_typed_columns(srv: ServerProcess, data: dict[str, Any]) -> None:
    with Client(srv.http_url, ADMIN) as client:
        notebooks = client.notebooks()
        assert dict(notebooks.dtypes.astype(str)) == dtypes(client_module.NOTEBOOK_COLUMNS)
        assert str(notebooks["updated"].dtype) == "datetime64[ns, UTC]"
        assert set(notebooks["path"]) == set(NOTEBOOKS)
        alpha = notebooks.set_index("path").loc["team-a/alpha.ipynb"]
        assert alpha["title"] == "Alpha sales forecast"
        assert (alpha["views"], alpha["runs"], alpha["owner"]) == (2, 1, "admin")

        comments = client.comments()
        assert dict(comments.dtypes.astype(str)) == dtypes(client_module.COMMENT_COLUMNS)
        assert len(comments) == 3
        row = comments[comments["path"] == "team-a/alpha.ipynb"].iloc[0]
        assert (row["target_type"], row["cell"], row["author"], row["status"]) == (
            "cell", "c1", "alice", "open",
        )  # fmt: skip
        assert bool(row["verified"]) and row["body"] == "About team-a/alpha.ipynb"
        assert len(client.comments("team-a/alpha.ipynb", status="resolved")) == 0

        executions = client.executions()
        assert dict(executions.dtypes.astype(str)) == dtypes(client_module.EXECUTION_COLUMNS)
        assert sorted(executions["path"]) == ["secret/gamma.ipynb", "team-a/alpha.ipynb"]
        assert set(executions["person"]) == {"rita"} and set(executions["status"]) == {"ok"}
        assert len(client.executions("team-a/alpha.ipynb", since="2000-01-01")) == 1
        assert len(client.executions("team-a/alpha.ipynb", since="2999-01-01")) == 0
        # A time in another zone means the same moment (compared in UTC).
        ended = executions.set_index("path").loc["team-a/alpha.ipynb", "ended"]
        second = pd.Timedelta(seconds=1)
        for moment, expected in ((ended - second, 1), (ended + second, 0)):
            local = moment.tz_convert("Asia/Kolkata").to_pydatetime()
            assert len(client.executions("team-a/alpha.ipynb", since=local)) == expected

        activity = client.activity()
        assert dict(activity.dtypes.astype(str)) == dtypes(client_module.ACTIVITY_COLUMNS)
        used = {(r.person, r.path): (r.views, r.runs) for r in activity.itertuples()}
        assert used == {
            ("alice", "team-a/alpha.ipynb"): (1, 0),
            ("alice", "secret/gamma.ipynb"): (1, 0),
            ("tenant-a", "team-a/alpha.ipynb"): (1, 0),
            ("tenant-a", "team-a/beta.ipynb"): (1, 0),
            ("rita", "team-a/alpha.ipynb"): (0, 1),
            ("rita", "secret/gamma.ipynb"): (0, 1),
        }
        assert len(client.activity(since="2999-01-01")) == 0
        assert len(client.activity(path="team-a/beta.ipynb")) == 1

        found = client.search("sales")
        assert dict(found.dtypes.astype(str)) == dtypes(client_module.SEARCH_COLUMNS)
        assert set(found["path"]) == {"team-a/alpha.ipynb", "team-a/beta.ipynb"}

        nb = client.notebook("team-a/alpha.ipynb")
        assert isinstance(nb, nbformat.NotebookNode) and nb.cells[1].source.startswith("import")
        assert client.packages(nb) == ["numpy", "pandas"]
        assert client.markdown_sources(nb)[0].startswith("# Alpha")
        assert client.code_sources(nb) == ["import pandas as pd\nimport numpy\nx = 1"]


def test_empty_frames_keep_their_columns(srv: ServerProcess, data: dict[str, Any]) -> None:
    with Client(srv.http_url, "viewer-token") as client:  # never viewed or ran anything
        activity = client.activity()
        assert len(activity) == 0
        assert dict(activity.dtypes.astype(str)) == dtypes(client_module.ACTIVITY_COLUMNS)


def test_a_team_a_person_sees_nothing_outside_team_a(
    srv: ServerProcess, data: dict[str, Any]
) -> None:
    with Client(srv.http_url, TENANT) as client:
        assert set(client.notebooks()["path"]) == {"team-a/alpha.ipynb", "team-a/beta.ipynb"}
        assert set(client.comments(status="all")["path"]) == {
            "team-a/alpha.ipynb", "team-a/beta.ipynb",
        }  # fmt: skip
        assert list(client.executions()["path"]) == ["team-a/alpha.ipynb"]
        assert set(client.search("payroll OR salaries OR sales")["path"]) <= {
            "team-a/alpha.ipynb", "team-a/beta.ipynb",
        }  # fmt: skip
        # Their own activity only (not Alice's or Rita's), and nothing of gamma.
        activity = client.activity()
        assert set(activity["person"]) == {"tenant-a"}
        assert set(activity["path"]) == {"team-a/alpha.ipynb", "team-a/beta.ipynb"}
        for call in (
            lambda: client.notebook("secret/gamma.ipynb"),
            lambda: client.comments("secret/gamma.ipynb"),
            lambda: client.executions("secret/gamma.ipynb"),
            lambda: client.activity(path="secret/gamma.ipynb"),
            lambda: client.star("secret/gamma.ipynb"),
            # 403 whether or not it exists: nobody learns which names exist.
            lambda: client.comments("secret/missing.ipynb"),
        ):
            with pytest.raises(PermissionError) as caught:
                call()
            assert isinstance(caught.value, Forbidden) and caught.value.status == 403
            assert "gamma" not in str(caught.value)


def test_writes_tag_star_and_comment(srv: ServerProcess, data: dict[str, Any]) -> None:
    with Client(srv.http_url, TENANT) as client:
        assert client.tag("team-a/beta.ipynb", "Reports") == ["reports"]
        assert client.star("team-a/beta.ipynb") == 1
        thread = client.comment("team-a/beta.ipynb", "Looks good", target="c0")
        assert thread["target"]["type"] == "cell" and thread["author"]["id"] == "tenant-a"
        mine = client.comments("team-a/beta.ipynb")
        assert "Looks good" in set(mine["body"])
        beta = client.notebooks().set_index("path").loc["team-a/beta.ipynb"]
        assert beta["tags"] == ["reports"] and beta["stars"] == 1
    with Client(srv.http_url, "viewer-token") as viewer, pytest.raises(Forbidden):
        viewer.tag("team-a/beta.ipynb", "x")  # tagging needs write


def test_errors_are_the_documented_exceptions(srv: ServerProcess, data: dict[str, Any]) -> None:
    with Client(srv.http_url, "not-a-token") as client, pytest.raises(TokenRefused) as refused:
        client.notebooks()
    assert isinstance(refused.value, PermissionError) and refused.value.status == 401
    assert "your token was refused" in str(refused.value)
    with Client(srv.http_url, "") as anonymous, pytest.raises(TokenRefused) as none:
        anonymous.notebook("team-a/alpha.ipynb")
    assert "COLLAB_SERVER_TOKEN" in str(none.value)

    with Client(srv.http_url, ADMIN) as client:
        with pytest.raises(FileNotFoundError) as missing:
            client.notebook("team-a/none.ipynb")
        assert isinstance(missing.value, NotFound) and missing.value.status == 404
        with pytest.raises(ClientError) as bad:
            client.comments("team-a/alpha.ipynb", status="bogus")
        assert bad.value.status == 400 and "open, resolved or all" in str(bad.value)
        assert not isinstance(bad.value, (PermissionError, FileNotFoundError))
        with pytest.raises(ClientError) as bad_since:
            client.activity(since="yesterday")
        assert bad_since.value.status == 400 and "ISO-8601" in str(bad_since.value)
        # Versions are served: typed columns, and an unknown version is a clear 404.
        versions = client.versions("team-a/alpha.ipynb")
        assert {"id", "created", "kind", "authors"} <= set(versions.columns)
        with pytest.raises(FileNotFoundError):
            client.notebook("team-a/alpha.ipynb", version="0" * 64)
        # Apps: no runs yet (typed columns all the same); an unknown app is a clear 404.
        runs = client.runs()
        assert len(runs) == 0 and set(client_module.RUN_COLUMNS) <= set(runs.columns)
        with pytest.raises(FileNotFoundError):
            client.run_app("some-app", n=1)

    with pytest.raises(ClientError) as unreachable:
        Client("http://127.0.0.1:1", ADMIN).notebooks()  # nothing listens there
    assert unreachable.value.status is None and "Could not reach" in str(unreachable.value)


def test_no_token_in_any_repr_message_or_traceback(
    srv: ServerProcess, data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "not-a-token-but-a-secret-1234"
    client = Client(srv.http_url, secret)
    seen = [repr(client), str(client), repr(client._api), repr(client._api._secret)]
    for call in (
        client.notebooks,
        lambda: client.notebook("x.ipynb"),
        lambda: Client(f"http://127.0.0.1:{srv.port}/nowhere", secret).versions("x.ipynb"),
        lambda: Client("http://127.0.0.1:1", secret).notebooks(),  # nothing listens there
    ):
        with pytest.raises(ClientError) as caught:
            call()
        seen += [str(caught.value), repr(caught.value)]
        seen += traceback.format_exception(caught.value)
    with pytest.raises(TypeError):
        pickle.dumps(client._api._secret)
    # From the environment too (the way a kernel gets it).
    monkeypatch.setenv("COLLAB_SERVER_URL", srv.http_url)
    monkeypatch.setenv("COLLAB_SERVER_TOKEN", secret)
    seen.append(repr(Client()))
    assert not [text for text in seen if secret in text]
    assert "token=***" in repr(client)


def test_in_a_server_kernel_client_needs_no_configuration(
    srv: ServerProcess, data: dict[str, Any]
) -> None:
    path = "team-a/selfread.ipynb"
    put(
        srv,
        path,
        ("md", "# Reading myself"),
        (
            "code",
            "import os\n"
            "from collab_server.client import Client, title\n"
            f"client = Client()\nprint(title(client.notebook({path!r})))\n"
            "print(os.environ['COLLAB_SERVER_URL'])\n"
            f"client.comment({path!r}, 'written from my kernel')",
        ),
    )
    r = run_cell(srv, RUNNER, path, "c1")
    assert r.status_code == 200, r.text

    def printed() -> str:
        with http(srv, ADMIN) as c:
            cell = c.get(f"/api/contents/{path}").json()["content"]["cells"][1]
        return "".join(o.get("text", "") for o in cell["outputs"] if o["output_type"] == "stream")

    out = eventually(lambda: "Reading myself" in printed() and printed(), "the title printed")
    assert out.splitlines()[:2] == ["Reading myself", srv.http_url]
    # The kernel spoke as the person who started it: Rita, verified.
    with Client(srv.http_url, ADMIN) as admin:
        comments = admin.comments(path)
    row = comments[comments["body"] == "written from my kernel"].iloc[0]
    assert (row["author"], bool(row["verified"])) == ("rita", True)


def test_pandas_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_pandas(name: str, *args: Any, **kw: Any) -> Any:
        if name == "pandas":
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    from collab_server.client.frames import frame

    with pytest.raises(ImportError, match=r'pip install "collab-server\[client\]"'):
        frame([], {"a": "str"})


def test_the_example_notebook_runs(
    srv: ServerProcess, data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbclient import NotebookClient

    monkeypatch.setenv("COLLAB_SERVER_URL", srv.http_url)
    monkeypatch.setenv("COLLAB_SERVER_TOKEN", ADMIN)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path.cwd()), os.environ.get(
        "PYTHONPATH", "")]))  # fmt: skip
    nb = nbformat.read(EXAMPLE, as_version=4)
    NotebookClient(nb, timeout=90, kernel_name="python3").execute()
    text = "\n".join(
        o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
    )
    # Alice and Team A both opened alpha: co-viewing links it to gamma (Alice) and beta.
    assert "team-a/alpha.ipynb -> " in text
    assert "team-a/beta.ipynb -> ['team-a/alpha.ipynb']" in text
    # The two sales notebooks read alike.
    assert "team-a/alpha.ipynb ~ team-a/beta.ipynb" in text


def test_own_activity_on_a_notebook_moved_out_of_reach_is_hidden(
    srv: ServerProcess, data: dict[str, Any]
) -> None:
    put(srv, "team-a/delta.ipynb", ("md", "# Delta"))
    with http(srv, ADMIN) as admin, Client(srv.http_url, TENANT) as tenant:
        eventually(
            lambda: admin.get("/api/collab/search", params={"q": "delta"}).json()["total"] == 1,
            "delta indexed",
        )
        assert tenant.star("team-a/delta.ipynb") == 1
        with http(srv, TENANT) as c:
            assert c.post("/api/collab/notebooks/team-a/delta.ipynb/views").status_code == 204
        assert "team-a/delta.ipynb" in set(tenant.activity()["path"])
        r = admin.patch("/api/contents/team-a/delta.ipynb", json={"path": "secret/delta.ipynb"})
        assert r.status_code == 200, r.text
        with Client(srv.http_url, ADMIN) as ada:
            # The barrier: the gallery has followed the move (the administrator sees it).
            eventually(
                lambda: "secret/delta.ipynb" in set(ada.activity()["path"]), "the move followed"
            )
            moved = ada.activity(path="secret/delta.ipynb")
            assert list(moved["person"]) == ["tenant-a"]
        paths = set(tenant.activity()["path"])
        assert not {p for p in paths if "delta" in p}
        assert paths == {"team-a/alpha.ipynb", "team-a/beta.ipynb"}


def test_notebooks_is_one_request_per_page_not_one_per_notebook(
    srv: ServerProcess, data: dict[str, Any]
) -> None:
    with Client(srv.http_url, ADMIN) as client:
        sent: list[str] = []
        client._api._http.event_hooks["request"].append(lambda r: sent.append(r.url.path))
        notebooks = client.notebooks().set_index("path")
        assert sent == ["/api/collab/notebooks"]
        # The same facts as each notebook's info.
        for path in NOTEBOOKS:
            info = client.info(path)
            row = notebooks.loc[path]
            assert (row["title"], row["owner"], row["tags"], row["stars"], row["views"],
                    row["runs"], row["language"]) == (
                info["title"], info["owner"], info["tags"], info["stars"], info["views"],
                info["runs"], info["language"])  # fmt: skip
            assert row["health_label"] == info["health"]["label"]
            last_run = info["last_run"]
            assert (row["last_run"] is pd.NaT) if last_run is None else (
                row["last_run"] == pd.Timestamp(last_run))  # fmt: skip

    # The route pages, newest first, and counts only what the caller may read.
    with http(srv, ADMIN) as c:
        seen, offset = [], 0
        while offset is not None:
            page = c.get("/api/collab/notebooks", params={"limit": 1, "offset": offset}).json()
            assert page["total"] == len(notebooks) and len(page["notebooks"]) == 1
            seen += [n["path"] for n in page["notebooks"]]
            offset = page["next"]
        assert seen == list(notebooks.index)  # most recently updated first
        for bad in ({"limit": 0}, {"limit": 1001}, {"limit": "x"}, {"offset": -1}):
            r = c.get("/api/collab/notebooks", params=bad)
            assert r.status_code == 400 and r.json()["message"], bad
    with http(srv, TENANT) as c:
        readable = c.get("/api/collab/search").json()["total"]
        page = c.get("/api/collab/notebooks", params={"offset": 50}).json()
        assert page == {"total": readable, "notebooks": [], "next": None}
        page = c.get("/api/collab/notebooks").json()
        assert page["total"] == readable == len(page["notebooks"])
        assert all(n["path"].startswith("team-a/") for n in page["notebooks"])
        assert "gamma" not in str(page)


def test_run_app_returns_the_result_and_runs_lists_the_run(srv: ServerProcess) -> None:
    """The client runs a published app as the token's holder and reads its runs back."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    for tag, source in (
        ("parameters", "n = 3  # how many\nfail = False"),
        ("", "assert not fail, 'asked to fail'"),
        ("result", "from IPython.display import JSON\nJSON({'total': sum(range(n))})"),
    ):
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = [tag] if tag else []
        nb.cells.append(cell)
    (srv.root / "apps").mkdir(exist_ok=True)
    with http(srv, ADMIN) as c:
        body = {"type": "notebook", "format": "json", "content": nb}
        assert c.put("/api/contents/apps/sum.ipynb", json=body).status_code in (200, 201)
        published = c.post("/api/collab/publish/apps/sum.ipynb", json={"title": "Sum"})
        assert published.status_code == 201, published.text
        app = published.json()["id"]
    with Client(srv.http_url, ADMIN) as client:
        apps = client.apps()
        assert dict(apps.dtypes.astype(str)) == dtypes(client_module.APP_COLUMNS)
        row = apps.loc[apps["id"] == app].iloc[0]
        assert (row["title"], row["path"], bool(row["may_run"])) == ("Sum", "apps/sum.ipynb", True)
        assert client.run_app(app, n=5) == {"total": 10}
        with pytest.raises(client_module.RunFailed) as failed:
            client.run_app(app, fail=True)
        assert "failed" in str(failed.value) and "asked to fail" in str(failed.value)
        with pytest.raises(ClientError) as wrong:
            client.run_app(app, n="five")
        assert wrong.value.status == 422 and "n" in str(wrong.value)
        runs = client.runs(app=app)
        assert dict(runs.dtypes.astype(str)) == dtypes(client_module.RUN_COLUMNS)
        assert sorted(runs["status"]) == ["failed", "succeeded"]
        assert runs.loc[runs["status"] == "succeeded", "parameters"].iloc[0]["n"] == 5
        assert runs["mine"].all()
        run_id = runs.loc[runs["status"] == "succeeded", "id"].iloc[0]
    # Runs are their runner's: another person lists none of them, until one is shared.
    with Client(srv.http_url, ALICE) as client:
        assert len(client.runs(app=app)) == 0 and len(client.runs(shared=True)) == 0
        assert app not in set(client.apps()["id"])  # not hers to see
    with http(srv, ADMIN) as c:
        shared = c.post(f"/api/collab/runs/{run_id}/shares", json={"principal": "user:alice"})
        assert shared.status_code == 201, shared.text
    # Alice may not see the app itself here (the test provider grants apps to administrators
    # only), so a run shared with her stays hidden: sharing a run never shows an app. Readers
    # who may see the app are tested in test_apps.
    with Client(srv.http_url, ALICE) as client:
        found = client.runs(shared=True)
        assert len(found) == 0
        assert dict(found.dtypes.astype(str)) == dtypes(client_module.RUN_COLUMNS)
    with Client(srv.http_url, ADMIN) as client:
        assert client.runs(shared=True).empty  # the owner's own runs are not "shared with"


def test_a_reader_proposes_a_change_and_a_writer_lists_it(
    srv: ServerProcess, data: dict[str, Any]
) -> None:
    path = "team-a/beta.ipynb"
    with Client(srv.http_url, "viewer-token") as viewer:
        nb = viewer.notebook(path)
        nb.cells[1].source = "import json\ny = 3"
        made = viewer.propose(path, "y should be 3", notebook=dict(nb))
        assert made["status"] == "open" and made["proposer"]["id"] == "victor"
        with pytest.raises(ValueError):
            viewer.propose(path, "neither")
        mine = viewer.change_requests(path)
        assert list(mine["id"]) == [made["id"]]
    with Client(srv.http_url, TENANT) as writer:
        found = writer.change_requests(path, status="all")
        assert dict(found.dtypes.astype(str)) == dtypes(client_module.CHANGE_REQUEST_COLUMNS)
        row = found.set_index("id").loc[made["id"]]
        assert row["message"] == "y should be 3" and row["proposer"] == "victor"
        assert row["status"] == "open" and str(found["created"].dtype) == "datetime64[ns, UTC]"
    # Someone who may not read the notebook learns nothing of it.
    with Client(srv.http_url, TENANT) as stranger, pytest.raises(PermissionError):
        stranger.change_requests("secret/gamma.ipynb")

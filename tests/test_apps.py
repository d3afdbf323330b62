"""Apps on the real server with real kernels: published notebooks run with parameters,
immutably, under the caller's identity, with limits, a warm pool and schedules."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nbformat
import psutil
import pytest

from collab_server.core.time import parse_iso
from support import server as server_support
from support.providers import GroupsTableProvider, TokenInKernelProvider
from support.server import ServerProcess

REVOKED_ENV = "COLLAB_TEST_REVOKED_RUN"


class RevocableProvider(TokenInKernelProvider, GroupsTableProvider):
    """The test provider, where a token listed in the file named by ``COLLAB_TEST_REVOKED_RUN``
    has lost ``run`` (the server imports this class: ``test_apps.RevocableProvider``); with
    groups (the ``Groups`` capability), whom runs can be shared with."""

    async def allowed(self, token: str, action: str, resource: str) -> bool:
        listed = os.environ.get(REVOKED_ENV, "")
        revoked = Path(listed).read_text().split() if listed and os.path.exists(listed) else []
        if action == "run" and token in revoked:
            return False
        return await super().allowed(token, action, resource)


# People of this suite's server: runners of apps (``run`` on every ``apps:…``), who may
# read notebooks but neither write nor execute code in notebooks.
APP_USERS: dict[str, dict[str, Any]] = {
    "rhea-token": {"id": "rhea", "name": "Rhea Runner", "grants": [["", "read"], ["*", "run"]],
                   "groups": ["analysts"]},
    "ravi-token": {"id": "ravi", "name": "Ravi Runner", "grants": [["", "read"], ["*", "run"]],
                   "groups": ["auditors"]},
    "rosa-token": {"id": "rosa", "name": "Rosa Reader", "grants": [["", "read"], ["*", "run"]],
                   "groups": ["analysts"]},
    # Runs apps, reads no notebook: an app's users need not see the workspace.
    "sam-token": {"id": "sam", "name": "Sam Stranger", "grants": [["*", "run"]]},
}  # fmt: skip

# Sees apps (``read`` on ``apps:…``), runs none.
VIEWER_OF_APPS = {"vera-token": {"id": "vera", "name": "Vera Viewer", "grants": [["*", "read"]]}}

SETUP = "import json, os, time"
PARAMETERS = 'n = 3  # how many values\nname = "world"\nscale: float = 1.0\nflag = False'
WORK = "values = [i * scale for i in range(n)]"
RESULT = (
    "from IPython.display import JSON, display\n"
    "display(JSON({'total': sum(values), 'name': name, 'flag': flag,"
    " 'user': os.environ.get('JUPYTER_AUTH_ID'), 'token': os.environ.get('JUPYTER_AUTH_TOKEN')}))"
)


def app_notebook(
    cells: list[tuple[str, str]] | None = None, metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A Python notebook; ``cells`` are ``(tag, source)`` ("" for no tag)."""
    cells = cells or [("", SETUP), ("parameters", PARAMETERS), ("", WORK), ("result", RESULT)]
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata.update(metadata or {})
    for i, (tag, source) in enumerate(cells):
        cell = nbformat.v4.new_code_cell(source, id=f"c{i}")
        if tag:
            cell.metadata["tags"] = [tag]
        nb.cells.append(cell)
    return dict(json.loads(nbformat.writes(nb)))


@pytest.fixture(scope="module")
def apps_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own: kernels get the caller's token (so identity is visible), runs
    time out after 10 s, two runs per person, no warm pool, schedules every second, and
    rights to run that a test can take away (:class:`RevocableProvider`)."""
    added = [key for key in APP_USERS if key not in server_support.USERS]
    server_support.USERS.update(APP_USERS)  # read when the server starts
    base = tmp_path_factory.mktemp("apps")
    previous = os.environ.get(REVOKED_ENV)
    os.environ[REVOKED_ENV] = str(base / "revoked.txt")  # passed on to the server
    process = ServerProcess(
        base,
        [
            "--CollabServer.apps_pool_size=0",
            "--CollabServer.apps_run_timeout=10",
            "--CollabServer.apps_max_runs_per_user=2",
            "--CollabServer.apps_schedule_min_interval=0",
        ],
        provider="test_apps.RevocableProvider",
    )
    try:
        process.start()
    finally:
        for key in added:
            server_support.USERS.pop(key, None)
        if previous is None:
            os.environ.pop(REVOKED_ENV, None)
        else:
            os.environ[REVOKED_ENV] = previous
    yield process
    process.stop()


async def call(
    server: ServerProcess, method: str, url: str, token: str = "rhea-token", **kw: Any
) -> httpx.Response:
    async with server.client(token) as client:
        return await client.request(method, url, timeout=60, **kw)


async def publish(server: ServerProcess, nb: dict[str, Any], name: str, **body: Any) -> str:
    path = Path(server.root) / name
    path.write_text(json.dumps(nb))
    r = await call(server, "POST", f"/api/collab/publish/{name}", "admin-token", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def run_app(
    server: ServerProcess, pid: str, parameters: dict[str, Any], token: str = "rhea-token"
) -> dict[str, Any]:
    r = await call(
        server, "POST", f"/api/collab/apps/{pid}/runs?wait=60", token,
        json={"parameters": parameters},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    return dict(r.json())


async def wait_for_run(
    server: ServerProcess, run_id: str, token: str, statuses: tuple[str, ...], cell: int = 0
) -> dict[str, Any]:
    """Poll the run until its status is one of ``statuses`` and it got to code cell ``cell``
    (a barrier, not a sleep)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = await call(server, "GET", f"/api/collab/runs/{run_id}", token)
        assert r.status_code == 200, r.text
        run = r.json()
        if run["status"] in statuses and (run["progress"] or {}).get("cell", 0) >= cell:
            return dict(run)
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} never reached {statuses}")


def kernel_processes(server: ServerProcess) -> list[psutil.Process]:
    assert server.process is not None
    found = []
    for child in psutil.Process(server.process.pid).children(recursive=True):
        try:
            if any("ipykernel" in part for part in child.cmdline()):
                found.append(child)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


async def test_schema_from_the_parameters_cell_and_the_override(apps_server):
    override = {"collab": {"parameters": {"properties": {"name": {"enum": ["world", "moon"]}}}}}
    pid = await publish(apps_server, app_notebook(metadata=override), "schema.ipynb",
                        title="Totals", description="Adds numbers")  # fmt: skip
    r = await call(apps_server, "GET", f"/api/collab/apps/{pid}")
    assert r.status_code == 200, r.text
    app = r.json()
    assert (app["title"], app["description"], app["version"]) == ("Totals", "Adds numbers", 1)
    assert app["may_run"] is True  # the page offers Run and Schedule
    props = app["parameters"]["properties"]
    assert props["n"] == {"title": "n", "type": "integer", "default": 3,
                          "description": "how many values"}  # fmt: skip
    assert props["scale"]["type"] == "number" and props["flag"]["type"] == "boolean"
    assert props["name"]["enum"] == ["world", "moon"] and props["name"]["default"] == "world"
    r = await call(apps_server, "GET", f"/api/collab/apps/{pid}/openapi.json")
    doc = r.json()
    assert doc["openapi"].startswith("3.1") and doc["info"]["title"] == "Totals"
    assert doc["components"]["schemas"]["Parameters"] == app["parameters"]
    assert f"/api/collab/apps/{pid}/runs" in doc["paths"]
    # Someone with no right on the app learns nothing of it.
    r = await call(apps_server, "GET", f"/api/collab/apps/{pid}", "viewer-token")
    assert r.status_code == 404
    r = await call(apps_server, "GET", "/api/collab/apps/nosuchapp")
    assert r.status_code == 404


async def test_the_apps_a_person_may_see_are_listed_newest_first(apps_server):
    older = await publish(apps_server, app_notebook(), "listed-older.ipynb", title="Older")
    newer = await publish(apps_server, app_notebook(), "listed-newer.ipynb",
                          title="Newer", description="Adds <b>numbers</b>")  # fmt: skip
    # A published notebook without code is read, not run: no app.
    prose = app_notebook([])
    prose["cells"] = [{"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# Words"}]
    words = await publish(apps_server, prose, "listed-words.ipynb")

    async def listed(token: str) -> dict[str, dict[str, Any]]:
        r = await call(apps_server, "GET", "/api/collab/apps?limit=500", token)
        assert r.status_code == 200, r.text
        apps = r.json()["apps"]
        ids = [a["id"] for a in apps]
        assert len(ids) == len(set(ids))  # one entry per app: its newest version
        return {a["id"]: a for a in apps if a["id"] in (older, newer, words)}

    mine = await listed("rhea-token")
    assert list(mine) == [newer, older]  # newest first
    assert mine[newer] == {
        "id": newer, "title": "Newer", "description": "Adds <b>numbers</b>", "version": 1,
        "published": mine[newer]["published"], "publisher": "admin",
        "publisher_name": "Ada Admin", "may_run": True, "inputs": 4, "url": f"/apps/{newer}",
        "path": "listed-newer.ipynb",
    }  # fmt: skip
    # A runner who reads no notebook sees the app, not where its notebook lives.
    assert await listed("rhea-token") == mine  # the second time from what was recorded
    theirs = await listed("sam-token")
    assert list(theirs) == [newer, older] and "path" not in theirs[newer]
    assert theirs[newer]["may_run"] is True
    # Readers of notebooks with no right on apps: none listed.
    assert await listed("viewer-token") == {}
    r = await call(apps_server, "GET", "/api/collab/apps?limit=1", "rhea-token")
    assert len(r.json()["apps"]) == 1
    r = await call(apps_server, "GET", "/api/collab/apps?limit=many", "rhea-token")
    assert r.status_code == 400 and '"limit"' in r.json()["message"]
    # Withdrawn: gone from the list.
    r = await call(apps_server, "DELETE", f"/api/collab/published/{older}", "admin-token")
    assert r.status_code == 204, r.text
    assert list(await listed("rhea-token")) == [newer]


async def test_a_runner_gets_the_json_result_as_themselves_from_the_published_code(apps_server):
    pid = await publish(apps_server, app_notebook(), "totals.ipynb")
    # The workspace notebook changes after publishing: the app runs what was published.
    changed = app_notebook([("", SETUP), ("parameters", PARAMETERS), ("", WORK),
                            ("result", "print('changed')")])  # fmt: skip
    (Path(apps_server.root) / "totals.ipynb").write_text(json.dumps(changed))

    run = await run_app(apps_server, pid, {"n": 4, "scale": 2, "name": "moon", "flag": True})
    assert run["status"] == "succeeded", run
    assert run["result"] == {"total": 12.0, "name": "moon", "flag": True,
                             "user": "rhea", "token": "rhea-token"}  # fmt: skip
    assert run["user"] == "rhea" and run["version"] == 1
    assert run["parameters"] == {"n": 4, "scale": 2, "name": "moon", "flag": True}
    assert run["progress"] == {"cell": 5, "of": 5}  # 4 published code cells + the injected one
    assert run["started"] and run["ended"] and run["warm"] is False

    r = await call(apps_server, "GET", f"/api/collab/runs/{run['id']}/notebook")
    nb = r.json()
    tags = [c["metadata"].get("tags", []) for c in nb["cells"]]
    assert tags[1] == ["parameters"] and tags[2] == ["injected-parameters"]
    assert "n = 4" in "".join(nb["cells"][2]["source"])
    r = await call(apps_server, "GET", f"/api/collab/runs/{run['id']}/html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "sandbox" in r.headers["content-security-policy"]
    assert "range(n)" not in r.text  # a report without code
    assert "moon" in r.text
    assert "cdnjs" not in r.text  # no third-party script in a report

    # Defaults apply when no parameters are given; the identity is the caller's.
    run = await run_app(apps_server, pid, {}, "ravi-token")
    assert run["result"]["total"] == 3.0 and run["result"]["user"] == "ravi"
    assert run["result"]["token"] == "ravi-token"


async def test_bad_parameters_are_refused_naming_the_field(apps_server):
    pid = await publish(apps_server, app_notebook(), "bad.ipynb")
    url = f"/api/collab/apps/{pid}/runs"
    r = await call(apps_server, "POST", url, json={"parameters": {"n": "three"}})
    assert r.status_code == 422 and '"n"' in r.json()["message"]
    r = await call(apps_server, "POST", url, json={"parameters": {"flag": "yes"}})
    assert r.status_code == 422 and '"flag"' in r.json()["message"]
    r = await call(apps_server, "POST", url, json={"parameters": {"rm_rf": True}})
    assert r.status_code == 422 and 'Unknown parameter "rm_rf"' in r.json()["message"]
    r = await call(apps_server, "POST", url, json={"code": "import os"})
    assert r.status_code == 400  # visitors never send code
    # Readers of notebooks without ``run`` on the app: nothing to see, nothing to run.
    r = await call(apps_server, "POST", url, "viewer-token", json={})
    assert r.status_code == 404


async def test_the_report_of_a_failed_run_says_what_went_wrong_without_code(apps_server):
    check = "if n < 0:\n    raise ValueError('n must not be negative')\nprint('checked')"
    nb = app_notebook([("", SETUP), ("parameters", PARAMETERS), ("", check), ("result", RESULT)])
    pid = await publish(apps_server, nb, "failing.ipynb")
    run = await run_app(apps_server, pid, {"n": -1})
    assert run["status"] == "failed", run
    # The run's JSON keeps the error as it is, for programs.
    assert run["error"]["ename"] == "ValueError"
    assert run["error"]["evalue"] == "n must not be negative"
    # The executed notebook keeps the traceback (it is the notebook)…
    r = await call(apps_server, "GET", f"/api/collab/runs/{run['id']}/notebook")
    [error] = [
        o for c in r.json()["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"
    ]
    assert any("raise" in line for line in error["traceback"])
    # …the report says what went wrong in one line: no traceback, no code, no class name.
    r = await call(apps_server, "GET", f"/api/collab/runs/{run['id']}/html")
    assert r.status_code == 200, r.text
    assert "The app stopped: n must not be negative" in r.text
    for code in ("Traceback", "raise", "if n &lt; 0", "----&gt;", "ValueError", "Cell In["):
        assert code not in r.text, code


async def test_runs_are_private_to_the_person_who_ran_them(apps_server):
    pid = await publish(apps_server, app_notebook(), "private.ipynb")
    run = await run_app(apps_server, pid, {"name": "secret"})
    for path in ("", "/notebook", "/html"):
        r = await call(apps_server, "GET", f"/api/collab/runs/{run['id']}{path}", "ravi-token")
        assert r.status_code == 404, path
    r = await call(apps_server, "POST", f"/api/collab/runs/{run['id']}/cancel", "ravi-token")
    assert r.status_code == 404
    r = await call(apps_server, "GET", f"/api/collab/runs?app={pid}&mine=1", "ravi-token")
    assert r.json()["runs"] == []
    r = await call(apps_server, "GET", f"/api/collab/runs?app={pid}&mine=1")
    assert [x["id"] for x in r.json()["runs"]] == [run["id"]]
    r = await call(apps_server, "GET", f"/api/collab/apps/{pid}/runs")
    assert [x["id"] for x in r.json()["runs"]] == [run["id"]]


async def test_a_run_shared_with_a_person_a_group_or_everyone_signed_in(apps_server):
    pid = await publish(apps_server, app_notebook(), "shared.ipynb")
    run = await run_app(apps_server, pid, {"name": "shared"})  # one run for the whole test
    rid = run["id"]
    shares = f"/api/collab/runs/{rid}/shares"

    async def reads(token: str) -> list[int]:
        found = []
        for path in ("", "/notebook", "/html"):
            r = await call(apps_server, "GET", f"/api/collab/runs/{rid}{path}", token)
            found.append(r.status_code)
        return found

    async def shared_list(token: str) -> list[str]:
        r = await call(apps_server, "GET", "/api/collab/runs?shared=1", token)
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["runs"]]

    assert await reads("ravi-token") == [404, 404, 404]
    # Principals that cannot be: each refused with a reason.
    for body, status, words in [
        ({"principal": 5}, 400, "principal"),
        ({"who": "user:ravi"}, 400, 'Unknown field "who"'),
        ({"principal": "ravi"}, 422, "is not a principal"),
        ({"principal": "user:"}, 422, "name is empty"),
        ({"principal": "user:a b"}, 422, "not valid"),
        ({"principal": "everyone"}, 422, "signed-in people at most"),
        ({"principal": "user:rhea"}, 422, "yours already"),
        ({"principal": "group:nosuch"}, 404, 'not in a group "nosuch"'),
        # A group she is not in: the same answer (other people's groups stay unknown).
        ({"principal": "group:auditors"}, 404, 'not in a group "auditors"'),
    ]:
        r = await call(apps_server, "POST", shares, json=body)
        assert r.status_code == status and words in r.json()["message"], (body, r.text)

    # Shared with one person: they read the run, its notebook and its report…
    r = await call(apps_server, "POST", shares, json={"principal": "user:ravi"})
    assert r.status_code == 201, r.text
    assert [s["principal"] for s in r.json()["shares"]] == ["user:ravi"]
    assert r.json()["shares"][0]["granted_by"] == "rhea"
    assert await reads("ravi-token") == [200, 200, 200]
    r = await call(apps_server, "GET", f"/api/collab/runs/{rid}", "ravi-token")
    assert r.json()["user"] == "rhea" and r.json()["mine"] is False
    assert r.json()["result"]["name"] == "shared"
    assert await shared_list("ravi-token") == [rid]
    r = await call(apps_server, "GET", "/api/collab/runs", "ravi-token")
    assert rid not in [x["id"] for x in r.json()["runs"]]  # the list of one's own runs
    # …but neither cancels it nor shares it on, nor sees whom it is shared with.
    r = await call(apps_server, "POST", f"/api/collab/runs/{rid}/cancel", "ravi-token")
    assert r.status_code == 404
    r = await call(apps_server, "POST", shares, "ravi-token", json={"principal": "user:rosa"})
    assert r.status_code == 404
    r = await call(apps_server, "GET", shares, "ravi-token")
    assert r.status_code == 404
    r = await call(apps_server, "DELETE", f"{shares}?principal=user:ravi", "ravi-token")
    assert r.status_code == 404
    # A third person sees nothing.
    assert await reads("rosa-token") == [404, 404, 404]
    assert await shared_list("rosa-token") == []

    # A reader who may no longer see the app no longer sees the run either.
    revoked = Path(apps_server.base) / "revoked.txt"
    revoked.write_text("ravi-token\n")
    try:
        assert await reads("ravi-token") == [404, 404, 404]
        assert await shared_list("ravi-token") == []
    finally:
        revoked.write_text("")
    assert await reads("ravi-token") == [200, 200, 200]

    # Unshared: gone again.
    r = await call(apps_server, "DELETE", f"{shares}?principal=user:ravi")
    assert r.status_code == 204
    assert await reads("ravi-token") == [404, 404, 404]
    r = await call(apps_server, "DELETE", f"{shares}?principal=user:ravi")
    assert r.status_code == 404

    # A group: its members read, nobody else.
    r = await call(apps_server, "POST", shares, json={"principal": "group:analysts"})
    assert r.status_code == 201, r.text
    assert await reads("rosa-token") == [200, 200, 200]
    assert await reads("ravi-token") == [404, 404, 404]
    r = await call(apps_server, "DELETE", f"{shares}?principal=group:analysts")
    assert r.status_code == 204

    # Everyone signed in — who may also read the app: someone without any right on it
    # (viewer) learns nothing of the run.
    r = await call(apps_server, "POST", shares, json={"principal": "signed-in"})
    assert r.status_code == 201
    assert await reads("ravi-token") == [200, 200, 200]
    assert await reads("rosa-token") == [200, 200, 200]
    assert await reads("viewer-token") == [404, 404, 404]
    r = await call(apps_server, "GET", shares)
    assert [s["principal"] for s in r.json()["shares"]] == ["signed-in"]


async def test_limits_timeout_and_cancel_leave_no_kernel_behind(apps_server):
    slow = app_notebook([("", "import time"), ("parameters", "seconds = 60"),
                         ("", "time.sleep(seconds)"), ("result", "print('done')")])  # fmt: skip
    pid = await publish(apps_server, slow, "slow.ipynb")
    assert kernel_processes(apps_server) == []
    url = f"/api/collab/apps/{pid}/runs"
    first = (await call(apps_server, "POST", url, "ravi-token", json={})).json()
    second = (await call(apps_server, "POST", url, "ravi-token", json={})).json()
    assert first["status"] == "queued"
    # Two runs under way is the most one person may have here.
    r = await call(apps_server, "POST", url, "ravi-token", json={})
    assert r.status_code == 429 and "runs under way" in r.json()["message"]
    assert r.headers.get("Retry-After")
    # Someone else is not held back by ravi's runs.
    other = await call(apps_server, "POST", url, "rhea-token", json={"parameters": {"seconds": 0}})
    assert other.status_code == 202

    running = await wait_for_run(apps_server, first["id"], "ravi-token", ("running",), 3)
    assert running["progress"] == {"cell": 3, "of": 4}
    await wait_for_run(apps_server, second["id"], "ravi-token", ("running",), 3)
    r = await call(apps_server, "POST", f"/api/collab/runs/{first['id']}/cancel", "ravi-token")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = await call(apps_server, "POST", f"/api/collab/runs/{first['id']}/cancel", "ravi-token")
    assert r.status_code == 409

    # Cancelled while its kernel starts: nothing may be left of that kernel either.
    await wait_for_run(apps_server, other.json()["id"], "rhea-token", ("succeeded",))
    early = await call(apps_server, "POST", url, "rhea-token", json={})
    r = await call(
        apps_server, "POST", f"/api/collab/runs/{early.json()['id']}/cancel", "rhea-token"
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"

    # The second one runs into the 10 s timeout: interrupted, then its kernel killed.
    timed_out = await wait_for_run(apps_server, second["id"], "ravi-token", ("timed_out",))
    assert "longer than 10 s" in timed_out["error"]["evalue"]
    assert kernel_processes(apps_server) == []


async def test_a_schedule_fires_as_its_maker_and_records_its_runs(apps_server):
    pid = await publish(apps_server, app_notebook(), "scheduled.ipynb")
    url = f"/api/collab/apps/{pid}/schedules"
    r = await call(apps_server, "POST", url, json={"cron": "every day", "parameters": {}})
    assert r.status_code == 400 and "cron" in r.json()["message"]
    r = await call(apps_server, "POST", url, json={"cron": "* * * * *", "parameters": {"n": "x"}})
    assert r.status_code == 422
    r = await call(apps_server, "POST", url,
                   json={"cron": "* * * * * *", "parameters": {"n": 5}})  # fmt: skip
    assert r.status_code == 201, r.text
    schedule = r.json()
    assert schedule["user"] == "rhea" and schedule["active"]
    r = await call(apps_server, "GET", f"/api/collab/schedules/{schedule['id']}", "ravi-token")
    assert r.status_code == 404

    deadline = time.monotonic() + 60
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:  # the barrier: a finished run of the schedule
        r = await call(apps_server, "GET", f"/api/collab/runs?schedule={schedule['id']}")
        runs = [x for x in r.json()["runs"] if x["status"] == "succeeded"]
        if runs:
            break
        await asyncio.sleep(0.2)
    assert runs, "the schedule never ran"
    assert runs[0]["result"]["total"] == 10.0 and runs[0]["result"]["user"] == "rhea"
    assert runs[0]["result"]["token"] == "rhea-token"
    r = await call(apps_server, "DELETE", f"/api/collab/schedules/{schedule['id']}")
    assert r.status_code == 204
    r = await call(apps_server, "GET", f"{url}")
    assert r.json()["schedules"] == []


async def test_a_schedule_stops_when_its_maker_loses_run(apps_server):
    pid = await publish(apps_server, app_notebook(), "revoked.ipynb")
    r = await call(apps_server, "POST", f"/api/collab/apps/{pid}/schedules", "ravi-token",
                   json={"cron": "* * * * * *", "parameters": {}})  # fmt: skip
    schedule = r.json()
    (Path(apps_server.base) / "revoked.txt").write_text("ravi-token\n")
    try:
        deadline = time.monotonic() + 30
        while True:  # the barrier: the schedule's next firing finds the right gone
            r = await call(apps_server, "GET", f"/api/collab/schedules/{schedule['id']}",
                           "ravi-token")  # fmt: skip
            if not r.json()["active"]:
                break
            assert time.monotonic() < deadline, "the schedule kept running"
            await asyncio.sleep(0.2)
        assert r.json()["stopped"] == "The person who made it may no longer run the app"
        # Nor may the person run the app by hand (with no ``read`` on it either, the app is
        # not even visible to them any more).
        r = await call(apps_server, "POST", f"/api/collab/apps/{pid}/runs", "ravi-token", json={})
        assert r.status_code == 404
    finally:
        (Path(apps_server.base) / "revoked.txt").write_text("")


async def test_a_schedule_stops_when_its_app_is_withdrawn(apps_server):
    pid = await publish(apps_server, app_notebook(), "withdrawn.ipynb")
    r = await call(apps_server, "POST", f"/api/collab/apps/{pid}/schedules",
                   json={"cron": "* * * * * *", "parameters": {}})  # fmt: skip
    assert r.status_code == 201, r.text
    schedule = r.json()
    r = await call(apps_server, "DELETE", f"/api/collab/published/{pid}", "admin-token")
    assert r.status_code == 204, r.text
    assert (await call(apps_server, "GET", f"/api/collab/apps/{pid}")).status_code == 404
    deadline = time.monotonic() + 30
    while True:  # the barrier: the schedule's next firing finds the app gone
        r = await call(apps_server, "GET", f"/api/collab/schedules/{schedule['id']}")
        if not r.json()["active"]:
            break
        assert time.monotonic() < deadline, "the schedule kept running"
        await asyncio.sleep(0.2)
    assert r.json()["stopped"] == "The app no longer exists"
    assert r.json()["next"] is None  # a stopped schedule never fires again


async def test_a_schedule_says_when_it_fires_next(apps_server):
    pid = await publish(apps_server, app_notebook(), "weekly.ipynb")
    url = f"/api/collab/apps/{pid}/schedules"
    before = dt.datetime.now(dt.UTC)
    r = await call(apps_server, "POST", url, json={"cron": "30 7 * * 1", "parameters": {"n": 4}})
    assert r.status_code == 201, r.text
    schedule = r.json()
    assert schedule["next"].endswith("Z") and schedule["last_fired"] is None
    upcoming = parse_iso(schedule["next"])  # the coming Monday, 07:30 UTC
    assert before < upcoming <= before + dt.timedelta(days=7)
    assert (upcoming.weekday(), upcoming.hour, upcoming.minute) == (0, 7, 30)
    [listed] = (await call(apps_server, "GET", url)).json()["schedules"]
    assert listed["next"] == schedule["next"] and listed["parameters"] == {"n": 4}
    r = await call(apps_server, "DELETE", f"/api/collab/schedules/{schedule['id']}")
    assert r.status_code == 204


async def test_a_warm_kernel_is_faster_than_a_cold_start(spawn_server, monkeypatch):
    for key, user in {**APP_USERS, **VIEWER_OF_APPS}.items():
        monkeypatch.setitem(server_support.USERS, key, user)
    server = spawn_server(
        "--CollabServer.apps_pool_size=1",
        "--CollabServer.authorization_provider_class=support.providers.TokenInKernelProvider",
    )
    slow_setup = app_notebook([("", "import os, time\ntime.sleep(1.5)"),
                               ("parameters", "n = 1"),
                               ("result", "n * 2, os.environ.get('JUPYTER_AUTH_ID')")])  # fmt: skip
    # A cold start: the first run of an app nobody looked at (its pool only starts filling
    # with the run, and a kernel parks only after its 1.5 s setup).
    cold_pid = await publish(server, slow_setup, "cold.ipynb")
    started = time.monotonic()
    cold = await run_app(server, cold_pid, {"n": 5})
    cold_seconds = time.monotonic() - started
    assert cold["warm"] is False and cold["result"] == "(10, 'rhea')", cold

    pid = await publish(server, slow_setup, "warm.ipynb")
    # Someone who may only look at the app starts no kernel for it.
    r = await call(server, "GET", f"/api/collab/apps/{pid}", "vera-token")
    assert r.status_code == 200 and r.json()["pool"] == {"parked": 0, "starting": 0}, r.text
    assert r.json()["may_run"] is False
    r = await call(server, "POST", f"/api/collab/apps/{pid}/runs", "vera-token", json={})
    assert r.status_code == 403

    async def parked() -> int:
        r = await call(server, "GET", f"/api/collab/apps/{pid}")
        return int(r.json()["pool"]["parked"])

    deadline = time.monotonic() + 60
    while await parked() < 1:  # the barrier: a kernel parked with its setup run
        assert time.monotonic() < deadline, "no kernel was parked"
        await asyncio.sleep(0.1)
    started = time.monotonic()
    warm = await run_app(server, pid, {"n": 21})
    warm_seconds = time.monotonic() - started
    # Identity reaches a warm kernel too, though it was started before anyone asked.
    assert warm["warm"] is True and warm["result"] == "(42, 'rhea')", warm
    assert warm_seconds < cold_seconds - 1.0, (warm_seconds, cold_seconds)
    # The warm run's notebook holds its setup cell as run in the parked kernel.
    r = await call(server, "GET", f"/api/collab/runs/{warm['id']}/notebook")
    assert r.json()["cells"][0]["execution_count"] == 1
    # The pool refills (a kernel is never reused after a run: it parks a new one).
    deadline = time.monotonic() + 60
    while await parked() < 1:
        assert time.monotonic() < deadline, "the pool did not refill"
        await asyncio.sleep(0.1)

"""Who may run an app, chosen by its publishers (``/api/collab/apps/{id}/audience``), on a real
server with local accounts and real kernels; and the bounded list of published copies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support.notebooks import notebook_json
from support.server import ServerProcess

PASSWORDS = {
    "root": "root-password-1",
    "alice": "alice-password-1",  # owns lab/, may run code: a publisher who may open the app
    "nora": "nora-password-1",  # owns lab/ too, may not run code
    "bob": "bob-password-1",  # signed in, nothing granted
    "vic": "vic-password-1",  # granted to see the app (not run it)
}
FLAGS = {"root": ["--admin"], "alice": ["--execute"]}

RESULT = (
    "import os\nfrom IPython.display import JSON\n"
    "JSON({'twice': n * 2, 'who': os.environ.get('JUPYTER_AUTH_ID')})"
)
APP = notebook_json(("code", "n = 2"), ("code", RESULT))
APP["cells"][0]["metadata"]["tags"] = ["parameters"]
APP["cells"][1]["metadata"]["tags"] = ["result"]


class People:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.tokens: dict[str, str] = {}

    def call(self, method: str, url: str, who: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"token {self.tokens[who]}"}
        with httpx.Client(base_url=self.server.http_url, headers=headers, timeout=90) as c:
            return c.request(method, url, **kw)

    def publish(self, name: str, who: str = "alice", notebook: dict[str, Any] = APP) -> str:
        path = self.server.root / "lab" / name
        path.write_text(json.dumps(notebook))
        r = self.call("POST", f"/api/collab/publish/lab/{name}", who, json={"title": name})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    server = ServerProcess.with_accounts(
        tmp_path_factory.mktemp("app-audience"),
        PASSWORDS,
        FLAGS,
        ["--CollabServer.apps_pool_size=0"],
    )
    (server.root / "lab").mkdir()
    server.start()
    found = People(server)
    found.tokens.update(server.sign_in_all(PASSWORDS))
    for name in ("alice", "nora"):
        r = found.call("POST", "/api/collab/shares/lab", "root",
                       json={"principal": f"user:{name}", "role": "owner"})  # fmt: skip
        assert r.status_code == 201, r.text
    yield found
    server.stop()


def listed(people: People, who: str) -> list[str]:
    r = people.call("GET", "/api/collab/apps", who)
    assert r.status_code == 200, r.text
    return [app["id"] for app in r.json()["apps"]]


def test_a_publisher_who_may_run_code_opens_the_app_to_everyone_signed_in(people):
    pid = people.publish("opened.ipynb")
    audience = f"/api/collab/apps/{pid}/audience"
    r = people.call("GET", audience, "alice")
    assert r.status_code == 200 and r.json() == {"id": pid, "audience": "restricted"}, r.text
    # Bob, signed in, neither sees nor runs it yet; he is told no more than "no such app".
    assert people.call("GET", f"/api/collab/apps/{pid}", "bob").status_code == 404
    assert pid not in listed(people, "bob")
    assert people.call("GET", audience, "bob").status_code == 404

    r = people.call("PUT", audience, "alice", json={"audience": "signed-in"})
    assert r.status_code == 200 and r.json() == {"id": pid, "audience": "signed-in"}, r.text
    assert people.call("GET", audience, "alice").json()["audience"] == "signed-in"

    # Bob finds it among his apps and runs it, as himself.
    assert pid in listed(people, "bob")
    app = people.call("GET", f"/api/collab/apps/{pid}", "bob").json()
    assert app["may_run"] is True
    r = people.call("POST", f"/api/collab/apps/{pid}/runs?wait=60", "bob",
                    json={"parameters": {"n": 5}})  # fmt: skip
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["status"] == "succeeded", run
    assert run["result"] == {"twice": 10, "who": "bob"}
    # He may see who may run it, but not choose.
    assert people.call("GET", audience, "bob").json()["audience"] == "signed-in"
    r = people.call("PUT", audience, "bob", json={"audience": "restricted"})
    assert r.status_code == 403 and "share" in r.json()["message"], r.text
    # Running it is not reading it: the published copy stays closed to him.
    assert people.call("GET", f"/api/collab/published/{pid}", "bob").status_code == 404

    # Closed again: he can neither list, see nor run it (the same 404 as no app at all).
    r = people.call("PUT", audience, "alice", json={"audience": "restricted"})
    assert r.status_code == 200 and r.json()["audience"] == "restricted", r.text
    assert pid not in listed(people, "bob")
    assert people.call("GET", f"/api/collab/apps/{pid}", "bob").status_code == 404
    r = people.call("POST", f"/api/collab/apps/{pid}/runs", "bob", json={"parameters": {}})
    assert r.status_code == 404, r.text
    assert people.call("GET", f"/api/collab/admin/grants/apps:{pid}", "root").json()["grants"] == []


def test_who_may_choose_who_runs_an_app(people):
    pid = people.publish("chosen.ipynb")
    audience = f"/api/collab/apps/{pid}/audience"
    opened = {"audience": "signed-in"}
    # Nora may share the notebook but not run code in it: she may not have others run it.
    r = people.call("PUT", audience, "nora", json=opened)
    assert r.status_code == 403, r.text
    assert "run code" in r.json()["message"]
    assert people.call("GET", audience, "nora").json()["audience"] == "restricted"
    # Vic may see the app (an administrator's grant), not choose who runs it.
    r = people.call("POST", f"/api/collab/admin/grants/apps:{pid}", "root",
                    json={"principal": "user:vic", "role": "viewer"})  # fmt: skip
    assert r.status_code == 201, r.text
    assert people.call("GET", audience, "vic").json()["audience"] == "restricted"
    r = people.call("PUT", audience, "vic", json=opened)
    assert r.status_code == 403 and "share" in r.json()["message"], r.text
    # Bob may see nothing of it: 404, the same as for an app that does not exist.
    for who, url in (("bob", audience), ("alice", "/api/collab/apps/no-such-app/audience")):
        r = people.call("PUT", url, who, json=opened)
        assert r.status_code == 404 and r.json()["message"] == "No such app", (who, r.text)
    # Reading the published copy is not seeing the app.
    r = people.call("PUT", f"/api/collab/published/{pid}/audience", "alice", json=opened)
    assert r.status_code == 200, r.text
    assert people.call("GET", f"/api/collab/published/{pid}", "bob").status_code == 200
    assert people.call("PUT", audience, "bob", json=opened).status_code == 404
    # An administrator may choose; nobody may open an app to people not signed in.
    r = people.call("PUT", audience, "root", json={"audience": "everyone"})
    assert r.status_code == 422, r.text
    assert "only signed-in people may run it" in r.json()["message"]
    for body in ({"audience": "the world"}, {}, {"audience": None}):
        r = people.call("PUT", audience, "alice", json=body)
        assert r.status_code == 422 and "restricted" in r.json()["message"], r.text
    r = people.call("PUT", audience, "alice", json={"audience": "signed-in", "role": "owner"})
    assert r.status_code == 400 and '"role"' in r.json()["message"], r.text
    r = people.call("PUT", audience, "root", json=opened)
    assert r.status_code == 200 and r.json()["audience"] == "signed-in", r.text
    grants = people.call("GET", f"/api/collab/admin/grants/apps:{pid}", "root").json()["grants"]
    runners = [(g["principal"], g["role"], g["granted_by"]) for g in grants]
    assert ("signed-in", "runner", "root") in runners
    # What an administrator opened wider is what a GET tells; a publisher narrows it again.
    r = people.call("POST", f"/api/collab/admin/grants/apps:{pid}", "root",
                    json={"principal": "everyone", "role": "runner"})  # fmt: skip
    assert r.status_code == 201, r.text
    assert people.call("GET", audience, "alice").json()["audience"] == "everyone"
    r = people.call("PUT", audience, "alice", json={"audience": "restricted"})
    assert r.status_code == 200, r.text
    grants = people.call("GET", f"/api/collab/admin/grants/apps:{pid}", "root").json()["grants"]
    assert [g["principal"] for g in grants] == ["user:vic"]  # one by one grants stay


def test_withdrawing_a_copy_takes_its_run_audience_with_it(people):
    pid = people.publish("withdrawn.ipynb")
    r = people.call("PUT", f"/api/collab/apps/{pid}/audience", "alice",
                    json={"audience": "signed-in"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert pid in listed(people, "bob")
    assert people.call("DELETE", f"/api/collab/published/{pid}", "alice").status_code == 204
    assert pid not in listed(people, "bob")
    assert people.call("GET", f"/api/collab/apps/{pid}/audience", "alice").status_code == 404
    assert people.call("GET", f"/api/collab/admin/grants/apps:{pid}", "root").json()["grants"] == []


def test_the_published_list_is_newest_first_and_bounded(people):
    ids = [people.publish(f"listed-{n}.ipynb") for n in range(3)]
    for pid in ids:
        r = people.call("PUT", f"/api/collab/published/{pid}/audience", "alice",
                        json={"audience": "signed-in"})  # fmt: skip
        assert r.status_code == 200, r.text
    r = people.call("GET", "/api/collab/published?limit=2", "bob")
    assert r.status_code == 200, r.text
    copies = r.json()["published"]
    assert [c["id"] for c in copies] == ids[::-1][:2]
    assert copies[0]["publisher"] == "alice" and copies[0]["publisher_name"]
    everything = people.call("GET", "/api/collab/published", "bob").json()["published"]
    assert [c["id"] for c in everything][:3] == ids[::-1]
    # Only copies Bob may read count towards the limit: an unopened newer one is skipped.
    hidden = people.publish("listed-hidden.ipynb")
    copies = people.call("GET", "/api/collab/published?limit=1", "bob").json()["published"]
    assert [c["id"] for c in copies] == [ids[-1]]
    assert hidden in [c["id"] for c in people.call(
        "GET", "/api/collab/published?limit=1", "alice").json()["published"]]  # fmt: skip
    for bad in ("0", "501", "-1", "x", "1.5"):
        r = people.call("GET", f"/api/collab/published?limit={bad}", "bob")
        assert r.status_code == 400 and '"limit"' in r.json()["message"], (bad, r.text)


def test_a_provider_without_resource_grants_answers_501(server):
    path = server.root / "app-501.ipynb"
    path.write_text(json.dumps(APP))
    headers = {"Authorization": "token admin-token"}
    with httpx.Client(base_url=server.http_url, headers=headers, timeout=20) as c:
        r = c.post("/api/collab/publish/app-501.ipynb", json={})
        assert r.status_code == 201, r.text
        audience = f"/api/collab/apps/{r.json()['id']}/audience"
        for method, body in (("GET", None), ("PUT", {"audience": "signed-in"})):
            r = c.request(method, audience, json=body)
            assert r.status_code == 501, r.text
            assert "cannot open an app to an audience" in r.json()["message"]

"""Pure logic of the web page, run in node (bundled from frontend/src by esbuild): the one
path encoder every address goes through, and the reconnect back-off."""

from __future__ import annotations

from pathlib import Path

from support.frontend import needs_node, run_in_node

pytestmark = needs_node

CHECKS = """
import { segment, encodePath, commentsUrl, contentsUrl, notebookPage } from "SRC/net/paths";
import { backoff, MAX_DELAY_MS } from "SRC/net/backoff";
const refused = (f) => { try { f(); return false; } catch { return true; } };
console.log(JSON.stringify({
  forged: commentsUrl("a b/nb.ipynb", "../../../../../api/contents/a/victim.ipynb#"),
  reply: commentsUrl("nb.ipynb", "t?1", "replies", "c%2F"),
  path: encodePath("/dir/sub dir/ü#?.ipynb/"),
  root: contentsUrl(""),
  page: notebookPage("a/b.ipynb"),
  dots: [".", "..", "%2e%2E", ""].map((s) => refused(() => segment(s))),
  dotted: refused(() => encodePath("a/../b.ipynb")),
  fine: segment("...x"),
  delays: [0, 1, 2, 3, 10, 40].map((n) => [backoff(n, () => 0), backoff(n, () => 1)]),
  max: MAX_DELAY_MS,
}));
"""


def test_paths_and_backoff(tmp_path: Path) -> None:
    result = run_in_node(CHECKS, tmp_path)
    assert result["forged"] == (
        "api/collab/comments/a%20b/nb.ipynb/..%2F..%2F..%2F..%2F..%2Fapi%2Fcontents%2Fa%2Fvictim.ipynb%23"
    )
    assert result["reply"] == "api/collab/comments/nb.ipynb/t%3F1/replies/c%252F"
    assert result["path"] == "dir/sub%20dir/%C3%BC%23%3F.ipynb"
    assert result["root"] == "api/contents/"
    assert result["page"] == "notebooks/a/b.ipynb"
    assert result["dots"] == [True, True, True, True]
    assert result["dotted"] is True
    assert result["fine"] == "...x"
    delays = result["delays"]
    assert delays[0] == [250, 500] and delays[1] == [500, 1000] and delays[2] == [1000, 2000]
    assert delays[-1] == [result["max"] / 2, result["max"]]  # capped, still jittered


AUDIENCE = """
import { audienceRefusal, audienceState, audienceUnknown, RUN_CHOICES } from "SRC/history/audience";
console.log(JSON.stringify({
  states: [audienceState("read", "signed-in"), audienceState("run", "restricted"),
           audienceState("read", "everyone")],
  runChoices: RUN_CHOICES.map((c) => c.value),
  published: [
    audienceRefusal("run", "signed-in", 403, "You may not run code in its notebook."),
    audienceRefusal("read", "everyone", 501, "does not support it"),
    audienceRefusal("run", "everyone", 422,
                    "An app runs code on this server, so only signed-in people may run it."),
  ],
  page: [audienceRefusal("run", "signed-in", 0, "Could not reach the server.", false),
         audienceRefusal("read", "signed-in", 404, "No such published notebook", false)],
  unknown: audienceUnknown("run", 501, ""),
}));
"""


def test_who_may_read_and_run_a_published_copy_in_plain_words(tmp_path: Path) -> None:
    result = run_in_node(AUDIENCE, tmp_path)
    assert result["states"] == [
        "Everyone signed in may read it.",
        "Only the people you give access to may run it as an app.",
        "Everyone may read it, also people not signed in.",
    ]
    # Nobody is offered to let people who are not signed in run code on the server.
    assert result["runChoices"] == ["restricted", "signed-in"]
    assert result["published"] == [
        "Published, but it is not open as an app to everyone signed in: you may not run code"
        " in this notebook, so you may not let others run it.",
        "Published, but it is not open to everyone: this server's sign-in system cannot open"
        " it to an audience.",
        "Published, but it is not open as an app to everyone: an app runs code on this server,"
        " so only signed-in people may run it.",
    ]
    assert result["page"] == [
        "Not changed: could not reach the server.",
        "Not changed: it no longer exists, or you may no longer see it.",
    ]
    assert result["unknown"] == (
        "Who may run it as an app cannot be chosen here: this server's sign-in system cannot"
        " open it to an audience."
    )

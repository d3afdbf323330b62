"""Pure logic of the administration page, run in node (bundled from frontend/src/admin by
esbuild): searching users, principals and tokens in words, and the API addresses (a user or
group name always stays one segment)."""

from __future__ import annotations

from pathlib import Path

from support.frontend import needs_node, run_in_node

pytestmark = needs_node

CHECKS = """
import { accessUrl, filterUsers, memberUrl, principalText, tokenText, userUrl }
  from "SRC/admin/model";
const user = (name, display_name, groups, extra = {}) => ({ name, display_name, groups,
  is_admin: false, may_execute: false, disabled: false, has_password: true, created_at: null,
  last_sign_in_at: null, ...extra });
const users = [user("ann", "Ann Archer", ["finance"]), user("bob", "Bob", [], { is_admin: true }),
  user("cid", "Cid", ["finance", "ops"], { disabled: true })];
const names = (q) => filterUsers(users, q).map((u) => u.name);
console.log(JSON.stringify({
  all: names(""), finance: names("finance"), archer: names("ARCHER"), admin: names("administrator"),
  disabled: names("disabled finance"), none: names("zed"),
  principals: ["user:ann", "group:team", "signed-in", "everyone", "odd"].map(principalText),
  user: userUrl("../../api/contents", "reset-password"),
  member: memberUrl("a/b", "c?d"),
  access: accessUrl("a b/c#.ipynb"),
  token: userUrl("ann", "tokens", "a/b"),
  tokenTexts: [{ kind: "api", label: "nightly job" }, { kind: "api", label: "" },
    { kind: "session", label: "browser" }].map(tokenText),
}));
"""


def test_admin_page_logic(tmp_path: Path) -> None:
    result = run_in_node(CHECKS, tmp_path)
    assert result["all"] == ["ann", "bob", "cid"]
    assert result["finance"] == ["ann", "cid"]
    assert result["archer"] == ["ann"]
    assert result["admin"] == ["bob"]
    assert result["disabled"] == ["cid"]
    assert result["none"] == []
    assert result["principals"] == ["ann", "group team", "everyone signed in", "everyone", "odd"]
    assert result["user"] == "api/collab/admin/users/..%2F..%2Fapi%2Fcontents/reset-password"
    assert result["member"] == "api/collab/admin/groups/a%2Fb/members/c%3Fd"
    assert result["access"] == "api/collab/admin/access?path=a%20b%2Fc%23.ipynb"
    assert result["token"] == "api/collab/admin/users/ann/tokens/a%2Fb"
    assert result["tokenTexts"] == ["API token “nightly job”", "API token", "Browser session"]

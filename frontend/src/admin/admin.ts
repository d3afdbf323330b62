// The administration page (/admin), for administrators: the users (search, create, disable and
// enable, reset a password — the page shows the one-time link to hand over, never a password —,
// make and unmake administrators, let people run code, see and revoke their API tokens and browser
// sessions), the groups and their members, and who has access to a path
// or what a person was granted. Everything it shows comes from /api/collab/admin/…, which
// refuses anyone but administrators; a server whose sign-in system cannot manage users says so.

import { api, ApiError, base, me } from "../net/api";
import { confirmAction } from "../ui/dialog";
import { el } from "../ui/dom";
import { icon, type IconName } from "../ui/icons";
import { topBar } from "../ui/topbar";
import { ADMIN, accessUrl, filterUsers, memberUrl, principalText, type Token, tokenText, type User, userUrl } from "./model";
import "./admin.css";
import { when } from "../ui/time";

interface Group { name: string; members: string[] }
interface Link { url: string; expires_at: string | null }
interface Grant { principal: string; path: string; role: string; inherited?: boolean; members?: string[]; note?: string }
interface Person { name: string; display_name: string; role: string; via: string[]; disabled: boolean }


function button(text: string, iconName: IconName | null, attrs: Record<string, string> = {}): HTMLButtonElement {
  const b = el("button", { class: "button quiet small", type: "button", ...attrs });
  if (iconName) b.append(icon(iconName));
  b.append(el("span", {}, text));
  return b;
}

export async function showAdmin(root: HTMLElement): Promise<void> {
  document.title = "Users and groups · collab_server";
  const who = await me("");
  const header = topBar("Users and groups", null, who.identity);
  const main = el("main", { class: "admin", "data-testid": "admin" });
  root.replaceChildren(header, main);
  main.append(el("h1", {}, "Users and groups"));
  if (!who.server_admin) {
    main.append(el("p", { class: "notice", role: "alert", "data-testid": "admin-refused" },
      "Only administrators can manage users and groups. Ask one of them if you need an account changed."));
    return;
  }
  const status = el("p", { class: "admin-status", role: "status", "aria-live": "polite", "data-testid": "admin-status" });
  const linkBox = el("div", { class: "fresh", "data-testid": "sign-in-link", hidden: "" });
  main.append(status, linkBox);
  const say = (text: string, error = false) => {
    status.textContent = text;
    status.classList.toggle("error", error);
  };

  let users: User[] = [];
  let groups: Group[] = [];

  // -- users ------------------------------------------------------------------------------
  const search = el("input", { type: "search", id: "user-search", placeholder: "Name, group, “disabled”…",
    "data-testid": "user-search", autocomplete: "off" });
  const create = button("New user", "plus", { class: "button small", "data-testid": "new-user" });
  const userList = el("div", { class: "user-list", "data-testid": "users" });
  main.append(el("section", { class: "panel", "aria-labelledby": "users-title" },
    el("div", { class: "panel-head" }, el("h2", { id: "users-title" }, "Users"), el("span", { class: "grow" }), create),
    el("div", { class: "search-field" }, el("label", { for: "user-search" }, "Search users"), search),
    userList));

  // -- groups -----------------------------------------------------------------------------
  const groupList = el("div", { class: "group-list", "data-testid": "groups" });
  const newGroupName = el("input", { id: "new-group-name", placeholder: "e.g. finance", autocomplete: "off",
    "data-testid": "new-group-name", required: "" });
  const newGroupMember = el("select", { id: "new-group-member", "data-testid": "new-group-member" });
  const newGroup = el("form", { class: "inline-form", "aria-label": "Create a group", "data-testid": "new-group" },
    el("div", { class: "field" }, el("label", { for: "new-group-name" }, "New group name"), newGroupName),
    el("div", { class: "field" }, el("label", { for: "new-group-member" }, "First member"), newGroupMember),
    el("button", { class: "button small", type: "submit" }, "Create group"));
  main.append(el("section", { class: "panel", "aria-labelledby": "groups-title" },
    el("div", { class: "panel-head" }, el("h2", { id: "groups-title" }, "Groups")),
    el("p", { class: "muted" }, "A group exists while it has members. Share a file or folder with a group and everyone in it gets access."),
    groupList, newGroup));

  // -- who has access ---------------------------------------------------------------------
  const pathInput = el("input", { id: "access-path", placeholder: "folder/notebook.ipynb (empty: everything)",
    autocomplete: "off", "data-testid": "access-path" });
  const pathForm = el("form", { class: "inline-form", "aria-label": "Who has access to a path", "data-testid": "access-form" },
    el("div", { class: "field wide" }, el("label", { for: "access-path" }, "File or folder"), pathInput),
    el("button", { class: "button small", type: "submit" }, "Who has access?"));
  const personSelect = el("select", { id: "access-user", "data-testid": "access-user" });
  const personForm = el("form", { class: "inline-form", "aria-label": "What a person was granted", "data-testid": "grants-form" },
    el("div", { class: "field" }, el("label", { for: "access-user" }, "Person"), personSelect),
    el("button", { class: "button small", type: "submit" }, "What were they granted?"));
  const accessResult = el("div", { class: "access-result", "data-testid": "access-result", "aria-live": "polite" });
  main.append(el("section", { class: "panel", "aria-labelledby": "access-title" },
    el("div", { class: "panel-head" }, el("h2", { id: "access-title" }, "Who has access")),
    pathForm, personForm, accessResult));

  const failed = (what: string, e: any) => say(`${what}: ${e?.message || e}`, true);

  const renderUsers = () => {
    const shown = filterUsers(users, search.value);
    if (!shown.length) {
      userList.replaceChildren(el("p", { class: "empty" }, users.length ? "No user matches this search." : "There are no users."));
      return;
    }
    const table = el("table", { class: "users" },
      el("caption", { class: "visually-hidden" }, "Users of this server"),
      el("thead", {}, el("tr", {}, ...["Name", "Groups", "Role", "Status", "Last sign-in", "Actions"].map((h) =>
        el("th", { scope: "col" }, h)))));
    const body = el("tbody");
    for (const user of shown) body.append(userRow(user));
    table.append(body);
    userList.replaceChildren(table);
  };

  const userRow = (user: User): HTMLElement => {
    const label = user.display_name && user.display_name !== user.name ? `${user.display_name} (${user.name})` : user.name;
    const roleCell = el("td", { "data-label": "Role" });
    roleCell.append(user.is_admin ? el("span", { class: "badge" }, "Administrator")
      : el("span", {}, user.may_execute ? "User, may run code" : "User"));
    const statusCell = el("td", { "data-label": "Status" },
      user.disabled ? el("span", { class: "badge warn" }, "Disabled")
        : user.has_password ? el("span", {}, "Active") : el("span", { class: "muted" }, "No password yet"));
    const disable = button(user.disabled ? "Enable" : "Disable", user.disabled ? "check" : "ban",
      { "aria-label": `${user.disabled ? "Enable" : "Disable"} ${user.name}`, "data-testid": "toggle-disabled" });
    disable.addEventListener("click", async () => {
      if (!user.disabled && !(await confirmAction(
        `Disable ${user.name}? They are signed out at once and cannot sign in until enabled again.`, "Disable"))) return;
      await patch(user, { disabled: !user.disabled }, user.disabled ? `${user.name} is enabled again.` : `${user.name} is disabled.`);
    });
    const reset = button("Reset password", "key", { "aria-label": `Reset password of ${user.name}`, "data-testid": "reset-password" });
    reset.addEventListener("click", async () => {
      if (!(await confirmAction(`Reset the password of ${user.name}? Their password stops working and they are signed out `
        + "everywhere. You get a one-time link to give them, with which they choose a new password.", "Reset password"))) return;
      try {
        const made = await api<{ user: User; link: Link }>("POST", userUrl(user.name, "reset-password"));
        showLink(made.user.name, made.link, "reset");
        await reload();
      } catch (e) {
        failed(`Could not reset the password of ${user.name}`, e);
      }
    });
    const toggleAdmin = button(user.is_admin ? "Remove administrator" : "Make administrator", "shield",
      { "aria-label": `${user.is_admin ? "Remove administrator" : "Make administrator"}: ${user.name}`, "data-testid": "toggle-admin" });
    toggleAdmin.addEventListener("click", async () => {
      const question = user.is_admin ? `Remove the administrator rights of ${user.name}?`
        : `Make ${user.name} an administrator? Administrators may read, change and share every file, run code and manage users.`;
      if (!(await confirmAction(question, user.is_admin ? "Remove" : "Make administrator"))) return;
      await patch(user, { admin: !user.is_admin },
        user.is_admin ? `${user.name} is no longer an administrator.` : `${user.name} is now an administrator.`);
    });
    // Running code is a per-person right (a kernel runs with the server's rights); an
    // administrator always has it.
    const runCode = button(user.may_execute ? "Stop running code" : "Allow running code", "run",
      { "aria-label": `${user.may_execute ? "Stop running code" : "Allow running code"}: ${user.name}`, "data-testid": "toggle-execute" });
    runCode.hidden = user.is_admin;
    runCode.addEventListener("click", async () => {
      if (!user.may_execute && !(await confirmAction(`Let ${user.name} run code? Code runs with the server's rights `
        + "and can read every file on it.", "Allow running code"))) return;
      await patch(user, { may_execute: !user.may_execute },
        user.may_execute ? `${user.name} may no longer run code.` : `${user.name} may now run code.`);
    });
    const tokens = button("Tokens…", "key", { "aria-label": `Tokens of ${user.name}`, "aria-haspopup": "dialog",
      "data-testid": "user-tokens" });
    tokens.addEventListener("click", () => tokensDialog(user.name, say));
    // Your own row: disabling yourself would sign you out at once (the server refuses it), and
    // stepping down would take this page away; another administrator does either.
    const yourself = user.name === who.identity.username;
    let selfNote: HTMLElement | "" = "";
    if (yourself) {
      disable.hidden = true;
      toggleAdmin.hidden = user.is_admin;
      selfNote = el("span", { class: "muted self-note", "data-testid": "self-note",
        title: "Disabling yourself would sign you out at once, and removing your own rights would take this page away." },
        "This is you: another administrator can disable you or remove your rights.");
    }
    return el("tr", { "data-user": user.name, class: user.disabled ? "disabled" : "" },
      el("th", { scope: "row", "data-label": "Name" }, el("span", { class: "user-label" }, label)),
      el("td", { "data-label": "Groups" }, user.groups.length ? user.groups.join(", ") : el("span", { class: "muted" }, "none")),
      roleCell, statusCell,
      el("td", { "data-label": "Last sign-in" }, when(user.last_sign_in_at, "never")),
      el("td", { class: "actions" }, el("div", { class: "row" }, disable, reset, toggleAdmin, runCode, tokens, selfNote)));
  };

  const patch = async (user: User, change: Record<string, unknown>, done: string) => {
    try {
      await api("PATCH", userUrl(user.name), change);
      say(done);
      await reload();
    } catch (e) {
      failed(`Could not change ${user.name}`, e);
    }
  };

  const showLink = (name: string, link: Link, why: "new" | "reset") => {
    const value = el("input", { class: "link-value", readonly: "", value: link.url, "aria-label": `One-time sign-in link for ${name}`,
      "data-testid": "link-value" });
    const copy = button("Copy", "copy", { "data-testid": "copy-link" });
    const copied = el("span", { class: "muted", role: "status" });
    copy.addEventListener("click", async () => {
      value.select();
      try {
        await navigator.clipboard.writeText(link.url);
        copied.textContent = "Copied.";
      } catch {
        copied.textContent = "Press Ctrl+C to copy the selected link.";
      }
    });
    const done = button("Done", null);
    done.addEventListener("click", () => { linkBox.hidden = true; linkBox.replaceChildren(); });
    linkBox.replaceChildren(
      el("p", { class: "warning" }, el("b", {}, `One-time sign-in link for ${name}. `),
        why === "new" ? "They open it to sign in and choose their password. " : "Their old password no longer works. ",
        `Give it to them privately: it works once, until ${when(link.expires_at, "it is used")}, and signs in whoever opens it.`),
      el("div", { class: "row" }, value, copy, done), copied);
    linkBox.hidden = false;
    value.focus();
    value.select();
  };

  const renderGroups = () => {
    if (!groups.length) {
      groupList.replaceChildren(el("p", { class: "empty" }, "There are no groups yet."));
    } else {
      groupList.replaceChildren(...groups.map(groupCard));
    }
    const options = () => users.map((u) => el("option", { value: u.name }, u.name));
    newGroupMember.replaceChildren(...options());
    const chosen = personSelect.value;
    personSelect.replaceChildren(...options());
    if (chosen) personSelect.value = chosen;
  };

  const groupCard = (group: Group): HTMLElement => {
    const id = `group-${group.name.replace(/[^a-z0-9_-]/g, "_")}`;
    const members = el("ul", { class: "members", "aria-labelledby": `${id}-title` });
    for (const member of group.members) {
      const remove = el("button", { class: "icon-button chip-remove", type: "button", title: `Remove ${member} from ${group.name}`,
        "aria-label": `Remove ${member} from ${group.name}`, "data-testid": "remove-member" }, icon("close"));
      remove.addEventListener("click", async () => {
        try {
          await api("DELETE", memberUrl(group.name, member));
          say(group.members.length === 1 ? `${member} left ${group.name}; the group is gone with its last member.`
            : `${member} left ${group.name}.`);
          await reload();
        } catch (e) {
          failed(`Could not remove ${member} from ${group.name}`, e);
        }
      });
      members.append(el("li", { class: "chip", "data-member": member }, el("span", {}, member), remove));
    }
    const candidates = users.filter((u) => !group.members.includes(u.name));
    const select = el("select", { id: `${id}-add`, "data-testid": "add-member-user" },
      ...candidates.map((u) => el("option", { value: u.name }, u.name)));
    const add = el("form", { class: "inline-form", "aria-label": `Add a member to ${group.name}` },
      el("label", { for: `${id}-add`, class: "visually-hidden" }, `Person to add to ${group.name}`), select,
      el("button", { class: "button quiet small", type: "submit", "data-testid": "add-member" }, "Add"));
    add.hidden = !candidates.length;
    add.addEventListener("submit", async (e) => {
      e.preventDefault();
      await addMember(group.name, select.value);
    });
    return el("div", { class: "group", "data-group": group.name },
      el("h3", { id: `${id}-title` }, icon("users"), el("span", {}, group.name),
        el("span", { class: "muted" }, ` · ${group.members.length} ${group.members.length === 1 ? "member" : "members"}`)),
      members, add);
  };

  const addMember = async (group: string, name: string) => {
    if (!name) return;
    try {
      await api("PUT", memberUrl(group, name));
      say(`${name} is now in ${group}.`);
      await reload();
    } catch (e) {
      failed(`Could not add ${name} to ${group}`, e);
    }
  };

  newGroup.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = newGroupName.value.trim().toLowerCase();
    if (!name) return;
    await addMember(name, newGroupMember.value);
    if (groups.some((g) => g.name === name)) newGroupName.value = "";
  });

  pathForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const path = pathInput.value.trim().replace(/^\/+|\/+$/g, "");
    try {
      const report = await api<{ path: string; grants: Grant[]; people: Person[]; admins: string[] }>(
        "GET", accessUrl(path));
      showAccess(report);
    } catch (err: any) {
      accessResult.replaceChildren(el("p", { class: "error", role: "alert" },
        err instanceof ApiError && err.status === 404 ? `There is no file or folder “${path}”.` : `Could not look it up: ${err.message}`));
    }
  });

  const showAccess = (report: { path: string; grants: Grant[]; people: Person[]; admins: string[] }) => {
    const where = report.path || "the whole server";
    const out: Node[] = [el("h3", {}, `Who has access to ${where}`)];
    if (report.people.length) {
      const table = el("table", { class: "access", "data-testid": "access-people" },
        el("caption", { class: "visually-hidden" }, `People with access to ${where}`),
        el("thead", {}, el("tr", {}, ...["Person", "Role", "Through"].map((h) => el("th", { scope: "col" }, h)))));
      const body = el("tbody");
      for (const p of report.people) {
        body.append(el("tr", { "data-person": p.name },
          el("th", { scope: "row", "data-label": "Person" }, p.display_name !== p.name ? `${p.display_name} (${p.name})` : p.name,
            p.disabled ? el("span", { class: "badge warn" }, "Disabled") : ""),
          el("td", { "data-label": "Role" }, p.role),
          el("td", { "data-label": "Through" }, p.via.map(principalText).join(", "))));
      }
      table.append(body);
      out.push(table);
    } else {
      out.push(el("p", { class: "empty" }, "Nobody but administrators."));
    }
    out.push(el("p", { class: "muted" }, `Administrators (every right on every file): ${report.admins.join(", ") || "none"}.`));
    if (report.grants.length) {
      out.push(el("h4", {}, "Grants"), el("ul", { class: "grants", "data-testid": "access-grants" }, ...report.grants.map((g) =>
        el("li", {}, el("b", {}, principalText(g.principal)), ` — ${g.role} on ${g.path || "everything"}`,
          g.inherited ? el("span", { class: "muted" }, " (from a folder above)") : "",
          g.members ? el("span", { class: "muted" }, ` · members: ${g.members.join(", ") || "none"}`) : ""))));
    }
    accessResult.replaceChildren(...out);
  };

  personForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = personSelect.value;
    if (!name) return;
    try {
      const found = await api<{ user: User; grants: Grant[]; resources: { principal: string; resource: string; role: string }[] }>(
        "GET", userUrl(name, "access"));
      const out: Node[] = [el("h3", {}, `What ${name} was granted`)];
      if (found.user.is_admin) out.push(el("p", {}, `${name} is an administrator: every right on every file.`));
      const items = [...found.grants.map((g) => el("li", {}, el("b", {}, `${g.role}`), ` on ${g.path || "everything"}`,
        el("span", { class: "muted" }, g.principal === `user:${name}` ? " (directly)" : ` (through ${principalText(g.principal)})`))),
      ...found.resources.map((r) => el("li", {}, el("b", {}, r.role), ` on ${r.resource}`,
        el("span", { class: "muted" }, ` (through ${principalText(r.principal)})`)))];
      out.push(items.length ? el("ul", { class: "grants", "data-testid": "user-grants" }, ...items)
        : el("p", { class: "empty" }, "Nothing was shared with them."));
      accessResult.replaceChildren(...out);
    } catch (err: any) {
      accessResult.replaceChildren(el("p", { class: "error", role: "alert" }, `Could not look it up: ${err.message}`));
    }
  });

  search.addEventListener("input", renderUsers);
  create.addEventListener("click", () => createUserDialog(async (made) => {
    say(`${made.user.name} was created.`);
    if (made.link) showLink(made.user.name, made.link, "new");
    await reload();
  }));

  const reload = async () => {
    try {
      [users, groups] = await Promise.all([
        api<{ users: User[] }>("GET", `${ADMIN}/users`).then((r) => r.users),
        api<{ groups: Group[] }>("GET", `${ADMIN}/groups`).then((r) => r.groups),
      ]);
    } catch (e: any) {
      if (e instanceof ApiError && e.status === 501) {
        main.replaceChildren(el("h1", {}, "Users and groups"), el("p", { class: "notice", "data-testid": "admin-unsupported" },
          "This server's sign-in system manages its users elsewhere: they cannot be changed on this page."));
        return;
      }
      failed("Could not load the users", e);
      return;
    }
    renderUsers();
    renderGroups();
  };
  await reload();
}

/** The "New user" dialog; ``created`` gets the server's answer. */
function createUserDialog(created: (made: { user: User; link: Link | null }) => Promise<void>): void {
  const dialog = el("dialog", { class: "dialog admin-dialog", "aria-labelledby": "new-user-title", "data-testid": "new-user-dialog" });
  const field = (id: string, label: string, input: HTMLElement, hint = "") => el("div", { class: "field" },
    el("label", { for: id }, label), input, hint ? el("span", { class: "muted", id: `${id}-hint` }, hint) : "");
  const name = el("input", { id: "nu-name", required: "", autocomplete: "off", maxlength: "64", "data-testid": "nu-name",
    "aria-describedby": "nu-name-hint" });
  const display = el("input", { id: "nu-display", autocomplete: "off", maxlength: "100", "data-testid": "nu-display" });
  const password = el("input", { id: "nu-password", type: "password", autocomplete: "new-password", "data-testid": "nu-password",
    "aria-describedby": "nu-password-hint" });
  const groups = el("input", { id: "nu-groups", autocomplete: "off", placeholder: "e.g. finance, team-a", "data-testid": "nu-groups" });
  const admin = el("input", { id: "nu-admin", type: "checkbox", "data-testid": "nu-admin" });
  const execute = el("input", { id: "nu-execute", type: "checkbox", "data-testid": "nu-execute" });
  const error = el("p", { class: "error", role: "alert" });
  const cancel = el("button", { class: "button quiet small", type: "button" }, "Cancel");
  const form = el("form", {},
    el("h2", { id: "new-user-title" }, "New user"),
    field("nu-name", "User name", name, "What they sign in with: lower-case letters, digits, '.', '_', '-' or '@'."),
    field("nu-display", "Full name (optional)", display),
    field("nu-password", "Password (optional)", password, "Leave it empty to get a one-time link with which they choose their own."),
    field("nu-groups", "Groups (optional, separated by commas)", groups),
    el("div", { class: "checks" },
      el("label", { for: "nu-execute" }, execute, " May run code (kernels run with the server's rights)"),
      el("label", { for: "nu-admin" }, admin, " Administrator (every right on every file)")),
    error,
    el("div", { class: "row end" }, cancel, el("button", { class: "button small", type: "submit", "data-testid": "nu-create" }, "Create user")));
  dialog.append(form);
  cancel.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    const body = {
      name: name.value.trim().toLowerCase(),
      display_name: display.value.trim() || null,
      password: password.value || null,
      groups: groups.value.split(",").map((g) => g.trim().toLowerCase()).filter(Boolean),
      admin: admin.checked,
      may_execute: execute.checked,
    };
    try {
      const made = await api<{ user: User; link: Link | null }>("POST", `${ADMIN}/users`, body);
      dialog.close();
      await created(made);
    } catch (err: any) {
      error.textContent = err.message;
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  name.focus();
}

/** The "Tokens…" dialog: a person's API tokens and browser sessions, each with Revoke. */
function tokensDialog(name: string, say: (text: string, error?: boolean) => void): void {
  const dialog = el("dialog", { class: "dialog admin-dialog tokens-dialog", "aria-labelledby": "tokens-title",
    "data-testid": "tokens-dialog" }) as HTMLDialogElement;
  const list = el("div", { class: "token-list", "data-testid": "token-list" });
  const status = el("p", { class: "admin-status", role: "status", "aria-live": "polite" });
  const close = el("button", { class: "button quiet small", type: "button" }, "Close");
  dialog.append(el("h2", { id: "tokens-title" }, `Tokens of ${name}`),
    el("p", { class: "muted" }, "Their API tokens and browser sessions. A revoked one stops working at once; "
      + "secrets are never shown."),
    status, list, el("div", { class: "row end" }, close));
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());

  const revoke = async (token: Token) => {
    const what = tokenText(token);
    if (!(await confirmAction(`Revoke ${what} of ${name}? Whatever uses it is signed out at once.`, "Revoke"))) return;
    try {
      await api("DELETE", userUrl(name, "tokens", token.id));
      status.textContent = `${what} of ${name} is revoked.`;
      say(`${what} of ${name} is revoked.`);
    } catch (e: any) {
      status.textContent = `Could not revoke it: ${e?.message || e}`;
    }
    await load();
  };

  const load = async () => {
    let tokens: Token[];
    try {
      tokens = (await api<{ tokens: Token[] }>("GET", userUrl(name, "tokens"))).tokens;
    } catch (e: any) {
      list.replaceChildren(el("p", { class: "error", role: "alert" }, e instanceof ApiError && e.status === 501
        ? "This server's sign-in system does not let administrators manage other people's tokens."
        : `Could not load the tokens: ${e?.message || e}`));
      return;
    }
    if (!tokens.length) {
      list.replaceChildren(el("p", { class: "empty" }, `${name} has no API tokens and is not signed in anywhere.`));
      return;
    }
    const body = el("tbody");
    for (const token of tokens) {
      const what = tokenText(token);
      const button_ = button("Revoke", "trash", { "aria-label": `Revoke ${what} of ${name}`, "data-testid": "revoke-token" });
      button_.addEventListener("click", () => revoke(token));
      body.append(el("tr", { "data-token": token.id, "data-kind": token.kind },
        el("th", { scope: "row", "data-label": "Token" }, what),
        el("td", { "data-label": "Created" }, when(token.created_at, "unknown")),
        el("td", { "data-label": "Expires" }, when(token.expires_at, "never")),
        el("td", { "data-label": "Last used" }, when(token.last_used_at, "never")),
        el("td", { class: "actions" }, button_)));
    }
    list.replaceChildren(el("table", { class: "tokens" },
      el("caption", { class: "visually-hidden" }, `Tokens of ${name}`),
      el("thead", {}, el("tr", {}, ...["Token", "Created", "Expires", "Last used", "Actions"].map((h) =>
        el("th", { scope: "col" }, h)))), body));
  };

  document.body.append(dialog);
  dialog.showModal();
  close.focus();
  void load();
}

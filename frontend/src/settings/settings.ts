// The settings page (/settings): who you are, your personal API tokens (list, create with a
// label and an expiry — the token is shown once, with a copy button — and revoke; only where
// the sign-in system issues them), sign out.

import { api, ApiError, base, me } from "../net/api";
import { tokensUrl } from "../net/paths";
import { confirmAction } from "../ui/dialog";
import { el } from "../ui/dom";
import { iconButton } from "../ui/icons";
import { topBar } from "../ui/topbar";
import "./settings.css";
import { when } from "../ui/time";

interface Token {
  id: string;
  label: string;
  created_at: string | number | null;
  expires_at: string | number | null;
  last_used_at: string | number | null;
}

/** A stored time (ISO text or seconds since 1970) in words; "—" for none. */
const EXPIRIES: [string, string][] = [["7", "7 days"], ["30", "30 days"], ["90", "90 days"], ["365", "1 year"], ["", "Never"]];

export async function showSettings(root: HTMLElement): Promise<void> {
  document.title = "Settings · collab_server";
  const who = await me("");
  const header = topBar("Settings", null, who.identity);
  const main = el("main", { class: "settings", "data-testid": "settings", "data-state": "loading" });
  root.replaceChildren(header, main);
  main.append(el("h1", {}, "Settings"));
  main.append(el("section", { class: "card", "aria-labelledby": "account-title" },
    el("h2", { id: "account-title" }, "Account"),
    el("p", {}, "Signed in as ", el("b", {}, who.identity.display_name || who.identity.username),
      ` (${who.identity.username}).`),
    el("a", { href: `${base}logout`, class: "button quiet", "data-testid": "sign-out" }, "Sign out")));

  // Shown once the server says it issues personal tokens (a sign-in system that does not
  // would leave a card with nothing to do).
  const section = el("section", { class: "card", "aria-labelledby": "tokens-title", "data-testid": "tokens", hidden: "" });
  main.append(section);
  section.append(el("h2", { id: "tokens-title" }, "API tokens"),
    el("p", { class: "muted" }, "A token lets a program act as you (for example the collab_server Python client, "
      + "or JupyterLab). Anyone holding it has your access: keep it secret, and revoke it when it is no longer needed."));

  const label = el("input", { id: "token-label", maxlength: "100", placeholder: "e.g. laptop script", required: "" });
  const expiry = el("select", { id: "token-expiry" }, ...EXPIRIES.map(([v, t]) => el("option", { value: v }, t)));
  (expiry as HTMLSelectElement).value = "30";
  const error = el("p", { class: "error", role: "alert" });
  const form = el("form", { class: "token-form" },
    el("div", { class: "field" }, el("label", { for: "token-label" }, "Label"), label),
    el("div", { class: "field" }, el("label", { for: "token-expiry" }, "Expires after"), expiry),
    el("button", { class: "button", type: "submit" }, "Create token"));
  const fresh = el("div", { class: "fresh", "data-testid": "new-token", hidden: "" });
  const list = el("div", { class: "token-list" });
  section.append(form, error, fresh, list);

  const load = async () => {
    let tokens: Token[];
    try {
      tokens = (await api<{ tokens: Token[] }>("GET", tokensUrl())).tokens;
    } catch (e: any) {
      if (e instanceof ApiError && e.status === 501) {
        section.remove();
        return;
      }
      section.hidden = false;
      error.textContent = `Could not list your tokens: ${e.message}`;
      return;
    }
    section.hidden = false;
    if (!tokens.length) {
      list.replaceChildren(el("p", { class: "empty" }, "You have no API tokens."));
      return;
    }
    const table = el("table", { class: "tokens" },
      el("caption", { class: "visually-hidden" }, "Your API tokens"),
      el("thead", {}, el("tr", {}, ...["Label", "Created", "Expires", "Last used", ""].map((h) =>
        el("th", { scope: "col" }, h ? h : el("span", { class: "visually-hidden" }, "Actions"))))));
    const body = el("tbody");
    for (const token of tokens) {
      const name = token.label || "(no label)";
      const revoke = iconButton("trash", `Revoke ${name}`, "Revoke", "danger");
      revoke.addEventListener("click", async () => {
        if (!(await confirmAction(`Revoke the token “${name}”? Programs using it stop working at once.`, "Revoke"))) return;
        try {
          await api("DELETE", tokensUrl(token.id));
          await load();
        } catch (e: any) {
          error.textContent = `Could not revoke ${name}: ${e.message}`;
        }
      });
      body.append(el("tr", { "data-token-id": token.id },
        el("td", { "data-label": "Label" }, name),
        el("td", { "data-label": "Created" }, when(token.created_at, "—")),
        el("td", { "data-label": "Expires" }, when(token.expires_at, "never")),
        el("td", { "data-label": "Last used" }, when(token.last_used_at, "never")),
        el("td", {}, revoke)));
    }
    table.append(body);
    list.replaceChildren(table);
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    const days = (expiry as HTMLSelectElement).value;
    try {
      const made = await api<Token & { token: string }>("POST", tokensUrl(),
        { label: label.value.trim(), expires_in_days: days ? Number(days) : null });
      label.value = "";
      showFresh(fresh, made.token, made.label);
      await load();
    } catch (err: any) {
      error.textContent = `Could not create the token: ${err.message}`;
    }
  });
  await load();
  main.dataset.state = "ready";  // the tokens card is shown, or known to have no place here
}

/** The new token, shown this once, with a copy button and a warning. */
function showFresh(box: HTMLElement, token: string, label: string): void {
  const value = el("input", { class: "token-value", readonly: "", value: token, "aria-label": "Your new token",
    "data-testid": "token-value" });
  const copy = el("button", { class: "button small", type: "button" }, "Copy");
  const copied = el("span", { class: "muted", role: "status" });
  copy.addEventListener("click", async () => {
    value.select();
    try {
      await navigator.clipboard.writeText(token);
      copied.textContent = "Copied.";
    } catch {
      copied.textContent = "Press Ctrl+C to copy the selected token.";
    }
  });
  const done = el("button", { class: "button quiet small", type: "button" }, "I have saved it");
  done.addEventListener("click", () => { box.hidden = true; box.replaceChildren(); });
  box.replaceChildren(
    el("p", { class: "warning", role: "alert" }, el("b", {}, `Your new token${label ? ` “${label}”` : ""}. `),
      "Copy it now: it is shown only this once and cannot be shown again. Treat it like a password."),
    el("div", { class: "row" }, value, copy, done), copied);
  box.hidden = false;
  value.focus();
  value.select();
}

// Sharing a run (its owner only): a small dialog to share the run's result and report with a
// person, a group, or everyone signed in, and to stop sharing. The server checks everything:
// a shared reader must also be allowed to read the app, so sharing never shows an app to
// someone who may not see it.

import { api } from "../net/api";
import { segment } from "../net/paths";
import { el } from "../ui/dom";

interface RunShare { principal: string; granted_by: string; created: string }

const SIGNED_IN = "signed-in";

/** How a principal reads to a person: "ravi", "group analysts", "Everyone signed in". */
export function principalText(principal: string): string {
  if (principal === SIGNED_IN) return "Everyone signed in";
  if (principal.startsWith("group:")) return `group ${principal.slice(6)}`;
  return principal.replace(/^user:/, "");
}

export function openRunShareDialog(runId: string): void {
  const url = `api/collab/runs/${segment(runId)}/shares`;
  const dialog = el("dialog", { class: "dialog run-share", "aria-labelledby": "run-share-title",
    "data-testid": "run-share-dialog" }) as HTMLDialogElement;
  const list = el("ul", { class: "run-shares", "aria-label": "Shared with", "data-testid": "run-shares" });
  const error = el("p", { class: "error", role: "alert", "data-testid": "run-share-error" });
  const kind = el("select", { id: "run-share-kind", "data-testid": "run-share-kind" },
    el("option", { value: "user" }, "A person"), el("option", { value: "group" }, "A group you are in"),
    el("option", { value: SIGNED_IN }, "Everyone signed in")) as HTMLSelectElement;
  const name = el("input", { id: "run-share-name", autocomplete: "off", "data-testid": "run-share-name" });
  const nameLabel = el("label", { for: "run-share-name" }, "Name", name);
  const form = el("form", { class: "run-share-form" },
    el("label", { for: "run-share-kind" }, "Share with", kind), nameLabel,
    el("div", { class: "row end" }, el("button", { class: "button small", type: "submit", "data-testid": "run-share-add" }, "Share")));
  const close = el("button", { class: "button quiet small", type: "button" }, "Close");
  close.addEventListener("click", () => dialog.close());
  dialog.append(el("h2", { id: "run-share-title" }, "Share this run"),
    el("p", { class: "muted" }, "They see its parameters, result and report — if they may also see the app."),
    list, form, error, el("div", { class: "row end" }, close));
  dialog.addEventListener("close", () => dialog.remove());
  kind.addEventListener("change", () => { nameLabel.hidden = kind.value === SIGNED_IN; });
  document.body.append(dialog);
  dialog.showModal();
  name.focus();

  const show = (shares: RunShare[]): void => {
    list.replaceChildren(...shares.map((share) => {
      const who = principalText(share.principal);
      const remove = el("button", { class: "button quiet small danger", type: "button",
        "aria-label": `Stop sharing with ${who}` }, "Stop sharing");
      remove.addEventListener("click", async () => {
        error.textContent = "";
        try {
          await api("DELETE", `${url}?principal=${encodeURIComponent(share.principal)}`);
          await load();
        } catch (e: any) {
          error.textContent = e?.message || String(e);
        }
      });
      return el("li", { "data-principal": share.principal }, el("span", { class: "grow" }, who), remove);
    }));
    if (!shares.length) list.append(el("li", { class: "muted" }, "Only you can see this run."));
  };
  const load = async (): Promise<void> => {
    try {
      show((await api<{ shares: RunShare[] }>("GET", url)).shares);
    } catch (e: any) {
      error.textContent = e?.message || String(e);
    }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const principal = kind.value === SIGNED_IN ? SIGNED_IN : `${kind.value}:${name.value.trim()}`;
    if (kind.value !== SIGNED_IN && !name.value.trim()) {
      error.textContent = kind.value === "group" ? "Type the group's name." : "Type the person's name.";
      return;
    }
    try {
      show((await api<{ shares: RunShare[] }>("POST", url, { principal })).shares);
      name.value = "";
    } catch (e: any) {
      error.textContent = e?.message || String(e);
    }
  });
  void load();
}

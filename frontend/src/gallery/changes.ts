// Change requests on the editor page ("I can read it but not edit it"):
// - a reader gets "Suggest changes": make an own copy to edit (the versions' clone);
// - in a copy of a notebook one may read: "Suggest these changes" sends the copy back to
//   the original as a change request with a message;
// - a writer gets "Change requests (N)" when some are open: a dialog lists them, shows each
//   one's changes with the version history's diff view, and accepts or declines (with a comment).
// Every text from a notebook or a person is put on the page as text, never parsed as HTML.

import { api, base, type Me } from "../net/api";
import { apiPath, nameOf, notebookPage, parentOf } from "../net/paths";
import { askText } from "../ui/dialog";
import { el } from "../ui/dom";
import { icon } from "../ui/icons";
import { attempt } from "../ui/toast";
import type { DiffEntry, NbCell } from "../history/diffview";
import { renderDiff } from "../history/history";
import { notebookApi } from "./gallery";
import { when } from "../ui/time";

export interface ChangeRequest {
  id: number;
  path: string;
  status: string;
  message: string;
  proposer: { id: string; name: string };
  created: string;
  comment: string;
  diff?: DiffEntry[];
  base?: { cells: NbCell[] };
  stale?: boolean;
  conflicts?: string[];
}

const requestsUrl = (path: string, ...rest: string[]): string => apiPath("api/collab/notebooks", path, "change-requests", ...rest);

/** The dialog a writer reviews open requests in; ``changed`` runs after each decision. */
async function reviewDialog(path: string, changed: () => void): Promise<void> {
  const dialog = el("dialog", { class: "dialog wide change-requests", "aria-label": "Change requests", "data-testid": "change-requests" }) as HTMLDialogElement;
  const list = el("div", { class: "cr-list" });
  const close = el("button", { class: "button quiet small", type: "button" }, "Close");
  close.addEventListener("click", () => dialog.close());
  dialog.append(el("h2", {}, "Suggested changes"), list, el("div", { class: "row end" }, close));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();

  async function load(): Promise<void> {
    const answer = await attempt("Could not load the change requests", () => api<{ change_requests: ChangeRequest[] }>("GET", requestsUrl(path)));
    if (!answer) return;
    list.replaceChildren(...answer.change_requests.map(item));
    if (!answer.change_requests.length) list.append(el("p", { class: "muted", "data-testid": "cr-empty" }, "No open change requests."));
  }

  function item(request: ChangeRequest): HTMLElement {
    const body = el("div", { class: "cr-body" }, el("p", { class: "muted" }, "Loading the changes…"));
    const accept = el("button", { class: "button small", type: "button", "data-testid": "cr-accept" }, "Accept");
    const decline = el("button", { class: "button quiet small", type: "button", "data-testid": "cr-decline" }, "Decline");
    const node = el("article", { class: "cr", "data-testid": "change-request", "data-id": String(request.id) },
      el("header", {}, el("strong", {}, request.message),
        el("p", { class: "muted" }, `Suggested by ${request.proposer.name} · ${when(request.created)}`)),
      body, el("div", { class: "row end" }, decline, accept));
    void api<ChangeRequest>("GET", requestsUrl(path, String(request.id))).then((full) => {
      const notes: HTMLElement[] = [];
      if (full.conflicts?.length) {
        notes.push(el("p", { class: "notice error", "data-testid": "cr-conflict" },
          "The notebook changed since this was suggested, in the same cells: it cannot be accepted as it is. Decline it and ask for a new suggestion."));
        accept.disabled = true;
      } else if (full.stale) {
        notes.push(el("p", { class: "notice" }, "The notebook changed since this was suggested; accepting merges these changes into it."));
      }
      // The same diff view as the version history's.
      body.replaceChildren(...notes, renderDiff(full.base?.cells || [], full.diff || [], "Changes"));
    }, (e) => { body.replaceChildren(el("p", { class: "error" }, `Could not load the changes: ${e.message}`)); });
    accept.addEventListener("click", async () => {
      accept.disabled = decline.disabled = true;
      const done = await attempt("Could not accept the change", () => api("POST", requestsUrl(path, String(request.id), "accept"), {}));
      if (done) { node.remove(); changed(); if (!list.querySelector(".cr")) await load(); } else accept.disabled = decline.disabled = false;
    });
    decline.addEventListener("click", async () => {
      const comment = await askComment();
      if (comment === null) return;
      accept.disabled = decline.disabled = true;
      const done = await attempt("Could not decline the change", () => api("POST", requestsUrl(path, String(request.id), "decline"), { comment }));
      if (done) { node.remove(); changed(); if (!list.querySelector(".cr")) await load(); } else accept.disabled = decline.disabled = false;
    });
    return node;
  }
  await load();
}

/** A comment for a declined request ("" is fine); null if cancelled. */
function askComment(): Promise<string | null> {
  return new Promise((resolve) => {
    const dialog = el("dialog", { class: "dialog", "aria-label": "Decline the change" }) as HTMLDialogElement;
    const text = el("textarea", { "aria-label": "Why (the person who suggested it sees this)", rows: "3", "data-testid": "cr-comment" }) as HTMLTextAreaElement;
    const cancel = el("button", { class: "button quiet small", type: "button" }, "Cancel");
    const form = el("form", {}, el("h2", {}, "Decline the change"), el("label", {}, "Why (the person who suggested it sees this)", text),
      el("div", { class: "row end" }, cancel, el("button", { class: "button small", type: "submit", "data-testid": "cr-decline-confirm" }, "Decline")));
    dialog.append(form);
    let result: string | null = null;
    cancel.addEventListener("click", () => dialog.close());
    form.addEventListener("submit", (e) => { e.preventDefault(); result = text.value.trim(); dialog.close(); });
    dialog.addEventListener("close", () => { dialog.remove(); resolve(result); });
    document.body.append(dialog);
    dialog.showModal();
    text.focus();
  });
}

/** The change-request buttons for the editor's top bar (none if nothing applies). */
export async function changeRequestControls(path: () => string, who: Me): Promise<HTMLElement[]> {
  const out: HTMLElement[] = [];
  if (who.permissions.write) {
    const label = el("span", {}, "Change requests (0)");
    const button = el("button", { class: "button quiet small", type: "button", "data-testid": "cr-open", hidden: "" },
      icon("comment"), label);
    const refresh = async () => {
      const answer = await api<{ open: number }>("GET", requestsUrl(path())).catch(() => null);
      const n = answer?.open || 0;
      label.textContent = `Change requests (${n})`;
      button.hidden = n === 0;
    };
    button.addEventListener("click", () => void reviewDialog(path(), () => void refresh()));
    out.push(button);
    void refresh();
    // Written in a copy of a notebook the person may read: offer to send it back.
    const info = await api<any>("GET", notebookApi(path(), "info")).catch(() => null);
    const origin: string | undefined = info?.cloned_from?.path;
    if (origin) {
      const suggest = el("button", { class: "button quiet small", type: "button", "data-testid": "cr-suggest",
        title: `Send your changes to ${origin} as a suggestion` }, icon("upload"), `Suggest to ${nameOf(origin)}`);
      suggest.addEventListener("click", async () => {
        const message = await askText(`Suggest your changes to ${nameOf(origin)}`, "What do your changes do?", "");
        if (!message) return;
        const sent = await attempt("Could not send the suggestion",
          () => api("POST", requestsUrl(origin), { message, from: path() }));
        if (sent) showNote(`Sent. People who may edit ${nameOf(origin)} will see your suggestion.`);
      });
      out.push(suggest);
    }
  } else if (who.permissions.read) {
    const suggest = el("button", { class: "button quiet small", type: "button", "data-testid": "cr-make-copy",
      title: "You cannot edit this notebook: make your own copy, edit it, then suggest the changes" }, icon("edit"), "Suggest changes");
    suggest.addEventListener("click", async () => {
      const folder = await askText("Make your own copy to edit",
        "Folder for your copy (. is the top folder); then use “Suggest to …” in the copy",
        parentOf(path()) || ".");
      if (folder === null) return;
      const made = await attempt("Could not make a copy",
        () => api<{ path: string }>("POST", "api/collab/clone", { source: { path: path() }, target: folder }));
      if (made) location.assign(base + notebookPage(made.path));
    });
    out.push(suggest);
  }
  return out;
}

function showNote(text: string): void {
  const note = el("div", { class: "toast", role: "status", "data-testid": "cr-sent" }, el("span", {}, text));
  const close = el("button", { class: "icon-button", "aria-label": "Dismiss", title: "Dismiss" }, icon("close"));
  close.addEventListener("click", () => note.remove());
  note.append(close);
  let stack = document.querySelector(".toasts");
  if (!stack) { stack = el("div", { class: "toasts", "aria-live": "polite" }); document.body.append(stack); }
  stack.append(note);
  window.setTimeout(() => note.remove(), 8000);
}

// Comments beside the cells: threads live in the server's comments document (room
// json:comments:{fileId}, which we only read); every change goes through the REST API, and
// every failure is shown to the person. Thread and comment ids come from a file (anyone who
// could edit it chose them): they only ever reach an address through net/paths.

import * as Y from "yjs";

import { api } from "../net/api";
import { commentsUrl } from "../net/paths";
import { Room } from "../net/room";
import { confirmAction } from "../ui/dialog";
import { el } from "../ui/dom";
import { attempt } from "../ui/toast";
import { renderMarkdown } from "../ui/markdown";
import "./comments.css";
import { when } from "../ui/time";

export interface Thread {
  id: string;
  target: { type: string; cellId?: string; start?: number; end?: number; index?: number;
            exact?: string };
  anchor: "attached" | "detached";
  status: "open" | "resolved";
  resolvedBy: { id: string; name: string } | null;
  author: { id: string; name: string };
  createdAt: string;
  comments: { id: string; author: { id: string; name: string }; body: string; createdAt: string;
              editedAt: string | null; deleted: boolean }[];
}

/** Where a thread is, in words: ``position`` is its cell's number (from 1), when known. */
export function placeOf(t: Thread, position: number | null = null): string {
  const cell = position ? `cell ${position}` : "a cell";
  switch (t.target.type) {
    case "text": return `On text in ${cell}`;
    case "cell": return `On ${cell}`;
    case "output": return `On output ${(t.target.index ?? 0) + 1} of ${cell}`;
    default: return "On the notebook";
  }
}

/** The notebook's cells as the panel sees them (the editor provides it). */
export interface CellLocator {
  /** The cell's position from 0, or -1 if it is not (or no longer) in the notebook. */
  indexOf(cellId: string): number;
  /** Scroll to the cell and highlight it. */
  reveal(cellId: string): void;
}

export class CommentsPanel {
  node: HTMLElement;
  threads: Thread[] = [];
  private list: HTMLElement;
  private showResolved = false;
  private listeners: (() => void)[] = [];
  /** Forms a person is typing in, kept across renders (any change to any thread redraws the
   * list: a collaborator's reply must not wipe a half-typed one): reply forms by thread id,
   * edit forms by comment id. */
  private replies = new Map<string, HTMLFormElement>();
  private editing = new Map<string, HTMLFormElement>();
  readonly room: Room;
  /** Set by the editor: threads then name their cell by its position, and lead to it. */
  cells: CellLocator | null = null;

  constructor(private path: () => string, fileId: string, private me: { username: string },
              private canComment: boolean, private canDeleteAny: boolean) {
    this.node = el("aside", { class: "comments", "aria-label": "Comments", "data-testid": "comments" });
    const toggle = el("label", { class: "toggle" }, el("input", { type: "checkbox" }), " Show resolved");
    toggle.querySelector("input")!.addEventListener("change", (e) => {
      this.showResolved = (e.target as HTMLInputElement).checked;
      this.render();
    });
    this.list = el("div", { class: "threads" });
    this.node.append(el("div", { class: "comments-head" }, el("h2", {}, "Comments"), toggle));
    if (canComment) {
      const general = el("button", { class: "button quiet small" }, "Comment on the notebook");
      general.addEventListener("click", () => this.compose({ type: "notebook" }, "the notebook"));
      this.node.append(general);
    }
    this.node.append(this.list);
    const doc = new Y.Doc();
    this.room = new Room(`json:comments:${fileId}`, doc);
    const stored = doc.getMap<string>("threads");
    stored.observe(() => {
      this.threads = [...stored.values()].map((raw) => JSON.parse(raw) as Thread)
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
      this.render();
      this.listeners.forEach((f) => f());
    });
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Open threads (on ``cellId`` only, if given). */
  openCount(cellId?: string): number {
    return this.threads.filter((t) => t.status === "open" && (cellId === undefined || t.target.cellId === cellId)).length;
  }

  /** Cells moved, came or went: each thread names its cell's position as it is now (in
   * place, so a reply being typed is kept). */
  relabel(): void {
    for (const node of this.list.querySelectorAll<HTMLElement>(".thread[data-thread]")) {
      const t = this.threads.find((x) => x.id === node.dataset.thread);
      const where = node.querySelector(".where");
      if (t && where) where.replaceWith(this.where(t));
    }
  }

  /** Where a thread is: a link to its cell while the cell is in the notebook. */
  private where(t: Thread): HTMLElement {
    const cellId = t.target.cellId;
    const index = cellId && this.cells ? this.cells.indexOf(cellId) : -1;
    const text = placeOf(t, index >= 0 ? index + 1 : null);
    if (!cellId || index < 0) return el("span", { class: "where" }, text);
    const link = el("button", { class: "where link-button", type: "button", "data-testid": "thread-cell",
      title: "Show this cell" }, text);
    link.addEventListener("click", () => this.cells?.reveal(cellId));
    return link;
  }

  /** Scroll the panel to its first open thread on ``cellId`` (or to its top) and focus it. */
  show(cellId?: string): void {
    const t = cellId ? this.threads.find((x) => x.status === "open" && x.target.cellId === cellId) : undefined;
    const target = (t && this.list.querySelector<HTMLElement>(`.thread[data-thread="${CSS.escape(t.id)}"]`)) || this.node;
    target.setAttribute("tabindex", "-1");
    target.scrollIntoView({ block: "start", behavior: "smooth" });
    target.focus({ preventScroll: true });
  }

  /** Commenting stops (the notebook was deleted). */
  freeze(): void {
    this.canComment = false;
    this.node.querySelectorAll("button, input, textarea").forEach((b) => ((b as HTMLButtonElement).disabled = true));
    this.room.stop({ reason: "deleted", message: "" });
  }

  /** A box to write the first comment of a new thread on ``target``. */
  compose(target: Record<string, unknown>, label: string): void {
    const box = el("form", { class: "compose" });
    const input = el("textarea", { rows: "3", placeholder: `Comment on ${label}…`, "aria-label": "Comment" });
    const error = el("p", { class: "error", role: "alert" });
    box.append(el("div", { class: "target" }, `On ${label}`), input,
      el("div", { class: "row" }, el("button", { class: "button small", type: "submit" }, "Comment"),
        el("button", { class: "button quiet small", type: "button" }, "Cancel")), error);
    box.querySelector("button[type=button]")!.addEventListener("click", () => box.remove());
    box.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await api("POST", commentsUrl(this.path()), { target, body: input.value });
        box.remove();
      } catch (err: any) {
        error.textContent = err.message;
      }
    });
    this.list.prepend(box);
    input.focus();
  }

  render(): void {
    // Moving a focused field out of the page and back drops its focus and caret: put them back.
    const active = document.activeElement;
    const field = (active instanceof HTMLInputElement || active instanceof HTMLTextAreaElement)
      && this.list.contains(active) ? active : null;
    const caret = field ? [field.selectionStart, field.selectionEnd] as const : null;
    const composing = [...this.list.querySelectorAll(":scope > form.compose")];
    const ids = new Set(this.threads.map((t) => t.id));
    for (const id of this.replies.keys()) if (!ids.has(id)) this.replies.delete(id);
    const comments = new Set(this.threads.flatMap((t) => t.comments.filter((c) => !c.deleted).map((c) => c.id)));
    for (const id of this.editing.keys()) if (!comments.has(id)) this.editing.delete(id);
    const shown = this.threads.filter((t) => this.showResolved || t.status === "open");
    this.list.replaceChildren(...composing, ...shown.map((t) => this.thread(t)));
    if (!shown.length && !composing.length) {
      this.list.append(el("p", { class: "empty" }, this.threads.length ? "No open comments." : "No comments yet."));
    }
    if (field && field.isConnected && document.activeElement !== field) {
      field.focus({ preventScroll: true });
      if (caret) field.setSelectionRange(caret[0], caret[1]);
    }
  }

  private thread(t: Thread): HTMLElement {
    const node = el("article", { class: `thread ${t.status} ${t.anchor}`, "data-thread": t.id });
    const head = el("div", { class: "thread-head" }, this.where(t));
    if (t.target.type === "text") head.append(el("q", { class: "quote" }, t.target.exact || ""));
    if (t.anchor === "detached") head.append(el("span", { class: "badge warn" }, "detached: its text was deleted"));
    if (t.status === "resolved") head.append(el("span", { class: "badge" }, `resolved by ${t.resolvedBy?.name ?? "?"}`));
    node.append(head);
    for (const c of t.comments) {
      const editing = this.editing.get(c.id);
      if (editing && !c.deleted) {
        node.append(editing);
        continue;
      }
      const item = el("div", { class: "comment" },
        el("div", { class: "meta" }, el("b", {}, c.author.name), " ",
          el("time", { datetime: c.createdAt, title: c.createdAt }, when(c.createdAt)),
          c.editedAt && !c.deleted ? " (edited)" : ""));
      const body = el("div", { class: "body" });
      if (c.deleted) body.append(el("i", {}, "deleted"));
      else body.innerHTML = renderMarkdown(c.body);
      item.append(body);
      if (!c.deleted && c.author.id === this.me.username && this.canComment) {
        const edit = el("button", { class: "button quiet small" }, "Edit");
        edit.addEventListener("click", () => this.edit(t, c.id, c.body, item));
        const del = el("button", { class: "button quiet small danger" }, "Delete");
        del.addEventListener("click", () => attempt("Could not delete the comment",
          () => api("DELETE", commentsUrl(this.path(), t.id, "replies", c.id))));
        item.append(el("div", { class: "row" }, edit, del));
      }
      node.append(item);
    }
    if (this.canComment) {
      const reply = this.replyForm(t.id);
      const status = el("button", { class: "button quiet small" }, t.status === "open" ? "Resolve" : "Reopen");
      status.addEventListener("click", () => attempt(`Could not ${t.status === "open" ? "resolve" : "reopen"} the thread`,
        () => api("PATCH", commentsUrl(this.path(), t.id), { status: t.status === "open" ? "resolved" : "open" })));
      const row = el("div", { class: "row" }, status);
      if (this.canDeleteAny || t.author.id === this.me.username) {
        const remove = el("button", { class: "button quiet small danger" }, "Delete thread");
        remove.addEventListener("click", async () => {
          if (!(await confirmAction("Delete this whole thread?", "Delete thread"))) return;
          await attempt("Could not delete the thread", () => api("DELETE", commentsUrl(this.path(), t.id)));
        });
        row.append(remove);
      }
      node.append(reply, row);
    }
    return node;
  }

  /** The reply box of thread ``id``: one per thread, moved into each redraw of it. */
  private replyForm(id: string): HTMLFormElement {
    const known = this.replies.get(id);
    if (known) return known;
    const reply = el("form", { class: "reply" });
    const input = el("input", { placeholder: "Reply…", "aria-label": "Reply" });
    reply.append(input);
    reply.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = input.value;
      if (!body.trim()) return;
      const sent = await attempt("Could not send the reply", async () => {
        await api("POST", commentsUrl(this.path(), id, "replies"), { body });
        return true;
      });
      // Cleared only once sent, and only if nothing was typed meanwhile.
      if (sent !== undefined && input.value === body) input.value = "";
    });
    this.replies.set(id, reply);
    return reply;
  }

  private edit(t: Thread, commentId: string, body: string, item: HTMLElement): void {
    const form = el("form", { class: "compose" });
    const input = el("textarea", { rows: "3", "aria-label": "Edit comment" });
    input.value = body;
    const error = el("p", { class: "error", role: "alert" });
    const cancel = el("button", { class: "button quiet small", type: "button" }, "Cancel");
    form.append(input, el("div", { class: "row" },
      el("button", { class: "button small", type: "submit" }, "Save"), cancel), error);
    const close = () => {
      this.editing.delete(commentId);
      this.render();
    };
    cancel.addEventListener("click", close);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await api("PATCH", commentsUrl(this.path(), t.id, "replies", commentId), { body: input.value });
        close();
      } catch (err: any) {
        error.textContent = err.message;
      }
    });
    this.editing.set(commentId, form);
    item.replaceWith(form);
    input.focus();
  }
}

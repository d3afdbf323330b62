// Comments beside the cells: threads live in the server's comments document (room
// json:comments:{fileId}, which we only read); every change goes through the REST API.
// Text ranges are highlighted in the cell editors and move with edits between updates.

import { StateEffect, StateField, RangeSetBuilder } from "@codemirror/state";
import { Decoration, DecorationSet, EditorView } from "@codemirror/view";
import DOMPurify from "dompurify";
import { marked } from "marked";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";

import { api, base, el, encodePath } from "./api";

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

// -- highlights in the editors ------------------------------------------------------------

const setRanges = StateEffect.define<{ from: number; to: number; id: string }[]>();
const mark = (id: string) => Decoration.mark({ class: "cm-comment-range", attributes: { "data-thread": id } });

export const commentRanges = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(ranges, tr) {
    ranges = ranges.map(tr.changes); // follow edits at once; the server's update follows
    for (const effect of tr.effects) {
      if (effect.is(setRanges)) {
        const builder = new RangeSetBuilder<Decoration>();
        const length = tr.state.doc.length;
        for (const r of [...effect.value].sort((a, b) => a.from - b.from)) {
          if (r.from < r.to && r.to <= length) builder.add(r.from, r.to, mark(r.id));
        }
        ranges = builder.finish();
      }
    }
    return ranges;
  },
  provide: (field) => EditorView.decorations.from(field),
});

/** Code points → UTF-16 offset in ``text`` (the server counts code points). */
export function utf16(text: string, codePoints: number): number {
  return Array.from(text).slice(0, codePoints).join("").length;
}

/** UTF-16 offset → code points. */
export function codePoints(text: string, offset: number): number {
  return Array.from(text.slice(0, offset)).length;
}

export function highlight(view: EditorView, cellId: string, threads: Thread[]): void {
  const text = view.state.doc.toString();
  const ranges = threads
    .filter((t) => t.target.type === "text" && t.target.cellId === cellId && t.anchor === "attached"
      && t.status === "open")
    .map((t) => ({ from: utf16(text, t.target.start!), to: utf16(text, t.target.end!), id: t.id }));
  view.dispatch({ effects: setRanges.of(ranges) });
}

// -- the panel --------------------------------------------------------------------------------

export class CommentsPanel {
  node: HTMLElement;
  threads: Thread[] = [];
  private list: HTMLElement;
  private showResolved = false;
  private listeners: (() => void)[] = [];
  private provider: WebsocketProvider;

  constructor(private path: string, fileId: string, private me: { username: string },
              private canComment: boolean, private canDeleteAny: boolean) {
    this.node = el("aside", { class: "comments", "aria-label": "Comments", "data-testid": "comments" });
    const toggle = el("label", { class: "toggle" }, el("input", { type: "checkbox" }), " Show resolved");
    toggle.querySelector("input")!.addEventListener("change", (e) => {
      this.showResolved = (e.target as HTMLInputElement).checked;
      this.render();
    });
    this.list = el("div", { class: "threads" });
    const head = el("div", { class: "comments-head" }, el("h2", {}, "Comments"), toggle);
    this.node.append(head);
    if (canComment) {
      const general = el("button", { class: "button quiet small" }, "Comment on the notebook");
      general.addEventListener("click", () => this.compose({ type: "notebook" }, "the notebook"));
      this.node.append(general);
    }
    this.node.append(this.list);
    const doc = new Y.Doc();
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.provider = new WebsocketProvider(`${scheme}//${location.host}${base}api/collaboration/room`,
      `json:comments:${fileId}`, doc);
    window.addEventListener("offline", () => this.provider.disconnect());
    window.addEventListener("online", () => this.provider.connect());
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

  private url(rest = ""): string {
    return `api/collab/comments/${encodePath(this.path)}${rest}`;
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
        await api("POST", this.url(), { target, body: input.value });
        box.remove();
      } catch (err: any) {
        error.textContent = err.message;
      }
    });
    this.list.prepend(box);
    input.focus();
  }

  render(): void {
    const composing = [...this.list.querySelectorAll("form.compose")];
    const shown = this.threads.filter((t) => this.showResolved || t.status === "open");
    this.list.replaceChildren(...composing, ...shown.map((t) => this.thread(t)));
    if (!shown.length && !composing.length) {
      this.list.append(el("p", { class: "empty" }, this.threads.length ? "No open comments." : "No comments yet."));
    }
  }

  private thread(t: Thread): HTMLElement {
    const node = el("article", { class: `thread ${t.status} ${t.anchor}`, "data-thread": t.id });
    let where = "the notebook";
    if (t.target.type === "cell") where = "a cell";
    if (t.target.type === "output") where = `output ${(t.target.index ?? 0) + 1} of a cell`;
    const head = el("div", { class: "thread-head" }, el("span", { class: "where" }, `On ${where}`));
    if (t.target.type === "text") head.append(el("q", { class: "quote" }, t.target.exact || ""));
    if (t.anchor === "detached") head.append(el("span", { class: "badge warn" }, "detached: its text was deleted"));
    if (t.status === "resolved") head.append(el("span", { class: "badge" }, `resolved by ${t.resolvedBy?.name ?? "?"}`));
    node.append(head);
    for (const c of t.comments) {
      const item = el("div", { class: "comment" },
        el("div", { class: "meta" }, el("b", {}, c.author.name), " ",
          el("time", { datetime: c.createdAt, title: c.createdAt }, new Date(c.createdAt).toLocaleString()),
          c.editedAt && !c.deleted ? " (edited)" : ""));
      const body = el("div", { class: "body" });
      if (c.deleted) body.append(el("i", {}, "deleted"));
      else body.innerHTML = DOMPurify.sanitize(marked.parse(c.body) as string);
      item.append(body);
      if (!c.deleted && c.author.id === this.me.username && this.canComment) {
        const edit = el("button", { class: "button quiet small" }, "Edit");
        edit.addEventListener("click", () => this.edit(t, c.id, c.body, item));
        const del = el("button", { class: "button quiet small danger" }, "Delete");
        del.addEventListener("click", () => api("DELETE", this.url(`/${t.id}/replies/${c.id}`)));
        item.append(el("div", { class: "row" }, edit, del));
      }
      node.append(item);
    }
    if (this.canComment) {
      const reply = el("form", { class: "reply" });
      const input = el("input", { placeholder: "Reply…", "aria-label": "Reply" });
      reply.append(input);
      reply.addEventListener("submit", async (e) => {
        e.preventDefault();
        if (!input.value.trim()) return;
        await api("POST", this.url(`/${t.id}/replies`), { body: input.value });
      });
      const status = el("button", { class: "button quiet small" }, t.status === "open" ? "Resolve" : "Reopen");
      status.addEventListener("click", () =>
        api("PATCH", this.url(`/${t.id}`), { status: t.status === "open" ? "resolved" : "open" }));
      const row = el("div", { class: "row" }, status);
      if (this.canDeleteAny || t.author.id === this.me.username) {
        const remove = el("button", { class: "button quiet small danger" }, "Delete thread");
        remove.addEventListener("click", () => {
          if (confirm("Delete this whole thread?")) void api("DELETE", this.url(`/${t.id}`));
        });
        row.append(remove);
      }
      node.append(reply, row);
    }
    return node;
  }

  private edit(t: Thread, commentId: string, body: string, item: HTMLElement): void {
    const form = el("form", { class: "compose" });
    const input = el("textarea", { rows: "3", "aria-label": "Edit comment" });
    input.value = body;
    form.append(input, el("button", { class: "button small", type: "submit" }, "Save"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      await api("PATCH", this.url(`/${t.id}/replies/${commentId}`), { body: input.value });
    });
    item.replaceWith(form);
    input.focus();
  }
}

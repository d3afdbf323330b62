// The notebook editor: every cell is a CodeMirror editor bound to the cell's shared text, in
// the document layout JupyterLab uses (@jupyter/ydoc), over the jupyter-collaboration wire
// protocol (y-websocket). Shows who is here, their cursors, the connection and save state.

import { YNotebook } from "@jupyter/ydoc";
import { defaultKeymap, indentWithTab } from "@codemirror/commands";
import { markdown } from "@codemirror/lang-markdown";
import { python } from "@codemirror/lang-python";
import { syntaxHighlighting, defaultHighlightStyle } from "@codemirror/language";
import { EditorState } from "@codemirror/state";
import { EditorView, keymap, lineNumbers } from "@codemirror/view";
import DOMPurify from "dompurify";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { marked } from "marked";
import { yCollab } from "y-codemirror.next";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";

import { api, base, el, encodePath, me, roleOf } from "./api";
import { CommentsPanel, codePoints, commentRanges, highlight } from "./comments";
import { renderOutputs } from "./outputs";
import { shareButton } from "./share";

const RAW = 2;

type Cell = YNotebook["cells"][number];

interface Page {
  notebook: YNotebook;
  provider: WebsocketProvider;
  writable: boolean;
  canComment: boolean;
  comments: CommentsPanel;
  views: Map<Cell, CellView>;
  list: HTMLElement;
  save: () => void;
}

export async function showEditor(root: HTMLElement, path: string): Promise<void> {
  const who = await me(path);
  const title = path.split("/").pop() || path;
  document.title = `${title} · collab_server`;
  const back = path.includes("/") ? `${base}?path=${encodeURIComponent(path.split("/").slice(0, -1).join("/"))}` : base;
  const presence = el("div", { class: "presence", "aria-label": "People here", "data-testid": "presence" });
  const saveState = el("span", { class: "state save", "data-testid": "save-state", role: "status" }, "");
  const connection = el("span", { class: "state connection", "data-testid": "connection", role: "status" }, "Connecting…");
  root.replaceChildren(
    el("header", { class: "topbar" },
      el("a", { href: back, class: "brand", title: "Back to the folder" }, "←"),
      el("h1", { class: "title" }, title),
      el("span", { class: "badge", "data-testid": "role" }, roleOf(who.permissions)),
      el("span", { class: "grow" }), presence, saveState, connection,
      who.permissions.share ? shareButton(path) : ""));
  const main = el("main", { class: "editor" });
  root.append(main);
  if (!who.permissions.read) {
    main.append(el("p", { class: "notice" }, "You do not have access to this notebook."));
    return;
  }
  const writable = !!who.permissions.write;
  if (!writable) {
    main.append(el("p", { class: "notice", "data-testid": "read-only" },
      who.permissions.comment ? "You can read and comment on this notebook, not edit it."
        : "View only: you can read this notebook, not edit it."));
  }
  const session = await api("PUT", `api/collaboration/session/${encodePath(path)}`,
    { format: "json", type: "notebook" });

  const notebook = new YNotebook();
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const provider = new WebsocketProvider(`${scheme}//${location.host}${base}api/collaboration/room`,
    `json:notebook:${session.fileId}`, notebook.ydoc,
    { params: { sessionId: session.sessionId }, awareness: notebook.awareness });
  const list = el("div", { class: "cells", "data-testid": "cells" });
  const canComment = !!who.permissions.comment;
  const comments = new CommentsPanel(path, session.fileId, who.identity, canComment, writable);
  const column = el("div", { class: "column" }, list);
  main.classList.add("with-comments");
  main.append(column, comments.node);
  let requestId = 0;
  const page: Page = {
    notebook, provider, writable, canComment, comments, views: new Map(), list,
    save: () => {
      if (!writable || !provider.ws || provider.ws.readyState !== WebSocket.OPEN) return;
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, RAW);
      encoding.writeVarString(encoder, "save");
      encoding.writeVarUint(encoder, ++requestId);
      provider.ws.send(encoding.toUint8Array(encoder));
      saveState.textContent = "Saving…";
    },
  };

  // The server answers "save" with a RAW message carrying JSON.
  (provider as any).messageHandlers[RAW] = (_e: unknown, decoder: decoding.Decoder) => {
    try {
      const reply = JSON.parse(decoding.readVarString(decoder));
      if (reply.type === "save") {
        saveState.textContent = reply.status === "failed" ? "Could not save" : "All changes saved";
      }
    } catch {
      /* not for us */
    }
  };

  // Connection state: connected / reconnecting / offline (edits made meanwhile are kept in
  // the document and sent when the socket is back).
  const showConnection = (status?: string) => {
    const online = navigator.onLine;
    const state = !online ? "offline" : status === "connected" ? "connected" : "reconnecting";
    connection.dataset.state = state;
    connection.textContent = state === "connected" ? "Connected"
      : state === "offline" ? "Offline — your edits are kept" : "Reconnecting…";
  };
  let lastStatus = "connecting";
  provider.on("status", (event: { status: string }) => {
    lastStatus = event.status;
    showConnection(lastStatus);
  });
  // Going offline drops the socket on purpose: a socket that merely stalls could swallow what
  // is typed meanwhile, while a fresh connection always re-syncs both ways (our edits made
  // offline go up, theirs come down).
  window.addEventListener("offline", () => {
    provider.disconnect();
    showConnection(lastStatus);
  });
  window.addEventListener("online", () => {
    provider.connect();
    showConnection(lastStatus);
  });
  provider.on("connection-close", (event: CloseEvent | null) => {
    if (!event) return;
    if (event.code === 1003 && event.reason.includes("unknown_session")) location.reload();
    if (event.code === 4403) {
      provider.disconnect();
      connection.dataset.state = "revoked";
      connection.textContent = "Your access to this notebook was removed";
    }
  });

  // Save state, from the document's own "dirty" flag (set and cleared by the server).
  const state = notebook.ydoc.getMap("state");
  const showSaved = () => {
    saveState.textContent = state.get("dirty") ? "Unsaved changes" : "All changes saved";
  };
  state.observe(showSaved);

  // Presence: everyone in the room, with the identity the server vouches for.
  const showPresence = () => {
    const people = new Map<string, any>();
    notebook.awareness.getStates().forEach((s: any) => {
      if (s.user?.username) people.set(s.user.username, s.user);
    });
    presence.replaceChildren(...[...people.values()].map((user) =>
      el("span", { class: "person", title: user.display_name || user.name, style: `--person: ${user.color}`,
        "data-username": user.username }, user.initials || (user.name || "?").slice(0, 1))));
  };
  notebook.awareness.on("change", showPresence);
  // What others see of us is pinned by the server; this is how we appear to ourselves.
  notebook.awareness.setLocalStateField("user", who.identity);

  const render = () => renderCells(page);
  notebook.changed.connect((_, change) => {
    if (change.cellsChange) render();
  });
  provider.once("synced", () => {
    render();
    showSaved();
    if (!notebook.cells.length) list.append(el("p", { class: "empty" }, "An empty notebook."));
  });
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
      event.preventDefault();
      page.save();
    }
  });
  column.append(addButtons(page, () => notebook.cells.length));
  comments.onChange(() => page.views.forEach((view) => view.highlight()));
}

function addButtons(page: Page, at: () => number): HTMLElement {
  const box = el("div", { class: "add" });
  if (!page.writable) return box;
  for (const type of ["code", "markdown"] as const) {
    const button = el("button", { class: "button quiet small" }, `+ ${type === "code" ? "Code" : "Markdown"}`);
    button.addEventListener("click", () => {
      const index = at();
      page.notebook.insertCell(index, { cell_type: type, source: "", metadata: {} } as any);
      queueMicrotask(() => page.views.get(page.notebook.cells[index])?.focus());
    });
    box.append(button);
  }
  return box;
}

function renderCells(page: Page): void {
  const current = new Set(page.notebook.cells);
  for (const [cell, view] of page.views) {
    if (!current.has(cell)) {
      view.destroy();
      page.views.delete(cell);
    }
  }
  const nodes: HTMLElement[] = [];
  page.notebook.cells.forEach((cell) => {
    let view = page.views.get(cell);
    if (!view) {
      view = new CellView(page, cell);
      page.views.set(cell, view);
    }
    nodes.push(view.node);
  });
  page.list.replaceChildren(...nodes);
}

class CellView {
  node: HTMLElement;
  private editor: EditorView;
  private rendered: HTMLElement | null = null;
  private outputs: HTMLElement | null = null;
  private undo: Y.UndoManager;

  constructor(private page: Page, private cell: Cell) {
    const isMarkdown = cell.cell_type === "markdown";
    this.node = el("section", { class: `cell ${cell.cell_type}`, "data-cell-id": cell.getId() });
    if (page.writable || page.canComment) this.node.append(this.toolbar());
    const ysource = cell.ysource;
    this.undo = new Y.UndoManager(ysource);
    this.editor = new EditorView({
      parent: this.node,
      state: EditorState.create({
        doc: ysource.toString(),
        extensions: [
          keymap.of([
            { key: "Shift-Enter", run: () => (this.next(), true) },
            { key: "Escape", run: () => (this.leave(), true) },
            { key: "Mod-s", run: () => (page.save(), true), preventDefault: true },
            indentWithTab,
            ...defaultKeymap,
          ]),
          isMarkdown ? markdown() : python(),
          syntaxHighlighting(defaultHighlightStyle),
          isMarkdown ? [] : lineNumbers(),
          EditorView.lineWrapping,
          EditorState.readOnly.of(!page.writable),
          // Commenters select text to comment on it: their editor takes a selection, not edits.
          EditorView.editable.of(page.writable || page.canComment),
          commentRanges,
          yCollab(ysource, page.notebook.awareness, { undoManager: this.undo }),
          EditorView.domEventHandlers({ blur: () => { if (isMarkdown) this.showMarkdown(); } }),
        ],
      }),
    });
    this.editor.dom.setAttribute("data-testid", "cell-editor");
    this.highlight();
    if (isMarkdown) this.showMarkdown();
    if (cell.cell_type === "code") {
      this.showOutputs();
      cell.changed.connect((_, change: any) => {
        if (change.outputsChange || change.executionCountChange) this.showOutputs();
      });
    }
  }

  private toolbar(): HTMLElement {
    const bar = el("div", { class: "cell-toolbar" });
    const index = () => this.page.notebook.cells.indexOf(this.cell);
    const action = (label: string, title: string, run: () => void) => {
      const button = el("button", { class: "button quiet small", title, "aria-label": title }, label);
      // Keep the editor's selection: a click on a toolbar button must not take the focus.
      button.addEventListener("mousedown", (e) => e.preventDefault());
      button.addEventListener("click", run);
      bar.append(button);
    };
    if (this.page.canComment) action("💬", "Comment on the selected text, or on the cell", () => this.comment());
    if (!this.page.writable) return bar;
    action("↑", "Move cell up", () => { const i = index(); if (i > 0) this.page.notebook.moveCell(i, i - 1); });
    action("↓", "Move cell down", () => {
      const i = index();
      if (i < this.page.notebook.cells.length - 1) this.page.notebook.moveCell(i, i + 1);
    });
    action("+", "Add a code cell below", () => {
      const i = index() + 1;
      this.page.notebook.insertCell(i, { cell_type: "code", source: "", metadata: {} } as any);
      queueMicrotask(() => this.page.views.get(this.page.notebook.cells[i])?.focus());
    });
    action("🗑", "Delete cell", () => this.page.notebook.deleteCell(index()));
    return bar;
  }

  private showMarkdown(): void {
    const html = DOMPurify.sanitize(marked.parse(this.cell.getSource() || "*Empty Markdown cell*") as string);
    if (!this.rendered) {
      this.rendered = el("div", { class: "markdown", tabindex: "0" });
      this.rendered.addEventListener("dblclick", () => this.focus());
      this.rendered.addEventListener("keydown", (e) => { if (e.key === "Enter") this.focus(); });
      this.node.append(this.rendered);
    }
    this.rendered.innerHTML = html;
    this.rendered.hidden = false;
    this.editor.dom.hidden = true;
  }

  private showOutputs(): void {
    const cell = this.cell as any;
    const next = renderOutputs(cell.outputs || []);
    const count = cell.execution_count;
    if (count) next.prepend(el("div", { class: "prompt" }, `[${count}]`));
    if (this.outputs) this.outputs.replaceWith(next);
    else this.node.append(next);
    this.outputs = next;
  }

  highlight(): void {
    highlight(this.editor, this.cell.getId(), this.page.comments.threads);
  }

  private comment(): void {
    const selection = this.editor.state.selection.main;
    const text = this.editor.state.doc.toString();
    if (selection.empty) {
      this.page.comments.compose({ type: "cell", cellId: this.cell.getId() }, "this cell");
      return;
    }
    const start = codePoints(text, selection.from);
    const end = codePoints(text, selection.to);
    const quote = text.slice(selection.from, selection.to);
    this.page.comments.compose({ type: "text", cellId: this.cell.getId(), start, end },
      `“${quote.length > 40 ? quote.slice(0, 40) + "…" : quote}”`);
  }

  focus(): void {
    if (this.rendered) this.rendered.hidden = true;
    this.editor.dom.hidden = false;
    this.editor.focus();
  }

  private leave(): void {
    this.editor.contentDOM.blur();
    if (this.cell.cell_type === "markdown") this.showMarkdown();
  }

  private next(): void {
    const cells = this.page.notebook.cells;
    const i = cells.indexOf(this.cell);
    this.leave();
    if (i + 1 < cells.length) {
      this.page.views.get(cells[i + 1])?.focus();
    } else if (this.page.writable) {
      this.page.notebook.insertCell(i + 1, { cell_type: "code", source: "", metadata: {} } as any);
      queueMicrotask(() => this.page.views.get(this.page.notebook.cells[i + 1])?.focus());
    }
  }

  destroy(): void {
    this.editor.destroy();
    this.undo.destroy();
    this.node.remove();
  }
}

// One cell: a CodeMirror editor bound to the cell's shared text (y-codemirror.next), its
// toolbar, its outputs, and for Markdown the rendered text. A Markdown cell shows its rendered
// text until double-clicked or Enter (edit mode); Shift+Enter or Escape renders it again.

import type { YNotebook } from "@jupyter/ydoc";
import { defaultKeymap, indentWithTab } from "@codemirror/commands";
import { markdown } from "@codemirror/lang-markdown";
import { python } from "@codemirror/lang-python";
import { syntaxHighlighting, defaultHighlightStyle } from "@codemirror/language";
import { Compartment, EditorState } from "@codemirror/state";
import { EditorView, keymap, lineNumbers } from "@codemirror/view";
import { yCollab } from "y-codemirror.next";
import * as Y from "yjs";

import { codePoints, commentRanges, highlight } from "../comments/ranges";
import type { CommentsPanel } from "../comments/panel";
import { el } from "../ui/dom";
import { iconButton } from "../ui/icons";
import { renderMarkdown } from "../ui/markdown";
import { renderOutputs } from "./outputs";

export type Cell = YNotebook["cells"][number];

/** What a cell needs from its notebook page. */
export interface Page {
  notebook: YNotebook;
  writable: boolean;
  canComment: boolean;
  comments: CommentsPanel;
  views: Map<Cell, CellView>;
  save(): void;
  /** Insert an empty cell at ``index`` and put the cursor in it. */
  insertCell(index: number, type: "code" | "markdown"): void;
}

// Cells are created lazily: a placeholder of about the right height until the cell comes near
// the screen, then its editor and outputs (a 24 MB notebook shows its first cell at once).
const observer = "IntersectionObserver" in window
  ? new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting) mounters.get(entry.target)?.();
    }
  }, { rootMargin: "1200px 0px" })
  : null;
const mounters = new WeakMap<Element, () => void>();

/** A guess of a cell's height before it is drawn (CSS pixels). */
function estimateHeight(cell: Cell): number {
  const lines = cell.getSource().split("\n").length;
  const outputs = cell.cell_type === "code" ? Math.min(420, 24 * ((cell as any).ymodel?.get("outputs")?.length ?? 0)) : 0;
  return 40 + 20 * Math.min(lines, 400) + outputs;
}

export class CellView {
  node: HTMLElement;
  private editor: EditorView | null = null;
  private rendered: HTMLElement | null = null;
  private outputs: HTMLElement | null = null;
  private undo: Y.UndoManager | null = null;
  private access = new Compartment();
  private readonly isMarkdown: boolean;

  constructor(private page: Page, private cell: Cell) {
    this.isMarkdown = cell.cell_type === "markdown";
    this.node = el("section", { class: `cell ${cell.cell_type} pending`, "data-cell-id": cell.getId() });
    if (observer) {
      this.node.style.minHeight = `${estimateHeight(cell)}px`;
      mounters.set(this.node, () => this.mount());
      observer.observe(this.node);
    } else {
      this.mount();
    }
  }

  /** Draw the cell: toolbar, editor, outputs (once). */
  mount(): EditorView {
    if (this.editor) return this.editor;
    const { page, cell } = this;
    observer?.unobserve(this.node);
    this.node.classList.remove("pending");
    this.node.style.minHeight = "";
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
          this.isMarkdown ? markdown() : python(),
          syntaxHighlighting(defaultHighlightStyle),
          this.isMarkdown ? [] : lineNumbers(),
          EditorView.lineWrapping,
          this.access.of(this.accessExtensions()),
          commentRanges,
          yCollab(ysource, page.notebook.awareness, { undoManager: this.undo }),
          EditorView.domEventHandlers({ blur: () => { if (this.isMarkdown) this.showMarkdown(); } }),
        ],
      }),
    });
    this.editor.dom.setAttribute("data-testid", "cell-editor");
    this.highlight();
    if (this.isMarkdown) this.showMarkdown();
    if (cell.cell_type === "code") {
      this.showOutputs();
      cell.changed.connect(this.onChange, this);
    }
    return this.editor;
  }

  private onChange(_: unknown, change: any): void {
    if (change.outputsChange || change.executionCountChange) this.showOutputs();
  }

  private accessExtensions() {
    return [
      EditorState.readOnly.of(!this.page.writable),
      // Commenters select text to comment on it: their editor takes a selection, not edits.
      EditorView.editable.of(this.page.writable || this.page.canComment),
    ];
  }

  /** The page became read-only (the notebook was deleted, or access changed). */
  refreshAccess(): void {
    this.editor?.dispatch({ effects: this.access.reconfigure(this.accessExtensions()) });
  }

  private toolbar(): HTMLElement {
    const bar = el("div", { class: "cell-toolbar" });
    const index = () => this.page.notebook.cells.indexOf(this.cell);
    const action = (name: Parameters<typeof iconButton>[0], title: string, run: () => void, extra = "") => {
      const button = iconButton(name, title, "", extra);
      // Keep the editor's selection: a click on a toolbar button must not take the focus.
      button.addEventListener("mousedown", (e) => e.preventDefault());
      button.addEventListener("click", run);
      bar.append(button);
    };
    if (this.page.canComment) action("comment", "Comment on the selected text, or on the cell", () => this.comment(), "comment-only");
    if (!this.page.writable) return bar;
    action("up", "Move cell up", () => { const i = index(); if (i > 0) this.page.notebook.moveCell(i, i - 1); }, "edit-only");
    action("down", "Move cell down", () => {
      const i = index();
      if (i < this.page.notebook.cells.length - 1) this.page.notebook.moveCell(i, i + 1);
    }, "edit-only");
    action("plus", "Add a code cell below", () => this.page.insertCell(index() + 1, "code"), "edit-only");
    action("trash", "Delete cell", () => this.page.notebook.deleteCell(index()), "edit-only danger");
    return bar;
  }

  private showMarkdown(): void {
    if (!this.rendered) {
      this.rendered = el("div", { class: "markdown", tabindex: "0", "data-testid": "markdown" });
      this.rendered.addEventListener("dblclick", () => this.focus());
      this.rendered.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && !e.shiftKey) {
          e.preventDefault();
          this.focus();
        }
      });
      this.node.append(this.rendered);
    }
    this.rendered.innerHTML = renderMarkdown(this.cell.getSource() || "*Empty Markdown cell*");
    this.node.classList.remove("editing");
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
    if (this.editor) highlight(this.editor, this.cell.getId(), this.page.comments.threads);
  }

  private comment(): void {
    const editor = this.mount();
    const selection = editor.state.selection.main;
    const text = editor.state.doc.toString();
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
    const editor = this.mount();
    this.node.classList.add("editing");
    editor.focus();
  }

  private leave(): void {
    this.editor?.contentDOM.blur();
    if (this.isMarkdown) this.showMarkdown();
  }

  private next(): void {
    const cells = this.page.notebook.cells;
    const i = cells.indexOf(this.cell);
    this.leave();
    if (i + 1 < cells.length) this.page.views.get(cells[i + 1])?.focus();
    else if (this.page.writable) this.page.insertCell(i + 1, "code");
  }

  destroy(): void {
    observer?.unobserve(this.node);
    if (this.cell.cell_type === "code") this.cell.changed.disconnect(this.onChange, this);
    this.editor?.destroy();
    this.undo?.destroy();
    this.node.remove();
  }
}

// One cell: a CodeMirror editor bound to the cell's shared text (y-codemirror.next), its
// toolbar, its outputs, and for Markdown the rendered text. A Markdown cell shows its rendered
// text until double-clicked or Enter (edit mode); Shift+Enter or Escape renders it again.
// Escape leaves the editor for command mode: the cell stays selected and has the focus, and
// the notebook's keys (editor/keys.ts) act on it. Every cell's editor shares the notebook's
// undo manager, so undo takes back one's own changes in the order they were made, across cells.

import type { YNotebook } from "@jupyter/ydoc";
import { defaultKeymap, indentWithTab } from "@codemirror/commands";
import { markdown } from "@codemirror/lang-markdown";
import { python } from "@codemirror/lang-python";
import { syntaxHighlighting, defaultHighlightStyle } from "@codemirror/language";
import { Compartment, EditorState } from "@codemirror/state";
import { EditorView, keymap, lineNumbers } from "@codemirror/view";
import { yCollab, yUndoManagerKeymap } from "y-codemirror.next";
import type * as Y from "yjs";

import type { KernelClient, KernelState } from "../kernel/client";
import { codePoints, commentRanges, highlight } from "../comments/ranges";
import type { CommentsPanel } from "../comments/panel";
import { el } from "../ui/dom";
import { iconButton } from "../ui/icons";
import { renderMarkdown } from "../ui/markdown";
import { attempt } from "../ui/toast";
import { outputsHidden, setOutputsHidden, type CellType } from "./ops";
import { renderOutputs } from "./outputs";
import { textOn } from "./presence";

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
  /** The notebook's undo manager: this person's changes to the cells and their text. */
  undo: Y.UndoManager;
  /** The selected cell (command mode acts on it), or null. */
  active: Cell | null;
  select(cell: Cell | null): void;
  /** Make ``change`` one undo step of its own. */
  step<T>(change: () => T): T;
  /** Switch the cell between code and Markdown (same id and source). */
  changeType(cell: Cell, type: CellType): void;
  /** The notebook's shared kernel; ``canExecute``: this person may run cells. */
  kernel: KernelClient;
  canExecute: boolean;
  /** Run cells on the server (one, or a batch); shows why if it could not. */
  runCells(cells: Cell[]): void;
  /** How someone appears in presence (colour, initials), if known. */
  personLook(username: string, name: string): { color: string; initials: string };
}

/** "12 s", "3 min 4 s". */
export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
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

const COMMENT_TITLE = "Comment on the selected text, or on the cell";

export class CellView {
  node: HTMLElement;
  private editor: EditorView | null = null;
  private rendered: HTMLElement | null = null;
  private outputs: HTMLElement | null = null;
  private outputsShown: boolean | null = null; // a reader's own choice; writers change the file
  private access = new Compartment();
  private prompt: HTMLElement | null = null;
  private runLine: HTMLElement | null = null;
  private inputBox: HTMLElement | null = null;
  private inputFor = ""; // the prompt the input box was made for (kept while typing)
  private commentButton: HTMLButtonElement | null = null; // shows how many open threads are on the cell
  private readonly isMarkdown: boolean;

  constructor(private page: Page, private cell: Cell) {
    this.isMarkdown = cell.cell_type === "markdown";
    this.node = el("section", { class: `cell ${cell.cell_type} pending`, "data-cell-id": cell.getId(),
      tabindex: "-1", "aria-label": this.isMarkdown ? "Markdown cell" : "Code cell" });
    // Any click or focus inside selects the cell (command mode acts on the selected cell).
    this.node.addEventListener("focusin", () => page.select(cell));
    this.node.addEventListener("mousedown", () => page.select(cell));
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
    if (page.writable || page.canComment || cell.cell_type === "code") this.node.append(this.toolbar());
    const ysource = cell.ysource;
    this.editor = new EditorView({
      parent: this.node,
      state: EditorState.create({
        doc: ysource.toString(),
        extensions: [
          keymap.of([
            { key: "Shift-Enter", run: () => (this.run(), this.next(), true) },
            { key: "Mod-Enter", run: () => (this.run(), true) },
            { key: "Escape", run: () => (this.leave(), true) },
            { key: "Mod-s", run: () => (page.save(), true), preventDefault: true },
            indentWithTab,
            ...yUndoManagerKeymap,
            ...defaultKeymap,
          ]),
          this.isMarkdown ? markdown() : python(),
          syntaxHighlighting(defaultHighlightStyle),
          this.isMarkdown ? [] : lineNumbers(),
          EditorView.lineWrapping,
          // The editable area is a text field for screen readers: it needs a name.
          EditorView.contentAttributes.of({ "aria-label": this.isMarkdown ? "Markdown source" : "Code" }),
          this.access.of(this.accessExtensions()),
          commentRanges,
          yCollab(ysource, page.notebook.awareness, { undoManager: page.undo }),
          EditorView.domEventHandlers({ blur: () => { if (this.isMarkdown) this.showMarkdown(); } }),
        ],
      }),
    });
    this.editor.dom.setAttribute("data-testid", "cell-editor");
    this.highlight();
    if (this.isMarkdown) this.showMarkdown();
    if (cell.cell_type === "code") {
      // Not a live region: the elapsed time changes every second (the kernel status is one).
      this.runLine = el("div", { class: "run-line", "data-testid": "run-line" });
      this.node.append(this.runLine);
      this.showOutputs();
      this.showKernel();
      cell.changed.connect(this.onChange, this);
      cell.metadataChanged.connect(this.onMetadata, this);
      // The server appends stream text in place (inside an output): the cell's own change
      // signal does not report that, the outputs array's deep observer does.
      (cell as any).youtputs?.observeDeep(this.onOutputsDeep);
    }
    return this.editor;
  }

  private outputsFrame = 0;
  private readonly onOutputsDeep = (): void => {
    // Many small appends per second: redraw at most once a frame.
    if (this.outputsFrame) return;
    this.outputsFrame = requestAnimationFrame(() => {
      this.outputsFrame = 0;
      this.showOutputs();
    });
  };

  private onMetadata(): void {
    this.showOutputs();
  }

  private onChange(_: unknown, change: any): void {
    if (change.outputsChange || change.executionCountChange) {
      this.showOutputs();
      this.showPrompt();
    }
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
      return button;
    };
    if (this.cell.cell_type === "code") {
      this.prompt = el("span", { class: "exec-prompt", "data-testid": "prompt" }, "[ ]");
      bar.append(this.prompt);
      if (this.page.canExecute) {
        action("run", "Run this cell (Ctrl+Enter; Shift+Enter runs and moves on)", () => this.run(), "run-cell");
      }
      if (this.page.writable) action("clear", "Clear this cell's outputs", () => this.clearOutputs(), "edit-only clear-cell");
    }
    if (this.page.canComment) {
      this.commentButton = action("comment", COMMENT_TITLE, () => this.comment(), "comment-only comment-button");
    } else {
      // Readers cannot comment, but see that there are comments here, and go to them.
      this.commentButton = action("comment", "", () => this.page.comments.show(this.cell.getId()), "comment-button");
    }
    // Its name is its content (the count it shows, then what it does), not an aria-label.
    this.commentButton.removeAttribute("aria-label");
    this.commentButton.append(el("span", { class: "comment-count" }), el("span", { class: "visually-hidden comment-name" }));
    if (this.cell.cell_type === "code") {
      action("eye", "Hide or show this cell's outputs (O)", () => this.toggleOutputs(), "outputs-toggle");
    }
    if (!this.page.writable) return bar;
    const type = el("select", { class: "cell-type edit-only", "aria-label": "Cell type", title: "Cell type (M: Markdown, Y: code)" },
      el("option", { value: "code" }, "Code"), el("option", { value: "markdown" }, "Markdown")) as HTMLSelectElement;
    type.value = this.cell.cell_type;
    type.addEventListener("change", () => this.page.changeType(this.cell, type.value as CellType));
    if (this.prompt) this.prompt.after(type);
    else bar.prepend(type);
    const move = (by: number) => {
      const i = index();
      if (i + by >= 0 && i + by < this.page.notebook.cells.length) this.page.step(() => this.page.notebook.moveCell(i, i + by));
    };
    action("up", "Move cell up", () => move(-1), "edit-only");
    action("down", "Move cell down", () => move(1), "edit-only");
    action("plus", "Add a code cell below", () => this.page.insertCell(index() + 1, "code"), "edit-only");
    action("trash", "Delete cell", () => this.page.step(() => this.page.notebook.deleteCell(index())), "edit-only danger");
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

  /** Whether this cell's outputs are shown here. */
  private get showingOutputs(): boolean {
    return this.outputsShown ?? !outputsHidden(this.cell);
  }

  /** Hide or show the outputs: in the file (``metadata.jupyter.outputs_hidden``) for writers,
   * only on this page for readers. */
  toggleOutputs(): void {
    if (this.cell.cell_type !== "code") return;
    this.mount();
    const hide = this.showingOutputs;
    if (this.page.writable) {
      this.outputsShown = null;
      this.page.step(() => setOutputsHidden(this.cell, hide));
    } else {
      this.outputsShown = !hide;
    }
    this.showOutputs();
  }

  private showOutputs(): void {
    const cell = this.cell as any;
    const count = cell.execution_count;
    const outputs = cell.outputs || [];
    let next: HTMLElement;
    if (!this.showingOutputs && outputs.length) {
      const show = el("button", { class: "button quiet small", type: "button" },
        `Outputs hidden (${outputs.length}) — show`);
      show.addEventListener("click", () => this.toggleOutputs());
      next = el("div", { class: "outputs hidden-outputs", "data-testid": "outputs-hidden" }, show);
    } else {
      next = renderOutputs(outputs, { streamUrl: this.page.kernel.streamUrl(this.cell.getId()) });
    }
    this.node.classList.toggle("outputs-hidden", !this.showingOutputs);
    if (this.outputs) this.outputs.replaceWith(next);
    else this.node.append(next);
    this.outputs = next;
  }

  /** Run this cell on the server (code cells, for people with ``execute``). */
  run(): void {
    if (this.cell.cell_type === "code" && this.page.canExecute) this.page.runCells([this.cell]);
  }

  /** Clear the outputs (writes to the document: writers only). */
  clearOutputs(): void {
    if (this.cell.cell_type !== "code" || !this.page.writable) return;
    const cell = this.cell as any;
    this.page.step(() => this.page.notebook.transact(() => {
      cell.clearOutputs();
      cell.execution_count = null;
    }));
  }

  /** ``[ ]``, ``[*]`` (running or queued) or ``[N]``. */
  private showPrompt(): void {
    if (!this.prompt) return;
    const mine = this.page.kernel.state?.cells.find((c) => c.cell_id === this.cell.getId());
    const count = (this.cell as any).execution_count;
    this.prompt.textContent = mine ? "[*]" : count ? `[${count}]` : "[ ]";
    this.prompt.dataset.state = mine ? mine.state : count ? "done" : "never";
  }

  /** The kernel's state changed (or a second passed): the prompt, who runs this cell and
   * for how long, a pending input(). */
  showKernel(): void {
    if (this.cell.cell_type !== "code" || !this.runLine) return;
    const kernel = this.page.kernel;
    const state: KernelState | null = kernel.state;
    this.showPrompt();
    const mine = state?.cells.find((c) => c.cell_id === this.cell.getId());
    this.node.classList.toggle("running", mine?.state === "running");
    this.node.classList.toggle("queued", mine?.state === "queued");
    if (!mine) {
      this.runLine.replaceChildren();
    } else {
      const name = mine.by.display_name || mine.by.username;
      const look = this.page.personLook(mine.by.username, name);
      const badge = el("span", { class: "person small", title: name }, look.initials);
      badge.style.setProperty("--person", look.color);
      badge.style.setProperty("--person-text", textOn(look.color));
      const what = mine.state === "running" ? `${name} is running this cell` : `Queued by ${name}`;
      this.runLine.replaceChildren(badge, el("span", { "data-testid": "run-by" }, what),
        el("span", { class: "muted", "data-testid": "elapsed" }, ` · ${duration(kernel.elapsed(mine.since))}`));
      this.runLine.dataset.state = mine.state;
    }
    this.showInput(state);
  }

  /** An input() box while this cell waits for one (masked for passwords). */
  private showInput(state: KernelState | null): void {
    const input = state?.input && state.input.cell_id === this.cell.getId() ? state.input : null;
    const key = input ? `${input.since}|${input.prompt}|${input.password}` : "";
    if (key === this.inputFor) return; // keep what is being typed
    this.inputFor = key;
    this.inputBox?.remove();
    this.inputBox = null;
    if (!input) return;
    if (!this.page.canExecute) {
      this.inputBox = el("p", { class: "input-box muted", "data-testid": "input-waiting" },
        `This cell waits for input: ${input.prompt}`);
    } else {
      const field = el("input", { type: input.password ? "password" : "text", "aria-label": input.prompt || "Input",
        "data-testid": "input-field", autocomplete: "off" }) as HTMLInputElement;
      const form = el("form", { class: "input-box", "data-testid": "input-box" },
        el("label", {}, el("span", { class: "input-prompt" }, input.prompt || "Input:"), field),
        el("button", { class: "button small", type: "submit" }, "Send"));
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        void attempt("Could not send the input", () => this.page.kernel.answer(field.value));
      });
      this.inputBox = form;
    }
    this.runLine?.after(this.inputBox);
  }

  highlight(): void {
    if (this.editor) highlight(this.editor, this.cell.getId(), this.page.comments.threads);
    const button = this.commentButton;
    if (!button) return;
    const open = this.page.comments.openCount(this.cell.getId());
    const count = open === 1 ? "open comment on this cell" : "open comments on this cell";
    button.querySelector(".comment-count")!.textContent = open ? String(open) : "";
    button.dataset.count = String(open);
    const does = this.page.canComment ? COMMENT_TITLE : "Show them";
    button.querySelector(".comment-name")!.textContent = open ? ` ${count}. ${does}` : does;
    button.title = open ? `${open} ${count}. ${does}` : does;
    if (!this.page.canComment) button.hidden = !open;
  }

  /** Scroll to the cell, select it and flash it (a comment thread leads here). */
  reveal(): void {
    this.mount();
    this.page.select(this.cell);
    this.node.focus({ preventScroll: true });
    this.node.scrollIntoView({ block: "center", behavior: "smooth" });
    this.node.classList.remove("revealed");
    void this.node.offsetWidth; // restart the flash when revealed twice in a row
    this.node.classList.add("revealed");
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

  /** Leave the editor for command mode: the cell keeps the focus. */
  private leave(): void {
    this.editor?.contentDOM.blur();
    if (this.isMarkdown) this.showMarkdown();
    this.node.focus({ preventScroll: true });
  }

  /** Select the cell without editing it (command mode). */
  select(): void {
    this.node.focus({ preventScroll: false });
    this.node.scrollIntoView({ block: "nearest" });
  }

  setActive(active: boolean): void {
    this.node.classList.toggle("active", active);
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
    if (this.cell.cell_type === "code") {
      this.cell.changed.disconnect(this.onChange, this);
      this.cell.metadataChanged.disconnect(this.onMetadata, this);
      (this.cell as any).youtputs?.unobserveDeep(this.onOutputsDeep);
      cancelAnimationFrame(this.outputsFrame);
    }
    this.editor?.destroy(); // the undo manager is the notebook's: it stays
    this.node.remove();
  }
}

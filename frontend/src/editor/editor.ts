// The notebook editor page: every cell is a CodeMirror editor bound to the cell's shared text,
// in the document layout JupyterLab uses (@jupyter/ydoc), over the jupyter-collaboration wire
// protocol (net/room). This module lays the page out and wires the parts together: the
// session, the room and its notices, the status lines, presence, cells, comments, keyboard
// (editor/keys), the notebook's toolbar (undo, redo, the cell clipboard) and "More" menu
// (download, publish, delete).

import { YNotebook } from "@jupyter/ydoc";

import { api, ApiError, base, me, roleOf } from "../net/api";
import { recordView } from "../gallery/gallery";
import { changeRequestControls } from "../gallery/changes";
import { download, FORMATS } from "../net/download";
import { contentsUrl, folderPage, nameOf, notebookPage, parentOf, sessionUrl } from "../net/paths";
import { Room, type Notice, type Stopped } from "../net/room";
import { CommentsPanel } from "../comments/panel";
import { KernelClient } from "../kernel/client";
import { kernelToolbar } from "../kernel/toolbar";
import { shareButton } from "../share/share";
import { historyButton, openPublish, type PublishShape } from "../history/history";
import { confirmAction } from "../ui/dialog";
import { el } from "../ui/dom";
import { icon, iconButton } from "../ui/icons";
import { menu } from "../ui/menu";
import { typingInto } from "../ui/shortcuts";
import { attempt, showError } from "../ui/toast";
import { userMenu } from "../ui/usermenu";
import { CellView, type Cell, type Page } from "./cell";
import { commandFor, WRITES, type Command } from "./keys";
import { cellsToJSON, changeCellType, insertCopies, readClipboard, writeClipboard } from "./ops";
import { presenceList } from "./presence";
import { SaveTracker, showConnection } from "./status";
import { notFound } from "./notfound";
import { titleEditor } from "./title";
import "./editor.css";

export async function showEditor(root: HTMLElement, initialPath: string): Promise<void> {
  let path = initialPath;
  const who = await me(path);
  const saveState = el("span", { class: "state save", "data-testid": "save-state", role: "status" }, "");
  const connection = el("span", { class: "state connection", "data-testid": "connection", role: "status" }, "Connecting…");
  const back = el("a", { href: base + folderPage(parentOf(path)), class: "brand icon-link", title: "Back to the folder", "aria-label": "Back to the folder" }, icon("back"));
  const title = titleEditor(path, !!who.permissions.write, (to) => followRename(to));
  const header = el("header", { class: "topbar" }, back, title.node,
    el("span", { class: "badge", "data-testid": "role" }, roleOf(who.permissions)), el("span", { class: "grow" }));
  root.replaceChildren(header);
  const main = el("main", { class: "editor" });
  root.append(main);
  document.title = `${nameOf(path)} · collab_server`;
  if (!who.permissions.read) {
    root.replaceChildren(notFound(path, who.identity));
    return;
  }
  let session: { fileId: string; sessionId: string };
  try {
    session = await api("PUT", sessionUrl(path), { format: "json", type: "notebook" });
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 403)) {
      root.replaceChildren(notFound(path, who.identity));
      return;
    }
    throw e;
  }
  recordView(path);  // the gallery counts who opened which notebook
  const writable = !!who.permissions.write;
  const canComment = !!who.permissions.comment;
  const column = el("div", { class: "column" });
  const banner = el("div", { class: "banners", "data-testid": "banners" });
  column.append(banner);
  if (!writable) {
    column.append(el("p", { class: "notice", "data-testid": "read-only" },
      canComment ? "You can read and comment on this notebook, not edit it."
        : "View only: you can read this notebook, not edit it."));
  }

  const notebook = new YNotebook();
  const room = new Room(`json:notebook:${session.fileId}`, notebook.ydoc, { sessionId: session.sessionId }, notebook.awareness);
  const list = el("div", { class: "cells", "data-testid": "cells" });
  const comments = new CommentsPanel(() => path, session.fileId, who.identity, canComment, writable);
  const canExecute = !!who.permissions.execute;
  const kernel = new KernelClient(() => path, `json:notebook:${session.fileId}`, room);
  const tracker = writable ? new SaveTracker(room, notebook.ydoc, saveState) : null;
  main.classList.add("with-comments");
  column.append(list);
  main.append(column, comments.node);
  // Below 900 px the comments are under the last cell: the header says how many are open and
  // leads there.
  const commentsJump = el("button", { class: "button quiet small comments-jump", type: "button", "data-testid": "comments-jump" }, "Comments");
  commentsJump.addEventListener("click", () => comments.show());
  const showCommentCount = () => {
    const open = comments.openCount();
    commentsJump.textContent = `Comments (${open})`;
    commentsJump.setAttribute("aria-label", `Comments: ${open} open. Go to the comments`);
  };
  comments.onChange(showCommentCount);
  showCommentCount();
  header.append(presenceList(notebook.awareness, who.identity), saveState, connection, commentsJump);
  if (who.permissions.share) header.append(shareButton(() => path));
  showConnection(connection, room);

  const page: Page = {
    notebook, writable, canComment, comments, views: new Map(),
    save: () => tracker?.save(),
    insertCell: (index, type) => {
      page.step(() => notebook.insertCell(index, { cell_type: type, source: "", metadata: {} } as any));
      queueMicrotask(() => page.views.get(notebook.cells[index])?.focus());
    },
    // Only this page's own changes: the notebook's transactions and each cell editor's (the
    // editors add their origin); what others do arrives from the socket and is never undone.
    undo: notebook.undoManager,
    // A change to the cells is one undo step of its own, never merged with typing just before.
    step: <T>(change: () => T): T => {
      page.undo.stopCapturing();
      const result = change();
      page.undo.stopCapturing();
      return result;
    },
    active: null,
    select: (cell) => {
      if (page.active === cell) return;
      if (page.active) page.views.get(page.active)?.setActive(false);
      page.active = cell;
      if (cell) page.views.get(cell)?.setActive(true);
    },
    kernel, canExecute,
    runCells: (cells) => {
      const code = cells.filter((c) => c.cell_type === "code").map((c) => ({ id: c.getId(), source: c.getSource() }));
      void kernel.run(code).then((result) => {
        if (!result.ok && result.message) showError(result.message);
      }, (e) => {
        // The server could not be reached (or went away while the cell ran): the connection
        // line says so, and the kernel's state once it is back ("lost"), better than a toast.
        if (e instanceof ApiError && e.status === 0) return;
        showError(`Could not run the cell: ${e?.message || e}`);
      });
    },
    personLook: (username, name) => {
      let found: { color: string; initials: string } | null = null;
      notebook.awareness.getStates().forEach((s: any) => {
        if (s.user?.username === username && s.user.color) found = { color: s.user.color, initials: s.user.initials || name.slice(0, 1) };
      });
      if (username === who.identity.username) found = { color: who.identity.color, initials: who.identity.initials };
      return found ?? { color: "#6e7781", initials: (name || "?").slice(0, 1).toUpperCase() };
    },
    changeType: (cell, type) => {
      if (!page.writable) return;
      const index = notebook.cells.indexOf(cell);
      const made = page.step(() => changeCellType(notebook, index, type));
      if (made) queueMicrotask(() => { page.select(made); page.views.get(made)?.select(); });
    },
  };
  comments.cells = {
    indexOf: (cellId) => notebook.cells.findIndex((c) => c.getId() === cellId),
    reveal: (cellId) => {
      const cell = notebook.cells.find((c) => c.getId() === cellId);
      if (cell) page.views.get(cell)?.reveal();
    },
  };
  const publishShape = (): PublishShape => ({
    hasCode: notebook.cells.some((c) => c.cell_type === "code"),
    hasParameters: notebook.cells.some((c) => {
      const tags = c.getMetadata("tags");
      return Array.isArray(tags) && tags.includes("parameters");
    }),
    mayExecute: !!who.permissions.execute,
  });
  const more = moreMenu();
  header.append(historyButton({ path: () => path, permissions: who.permissions, look: page.personLook, publishShape }), more,
    userMenu(who.identity));
  void changeRequestControls(() => path, who).then((nodes) => more.before(...nodes));

  const say = (kind: string, text: string, ...actions: HTMLElement[]) => {
    banner.replaceChildren(el("div", { class: `notice ${kind}`, role: "alert", "data-testid": "banner", "data-kind": kind },
      el("span", {}, text), ...actions));
  };
  const reloadButton = () => {
    const b = el("button", { class: "button small" }, "Reload");
    b.addEventListener("click", () => location.reload());
    return b;
  };
  const stopEditing = () => {
    page.writable = false;
    page.canComment = false;
    main.classList.add("read-only");
    page.views.forEach((v) => v.refreshAccess());
  };

  function followRename(to: string): void {
    path = to;
    title.set(to);
    document.title = `${nameOf(to)} · collab_server`;
    back.setAttribute("href", base + folderPage(parentOf(to)));
    history.replaceState(null, "", base + notebookPage(to));
  }

  room.onNoticeReceived((n: Notice) => {
    if (n.type === "renamed" && typeof n.path === "string") followRename(n.path);
    else if (n.type === "error" && n.reason === "store_unavailable") {
      say("storage", `The server cannot reach its storage right now; your edits are kept here and sent when it is back. ${n.message || ""}`.trim());
    } else if (n.type === "save_failed") {
      say("storage", `The server could not save this notebook: ${n.message || "unknown error"}`);
    } else if ((n.type === "saved" || (n.type === "save" && n.status !== "failed"))
               && banner.querySelector("[data-kind=storage]")) {
      banner.replaceChildren(); // saving works again
    }
  });
  room.onStopped((s: Stopped) => {
    const detail = s.message ? ` ${s.message}` : "";
    switch (s.reason) {
      case "deleted":
        say("error", "This notebook was deleted. It can no longer be edited here, and nothing typed now is saved.",
          el("a", { href: base + folderPage(parentOf(path)), class: "button small" }, "Back to the folder"));
        break;
      case "invalid_file":
        say("error", `This file is not a valid notebook:${detail || " it could not be read."}`);
        break;
      case "too_large":
        say("error", "Your last change is too large and was not saved. Reload to get back to the saved version.", reloadButton());
        break;
      case "forbidden":
        say("error", "Your access to this notebook was removed.");
        break;
      case "unknown_session":
        location.reload();
        return;
    }
    tracker?.halt(s.reason === "too_large" ? "Not saved: the change is too large" : "Not saved");
    stopEditing();
    if (s.reason !== "too_large") comments.freeze();
  });

  const render = () => {
    const current = new Set(notebook.cells);
    for (const [cell, view] of page.views) {
      if (!current.has(cell)) {
        if (page.active === cell) page.active = null;
        view.destroy();
        page.views.delete(cell);
      }
    }
    const nodes: HTMLElement[] = notebook.cells.map((cell: Cell) => {
      let view = page.views.get(cell);
      if (!view) {
        view = new CellView(page, cell);
        page.views.set(cell, view);
        if (page.active === cell) view.setActive(true);
      }
      return view.node;
    });
    // Move only what moved: taking a node out of the page would take the focus from whoever
    // is typing in it when someone else adds a cell.
    let at: ChildNode | null = list.firstChild;
    for (const node of nodes) {
      if (node === at) at = at.nextSibling;
      else list.insertBefore(node, at);
    }
    while (at) {
      const next: ChildNode | null = at.nextSibling;
      at.remove();
      at = next;
    }
    if (!nodes.length) list.append(el("p", { class: "empty" }, "An empty notebook."));
    comments.relabel(); // threads name their cell by its position
  };
  notebook.changed.connect((_, change) => {
    if (change.cellsChange) render();
  });
  room.provider.once("synced", () => {
    // Marks for anyone measuring how soon the page shows a notebook (the tests do).
    performance.mark("collab:synced");
    render();
    requestAnimationFrame(() => performance.mark("collab:first-cell"));
  });
  // The notebook's toolbar: undo and redo (of one's own changes), the cell clipboard.
  const undoButton = iconButton("undo", "Undo your last change (Ctrl+Z)", "", "edit-only");
  const redoButton = iconButton("redo", "Redo (Ctrl+Shift+Z)", "", "edit-only");
  const cutButton = iconButton("cut", "Cut the selected cell (X)", "", "edit-only");
  const copyButton = iconButton("copy", "Copy the selected cell (C)");
  const pasteButton = iconButton("paste", "Paste cells below the selected one (V)", "", "edit-only");
  const hint = el("span", { class: "muted hint" }, "Press ? for keyboard shortcuts");
  const clearAll = () => page.step(() => notebook.transact(() => {
    for (const cell of notebook.cells) {
      if (cell.cell_type !== "code") continue;
      (cell as any).clearOutputs();
      (cell as any).execution_count = null;
    }
  }));
  const kernelBar = kernelToolbar(kernel, canExecute, {
    runAll: () => page.runCells(notebook.cells.filter((c) => c.cell_type === "code")),
    clearAll: writable ? clearAll : null,
  });
  const tools = el("div", { class: "notebook-toolbar", role: "toolbar", "aria-label": "Notebook" },
    undoButton, redoButton, el("span", { class: "sep edit-only" }), cutButton, copyButton, pasteButton,
    el("span", { class: "sep" }), kernelBar.tools, el("span", { class: "grow" }), hint);
  const showUndo = () => {
    undoButton.disabled = !page.undo.undoStack.length;
    redoButton.disabled = !page.undo.redoStack.length;
  };
  for (const event of ["stack-item-added", "stack-item-popped", "stack-cleared"]) page.undo.on(event as any, showUndo);
  showUndo();
  if (!writable) tools.querySelectorAll(".edit-only").forEach((n) => n.remove());
  column.insertBefore(tools, list);
  column.insertBefore(kernelBar.notice, list);
  kernel.onChange(() => page.views.forEach((view) => view.showKernel()));
  // "For how long" counts up each second on the cells that run or wait.
  window.setInterval(() => {
    for (const entry of kernel.state?.cells ?? []) {
      const cell = notebook.cells.find((c) => c.getId() === entry.cell_id);
      if (cell) page.views.get(cell)?.showKernel();
    }
  }, 1000);
  // The state is pushed on changes only: fetch it once now (and after reconnecting, when
  // a push may have been missed).
  const fetchKernel = () => void kernel.refresh().catch(() => undefined);
  fetchKernel();
  room.provider.on("sync", (synced: boolean) => { if (synced) fetchKernel(); });

  let previousKey = "";
  const run = (command: Command): boolean => {
    if (WRITES.has(command) && !page.writable) return false;
    if (WRITES.has(command) && command !== "undo" && command !== "redo") return page.step(() => perform(command));
    return perform(command);
  };
  const perform = (command: Command): boolean => {
    const cells = notebook.cells;
    const active = page.active && cells.includes(page.active) ? page.active : null;
    const index = active ? cells.indexOf(active) : -1;
    const view = (cell: Cell | undefined) => (cell ? page.views.get(cell) : undefined);
    const selectAt = (i: number) => {
      const cell = notebook.cells[Math.max(0, Math.min(i, notebook.cells.length - 1))];
      if (cell) { page.select(cell); view(cell)?.select(); }
    };
    switch (command) {
      case "undo": page.undo.undo(); return true;
      case "redo": page.undo.redo(); return true;
      case "save": page.save(); return true;
      case "copy": case "cut":
        if (!active) return false;
        writeClipboard(cellsToJSON([active]));
        if (command === "cut") { notebook.deleteCell(index); queueMicrotask(() => selectAt(index)); }
        return true;
      case "paste-below": case "paste-above": {
        const cellsToPaste = readClipboard();
        if (!cellsToPaste) { showError("Nothing to paste: copy or cut a cell first (C or X)."); return true; }
        const at = index < 0 ? cells.length : command === "paste-below" ? index + 1 : index;
        const made = insertCopies(notebook, at, cellsToPaste);
        queueMicrotask(() => selectAt(notebook.cells.indexOf(made[made.length - 1])));
        return true;
      }
    }
    if (!active) {
      if (command === "next" || command === "previous" || command === "edit") { selectAt(0); return !!cells.length; }
      return false;
    }
    switch (command) {
      case "edit": view(active)?.focus(); return true;
      case "previous": selectAt(index - 1); return true;
      case "next": selectAt(index + 1); return true;
      case "insert-above": case "insert-below": {
        const at = command === "insert-above" ? index : index + 1;
        notebook.insertCell(at, { cell_type: "code", source: "", metadata: {} } as any);
        queueMicrotask(() => selectAt(at));
        return true;
      }
      case "markdown": case "code": page.changeType(active, command); return true;
      case "delete": notebook.deleteCell(index); queueMicrotask(() => selectAt(index)); return true;
      case "outputs": view(active)?.toggleOutputs(); return true;
      case "run": view(active)?.run(); return true;
      case "run-advance":
        view(active)?.run();
        if (index + 1 < notebook.cells.length) selectAt(index + 1);
        else if (page.writable) page.insertCell(index + 1, "code");
        return true;
    }
    return false;
  };
  undoButton.addEventListener("click", () => run("undo"));
  redoButton.addEventListener("click", () => run("redo"));
  cutButton.addEventListener("click", () => run("cut"));
  copyButton.addEventListener("click", () => run("copy"));
  pasteButton.addEventListener("click", () => run("paste-below"));
  for (const b of [cutButton, copyButton, pasteButton]) b.addEventListener("mousedown", (e) => e.preventDefault());

  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
      event.preventDefault();
      page.save();
      return;
    }
    // In a cell editor, a field or a dialog, keys are text (the editor has its own undo).
    if (event.defaultPrevented || typingInto(event.target)) return;
    const command = commandFor(event, previousKey);
    previousKey = event.key.toLowerCase() === "d" && !command ? "d" : "";
    if (!command) return;
    // One-letter commands, Enter and the arrows only where nothing else wants them: on a
    // focused button Enter presses it, and with no cell selected the arrows scroll the page.
    const modified = event.ctrlKey || event.metaKey;
    if (!modified && !onCell(event.target)) return;
    if (!modified && !page.active && (event.key === "ArrowUp" || event.key === "ArrowDown")) return;
    if (run(command)) event.preventDefault();
  });
  if (writable) column.append(addButtons(page));

  /** Save first: a download is made from the file, which must have what was just typed
   * (waits at most a few seconds; an unsaved change is then simply not in the download). */
  async function savedNow(): Promise<void> {
    if (!tracker?.unsaved) return;
    tracker.save();
    for (let waited = 0; tracker.unsaved && waited < 5000; waited += 100) {
      await new Promise((done) => setTimeout(done, 100));
    }
  }

  /** Whether a key pressed on ``target`` may be a command: the page itself, a cell, its
   * rendered Markdown, or a read-only editor (not a button, a link or a menu). */
  function onCell(target: EventTarget | null): boolean {
    const node = target as HTMLElement | null;
    if (!node || node === document.body || node === document.documentElement) return true;
    return !!node.matches?.(".cell, .markdown, .cm-content[contenteditable='false']");
  }

  function moreMenu(): HTMLElement {
    const button = iconButton("more", who.permissions.share ? "More: download, publish, delete" : "More: download, delete", "", "more-button");
    button.setAttribute("data-testid", "more");
    const items = FORMATS.map(({ format, label }) => ({
      label: `Download as ${label}`, testid: `download-${format}`,
      run: () => void attempt(`Could not download ${nameOf(path)}`, async () => {
        await savedNow();
        await download(path, format);
      }),
    }));
    // Publishing needs ``share``, as in the History panel.
    const publish = who.permissions.share ? [{ separator: true as const }, {
      label: "Publish…", testid: "publish-notebook",
      run: () => void openPublish(path, () => undefined, publishShape()),
    }] : [];
    const rest = who.permissions.write ? [{ separator: true as const }, {
      label: "Delete this notebook…", danger: true, testid: "delete-notebook",
      run: () => void deleteNotebook(),
    }] : [];
    return menu(button, [...items, ...publish, ...rest], "More");
  }

  async function deleteNotebook(): Promise<void> {
    if (!(await confirmAction(`Delete ${nameOf(path)}? Everyone editing it is stopped, and this cannot be undone.`, "Delete"))) return;
    const folder = parentOf(path);
    const done = await attempt(`Could not delete ${nameOf(path)}`, async () => {
      await api("DELETE", contentsUrl(path));
      return true;
    });
    if (done) location.assign(base + folderPage(folder));
  }
  comments.onChange(() => page.views.forEach((view) => view.highlight()));
}

function addButtons(page: Page): HTMLElement {
  const box = el("div", { class: "add edit-only" });
  for (const type of ["code", "markdown"] as const) {
    const button = el("button", { class: "button quiet small" }, `+ ${type === "code" ? "Code" : "Markdown"}`);
    button.addEventListener("click", () => page.insertCell(page.notebook.cells.length, type));
    box.append(button);
  }
  return box;
}

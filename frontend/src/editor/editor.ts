// The notebook editor page: every cell is a CodeMirror editor bound to the cell's shared text,
// in the document layout JupyterLab uses (@jupyter/ydoc), over the jupyter-collaboration wire
// protocol (net/room). This module lays the page out and wires the parts together: the
// session, the room and its notices, the status lines, presence, cells, comments, keyboard.

import { YNotebook } from "@jupyter/ydoc";

import { api, ApiError, base, me, roleOf } from "../net/api";
import { recordView } from "../gallery/gallery";
import { folderPage, nameOf, notebookPage, parentOf, sessionUrl } from "../net/paths";
import { Room, type Notice, type Stopped } from "../net/room";
import { CommentsPanel } from "../comments/panel";
import { shareButton } from "../share/share";
import { el } from "../ui/dom";
import { icon } from "../ui/icons";
import { CellView, type Cell, type Page } from "./cell";
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
    root.replaceChildren(notFound(path));
    return;
  }
  let session: { fileId: string; sessionId: string };
  try {
    session = await api("PUT", sessionUrl(path), { format: "json", type: "notebook" });
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 403)) {
      root.replaceChildren(notFound(path));
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
  const tracker = writable ? new SaveTracker(room, notebook.ydoc, saveState) : null;
  main.classList.add("with-comments");
  column.append(list);
  main.append(column, comments.node);
  header.append(presenceList(notebook.awareness, who.identity), saveState, connection);
  if (who.permissions.share) header.append(shareButton(() => path));
  showConnection(connection, room);

  const page: Page = {
    notebook, writable, canComment, comments, views: new Map(),
    save: () => tracker?.save(),
    insertCell: (index, type) => {
      notebook.insertCell(index, { cell_type: type, source: "", metadata: {} } as any);
      queueMicrotask(() => page.views.get(notebook.cells[index])?.focus());
    },
  };

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
        view.destroy();
        page.views.delete(cell);
      }
    }
    const nodes: HTMLElement[] = notebook.cells.map((cell: Cell) => {
      let view = page.views.get(cell);
      if (!view) {
        view = new CellView(page, cell);
        page.views.set(cell, view);
      }
      return view.node;
    });
    list.replaceChildren(...nodes);
    if (!nodes.length) list.append(el("p", { class: "empty" }, "An empty notebook."));
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
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
      event.preventDefault();
      page.save();
    }
  });
  if (writable) column.append(addButtons(page));
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

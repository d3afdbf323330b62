// The notebook browser: folders and notebooks you may see, search by name, create, rename,
// delete where allowed, and your role here.

import { api, ApiError, base, me, roleOf, type Me } from "../net/api";
import { download as download_, FORMATS } from "../net/download";
import { contentsUrl, folderPage, notebookPage, parentOf } from "../net/paths";
import { askText, confirmAction } from "../ui/dialog";
import { el } from "../ui/dom";
import { icon, iconButton } from "../ui/icons";
import { menu } from "../ui/menu";
import { topBar } from "../ui/topbar";
import "./browser.css";
import { when } from "../ui/time";

interface Entry {
  name: string;
  path: string;
  type: string;
  last_modified: string;
  size?: number | null;
}

const validName = (v: string) => (v.includes("/") ? "A name cannot contain “/”." : null);
const notebookName = (v: string) => (v.endsWith(".ipynb") ? v : `${v}.ipynb`);

export async function showBrowser(root: HTMLElement): Promise<void> {
  const params = new URLSearchParams(location.search);
  const folder = (params.get("path") || "").replace(/^\/+|\/+$/g, "");
  const who = await me(folder);
  const header = topBar("Your notebooks", "notebooks", who.identity);
  const main = el("main", { class: "browser" });
  root.replaceChildren(header, main);

  const crumbs = el("nav", { class: "crumbs", "aria-label": "Folders" });
  const parts = folder ? folder.split("/") : [];
  crumbs.append(el("a", { href: base }, "Home"));
  parts.forEach((part, i) => {
    crumbs.append(" / ", el("a", { href: base + folderPage(parts.slice(0, i + 1).join("/")) }, part));
  });
  const role = el("span", { class: "badge", "data-testid": "role" }, roleOf(who.permissions));
  const title = el("h1", { class: "visually-hidden" }, folder ? `Folder ${folder}` : "Your notebooks");
  main.append(title, el("div", { class: "browser-head" }, crumbs, role));

  if (!who.permissions.read) {
    main.append(el("p", {}, "Nothing here is shared with you. Places shared with you:"));
    main.append(shared(who.shared_with_me));
    return;
  }
  const status = el("p", { class: "status", role: "status" });
  const fail = (what: string, e: any) => {
    status.className = "status error";
    status.setAttribute("role", "alert");
    status.textContent = `${what}: ${e.message}`;
  };
  let entries: Entry[];
  try {
    const listing = await api<{ content: Entry[] }>("GET", `${contentsUrl(folder)}?content=1`);
    entries = listing.content.filter((e) => e.type === "directory" || e.type === "notebook");
  } catch (e) {
    main.append(missingFolder(folder, e));
    return;
  }

  const search = el("input", { type: "search", placeholder: "Search by name", "aria-label": "Search by name" });
  const sort = el("select", { "aria-label": "Sort by" },
    el("option", { value: "name" }, "Sort by name"), el("option", { value: "modified" }, "Newest first"));
  const tools = el("div", { class: "tools" }, search, sort);
  if (who.permissions.write) {
    const create = el("button", { class: "button" }, "New notebook");
    create.addEventListener("click", async () => {
      const name = await askText("New notebook", "Name", "Untitled.ipynb", (v) => validName(v)
        || (entries.some((e) => e.name === notebookName(v)) ? "Something with this name is already here." : null));
      if (!name) return;
      const path = folder ? `${folder}/${notebookName(name)}` : notebookName(name);
      try {
        await api("PUT", contentsUrl(path), { type: "notebook", format: "json", content: emptyNotebook() });
        location.assign(base + notebookPage(path));
      } catch (e: any) {
        fail("Could not create the notebook", e);
      }
    });
    tools.append(create);
  }
  if (who.permissions.write) {
    const file = el("input", { type: "file", accept: ".ipynb,application/x-ipynb+json", hidden: "", "aria-label": "Notebook file to upload" });
    const upload = iconButton("upload", "Upload a notebook (.ipynb)", "Upload");
    upload.addEventListener("click", () => file.click());
    file.addEventListener("change", async () => {
      const chosen = file.files?.[0];
      file.value = "";
      if (!chosen) return;
      const made = await uploadNotebook(folder, chosen, entries, (what, e) => fail(what, e));
      if (made) {
        entries = entries.filter((e) => e.path !== made.path).concat([made]);
        status.className = "status";
        status.setAttribute("role", "status");
        status.textContent = `Uploaded ${made.name}.`;
        render();
      }
    });
    tools.append(upload, file);
  }
  main.append(tools, status);
  const list = el("ul", { class: "entries" });
  main.append(list);

  // Search: names in this folder at once; the folders below, read through the contents API
  // (only what this person may list) up to a bound, as they type.
  let found: Entry[] | null = null;
  let searching = 0;
  let busy = false;
  const searchTree = async () => {
    const wanted = search.value.trim().toLowerCase();
    const mine = ++searching;
    if (!wanted) {
      found = null;
      busy = false;
      render();
      return;
    }
    found = [];
    busy = true;
    render();
    const results = await findBelow(folder, wanted, () => mine !== searching);
    if (mine !== searching) return;
    found = results;
    busy = false;
    render();
  };
  const render = () => {
    const wanted = search.value.trim().toLowerCase();
    const byModified = (sort as HTMLSelectElement).value === "modified";
    entries.sort((a, b) => (a.type !== b.type ? (a.type === "directory" ? -1 : 1)
      : byModified ? b.last_modified.localeCompare(a.last_modified) : a.name.localeCompare(b.name)));
    list.replaceChildren();
    const here = entries.filter((e) => e.name.toLowerCase().includes(wanted));
    const below = wanted && found ? found.filter((f) => !here.some((e) => e.path === f.path)) : [];
    if (!here.length && !below.length) {
      list.append(el("li", { class: "empty" }, wanted ? (busy ? "Searching the folders below…" : "No name matches.") : "This folder is empty."));
    }
    for (const entry of here) list.append(row(entry));
    for (const entry of below) list.append(row(entry, true));
  };
  const row = (entry: Entry, elsewhere = false): HTMLElement => {
    const href = base + (entry.type === "directory" ? folderPage(entry.path) : notebookPage(entry.path));
    const item = el("li", { class: `entry ${entry.type}` },
      icon(entry.type === "directory" ? "folder" : "notebook"),
      el("a", { href }, elsewhere ? entry.path : entry.name), el("span", { class: "grow" }),
      el("span", { class: "meta" }, describe(entry)));
    if (entry.type === "notebook") {
      const download = iconButton("download", `Download ${entry.name}`);
      item.append(menu(download, FORMATS.map(({ format, label }) => ({
        label, testid: `download-${format}`,
        run: () => void download_(entry.path, format).catch((e) => fail(`Could not download ${entry.name}`, e)),
      })), `Download ${entry.name} as`));
    }
    if (who.permissions.write && !elsewhere) {
      const rename = iconButton("edit", `Rename ${entry.name}`, "Rename");
      rename.addEventListener("click", async () => {
        const name = await askText(`Rename ${entry.name}`, "New name", entry.name, validName);
        if (!name || name === entry.name) return;
        const to = folder ? `${folder}/${name}` : name;
        try {
          const moved = await api<Entry>("PATCH", contentsUrl(entry.path), { path: to });
          Object.assign(entry, { name, path: to, last_modified: moved?.last_modified ?? entry.last_modified });
          render();
        } catch (e: any) {
          fail(`Could not rename ${entry.name}`, e);
        }
      });
      const remove = iconButton("trash", `Delete ${entry.name}`, "Delete", "danger");
      remove.addEventListener("click", async () => {
        if (!(await confirmAction(`Delete ${entry.name}? This cannot be undone.`, "Delete"))) return;
        try {
          await api("DELETE", contentsUrl(entry.path));
          entries = entries.filter((e) => e !== entry);
          render();
        } catch (e: any) {
          fail(`Could not delete ${entry.name}`, e);
        }
      });
      item.append(rename, remove);
    }
    return item;
  };
  let debounce: number | undefined;
  search.addEventListener("input", () => {
    render();
    window.clearTimeout(debounce);
    debounce = window.setTimeout(() => void searchTree(), 250);
  });
  sort.addEventListener("change", render);
  render();
}

/** How far the search reads below the current folder. */
const SEARCH_MAX_FOLDERS = 200;
const SEARCH_MAX_RESULTS = 100;

/** Notebooks and folders below ``folder`` whose name contains ``wanted`` (breadth first,
 * bounded; folders this person may not list are skipped). */
async function findBelow(folder: string, wanted: string, cancelled: () => boolean): Promise<Entry[]> {
  const queue = [folder];
  const results: Entry[] = [];
  let read = 0;
  while (queue.length && read < SEARCH_MAX_FOLDERS && results.length < SEARCH_MAX_RESULTS) {
    const next = queue.shift()!;
    read++;
    let listing: { content: Entry[] };
    try {
      listing = await api<{ content: Entry[] }>("GET", `${contentsUrl(next)}?content=1`);
    } catch {
      continue; // not ours to list
    }
    if (cancelled()) return results;
    for (const entry of listing.content) {
      if (entry.type === "directory") queue.push(entry.path);
      if ((entry.type === "directory" || entry.type === "notebook") && entry.name.toLowerCase().includes(wanted)) {
        results.push(entry);
      }
    }
  }
  return results.slice(0, SEARCH_MAX_RESULTS);
}

/** Upload a .ipynb file into ``folder`` (asks before replacing one of the same name). */
async function uploadNotebook(folder: string, file: File, entries: Entry[],
                              fail: (what: string, e: any) => void): Promise<Entry | null> {
  let content: any;
  try {
    content = JSON.parse(await file.text());
  } catch {
    content = null;
  }
  if (!file.name.endsWith(".ipynb") || !content || typeof content !== "object" || !Array.isArray(content.cells)
      || typeof content.nbformat !== "number") {
    fail(`Could not upload ${file.name}`, new Error("it is not a Jupyter notebook (.ipynb)."));
    return null;
  }
  if (entries.some((e) => e.name === file.name)
      && !(await confirmAction(`Replace ${file.name} with the uploaded file?`, "Replace"))) {
    return null;
  }
  const path = folder ? `${folder}/${file.name}` : file.name;
  try {
    return await api<Entry>("PUT", contentsUrl(path), { type: "notebook", format: "json", content });
  } catch (e) {
    fail(`Could not upload ${file.name}`, e);
    return null;
  }
}

function describe(entry: Entry): string {
  const modified = when(entry.last_modified);
  if (entry.type === "directory" || entry.size == null) return modified;
  const size = entry.size < 1024 ? `${entry.size} B` : entry.size < 1 << 20 ? `${(entry.size / 1024).toFixed(0)} KB`
    : `${(entry.size / (1 << 20)).toFixed(1)} MB`;
  return `${modified} · ${size}`;
}

function emptyNotebook(): unknown {
  return { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 };
}

function missingFolder(folder: string, e: unknown): HTMLElement {
  const up = parentOf(folder);
  const gone = e instanceof ApiError && (e.status === 404 || e.status === 403);
  return el("div", { class: "notice error", role: "alert", "data-testid": "folder-error" },
    el("p", {}, gone ? "This folder does not exist or you cannot open it." : `Could not list this folder: ${(e as Error).message}`),
    el("a", { href: base + folderPage(up) }, up ? "Up one folder" : "Go to your notebooks"));
}

function shared(places: Me["shared_with_me"]): HTMLElement {
  const list = el("ul", { class: "entries" });
  if (!places.length) list.append(el("li", { class: "empty" }, "Nothing yet — ask an owner to share a notebook with you."));
  for (const place of places) {
    list.append(el("li", { class: "entry" },
      el("a", { href: base + folderPage(place.path) }, place.path || "Home"),
      el("span", { class: "badge" }, place.role)));
  }
  return list;
}

// The notebook browser: folders and notebooks you may see, search by name, create, rename,
// delete where allowed, and your role here.

import { api, el, encodePath, me, roleOf, base } from "./api";

interface Entry {
  name: string;
  path: string;
  type: string;
  last_modified: string;
}

export async function showBrowser(root: HTMLElement): Promise<void> {
  const params = new URLSearchParams(location.search);
  const folder = (params.get("path") || "").replace(/^\/+|\/+$/g, "");
  const who = await me(folder);
  const header = el("header", { class: "topbar" },
    el("a", { href: base, class: "brand" }, "collab_server"),
    el("span", { class: "grow" }),
    el("span", { class: "who", title: who.identity.username }, who.identity.display_name),
    el("a", { href: `${base}logout`, class: "button quiet" }, "Sign out"));
  const main = el("main", { class: "browser" });
  root.replaceChildren(header, main);

  const crumbs = el("nav", { class: "crumbs", "aria-label": "Folders" });
  const parts = folder ? folder.split("/") : [];
  crumbs.append(el("a", { href: base }, "Home"));
  parts.forEach((part, i) => {
    const to = parts.slice(0, i + 1).join("/");
    crumbs.append(" / ", el("a", { href: `${base}?path=${encodeURIComponent(to)}` }, part));
  });
  const role = el("span", { class: "badge", "data-testid": "role" }, roleOf(who.permissions));
  main.append(el("div", { class: "browser-head" }, crumbs, role));

  if (!who.permissions.read) {
    main.append(el("p", {}, "Nothing here is shared with you. Places shared with you:"));
    main.append(shared(who.shared_with_me));
    return;
  }
  const search = el("input", { type: "search", placeholder: "Search by name", "aria-label": "Search by name" });
  const tools = el("div", { class: "tools" }, search);
  const status = el("p", { class: "status", role: "status" });
  if (who.permissions.write) {
    const create = el("button", { class: "button" }, "New notebook");
    create.addEventListener("click", async () => {
      status.textContent = "Creating a notebook…";
      try {
        const made = await api<Entry>("POST", `api/contents/${encodePath(folder)}`, { type: "notebook" });
        location.assign(`${base}notebooks/${encodePath(made.path)}`);
      } catch (e: any) {
        status.textContent = e.message;
      }
    });
    tools.append(create);
  }
  main.append(tools, status);
  const list = el("ul", { class: "entries" });
  main.append(list);

  let entries: Entry[] = [];
  try {
    const listing = await api<{ content: Entry[] }>("GET", `api/contents/${encodePath(folder)}?content=1`);
    entries = listing.content.filter((e) => e.type === "directory" || e.type === "notebook");
  } catch (e: any) {
    status.textContent = e.message;
  }
  entries.sort((a, b) => (a.type === b.type ? a.name.localeCompare(b.name) : a.type === "directory" ? -1 : 1));

  const render = () => {
    const wanted = search.value.trim().toLowerCase();
    list.replaceChildren();
    const shown = entries.filter((e) => e.name.toLowerCase().includes(wanted));
    if (!shown.length) list.append(el("li", { class: "empty" }, wanted ? "No name matches." : "This folder is empty."));
    for (const entry of shown) {
      const href = entry.type === "directory"
        ? `${base}?path=${encodeURIComponent(entry.path)}`
        : `${base}notebooks/${encodePath(entry.path)}`;
      const item = el("li", { class: `entry ${entry.type}` },
        el("span", { class: "icon", "aria-hidden": "true" }, entry.type === "directory" ? "📁" : "📓"),
        el("a", { href }, entry.name));
      if (who.permissions.write) {
        const rename = el("button", { class: "button quiet small" }, "Rename");
        rename.addEventListener("click", async () => {
          const name = prompt("New name", entry.name);
          if (!name || name === entry.name) return;
          const to = folder ? `${folder}/${name}` : name;
          try {
            await api("PATCH", `api/contents/${encodePath(entry.path)}`, { path: to });
            entry.name = name;
            entry.path = to;
            render();
          } catch (e: any) {
            status.textContent = e.message;
          }
        });
        const remove = el("button", { class: "button quiet small danger" }, "Delete");
        remove.addEventListener("click", async () => {
          if (!confirm(`Delete ${entry.name}? This cannot be undone.`)) return;
          try {
            await api("DELETE", `api/contents/${encodePath(entry.path)}`);
            entries = entries.filter((e) => e !== entry);
            render();
          } catch (e: any) {
            status.textContent = e.message;
          }
        });
        item.append(el("span", { class: "grow" }), rename, remove);
      }
      list.append(item);
    }
  };
  search.addEventListener("input", render);
  render();
}

function shared(places: { path: string; role: string }[]): HTMLElement {
  const list = el("ul", { class: "entries" });
  if (!places.length) list.append(el("li", { class: "empty" }, "Nothing yet — ask an owner to share a notebook with you."));
  for (const place of places) {
    list.append(el("li", { class: "entry" },
      el("a", { href: `${base}?path=${encodeURIComponent(place.path)}` }, place.path || "Home"),
      el("span", { class: "badge" }, place.role)));
  }
  return list;
}

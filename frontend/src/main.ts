// The web page's entry point: which page this address shows.

import { base } from "./net/api";
import { showBrowser } from "./browser/browser";
import { showEditor } from "./editor/editor";
import { showSettings } from "./settings/settings";
import { showGallery } from "./gallery/gallery";
import { showAdmin } from "./admin/admin";
import { showPublished } from "./history/published";
import { showApp } from "./apps/app";
import { el } from "./ui/dom";
import { installShortcutsKey } from "./ui/shortcuts";
import { topBar } from "./ui/topbar";
import "./ui/base.css";

const root = document.getElementById("app")!;
const path = location.pathname.slice(base.length);

async function start(): Promise<void> {
  try {
    if (path.startsWith("notebooks/")) {
      await showEditor(root, path.slice("notebooks/".length).split("/").map(decodeURIComponent).join("/"));
    } else if (/^apps\/[^/]+$/.test(path)) {
      await showApp(root, decodeURIComponent(path.slice("apps/".length)));
    } else if (path === "gallery") {
      await showGallery(root);
    } else if (path === "") {
      await showBrowser(root);
    } else if (path.startsWith("published/")) {
      await showPublished(root, decodeURIComponent(path.slice("published/".length)));
    } else if (path === "settings") {
      await showSettings(root);
    } else if (path === "admin") {
      await showAdmin(root);
    } else {
      document.title = "Not found · collab_server";
      root.replaceChildren(topBar("Not found"),
        el("main", { class: "not-found", "data-testid": "not-found" },
          el("h1", {}, "There is no page at this address"),
          el("p", {}, el("a", { href: base, class: "button" }, "Go to your notebooks"))));
    }
  } catch (e: any) {
    root.replaceChildren(el("main", {}, el("p", { class: "notice error", role: "alert" },
      `Something went wrong: ${e.message || e}`), el("p", {}, el("a", { href: base }, "Go to your notebooks"))));
  }
}

installShortcutsKey();
void start();

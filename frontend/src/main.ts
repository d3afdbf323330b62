// The web page's entry point: which page this address shows.

import { base } from "./net/api";
import { showBrowser } from "./browser/browser";
import { showEditor } from "./editor/editor";
import { showGallery } from "./gallery/gallery";
import { el } from "./ui/dom";
import "./ui/base.css";

const root = document.getElementById("app")!;
const path = location.pathname.slice(base.length);

async function start(): Promise<void> {
  try {
    if (path.startsWith("notebooks/")) {
      await showEditor(root, path.slice("notebooks/".length).split("/").map(decodeURIComponent).join("/"));
    } else if (path === "gallery") {
      await showGallery(root);
    } else if (path === "") {
      await showBrowser(root);
    } else {
      root.replaceChildren(el("main", { class: "not-found", "data-testid": "not-found" },
        el("h1", {}, "There is no page at this address"),
        el("p", {}, el("a", { href: base, class: "button" }, "Go to your notebooks"))));
    }
  } catch (e: any) {
    root.replaceChildren(el("main", {}, el("p", { class: "notice error", role: "alert" },
      `Something went wrong: ${e.message || e}`), el("p", {}, el("a", { href: base }, "Go to your notebooks"))));
  }
}

void start();

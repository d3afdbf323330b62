// The web page's entry point: which page this address shows.

import { base } from "./api";
import { showBrowser } from "./browser";
import { showEditor } from "./editor";

const root = document.getElementById("app")!;
const path = location.pathname.slice(base.length);

async function start(): Promise<void> {
  try {
    if (path.startsWith("notebooks/")) {
      await showEditor(root, decodeURIComponent(path.slice("notebooks/".length)));
    } else {
      await showBrowser(root);
    }
  } catch (e: any) {
    root.replaceChildren(Object.assign(document.createElement("p"), {
      className: "notice error", textContent: `Something went wrong: ${e.message || e}`,
    }));
  }
}

void start();

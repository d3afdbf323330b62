// The page for a notebook that does not exist or that this person may not open (the same
// words for both: nobody learns whether a name they cannot read exists).

import { base } from "../net/api";
import { folderPage, parentOf } from "../net/paths";
import { el } from "../ui/dom";
import { userMenu, type Identity } from "../ui/usermenu";

export function notFound(path: string, who?: Identity): DocumentFragment {
  document.title = "Not found · collab_server";
  const up = parentOf(path);
  const page = document.createDocumentFragment();
  page.append(el("header", { class: "topbar" }, el("a", { href: base, class: "brand" }, "collab_server"),
    el("span", { class: "grow" }), who ? userMenu(who) : ""));
  page.append(el("main", { class: "not-found", "data-testid": "not-found" },
    el("h1", {}, "This notebook does not exist or you cannot open it"),
    el("p", {}, "It may have been renamed, moved or deleted, or it was never shared with you."),
    el("p", { class: "row" },
      el("a", { href: base, class: "button" }, "Go to your notebooks"),
      up ? el("a", { href: base + folderPage(up), class: "button quiet" }, "Open the folder it was in") : "")));
  return page;
}

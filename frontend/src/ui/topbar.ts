// The one top bar of every page but the notebook editor (which keeps its compact bar): the
// brand, the page's name, links to "Your notebooks" and "Discover" (the page you are on is
// marked aria-current), and the user menu. On a narrow screen it stays one row: the links show
// their icon only (their accessible name stays) and the page's name is dropped.

import { base, me } from "../net/api";
import { el } from "./dom";
import { icon, type IconName } from "./icons";
import { type Identity, userMenu } from "./usermenu";

export type Place = "notebooks" | "discover" | null;

const LINKS: { place: Exclude<Place, null>; href: () => string; text: string; iconName: IconName; testid: string }[] = [
  { place: "notebooks", href: () => base, text: "Your notebooks", iconName: "folder", testid: "your-notebooks" },
  { place: "discover", href: () => `${base}gallery`, text: "Discover", iconName: "search", testid: "discover" },
];

/** The top bar. ``who`` is the signed-in person; without it the user menu is added once
 * ``me`` answers (a page that does not otherwise need it does not wait for it). */
export function topBar(pageName: string, here: Place = null, who?: Identity): HTMLElement {
  const links = el("nav", { class: "topbar-links", "aria-label": "Pages" }, ...LINKS.map((link) => {
    const a = el("a", { href: link.href(), class: "button quiet small topbar-link", "data-testid": link.testid,
      title: link.text }, icon(link.iconName), el("span", { class: "topbar-link-text" }, link.text));
    if (link.place === here) a.setAttribute("aria-current", "page");
    return a;
  }));
  const header = el("header", { class: "topbar shared-topbar" },
    el("a", { href: base, class: "brand" }, "collab_server"),
    pageName ? el("span", { class: "page-name" }, pageName) : "",
    el("span", { class: "grow" }), links);
  if (who) header.append(userMenu(who));
  else void me("").then((found) => header.append(userMenu(found.identity)), () => undefined);
  return header;
}

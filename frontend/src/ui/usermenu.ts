// The user menu in the top bar of every page: who is signed in, Settings, Users and groups
// (administrators only), the keyboard shortcuts, Sign out.

import { base, isServerAdmin } from "../net/api";
import { el } from "./dom";
import { icon } from "./icons";
import { menu } from "./menu";
import { showShortcuts } from "./shortcuts";

export interface Identity {
  username: string;
  display_name?: string;
  name?: string;
}

export function userMenu(who: Identity): HTMLElement {
  const name = who.display_name || who.name || who.username;
  const button = el("button", { class: "button quiet small user-button", type: "button", "data-testid": "user-menu",
    "aria-label": `Account: ${name}` }, icon("user"), el("span", { class: "user-name" }, name));
  return menu(button, [
    { text: `Signed in as ${who.username}` },
    { label: "Settings", href: `${base}settings`, testid: "menu-settings" },
    ...(isServerAdmin() ? [{ label: "Users and groups", href: `${base}admin`, testid: "menu-admin" }] : []),
    { label: "Keyboard shortcuts (?)", run: showShortcuts, testid: "menu-shortcuts" },
    { separator: true },
    { label: "Sign out", href: `${base}logout`, testid: "menu-sign-out" },
  ], "Account");
}

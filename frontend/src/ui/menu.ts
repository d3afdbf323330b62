// A drop-down menu behind a button (the user menu, the notebook's "More" menu): the button
// says whether it is open (aria-expanded), arrow keys move between items, Escape closes and
// gives the focus back, a click elsewhere closes.

import { el } from "./dom";

export type MenuItem = { label: string; href?: string; run?: () => void; danger?: boolean; testid?: string }
  | { separator: true } | { text: string };

export function menu(button: HTMLButtonElement, items: MenuItem[], label: string): HTMLElement {
  const list = el("div", { class: "menu", role: "menu", "aria-label": label, hidden: "" });
  const entries: HTMLElement[] = [];
  for (const item of items) {
    if ("separator" in item) {
      list.append(el("div", { class: "menu-separator", role: "separator" }));
    } else if ("text" in item) {
      list.append(el("div", { class: "menu-text", role: "presentation" }, item.text));
    } else {
      const attrs: Record<string, string> = { class: `menu-item${item.danger ? " danger" : ""}`, role: "menuitem", tabindex: "-1" };
      if (item.testid) attrs["data-testid"] = item.testid;
      const entry = item.href ? el("a", { ...attrs, href: item.href }, item.label)
        : el("button", { ...attrs, type: "button" }, item.label);
      entry.addEventListener("click", () => {
        close(false);
        item.run?.();
      });
      entries.push(entry);
      list.append(entry);
    }
  }
  button.setAttribute("aria-haspopup", "menu");
  button.setAttribute("aria-expanded", "false");
  const box = el("div", { class: "menu-box" }, button, list);
  const open = () => {
    list.hidden = false;
    // Below the button, right-aligned to it, but always inside the window (on a phone the
    // button may sit at the left edge).
    const at = button.getBoundingClientRect();
    const width = Math.min(list.offsetWidth, window.innerWidth - 16);
    list.style.left = `${Math.max(8, Math.min(at.right - width, window.innerWidth - width - 8))}px`;
    list.style.top = `${at.bottom + 4}px`;
    button.setAttribute("aria-expanded", "true");
    entries[0]?.focus();
    document.addEventListener("mousedown", outside, true);
  };
  const close = (refocus: boolean) => {
    if (list.hidden) return;
    list.hidden = true;
    button.setAttribute("aria-expanded", "false");
    document.removeEventListener("mousedown", outside, true);
    if (refocus) button.focus();
  };
  const outside = (e: Event) => {
    if (!box.contains(e.target as Node)) close(false);
  };
  button.addEventListener("click", () => (list.hidden ? open() : close(true)));
  list.addEventListener("keydown", (e) => {
    const i = entries.indexOf(document.activeElement as HTMLElement);
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      close(true);
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const n = entries.length;
      entries[(i + (e.key === "ArrowDown" ? 1 : n - 1)) % n]?.focus();
    } else if (e.key === "Tab") {
      close(false);
    }
  });
  return box;
}

// The keyboard shortcuts: the list shown on "?" (and from the user menu), in one place.

import { el } from "./dom";

const MOD = /Mac|iPhone|iPad/.test(navigator.platform) ? "⌘" : "Ctrl";

export const SHORTCUTS: [string, [string, string][]][] = [
  ["Everywhere", [
    ["?", "Show these shortcuts"],
  ]],
  ["Editing a cell", [
    ["Shift+Enter", "Run the cell (if you may run code) and go to the next one (a new cell at the end)"],
    [`${MOD}+Enter`, "Run the cell and stay in it"],
    ["Esc", "Leave the cell (command mode)"],
    [`${MOD}+Z`, "Undo your last change (in any cell)"],
    [`${MOD}+Shift+Z · Ctrl+Y`, "Redo"],
    [`${MOD}+S`, "Save now"],
  ]],
  ["Command mode (a cell selected, not editing)", [
    ["Enter", "Edit the selected cell"],
    ["Shift+Enter · " + `${MOD}+Enter`, "Run the selected cell and select the next one · run it in place"],
    ["↑ / K · ↓ / J", "Select the cell above / below"],
    ["A · B", "Insert a cell above / below"],
    ["M · Y", "Make the cell Markdown / code"],
    ["X · C · V", "Cut / copy / paste cells (below; Shift+V above)"],
    ["D, D", "Delete the cell"],
    ["O", "Hide or show the cell's outputs"],
    [`${MOD}+Z · ${MOD}+Shift+Z`, "Undo / redo your changes to the notebook"],
  ]],
];

/** Whether keys typed now go into a field (then they are text, not shortcuts). */
export function typingInto(target: EventTarget | null): boolean {
  const node = target as HTMLElement | null;
  if (!node || !node.closest) return false;
  return !!node.closest("input, textarea, select, [contenteditable=''], [contenteditable='true'], dialog");
}

export function showShortcuts(): void {
  if (document.querySelector("dialog.shortcuts")) return;
  const dialog = el("dialog", { class: "dialog shortcuts", "aria-labelledby": "shortcuts-title" }) as HTMLDialogElement;
  const close = el("button", { class: "button small", type: "button" }, "Close");
  close.addEventListener("click", () => dialog.close());
  dialog.append(el("h2", { id: "shortcuts-title" }, "Keyboard shortcuts"));
  for (const [group, keys] of SHORTCUTS) {
    dialog.append(el("h3", {}, group), el("dl", { class: "keys" }, ...keys.flatMap(([key, what]) =>
      [el("dt", {}, ...key.split(" · ").flatMap((k, i) => (i ? [" or ", el("kbd", {}, k)] : [el("kbd", {}, k)]))),
        el("dd", {}, what)])));
  }
  dialog.append(el("div", { class: "row end" }, close));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
}

/** "?" anywhere outside a field opens the list. */
export function installShortcutsKey(): void {
  document.addEventListener("keydown", (e) => {
    if (e.key === "?" && !e.ctrlKey && !e.metaKey && !e.altKey && !typingInto(e.target)) {
      e.preventDefault();
      showShortcuts();
    }
  });
}

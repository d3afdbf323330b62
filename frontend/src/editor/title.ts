// The notebook's name in the top bar; people who may write rename it in place (click, type,
// Enter) through the contents API. Escape or leaving the field cancels.

import { api } from "../net/api";
import { contentsUrl, nameOf, parentOf } from "../net/paths";
import { el } from "../ui/dom";
import { showError } from "../ui/toast";

export function titleEditor(path: string, canRename: boolean, renamed: (to: string) => void) {
  let current = path;
  const heading = el("h1", { class: "title", "data-testid": "title" }, nameOf(path));
  const node = el("div", { class: "title-box" }, heading);
  if (canRename) {
    const button = el("button", { class: "title-button", title: "Rename this notebook", "aria-label": `Rename ${nameOf(path)}` });
    heading.replaceWith(button);
    button.append(heading);
    button.addEventListener("click", () => {
      const input = el("input", { class: "title-input", "aria-label": "New name", value: nameOf(current) });
      button.replaceWith(input);
      input.focus();
      input.setSelectionRange(0, Math.max(0, nameOf(current).lastIndexOf(".")) || nameOf(current).length);
      let done = false;
      const finish = async (commit: boolean) => {
        if (done) return;
        done = true;
        let name = input.value.trim();
        input.replaceWith(button);
        if (!commit || !name || name === nameOf(current)) return;
        if (name.includes("/")) {
          showError("A name cannot contain “/”.");
          return;
        }
        if (!name.endsWith(".ipynb")) name += ".ipynb";
        const folder = parentOf(current);
        const to = folder ? `${folder}/${name}` : name;
        try {
          await api("PATCH", contentsUrl(current), { path: to });
          renamed(to);
        } catch (e: any) {
          showError(`Could not rename: ${e.message}`);
        }
      };
      input.addEventListener("keydown", (e) => {
        if (e.key === "Enter") void finish(true);
        if (e.key === "Escape") void finish(false);
      });
      input.addEventListener("blur", () => void finish(false));
    });
  }
  return {
    node,
    set(to: string): void {
      current = to;
      heading.textContent = nameOf(to);
    },
  };
}

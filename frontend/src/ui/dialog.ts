// Small modal dialogs on the page (instead of the browser's prompt() and confirm()).

import { el } from "./dom";

/** Ask for a text; resolves to the text, or null if cancelled. ``check`` may refuse a value. */
export function askText(title: string, label: string, value: string,
                        check: (v: string) => string | null = () => null): Promise<string | null> {
  return new Promise((resolve) => {
    const dialog = el("dialog", { class: "dialog", "aria-label": title }) as HTMLDialogElement;
    const input = el("input", { "aria-label": label, value });
    const error = el("p", { class: "error", role: "alert" });
    const cancel = el("button", { class: "button quiet small", type: "button" }, "Cancel");
    const form = el("form", {}, el("h2", {}, title), el("label", {}, label, input), error,
      el("div", { class: "row end" }, cancel, el("button", { class: "button small", type: "submit" }, "OK")));
    dialog.append(form);
    let result: string | null = null;
    cancel.addEventListener("click", () => dialog.close());
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const v = input.value.trim();
      const problem = v ? check(v) : "Please type a name.";
      if (problem) {
        error.textContent = problem;
        return;
      }
      result = v;
      dialog.close();
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
    const dot = value.lastIndexOf(".");
    input.setSelectionRange(0, dot > 0 ? dot : value.length);
  });
}

/** Ask a yes/no question; resolves true for ``yes``. */
export function confirmAction(question: string, yes: string): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = el("dialog", { class: "dialog", role: "alertdialog", "aria-label": question }) as HTMLDialogElement;
    const no = el("button", { class: "button quiet small", type: "button" }, "Cancel");
    const ok = el("button", { class: "button small danger-solid", type: "button" }, yes);
    dialog.append(el("p", {}, question), el("div", { class: "row end" }, no, ok));
    let result = false;
    no.addEventListener("click", () => dialog.close());
    ok.addEventListener("click", () => { result = true; dialog.close(); });
    dialog.addEventListener("close", () => { dialog.remove(); resolve(result); });
    document.body.append(dialog);
    dialog.showModal();
    ok.focus();
  });
}

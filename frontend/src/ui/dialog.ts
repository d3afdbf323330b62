// Small modal dialogs on the page (instead of the browser's prompt() and confirm()).

import { el } from "./dom";

/** How :func:`askText` looks and what it accepts. */
export interface AskOptions {
  submit?: string;          // the button's text ("OK")
  allowEmpty?: boolean;     // an empty answer is an answer (e.g. "remove the name")
  maxLength?: number;
  testId?: string;          // data-testid of the input; its button gets `${testId}-submit`
  selectStem?: boolean;     // select the name without its extension (default true)
}

/** Ask for a text; resolves to the text, or null if cancelled. ``check`` may refuse a value. */
export function askText(title: string, label: string, value: string,
                        check: (v: string) => string | null = () => null,
                        options: AskOptions = {}): Promise<string | null> {
  return new Promise((resolve) => {
    const dialog = el("dialog", { class: "dialog", "aria-label": title }) as HTMLDialogElement;
    const input = el("input", { "aria-label": label, value,
      ...(options.maxLength ? { maxlength: String(options.maxLength) } : {}),
      ...(options.testId ? { "data-testid": options.testId } : {}) }) as HTMLInputElement;
    const error = el("p", { class: "error", role: "alert" });
    const cancel = el("button", { class: "button quiet small", type: "button" }, "Cancel");
    const submit = el("button", { class: "button small", type: "submit",
      ...(options.testId ? { "data-testid": `${options.testId}-submit` } : {}) }, options.submit ?? "OK");
    const form = el("form", {}, el("h2", {}, title), el("label", {}, label, input), error,
      el("div", { class: "row end" }, cancel, submit));
    dialog.append(form);
    let result: string | null = null;
    cancel.addEventListener("click", () => dialog.close());
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const v = input.value.trim();
      const problem = v || options.allowEmpty ? check(v) : "Please type a name.";
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
    if (options.selectStem !== false) input.setSelectionRange(0, dot > 0 ? dot : value.length);
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

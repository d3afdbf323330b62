// Messages for the person: a failed request is always shown on the page (a toast that stays
// until dismissed), never only written to the console.

import { el } from "./dom";
import { icon } from "./icons";

let stack: HTMLElement | null = null;

function container(): HTMLElement {
  if (!stack || !stack.isConnected) {
    stack = el("div", { class: "toasts", "aria-live": "assertive" });
    document.body.append(stack);
  }
  return stack;
}

/** Show ``message`` as an error the person has to dismiss. */
export function showError(message: string): void {
  const close = el("button", { class: "icon-button", "aria-label": "Dismiss", title: "Dismiss" }, icon("close"));
  const toast = el("div", { class: "toast error", role: "alert" }, el("span", {}, message), close);
  close.addEventListener("click", () => toast.remove());
  container().append(toast);
}

/** Run ``action``; if it fails, show why (``what`` says what was being done). */
export async function attempt<T>(what: string, action: () => Promise<T>): Promise<T | undefined> {
  try {
    return await action();
  } catch (e: any) {
    showError(`${what}: ${e?.message || e}`);
    return undefined;
  }
}

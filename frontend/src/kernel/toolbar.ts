// The kernel's part of the notebook toolbar: its status and name (with a label and a colour
// for each state), who it runs as, and Run all / Interrupt / Restart (confirmed) / Clear all
// outputs. People without the right to run code see, as plain text in everyday words, whether
// code is running, and one line saying why there are no run controls. A kernel lost in a server restart says so, and how to go on.

import { confirmAction } from "../ui/dialog";
import { el } from "../ui/dom";
import { iconButton } from "../ui/icons";
import { attempt } from "../ui/toast";
import type { KernelClient, KernelState, KernelStatus } from "./client";

const LABELS: Record<KernelStatus, string> = {
  none: "No kernel",
  starting: "Starting…",
  idle: "Idle",
  busy: "Busy",
  restarting: "Restarting…",
  dead: "Dead",
  lost: "Lost",
};

/** The same states for people who may not run code: no kernel jargon. */
const PLAIN: Record<KernelStatus, string> = {
  none: "Code is not running",
  starting: "Code is starting",
  idle: "Code is ready",
  busy: "Code is running",
  restarting: "Code is starting again",
  dead: "Code stopped working",
  lost: "Code is not running",
};

export const LOST_MESSAGE = "The kernel was lost (the server restarted). Run a cell to start a new one.";
export const NO_EXECUTE_MESSAGE = "You can view outputs; running code needs permission from an administrator.";

export interface KernelActions {
  runAll(): void;
  /** Clear every cell's outputs (writers), or null. */
  clearAll: (() => void) | null;
}

export function kernelToolbar(kernel: KernelClient, canExecute: boolean, actions: KernelActions): { tools: HTMLElement; notice: HTMLElement } {
  const status = el("span", { class: canExecute ? "kernel-status" : "kernel-status plain", "data-testid": "kernel-status",
    role: "status", "data-state": "none" });
  const runsAs = el("span", { class: "muted kernel-runs-as", "data-testid": "kernel-runs-as" });
  const tools = el("div", { class: "kernel-tools", role: "group", "aria-label": "Kernel" });
  const notice = el("div", { class: "kernel-notices" });
  if (canExecute) {
    const runAll = iconButton("runAll", "Run all cells (stops at the first error)", "Run all", "run-all");
    const interrupt = iconButton("stop", "Interrupt the kernel", "", "interrupt");
    const restart = iconButton("restart", "Restart the kernel (clears its variables)", "", "restart");
    runAll.addEventListener("click", () => actions.runAll());
    interrupt.addEventListener("click", () => void attempt("Could not interrupt the kernel", () => kernel.interrupt()));
    restart.addEventListener("click", async () => {
      const ok = await confirmAction("Restart the kernel? Its variables are lost for everyone using this notebook, and running cells stop.", "Restart");
      if (ok) await attempt("Could not restart the kernel", () => kernel.restart());
    });
    for (const b of [runAll, interrupt, restart]) b.addEventListener("mousedown", (e) => e.preventDefault());
    tools.append(runAll, interrupt, restart);
    kernel.onChange((s) => {
      const running = !!s.kernel && s.state !== "dead" && s.state !== "lost";
      interrupt.disabled = !running;
      restart.disabled = !running;
    });
    interrupt.disabled = restart.disabled = true;
  }
  if (actions.clearAll) {
    const clear = iconButton("clear", "Clear all outputs", "", "clear-all");
    clear.addEventListener("click", () => actions.clearAll?.());
    tools.append(clear);
  }
  tools.append(status, runsAs);
  const show = (s: KernelState) => {
    status.dataset.state = s.state;
    const name = s.kernel?.display_name || s.kernel?.name || "";
    if (canExecute) {
      status.textContent = name ? `${name} · ${LABELS[s.state]}` : LABELS[s.state];
      status.title = `Kernel: ${LABELS[s.state]}`;
    } else {
      status.textContent = PLAIN[s.state];
    }
    runsAs.textContent = s.kernel?.runs_as ? `runs as ${s.kernel.runs_as}` : "";
    const lines: HTMLElement[] = [];
    // "Run a cell to start a new one" is advice for people who may run code.
    if (s.state === "lost" && canExecute) lines.push(el("p", { class: "notice kernel-lost", "data-testid": "kernel-lost" }, LOST_MESSAGE));
    if (s.state === "dead" && canExecute) lines.push(el("p", { class: "notice kernel-lost", "data-testid": "kernel-dead" }, "The kernel died. Run a cell to start a new one."));
    if (!canExecute) lines.push(el("p", { class: "muted no-execute", "data-testid": "no-execute" }, NO_EXECUTE_MESSAGE));
    notice.replaceChildren(...lines);
  };
  kernel.onChange(show);
  show({ type: "kernel", document_id: kernel.documentId, path: null, state: "none", kernel: null, cells: [], input: null, now: new Date().toISOString() });
  return { tools, notice };
}

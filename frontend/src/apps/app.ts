// The app page (/apps/{published id}): a form generated from the app's parameters, Run,
// progress with the cell being run, the result (a flat object as a table), the outputs as a
// report without code, and the person's past runs with their parameters in brief. A run that
// fails says why in the notebook's own words (its message, never its code or traceback). The address carries the parameters (and ``_run`` for a run shown), so a run is a
// bookmark. The report is the server's HTML export of the executed notebook, shown in the
// sandboxed output frame (an opaque origin: no cookie, no API), as every notebook output is.
// A finished run of yours can be shared (share.ts); someone it is shared with who opens its
// bookmark sees its result and report read-only, "Run by NAME". Someone who may run the app
// may also schedule it with the parameters in the form (schedules.ts).

import { api, ApiError, base } from "../net/api";
import { appPage, segment } from "../net/paths";
import { el } from "../ui/dom";
import { icon } from "../ui/icons";
import { topBar } from "../ui/topbar";
import { buildForm, fromQuery, parametersBrief, toQuery, type Schema } from "./form";
import { scheduleSection } from "./schedules";
import { openRunShareDialog } from "./share";
import "./apps.css";
import { when } from "../ui/time";

interface AppInfo { id: string; title: string; description: string; version: number; parameters: Schema; may_run?: boolean }
interface Run {
  id: string; status: string; parameters: Record<string, unknown>; created: string; started: string | null;
  ended: string | null; result: unknown; error: { ename: string; evalue: string; cell?: number | null } | null;
  progress: { cell: number; of: number } | null; schedule: string | null; user: string;
  /** The runner's display name (the id when the server knows none). */
  user_name?: string; mine?: boolean;
}

const POLL_MS = 400;
const FINISHED = ["succeeded", "failed", "timed_out", "cancelled"];
const STATUS_TEXT: Record<string, string> = {
  queued: "Waiting for a free slot…", running: "Running", succeeded: "Done", failed: "Failed",
  timed_out: "Stopped: it took too long", cancelled: "Cancelled",
};

const MAX_REPORT_HEIGHT = 4000;
let reportFrame: HTMLIFrameElement | null = null;
window.addEventListener("message", (event) => {
  if (!reportFrame || event.source !== reportFrame.contentWindow) return;  // only our frame sizes itself
  const height = Number(event.data?.collabOutputHeight);
  if (Number.isFinite(height)) reportFrame.style.height = `${Math.max(60, Math.min(MAX_REPORT_HEIGHT, Math.ceil(height)))}px`;
});

const ENDED_BADLY = ["failed", "timed_out", "cancelled"];

/** What a finished run that did not succeed says: the error's message (not its class), and
 * what to do next. */
function failureText(run: Run): string {
  if (run.status === "timed_out") return "The app took too long and was stopped. Try again, perhaps with smaller values.";
  if (run.status === "cancelled") return "Cancelled: the app was stopped before it finished.";
  const message = (run.error?.evalue || "").trim();
  const sentence = message && !/[.!?]$/.test(message) ? `${message}.` : message;
  // An error in the notebook's code (it names the cell) comes from the values given; any other
  // is the server's (a kernel that died, …).
  if (run.error && "cell" in run.error) {
    return sentence
      ? `The app stopped: ${sentence} Change the values and run again.`
      : "The app stopped because of an error. Change the values and run again.";
  }
  return sentence ? `The app could not finish: ${sentence} Try again later.` : "The app could not finish. Try again later.";
}

/** A run's result on the page: a flat object as a two-column table (keys and values as text,
 * nested values as compact JSON), anything else as text. */
function resultView(value: unknown): HTMLElement {
  if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length) {
    const rows = Object.entries(value as Record<string, unknown>).map(([key, item]) =>
      el("tr", {}, el("th", { scope: "row" }, key), el("td", {}, typeof item === "string" ? item : JSON.stringify(item))));
    return el("table", { class: "result-table", "data-testid": "result-table" }, el("tbody", {}, ...rows));
  }
  return el("pre", { class: "result-text", "data-testid": "result-text" },
    typeof value === "string" ? value : JSON.stringify(value, null, 2));
}

export async function showApp(root: HTMLElement, pid: string): Promise<void> {
  const appUrl = `api/collab/apps/${segment(pid)}`;
  let app: AppInfo;
  try {
    app = await api<AppInfo>("GET", appUrl);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      document.title = "App not found · collab_server";
      root.replaceChildren(topBar("App"), el("main", { "data-testid": "not-found" }, el("h1", {}, "There is no app at this address"),
        el("p", {}, "It does not exist, or you may not run it."), el("p", {}, el("a", { href: base }, "Go to your notebooks"))));
      return;
    }
    throw e;
  }
  document.title = `${app.title} · collab_server`;
  const form = buildForm(app.parameters);
  const query = new URLSearchParams(location.search);
  form.fill(fromQuery(app.parameters, query));

  const runButton = el("button", { class: "button", type: "submit", "data-testid": "run-app" }, icon("run"), "Run");
  const cancelButton = el("button", { class: "button quiet", type: "button", hidden: "", "data-testid": "cancel-run" }, icon("stop"), "Cancel");
  const scheduleButton = el("button", { class: "button quiet", type: "button", "data-testid": "schedule-app" },
    icon("history"), "Schedule…");
  const problem = el("p", { class: "error", role: "alert", "data-testid": "form-error" });
  // The form says what is wrong beside each field (the browser's own bubbles would not).
  const formEl = el("form", { class: "app-form", "aria-label": "Parameters", novalidate: "" }, form.element, problem,
    el("div", { class: "row" }, runButton, cancelButton, scheduleButton));
  // Only someone who may run the app may schedule it (the server refuses anyone else).
  const schedules = app.may_run === false ? null : scheduleSection(appUrl);
  scheduleButton.hidden = !schedules;
  const bar = el("progress", { max: "1", value: "0", "aria-label": "Progress" }) as HTMLProgressElement;
  const statusText = el("span", { "data-testid": "run-status" });
  const status = el("div", { class: "run-status", role: "status", "aria-live": "polite", hidden: "" }, statusText, bar);
  const shareButton = el("button", { class: "button quiet small", type: "button", hidden: "", "data-testid": "share-run" },
    icon("users"), "Share this run");
  const runBy = el("p", { class: "run-by", hidden: "", "data-testid": "run-by" });
  const resultBody = el("div", { class: "run-result" });
  const result = el("section", { "aria-labelledby": "result-heading", "data-testid": "run-result", hidden: "" },
    el("h2", { id: "result-heading" }, "Result"), resultBody);
  const reportBody = el("div", {});
  const reportBox = el("section", { class: "report", "aria-labelledby": "report-heading", "data-testid": "report", hidden: "" },
    el("h2", { id: "report-heading" }, "Report"), reportBody);
  const history = el("ul", { class: "run-history", "data-testid": "run-history" });
  const sharedHistory = el("ul", { class: "run-history", hidden: "", "data-testid": "shared-runs" });
  root.replaceChildren(
    topBar("App"),
    el("main", { class: "app-page" },
      el("h1", {}, app.title),
      ...(app.description ? [el("p", { class: "description" }, app.description)] : []),
      el("div", { class: "app-body" },
        el("div", { class: "app-main" }, formEl, runBy, status, el("div", { class: "run-actions" }, shareButton), result, reportBox),
        el("aside", { class: "app-side" }, ...(schedules ? [schedules.element] : []), el("h2", {}, "Your runs"), history,
          el("h2", { hidden: "" }, "Shared with you"), sharedHistory))));

  let current: string | null = null;

  function runItem(run: Run): HTMLElement {
      const link = el("a", { href: `${base}${appPage(pid)}${toQuery(run.parameters, { _run: run.id })}` },
        when(run.created));
      link.addEventListener("click", (event) => {
        event.preventDefault();
        form.fill(run.parameters);
        history_(run.parameters, run.id);
        void follow(run.id);
      });
      const brief = parametersBrief(run.parameters || {});
      return el("li", { class: `status-${run.status}` }, link, " ", el("span", { class: "muted" }, STATUS_TEXT[run.status] || run.status),
        ...(run.schedule ? [" ", el("span", { class: "badge" }, "scheduled")] : []),
        ...(run.mine === false ? [" ", el("span", { class: "muted" }, `by ${run.user_name || run.user}`)] : []),
        el("span", { class: "run-params", title: parametersBrief(run.parameters || {}, 1000), "data-testid": "run-params" }, brief));
  }

  // The list is loaded when the page opens, when a run starts and when it ends: answers may
  // come back out of order, and only the latest request's answer is shown (an older one
  // would show a finished run as still running, or none at all).
  let historyRequest = 0;
  async function loadHistory(): Promise<void> {
    const request = ++historyRequest;
    const [{ runs }, shared] = await Promise.all([
      api<{ runs: Run[] }>("GET", `${appUrl}/runs?limit=20`),
      api<{ runs: Run[] }>("GET", `api/collab/runs?shared=1&limit=20&app=${encodeURIComponent(pid)}`).catch(() => ({ runs: [] as Run[] })),
    ]);
    if (request !== historyRequest) return;  // a later load is on its way
    history.replaceChildren(...runs.map(runItem));
    if (!runs.length) history.append(el("li", { class: "muted" }, "None yet."));
    sharedHistory.replaceChildren(...shared.runs.map(runItem));
    sharedHistory.hidden = !shared.runs.length;
    (sharedHistory.previousElementSibling as HTMLElement).hidden = !shared.runs.length;
  }

  function history_(parameters: Record<string, unknown>, runId: string | null): void {
    const extra: Record<string, string> = runId ? { _run: runId } : {};
    window.history.replaceState(null, "", `${location.pathname}${toQuery(parameters, extra)}`);
  }

  function showStatus(run: Run): void {
    status.hidden = false;
    const progress = run.progress && run.progress.of ? run.progress : null;
    let text = STATUS_TEXT[run.status] || run.status;
    if (run.status === "running" && progress && progress.cell > 0) text = `Running cell ${progress.cell} of ${progress.of}`;
    if (run.status === "running" && (!progress || progress.cell === 0)) text = "Starting…";
    if (ENDED_BADLY.includes(run.status)) text = failureText(run);
    statusText.textContent = text;
    bar.max = progress ? progress.of : 1;
    bar.value = FINISHED.includes(run.status) ? bar.max : progress ? Math.max(0, progress.cell - 1) : 0;
    // A full bar reads as "done": a run that ended badly shows none.
    bar.hidden = ENDED_BADLY.includes(run.status);
    status.classList.toggle("failed", ["failed", "timed_out"].includes(run.status));
    const mine = run.mine !== false;
    runButton.disabled = mine && !FINISHED.includes(run.status);
    cancelButton.hidden = !mine || FINISHED.includes(run.status);
    shareButton.hidden = !mine || !FINISHED.includes(run.status);
    // Someone else's run, shared with the caller: shown read-only, saying whose it is.
    runBy.hidden = mine;
    runBy.textContent = mine ? "" : `Run by ${run.user_name || run.user} and shared with you — read-only. Run the app to get your own.`;
  }

  async function showReport(run: Run): Promise<void> {
    if (run.result !== null && run.result !== undefined) {
      result.hidden = false;
      resultBody.replaceChildren(resultView(run.result));
    }
    const response = await fetch(`${base}api/collab/runs/${segment(run.id)}/html`, { credentials: "same-origin" });
    if (!response.ok) return;
    const html = await response.text();
    const frame = el("iframe", {
      class: "report-frame", sandbox: "allow-scripts", referrerpolicy: "no-referrer",
      title: "Report (sandboxed)", src: `${base}collab-output-frame`, "data-testid": "report-frame",
    }) as HTMLIFrameElement;
    frame.style.height = "12em";
    frame.addEventListener("load", () => frame.contentWindow?.postMessage({ html }, "*"), { once: true });
    reportFrame = frame;
    reportBody.replaceChildren(frame);
    reportBox.hidden = false;
  }

  async function follow(runId: string): Promise<void> {
    current = runId;
    result.hidden = true;
    shareButton.hidden = true;
    runBy.hidden = true;
    reportBody.replaceChildren();
    reportBox.hidden = true;
    for (;;) {
      const run = await api<Run>("GET", `api/collab/runs/${segment(runId)}`);
      if (current !== runId) return;  // another run was started or picked meanwhile
      showStatus(run);
      if (FINISHED.includes(run.status)) {
        await showReport(run);
        void loadHistory();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  formEl.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.textContent = "";
    const { parameters, problem: wrong } = form.values();
    if (wrong) { problem.textContent = wrong; return; }
    runButton.disabled = true;
    try {
      const run = await api<Run>("POST", `${appUrl}/runs`, { parameters });
      history_(parameters, run.id);
      showStatus(run);
      void loadHistory();
      await follow(run.id);
    } catch (e: any) {
      problem.textContent = e?.message || String(e);
      runButton.disabled = false;
    }
  });
  scheduleButton.addEventListener("click", () => {
    problem.textContent = "";
    const { parameters, problem: wrong } = form.values();  // checked as Run checks them
    if (wrong) { problem.textContent = wrong; return; }
    schedules?.open(parameters);
  });
  shareButton.addEventListener("click", () => { if (current) openRunShareDialog(current); });
  cancelButton.addEventListener("click", async () => {
    if (!current) return;
    try {
      showStatus(await api<Run>("POST", `api/collab/runs/${segment(current)}/cancel`));
    } catch (e: any) {
      problem.textContent = e?.message || String(e);
    }
  });

  await Promise.all([loadHistory(), schedules?.load()]);
  const shown = query.get("_run");
  if (shown) {
    void follow(shown).catch((e) => {
      status.hidden = false;
      statusText.textContent = e instanceof ApiError && e.status === 404
        ? "This run does not exist, or it is not shared with you."
        : `The run could not be shown: ${e?.message || e}`;
      bar.hidden = true;
    });
  }
}

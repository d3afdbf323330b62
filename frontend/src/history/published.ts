// The page of a published notebook (/published/{id}[?version=n]): read-only, its title,
// description and publisher, the cells (Markdown rendered and sanitized, code as text, outputs
// in the sandboxed output frame like the editor's), and "Make a copy" into a folder where the
// reader may write. Who may not read it sees the same "not found" as for a copy that does not
// exist (ids cannot be probed). "Open as app" only for those who may see the app; its
// publishers also see and change who may read it and who may run it as an app.

import { api, ApiError, base } from "../net/api";
import { appPage, notebookPage, segment } from "../net/paths";
import { renderOutputs } from "../editor/outputs";
import { askText, confirmAction } from "../ui/dialog";
import { el } from "../ui/dom";
import { icon } from "../ui/icons";
import { renderMarkdown } from "../ui/markdown";
import { topBar } from "../ui/topbar";
import { audienceRefusal, audienceState, audienceUnknown, READ_CHOICES, RUN_BY_EVERYONE, RUN_CHOICES, type Choice, type Kind } from "./audience";
import { sourceOf, type NbCell } from "./diffview";
import { when } from "../ui/time";
import "./history.css";

interface PublishedCopy {
  id: string;
  version: number;
  title: string;
  description: string;
  publisher: string;
  /** The publisher's display name (the id when the server knows none). */
  publisher_name?: string;
  created: string;
  strip_outputs: boolean;
  notebook: { cells: (NbCell & { outputs?: any[] })[] };
  may_withdraw?: boolean;
}

export async function showPublished(root: HTMLElement, id: string): Promise<void> {
  root.replaceChildren(topBar("Published notebook"));
  const main = el("main", { class: "published-page", "data-testid": "published-page" });
  root.append(main);
  const version = new URLSearchParams(location.search).get("version");
  let copy: PublishedCopy;
  try {
    copy = await api<PublishedCopy>("GET", `api/collab/published/${segment(id)}${version ? `?version=${encodeURIComponent(version)}` : ""}`);
  } catch (e: any) {
    document.title = "Not found · collab_server";
    main.append(el("h1", {}, "No such published notebook"),
      el("p", {}, e.status === 404 ? "It does not exist, or it was not shared with you." : e.message),
      el("p", {}, el("a", { href: base, class: "button" }, "Go to your notebooks")));
    return;
  }
  document.title = `${copy.title} · collab_server`;
  const status = el("p", { class: "muted", role: "status", "data-testid": "copy-status" });
  const makeCopy = el("button", { class: "button small", type: "button", "data-testid": "make-copy" }, icon("copy"), "Make a copy");
  makeCopy.addEventListener("click", () => void copyIt());
  const isApp = copy.notebook.cells.some((cell) => cell.cell_type === "code");
  const appSlot = el("span", { class: "app-slot" });
  main.append(
    el("h1", { "data-testid": "published-title" }, copy.title),
    copy.description ? el("p", { class: "published-description" }, copy.description) : "",
    el("p", { class: "muted" }, `Published by ${copy.publisher_name || copy.publisher} · ${when(copy.created)} · version ${copy.version}`,
      ),
    el("div", { class: "row" }, makeCopy, appSlot, withdrawButton()), status,
    copy.may_withdraw ? audienceControls(copy.id, isApp) : "",
    el("p", { class: "notice", "data-testid": "read-only" }, "A published copy is read-only. Make a copy to edit it."),
    copy.strip_outputs ? el("p", { class: "notice", "data-testid": "outputs-left-out" },
      "Results were left out of this copy; make a copy and run it to see them.") : "");
  const cells = el("div", { class: "published-cells", "data-testid": "published-cells" });
  for (const cell of copy.notebook.cells) {
    const source = sourceOf(cell);
    if (cell.cell_type === "markdown") {
      const box = el("div", { class: "published-cell markdown" });
      box.innerHTML = renderMarkdown(source);  // sanitized (ui/markdown)
      cells.append(box);
    } else {
      const box = el("div", { class: "published-cell code" }, el("pre", {}, source || " "));
      if (cell.outputs?.length) box.append(renderOutputs(cell.outputs));
      cells.append(box);
    }
  }
  main.append(cells);
  void appLink(copy.id, isApp).then((link) => {
    appSlot.replaceWith(link);
    main.dataset.app = link ? "shown" : "none";  // the app was asked about (a test's barrier)
  });

  function withdrawButton(): HTMLElement | "" {
    if (!copy.may_withdraw) return "";
    const button = el("button", { class: "button small quiet", type: "button", "data-testid": "withdraw" },
      icon("trash"), "Withdraw…");
    button.addEventListener("click", () => void withdraw());
    return button;
  }

  async function withdraw(): Promise<void> {
    const question = `Withdraw “${copy.title}”? Nobody can read it or run it as an app any more, `
      + "and its schedules stop. The notebook it was published from stays as it is.";
    if (!(await confirmAction(question, "Withdraw"))) return;
    status.textContent = "Withdrawing…";
    try {
      await api("DELETE", `api/collab/published/${segment(copy.id)}`);
      main.replaceChildren(el("h1", {}, "Withdrawn"),
        el("p", { "data-testid": "withdrawn" }, `“${copy.title}” is no longer published.`),
        el("p", {}, el("a", { href: base, class: "button" }, "Go to your notebooks")));
    } catch (e: any) {
      status.textContent = `Could not withdraw it: ${e.message}`;
    }
  }

  async function copyIt(): Promise<void> {
    const target = await askTarget(`${copy.title}.ipynb`);
    if (target === null) return;
    status.textContent = "Copying…";
    try {
      const made = await api<{ path: string }>("POST", "api/collab/clone",
        { source: { published: copy.id, version: copy.version }, target });
      status.textContent = `Copied to ${made.path}.`;
      location.assign(base + notebookPage(made.path));
    } catch (e: any) {
      status.textContent = e.status === 403
        ? "You may not create a notebook there; choose a folder where you may write."
        : `Could not make a copy: ${e.message}`;
    }
  }
}


/** "Open as app", only for someone who may see the app (a published notebook without code is
 * none): the published notebook run with parameters, as their own runs. */
export async function appLink(id: string, isApp: boolean): Promise<HTMLElement | ""> {
  if (!isApp) return "";
  let app: { may_run?: boolean };
  try {
    app = await api<{ may_run?: boolean }>("GET", `api/collab/apps/${segment(id)}`);
  } catch {
    return "";  // 404: not an app they may see (or the server could not say): no button
  }
  return el("a", { class: "button small", href: base + appPage(id), "data-testid": "open-as-app",
    title: app.may_run ? "Run it with your own values" : "See the app; running it needs its publisher's permission" },
    icon("run"), "Open as app");
}

/** For its publishers: who may read the copy and who may run it as an app, each a choice
 * saved as it changes, the state in force said after saving, a refusal in plain words. */
function audienceControls(id: string, isApp: boolean): HTMLElement {
  const box = el("section", { class: "published-audience", "aria-label": "Who may read and run it", "data-testid": "published-audience" });
  const state = el("p", { class: "muted", role: "status", "data-testid": "audience-state" });
  const error = el("p", { class: "error", role: "alert", "data-testid": "audience-error" });
  const said: Partial<Record<Kind, string>> = {};
  const tell = (kind: Kind, text: string): void => {
    said[kind] = text;
    state.textContent = [said.read, said.run].filter(Boolean).join(" ");
  };
  const control = (kind: Kind, label: string, list: Choice[], url: string): HTMLElement => {
    const select = el("select", { disabled: "", "data-testid": `${kind}-audience` },
      ...list.map((c) => el("option", { value: c.value }, c.label))) as HTMLSelectElement;
    let saved = "";
    const show = (audience: string): void => {
      if (![...select.options].some((o) => o.value === audience) && audience === RUN_BY_EVERYONE.value) {
        select.append(el("option", { value: audience, disabled: "" }, RUN_BY_EVERYONE.label));
      }
      saved = select.value = audience;
      select.dataset.saved = audience;
      tell(kind, audienceState(kind, audience));
    };
    void api<{ audience: string }>("GET", url).then((answer) => {
      show(answer.audience);
      select.disabled = false;
    }, (err: unknown) => {
      tell(kind, audienceUnknown(kind, err instanceof ApiError ? err.status : 0, (err as Error)?.message ?? ""));
    });
    select.addEventListener("change", async () => {
      const wanted = select.value;
      select.disabled = true;
      error.textContent = "";
      try {
        const answer = await api<{ audience: string }>("PUT", url, { audience: wanted });
        show(answer.audience);
      } catch (err: unknown) {
        select.value = saved;  // what is in force, not what was refused
        error.textContent = audienceRefusal(kind, wanted, err instanceof ApiError ? err.status : 0, (err as Error)?.message ?? "", false);
      } finally {
        select.disabled = false;
      }
    });
    return el("label", { class: "audience-choice" }, label, select);
  };
  box.append(control("read", "Who may read it", READ_CHOICES, `api/collab/published/${segment(id)}/audience`));
  if (isApp) box.append(control("run", "Who may run it as an app", RUN_CHOICES, `api/collab/apps/${segment(id)}/audience`));
  box.append(state, error);
  return box;
}

/** Where to put the copy: a folder ("team/") or a notebook path; null if cancelled. */
function askTarget(value: string): Promise<string | null> {
  return askText("Make a copy", "Folder or name of the copy (a free name is picked if it is taken)",
    value, () => null, { submit: "Copy", testId: "copy-target", selectStem: false });
}

// The page of a published notebook (/published/{id}[?version=n]): read-only, its title,
// description and publisher, the cells (Markdown rendered and sanitized, code as text, outputs
// in the sandboxed output frame like the editor's), and "Make a copy" into a folder where the
// reader may write. Who may not read it sees the same "not found" as for a copy that does not
// exist (ids cannot be probed).

import { api, base } from "../net/api";
import { appPage, notebookPage, segment } from "../net/paths";
import { renderOutputs } from "../editor/outputs";
import { askText, confirmAction } from "../ui/dialog";
import { el } from "../ui/dom";
import { icon } from "../ui/icons";
import { renderMarkdown } from "../ui/markdown";
import { topBar } from "../ui/topbar";
import { sourceOf, type NbCell } from "./diffview";
import { when } from "./history";
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
  main.append(
    el("h1", { "data-testid": "published-title" }, copy.title),
    copy.description ? el("p", { class: "published-description" }, copy.description) : "",
    el("p", { class: "muted" }, `Published by ${copy.publisher_name || copy.publisher} · ${when(copy.created)} · version ${copy.version}`,
      ),
    el("div", { class: "row" }, makeCopy, appLink(copy.id, copy.notebook.cells), withdrawButton()), status,
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


/** "Open as app": the published notebook run with parameters, as its readers' own runs. */
export function appLink(id: string, cells: NbCell[]): HTMLElement | "" {
  if (!cells.some((cell) => cell.cell_type === "code")) return "";
  return el("a", { class: "button small", href: base + appPage(id), "data-testid": "open-as-app" },
    icon("run"), "Open as app");
}

/** Where to put the copy: a folder ("team/") or a notebook path; null if cancelled. */
function askTarget(value: string): Promise<string | null> {
  return askText("Make a copy", "Folder or name of the copy (a free name is picked if it is taken)",
    value, () => null, { submit: "Copy", testId: "copy-target", selectStem: false });
}

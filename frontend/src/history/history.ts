// The History panel of the editor: the notebook's versions (time, kind, name, who edited),
// a visual diff of any two of them (or of one and the live notebook), restore with a
// confirmation, naming a version, and the Publish dialog. What a person may not do is not
// shown: naming and restoring need ``write``, publishing ``share``.

import { api, ApiError, base } from "../net/api";
import { apiPath, appPage, nameOf, publishedPage, segment } from "../net/paths";
import { askText, confirmAction } from "../ui/dialog";
import { el } from "../ui/dom";
import { icon, iconButton } from "../ui/icons";
import { textOn } from "../editor/presence";
import { audienceRefusal, audienceState, READ_CHOICES, RUN_CHOICES, type Choice, type Kind } from "./audience";
import { diffRows, notebookChanges, type DiffEntry, type NbCell, type Row } from "./diffview";
import "./history.css";
import { when } from "../ui/time";

export interface Version {
  id: string;
  number: number;
  created: string;
  kind: "save" | "auto" | "restore" | "publish" | "external";
  label: string | null;
  authors: { id: string; name: string }[];
  parent: string | null;
  size: number;
}

export interface HistoryOptions {
  path: () => string;
  permissions: Record<string, boolean>;
  /** How a person looks (the presence avatars' colour and initials). */
  look: (id: string, name: string) => { color: string; initials: string };
  /** What the Publish dialog needs to know: code (an app), a ``parameters`` cell, ``execute``. */
  publishShape?: () => PublishShape;
}

const KINDS: Record<Version["kind"], string> = {
  save: "Saved",
  auto: "Autosaved",
  restore: "Restored",
  publish: "Published",
  external: "Changed on disk",
};

export const versionsUrl = (path: string, ...ids: string[]): string => apiPath("api/collab/versions", path, ...ids);

const PALETTE = ["#1f6feb", "#8250df", "#bf3989", "#cf222e", "#bc4c00", "#1a7f37", "#0969da", "#6639ba"];

function hash(text: string): number {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h;
}

export function avatars(authors: Version["authors"], look: HistoryOptions["look"]): HTMLElement {
  const box = el("span", { class: "authors", "data-testid": "version-authors" });
  if (!authors.length) box.append(el("span", { class: "muted" }, "no one"));
  for (const author of authors) {
    const seen = look(author.id, author.name);
    // Someone not here now: a steady colour of their own rather than everyone's grey.
    const color = seen.color === "#6e7781" ? PALETTE[hash(author.id) % PALETTE.length] : seen.color;
    const initials = seen.initials;
    box.append(el("span", { class: "person small", title: author.name, "aria-label": author.name, role: "img",
      style: `--person: ${color}; --person-text: ${textOn(color)}`, "data-author": author.id }, initials));
  }
  return box;
}

/** The button that opens the panel (for the editor's top bar). */
export function historyButton(options: HistoryOptions): HTMLButtonElement {
  const button = iconButton("history", "History: versions, compare, restore", "History", "history-button");
  button.setAttribute("data-testid", "history");
  button.addEventListener("click", () => openHistory(options));
  return button;
}

/** How often an open History panel looks for versions cut since it opened. */
const REFRESH_MS = 10_000;

export function openHistory(options: HistoryOptions): HTMLDialogElement {
  const { permissions, look } = options;
  const path = options.path();
  const dialog = el("dialog", { class: "history-panel", "aria-labelledby": "history-title", "data-testid": "history-panel" }) as HTMLDialogElement;
  const close = iconButton("close", "Close the history");
  close.addEventListener("click", () => dialog.close());
  const status = el("p", { class: "muted history-status", role: "status", "data-testid": "history-status" });
  const list = el("ol", { class: "versions", "aria-label": "Versions, newest first", "data-testid": "versions" });
  const more = el("button", { class: "button quiet small", type: "button", hidden: "" }, "Show older versions");
  const compare = el("button", { class: "button small", type: "button", disabled: "", "data-testid": "compare" }, "Compare");
  const diffArea = el("section", { class: "diff", "aria-label": "Changes", "data-testid": "diff", tabindex: "-1" });
  const tools = el("div", { class: "row history-tools" }, compare);
  if (permissions.write) {
    const name = el("button", { class: "button quiet small", type: "button", "data-testid": "name-current" }, "Name the current version…");
    name.addEventListener("click", () => void nameVersion(null));
    tools.append(name);
  }
  if (permissions.share) {
    const publish = el("button", { class: "button quiet small", type: "button", "data-testid": "publish" }, icon("upload"), "Publish…");
    publish.addEventListener("click", () => openPublish(path, () => void load(), options.publishShape?.()));
    tools.append(publish);
  }
  dialog.append(
    el("header", { class: "history-head" }, el("h2", { id: "history-title" }, "History"), el("span", { class: "grow" }), close),
    el("p", { class: "muted" }, "Tick two versions to compare them, or one to compare it with the notebook now."),
    tools, status, list, more, diffArea);
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();

  const selected: Version[] = [];
  let versions: Version[] = [];
  let next: number | null = null;

  const updateCompare = () => {
    compare.toggleAttribute("disabled", selected.length === 0);
    compare.textContent = selected.length === 2 ? "Compare the two" : selected.length === 1 ? "Compare with now" : "Compare";
  };
  compare.addEventListener("click", () => {
    if (!selected.length) return;
    const [a, b] = [...selected].sort((x, y) => x.number - y.number);
    void showDiff(a, b ?? null);
  });

  function rowOf(version: Version): HTMLElement {
    const pick = el("input", { type: "checkbox", "aria-label": `Select the version of ${when(version.created)} to compare`,
      "data-testid": "pick" }) as HTMLInputElement;
    pick.addEventListener("change", () => {
      const at = selected.findIndex((v) => v.number === version.number);
      if (pick.checked && at < 0) {
        selected.push(version);
        if (selected.length > 2) {
          const dropped = selected.shift()!;
          list.querySelector<HTMLInputElement>(`[data-number="${dropped.number}"] input[type=checkbox]`)!.checked = false;
        }
      } else if (!pick.checked && at >= 0) selected.splice(at, 1);
      updateCompare();
    });
    const actions = el("span", { class: "version-actions" });
    if (version.parent) {
      const changes = el("button", { class: "button quiet small", type: "button", "data-testid": "changes" }, "What changed");
      changes.addEventListener("click", () => {
        const parent = versions.find((v) => v.id === version.parent && v.number < version.number);
        void showDiff(parent ?? { ...version, id: version.parent!, created: "", number: version.number - 1 }, version);
      });
      actions.append(changes);
    }
    if (permissions.write) {
      const name = el("button", { class: "button quiet small", type: "button", "data-testid": "name" }, version.label ? "Rename…" : "Name…");
      name.addEventListener("click", () => void nameVersion(version));
      const restore = el("button", { class: "button quiet small", type: "button", "data-testid": "restore" }, "Restore…");
      restore.addEventListener("click", () => void restoreVersion(version));
      actions.append(name, restore);
    }
    // Named: the name, then when; else when is the title.
    const title = el("span", { class: "version-label", ...(version.label ? { "data-testid": "version-label" } : {}) },
      version.label || when(version.created));
    const meta = el("span", { class: "version-meta" });
    if (version.label) meta.append(el("time", { datetime: version.created }, when(version.created)));
    meta.append(el("span", { class: `kind kind-${version.kind}` }, KINDS[version.kind] ?? version.kind));
    return el("li", { class: "version", "data-number": String(version.number), "data-id": version.id,
      "data-kind": version.kind, "data-testid": "version" },
    el("label", { class: "version-pick" }, pick, el("span", { class: "version-main" }, title, meta)),
    avatars(version.authors, look), actions);
  }

  async function load(older = false): Promise<void> {
    try {
      const query = older && next !== null ? `&before=${next}` : "";
      const page = await api<{ versions: Version[]; next: number | null }>("GET", `${versionsUrl(path)}?limit=50${query}`);
      versions = older ? [...versions, ...page.versions] : page.versions;
      next = page.next;
      more.toggleAttribute("hidden", next === null);
      if (!older) {
        selected.length = 0;
        updateCompare();
        list.replaceChildren();
      }
      list.append(...page.versions.map(rowOf));
      if (!versions.length) list.replaceChildren(el("li", { class: "empty" }, "No versions yet: they are made when you save, after a pause in editing, and on restore and publish."));
    } catch (e: any) {
      status.textContent = `Could not list the versions: ${e.message}`;
    }
  }
  more.addEventListener("click", () => void load(true));

  // Versions are cut by the server as people edit and save: while the panel is open, new
  // ones are added at the top now and then, keeping what the reader ticked and scrolled to.
  async function addNewer(): Promise<void> {
    if (document.hidden || !versions.length) return;
    try {
      const page = await api<{ versions: Version[] }>("GET", `${versionsUrl(path)}?limit=20`);
      const newest = versions[0].number;
      const fresh = page.versions.filter((v) => v.number > newest);
      if (!fresh.length) return;
      versions = [...fresh, ...versions];
      list.prepend(...fresh.map(rowOf));
    } catch {
      // The next round tries again; listing errors are shown by load().
    }
  }
  const timer = window.setInterval(() => void addNewer(), REFRESH_MS);
  dialog.addEventListener("close", () => window.clearInterval(timer));

  async function showDiff(base: Version, target: Version | null): Promise<void> {
    diffArea.replaceChildren(el("p", { class: "muted" }, "Comparing…"));
    try {
      const to = target ? target.id : "current";
      const [nb, result] = await Promise.all([
        api<{ cells: NbCell[] }>("GET", `${versionsUrl(path, base.id)}?outputs=strip`),
        api<{ diff: DiffEntry[] }>("GET", `${versionsUrl(path, base.id, "diff")}?to=${encodeURIComponent(to)}`),
      ]);
      const label = (v: Version | null) => (v ? (v.label || (v.created ? when(v.created) : "its parent")) : "now");
      diffArea.replaceChildren(renderDiff(nb.cells, result.diff, `Changes from ${label(base)} to ${label(target)}`));
      diffArea.focus();
    } catch (e: any) {
      diffArea.replaceChildren(el("p", { class: "error", role: "alert" }, `Could not compare: ${e.message}`));
    }
  }

  async function restoreVersion(version: Version): Promise<void> {
    const what = version.label ? `“${version.label}”` : `the version of ${when(version.created)}`;
    if (!(await confirmAction(`Restore ${what}? The notebook changes for everyone editing it now; the current state is kept as a version, so this can be undone.`, "Restore"))) return;
    status.textContent = "Restoring…";
    try {
      await api("POST", versionsUrl(path, version.id, "restore"));
      status.textContent = `Restored ${what}.`;
      await load();
    } catch (e: any) {
      status.textContent = `Could not restore: ${e.message}`;
    }
  }

  async function nameVersion(version: Version | null): Promise<void> {
    const name = await askName(version?.label ?? "");
    if (name === null) return;
    try {
      if (version) await api("PATCH", versionsUrl(path, version.id), { label: name || null });
      else await api("POST", versionsUrl(path), { label: name });
      status.textContent = name ? `Named “${name}”.` : "Name removed.";
      await load();
    } catch (e: any) {
      status.textContent = `Could not name the version: ${e.message}`;
    }
  }

  void load();
  return dialog;
}


function lineNode(row: Row): HTMLElement {
  const pre = el("pre", { class: "diff-lines" });
  for (const line of row.lines) {
    const tag = line.kind === "del" ? "del" : line.kind === "ins" ? "ins" : "span";
    const node = el(tag, { class: `line ${line.kind}` });
    if (line.kind !== "same") node.append(el("span", { class: "visually-hidden" }, line.kind === "del" ? "removed: " : "added: "));
    for (const piece of line.pieces) node.append(piece.mark ? el("mark", {}, piece.text) : piece.text);
    pre.append(node);
  }
  return pre;
}

const ROW_TITLES: Record<Row["kind"], string> = {
  same: "Unchanged",
  added: "Added cell",
  removed: "Removed cell",
  "moved-here": "Moved cell",
  "moved-away": "Moved away",
  changed: "Changed cell",
};

/** The diff as cells: unchanged runs folded, changed text marked. */
export function renderDiff(cells: NbCell[], diff: DiffEntry[], heading: string): HTMLElement {
  const rows = diffRows(cells, diff);
  const box = el("div", { class: "diff-view" }, el("h3", {}, heading));
  const others = notebookChanges(diff);
  if (others.length) box.append(el("p", { class: "muted" }, `Also changed: ${others.join(", ")}.`));
  if (!rows.some((r) => r.kind !== "same")) {
    box.append(el("p", { class: "muted", "data-testid": "no-changes" }, others.length ? "No cell changed." : "No changes."));
    return box;
  }
  let unchanged = 0;
  const flush = () => {
    if (unchanged) box.append(el("p", { class: "diff-same muted" }, unchanged === 1 ? "1 unchanged cell" : `${unchanged} unchanged cells`));
    unchanged = 0;
  };
  for (const row of rows) {
    if (row.kind === "same") { unchanged++; continue; }
    flush();
    let title = ROW_TITLES[row.kind];
    if (row.kind === "moved-here" && row.movedFrom) title = `Moved here (was cell ${row.movedFrom})`;
    if (row.kind === "moved-away" && row.movedTo) title = `Moved to cell ${row.movedTo}`;
    const card = el("article", { class: `diff-cell ${row.kind}`, "data-testid": "diff-cell", "data-kind": row.kind },
      el("h4", {}, `${title} · ${row.cellType}`));
    if (row.kind === "changed") {
      card.append(lineNode(row));
      if (row.other.length) card.append(el("p", { class: "muted" }, `Also changed: ${row.other.join(", ")}.`));
    } else {
      card.append(el("pre", { class: "diff-lines" }, row.source || " "));
    }
    box.append(card);
  }
  flush();
  return box;
}

// -- publishing ------------------------------------------------------------------------------

/** What the Publish dialog needs to know of the notebook and of the person publishing. */
export interface PublishShape {
  /** It has code: its published copy is also an app (run, not read). */
  hasCode: boolean;
  /** It has a cell tagged ``parameters``: the app's form. */
  hasParameters: boolean;
  /** The person may run code in it: letting others run it as an app needs that. */
  mayExecute: boolean;
}

const NO_CODE: PublishShape = { hasCode: false, hasParameters: false, mayExecute: false };

function choices(name: string, legend: string, list: Choice[], disabled: string[] = []): HTMLFieldSetElement {
  return el("fieldset", { class: "audience", "data-testid": `${name}-choices` }, el("legend", {}, legend),
    ...list.map((a, n) => el("label", { class: "choice" },
      el("input", { type: "radio", name, value: a.value, ...(n === 0 ? { checked: "" } : {}),
        ...(disabled.includes(a.value) ? { disabled: "" } : {}), "data-testid": `${name}-${a.value}` }),
      a.label))) as HTMLFieldSetElement;
}

/** The Publish dialog: title, description, outputs, who may read the copy and — when the
 * notebook has code — who may run it as an app; both audiences are applied after publishing,
 * and a refusal is said in one sentence. */
export function openPublish(path: string, published: () => void, shape: PublishShape = NO_CODE): HTMLDialogElement {
  const dialog = el("dialog", { class: "dialog publish-dialog", "aria-labelledby": "publish-title", "data-testid": "publish-dialog" }) as HTMLDialogElement;
  const title = el("input", { value: nameOf(path).replace(/\.ipynb$/, ""), maxlength: "200", required: "", "data-testid": "publish-title" }) as HTMLInputElement;
  const description = el("textarea", { rows: "3", maxlength: "5000", "data-testid": "publish-description" }) as HTMLTextAreaElement;
  const strip = el("input", { type: "checkbox", checked: "", "data-testid": "publish-strip" }) as HTMLInputElement;
  const readers = choices("audience", "Who may read it", READ_CHOICES);
  // An app runs its code on this server: only someone who may run code here lets others run it.
  const runners = shape.hasCode
    ? choices("runners", "Who may run it as an app", RUN_CHOICES, shape.mayExecute ? [] : ["signed-in"])
    : null;
  if (runners) {
    runners.append(el("p", { class: "muted", "data-testid": "publish-app-note" }, shape.hasParameters
      ? "People who may run it fill in its cell tagged “parameters” with their own values and get the results, without its code."
      : "People who may run it get its results, without its code."));
    if (!shape.mayExecute) {
      runners.append(el("p", { class: "muted", "data-testid": "runners-need-execute" },
        "You may not run code in this notebook, so you cannot let others run it."));
    }
  }
  const error = el("p", { class: "error", role: "alert", "data-testid": "publish-error" });
  const done = el("div", { class: "published", role: "status", "data-testid": "publish-done" });
  const cancel = el("button", { class: "button quiet small", type: "button" }, "Cancel");
  const submit = el("button", { class: "button small", type: "submit", "data-testid": "publish-submit" }, "Publish");
  const form = el("form", {}, el("h2", { id: "publish-title" }, `Publish ${nameOf(path)}`),
    el("p", { class: "muted" }, "A published copy is a fixed snapshot of the notebook as it is now. Publishing again adds a new version of it."),
    el("label", {}, "Title", title), el("label", {}, "Description", description),
    el("label", { class: "choice" }, strip, "Leave out outputs (they may hold data you did not mean to share)"),
    readers, runners ?? "", error, done, el("div", { class: "row end" }, cancel, submit));
  dialog.append(form);
  cancel.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  const picked = (name: string): string =>
    (form.querySelector(`input[name=${name}]:checked`) as HTMLInputElement | null)?.value ?? "restricted";
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    submit.setAttribute("disabled", "");
    const readAudience = picked("audience");
    const runAudience = runners ? picked("runners") : "restricted";
    let result: { id: string; version: number };
    try {
      result = await api<{ id: string; version: number }>("POST", apiPath("api/collab/publish", path),
        { title: title.value.trim(), description: description.value, strip_outputs: strip.checked });
    } catch (err: any) {
      error.textContent = `Could not publish: ${err.message}`;
      submit.removeAttribute("disabled");
      return;
    }
    const summary = el("p", {}, `Published (version ${result.version}).`);
    const links = el("p", {}, el("a", { href: base + publishedPage(result.id), "data-testid": "published-link" }, "Open the published copy"));
    if (runners) links.append(" · ", el("a", { href: base + appPage(result.id), "data-testid": "published-app-link" }, "Open as app"));
    done.replaceChildren(summary, links);
    published();
    cancel.textContent = "Close";
    submit.remove();
    // Each audience on its own: one refused does not undo the other.
    const refusals: string[] = [];
    const apply = async (kind: Kind, url: string, audience: string): Promise<void> => {
      const say = (text: string): void => { summary.append(el("span", { "data-testid": `${kind}-state` }, ` ${text}`)); };
      if (audience === "restricted") {
        // Nothing to open. A copy published before keeps the audience chosen then: say so
        // rather than promise it is closed.
        const before = await api<{ audience: string }>("GET", url).catch(() => null);
        if (before) {
          say(audienceState(kind, before.audience).replace(/\.$/, before.audience === "restricted" ? "." : " (as chosen before; change it on its published page)."));
        }
        return;
      }
      try {
        await api("PUT", url, { audience });
        say(audienceState(kind, audience));
      } catch (err: any) {
        refusals.push(audienceRefusal(kind, audience, err instanceof ApiError ? err.status : 0, err?.message ?? String(err)));
      }
    };
    await apply("read", `api/collab/published/${segment(result.id)}/audience`, readAudience);
    if (runners) await apply("run", `api/collab/apps/${segment(result.id)}/audience`, runAudience);
    error.textContent = refusals.join(" ");
    done.dataset.state = "applied";  // both audiences answered (a test's barrier)
  });
  document.body.append(dialog);
  dialog.showModal();
  title.focus();
  return dialog;
}

/** Ask for a version's name ("" removes it); null if cancelled. */
function askName(value: string): Promise<string | null> {
  return askText("Name this version", "Name", value, () => null,
    { submit: "Save name", allowEmpty: true, maxLength: 200, testId: "version-name", selectStem: false });
}

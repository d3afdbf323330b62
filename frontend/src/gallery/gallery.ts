// The Discover page (/gallery): search with instant results and highlighted snippets, tags,
// apps (those with inputs), published copies the caller may read (those not already among the
// apps), recommended, starred, trending and recently updated notebooks (each notebook in the
// first of these sections only), health badges (when there is something to say), star and tag
// buttons; "Open as app" as the main button on the cards of notebooks published as apps. Every text from a notebook is put on the page as text (snippets are
// segments; the marked ones become <mark> elements), never parsed as HTML.

import { api, ApiError, base, me } from "../net/api";
import { apiPath, appPage, nameOf, notebookPage, publishedPage } from "../net/paths";
import { askText } from "../ui/dialog";
import { el } from "../ui/dom";
import { icon, iconButton } from "../ui/icons";
import { attempt, showError } from "../ui/toast";
import { topBar } from "../ui/topbar";
import "./gallery.css";
import { day } from "../ui/time";

export interface Segment { text: string; mark: boolean }

export interface Item {
  path: string;
  title: string;
  snippet: Segment[];
  tags: string[];
  owner: string;
  /** The owner's display name (the id when the server knows none). */
  owner_name?: string;
  stars: number;
  health: number | null;
  updated: string;
  reason?: string;
  people?: number;
  /** Only for a notebook the caller may edit. */
  open_change_requests?: number;
}

/** An app the caller may see (GET /api/collab/apps): a published notebook run with parameters. */
export interface AppItem {
  id: string;
  title: string;
  description: string;
  published: string;
  publisher: string;
  /** The publisher's display name (the id when the server knows none). */
  publisher_name?: string;
  may_run: boolean;
  /** The notebook it was published from, only for those who may read it. */
  path?: string;
  /** How many parameters its form has (an app without any is listed, not shown among Apps). */
  inputs?: number;
}

/** A published copy the caller may read (GET /api/collab/published), newest first. */
export interface PublishedItem {
  id: string;
  title: string;
  description: string;
  publisher: string;
  /** The publisher's display name (the id when the server knows none). */
  publisher_name?: string;
  created: string;
}

const SEARCH_DELAY_MS = 200;
const APPS_SHOWN = 6;
const PUBLISHED_SHOWN = 6;
// Enough to link most cards to their apps; a notebook beyond it still has its app one click
// away on its published page.
const APPS_LISTED = 200;


export const notebookApi = (path: string, what: string): string => apiPath("api/collab/notebooks", path, what);
const starUrl = (path: string): string => apiPath("api/collab/stars", path);
const tagUrl = (path: string): string => apiPath("api/collab/tags", path);

/** Count a view of a notebook (the editor calls this when a notebook opens). */
export function recordView(path: string): void {
  api("POST", notebookApi(path, "views")).catch(() => undefined);  // a lost view is no error for the person
}

/** The label of a health score, as the server computes it (gallery/health.py). */
export function healthLabel(score: number | null): string {
  if (score === null || score === undefined) return "unknown";
  if (score >= 0.625) return "healthy";
  if (score <= 0.375) return "unhealthy";
  return "unknown";
}

/** Snippet segments as nodes: marked segments in <mark>, every segment as text. */
export function snippetNodes(segments: Segment[]): Node[] {
  return segments.map((s) => (s.mark ? el("mark", {}, s.text) : document.createTextNode(s.text)));
}

export async function showGallery(root: HTMLElement): Promise<void> {
  document.title = "Discover · collab_server";
  // The top bar every page has: the brand, this page's links, the user menu.
  const who = await me("");
  const header = topBar("Discover", "discover", who.identity);
  const input = el("input", { type: "search", class: "gallery-search", placeholder: "Search notebooks",
    "aria-label": "Search notebooks", "aria-describedby": "search-help", "data-testid": "gallery-search", autocomplete: "off" });
  const help = el("p", { class: "search-help muted", id: "search-help", "data-testid": "search-help" },
    "Type words, \"a phrase\" in quotes, tag:NAME for a tag or owner:NAME for whose notebooks.");
  const status = el("p", { class: "status muted", role: "status", "aria-live": "polite", "data-testid": "gallery-status" });
  const results = el("div", { class: "gallery-results", "data-testid": "gallery-results" });
  const sections = el("div", { class: "gallery-sections", "data-testid": "gallery-sections", "data-state": "loading" });
  const tagCloud = el("nav", { class: "tag-cloud", "aria-label": "Tags" });
  const side = el("aside", { class: "gallery-side" }, el("h2", {}, "Tags"), tagCloud);
  const main = el("main", { class: "gallery", "data-testid": "gallery", "data-state": "loading" },
    el("div", { class: "gallery-head" }, el("label", { class: "search-box" }, icon("search"), input), help),
    status,
    el("div", { class: "gallery-body" }, el("div", { class: "gallery-main" }, results, sections),
      side));
  root.replaceChildren(header, main);

  const starred = new Set<string>();
  const appOf = new Map<string, AppItem>();  // notebook path → its newest app
  const healthNotes = new Map<string, Promise<string>>();
  const shown = new Set<string>();  // notebooks already in a section above

  const setQuery = (q: string): void => {
    input.value = q;
    void runSearch();
    if (!window.matchMedia("(pointer: coarse)").matches) input.focus();
  };

  function explain(path: string): Promise<string> {
    if (!healthNotes.has(path)) {
      healthNotes.set(path, api<any>("GET", notebookApi(path, "info"))
        .then((info) => info.health.explanation as string)
        .catch(() => "Could not load the explanation."));
    }
    return healthNotes.get(path)!;
  }

  function healthBadge(item: Item): HTMLElement | "" {
    const label = healthLabel(item.health);
    if (label === "unknown") return "";  // nothing to tell yet: a grey badge only adds noise
    const tip = el("span", { class: "tooltip", role: "tooltip", id: `tip-${Math.random().toString(36).slice(2)}` },
      "Health: how often its code runs without errors.");
    const badge = el("span", { class: `badge health ${label}`, tabindex: "0", "aria-describedby": tip.id, "data-testid": "health" },
      label === "healthy" ? "Healthy" : label === "unhealthy" ? "Unhealthy" : "Health unknown", tip);
    const load = () => void explain(item.path).then((text) => { tip.textContent = text; });
    badge.addEventListener("mouseenter", load);
    badge.addEventListener("focus", load);
    return badge;
  }

  function starButton(item: Item): HTMLButtonElement {
    const count = el("span", { class: "count" }, String(item.stars));
    const button = el("button", { class: "button quiet small star", type: "button", "data-testid": "star" }, icon("star"), count);
    const paint = () => {
      const on = starred.has(item.path);
      button.classList.toggle("on", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
      const verb = on ? "Remove the star from" : "Star";
      // The visible count is part of the name (what a speech user says is what they see).
      const stars = Number(count.textContent);
      button.setAttribute("aria-label", `${verb} ${item.title}: ${stars} star${stars === 1 ? "" : "s"}`);
      button.title = on ? "Starred: click to remove your star" : "Star this notebook";
    };
    paint();
    button.addEventListener("click", async () => {
      const on = starred.has(item.path);
      const answer = await attempt(on ? "Could not remove the star" : "Could not star the notebook",
        () => api<{ starred: boolean; stars: number }>(on ? "DELETE" : "PUT", starUrl(item.path)));
      if (!answer) return;
      if (answer.starred) starred.add(item.path); else starred.delete(item.path);
      count.textContent = String(answer.stars);
      paint();
    });
    return button;
  }

  function tagChips(item: Item, into: HTMLElement): void {
    into.replaceChildren(...item.tags.map((tag) => {
      const chip = el("button", { class: "tag", type: "button", title: `Find notebooks tagged ${tag}` }, icon("tag"), tag);
      chip.addEventListener("click", () => setQuery(`tag:${tag}`));
      return chip;
    }));
  }

  function ownerLink(id: string, name: string): HTMLElement {
    if (id.includes('"')) return el("span", { class: "owner", title: id, "data-testid": "owner" }, name);
    const link = el("button", { class: "owner link-button", type: "button", title: `${id} — find their notebooks`,
      "data-testid": "owner" }, name);
    link.addEventListener("click", () => setQuery(/[\s()]/.test(id) ? `owner:"${id}"` : `owner:${id}`));
    return link;
  }

  function card(item: Item): HTMLElement {
    const tags = el("span", { class: "tags" });
    tagChips(item, tags);
    const addTag = iconButton("plus", `Add a tag to ${item.title}`, "Tag");
    addTag.addEventListener("click", async () => {
      const tag = await askText("Add a tag", "Tag (letters, digits, - _ . + #)", "",
        (v) => (v.trim() ? null : "Type a tag, for example finance."));
      if (!tag) return;
      const answer = await attempt("Could not add the tag",
        () => api<{ tags: string[] }>("PUT", tagUrl(item.path), { tag }));
      if (answer) {
        item.tags = answer.tags;
        tagChips(item, tags);
        void loadTags();
      }
    });
    const app = appOf.get(item.path);
    // A notebook that is an app: most people want to run it, so that is the main button.
    const open = el("a", { href: base + notebookPage(item.path), class: app ? "button small quiet" : "button small",
      "data-testid": "open" }, icon("notebook"), app ? "Open notebook" : "Open");
    const openApp = app ? el("a", { href: base + appPage(app.id), class: "button small", "data-testid": "open-as-app",
      title: app.may_run ? "Run its published version with your own parameters" : "See the app; running it needs the publisher's permission",
      "aria-label": `Open as app: ${item.title || nameOf(item.path)}` }, icon("run"), "Open as app") : "";
    const title = el("a", { href: base + notebookPage(item.path), class: "title" }, item.title || nameOf(item.path));
    const facts: (Node | string)[] = [item.path];
    // People are named, not numbered (an id can be an opaque sign-in subject). The name finds
    // their other notebooks by id: two people may share a name, never an id.
    if (item.owner) facts.push(" · by ", ownerLink(item.owner, item.owner_name || item.owner));
    if (item.updated) facts.push(` · updated ${day(item.updated)}`);
    const node = el("article", { class: "gallery-card", "data-path": item.path, "data-testid": "gallery-card" },
      el("div", { class: "card-head" }, title, healthBadge(item)),
      el("p", { class: "facts muted" }, ...facts));
    if (item.open_change_requests) {
      const n = item.open_change_requests;
      // Opening the notebook shows its change requests (its toolbar's review control).
      node.querySelector(".card-head")?.append(el("a", {
        href: base + notebookPage(item.path), class: "badge change-requests", "data-testid": "change-requests",
        title: "Open the notebook to review them",
      }, `${n} change request${n === 1 ? "" : "s"}`));
    }
    if (item.reason) node.append(el("p", { class: "reason" }, item.reason));
    if (item.snippet.length) node.append(el("p", { class: "snippet", "data-testid": "snippet" }, ...snippetNodes(item.snippet)));
    node.append(el("div", { class: "card-actions" }, tags, el("span", { class: "grow" }), addTag, starButton(item), openApp, open));
    return node;
  }

  const readable = new Set<string>();  // published copies the caller may read (listed below)

  function appCard(app: AppItem): HTMLElement {
    const facts: string[] = [];
    if (app.inputs) facts.push(`${app.inputs} input${app.inputs === 1 ? "" : "s"}`);
    if (app.publisher) facts.push(`Published by ${app.publisher_name || app.publisher}`);
    if (app.published) facts.push(day(app.published));
    const node = el("article", { class: "gallery-card app-card", "data-app": app.id, "data-testid": "app-card" },
      el("div", { class: "card-head" }, el("a", { href: base + appPage(app.id), class: "title" }, app.title || "Untitled app"),
        app.may_run ? "" : el("span", { class: "badge", title: "Ask its publisher to let you run it" }, "View only")),
      el("p", { class: "facts muted" }, facts.join(" · ")));
    if (app.description) node.append(el("p", { class: "snippet" }, app.description));
    // Who may also read the published copy reads its code from here (it is not listed again
    // under Published).
    const read = readable.has(app.id) ? el("a", { href: base + publishedPage(app.id), class: "button small quiet",
      "data-testid": "read-published", "aria-label": `Read it: ${app.title || "Untitled app"}`, title: "Read the published notebook" },
      icon("notebook"), "Read it") : "";
    node.append(el("div", { class: "card-actions" }, el("span", { class: "grow" }), read,
      el("a", { href: base + appPage(app.id), class: "button small", "data-testid": "open-as-app",
        "aria-label": `Open as app: ${app.title || "Untitled app"}` }, icon("run"), "Open as app")));
    return node;
  }

  /** A published copy: its page, what it is, who published it and when; "Open as app" too
   * when the caller may see the app made of it. */
  function publishedCard(copy: PublishedItem, app: AppItem | undefined): HTMLElement {
    const name = copy.title || "Untitled";
    const facts = [`Published by ${copy.publisher_name || copy.publisher}`];
    if (copy.created) facts.push(day(copy.created));
    const node = el("article", { class: "gallery-card published-card", "data-published": copy.id, "data-testid": "published-card" },
      el("div", { class: "card-head" }, el("a", { href: base + publishedPage(copy.id), class: "title" }, name)),
      el("p", { class: "facts muted", "data-testid": "publisher" }, facts.join(" · ")));
    if (copy.description) node.append(el("p", { class: "snippet" }, copy.description.split("\n")[0]));
    const open = el("a", { href: base + publishedPage(copy.id), class: app ? "button small quiet" : "button small",
      "data-testid": "open-published", "aria-label": `Read it: ${name}` }, icon("notebook"), "Read it");
    const openApp = app ? el("a", { href: base + appPage(app.id), class: "button small", "data-testid": "open-as-app",
      "aria-label": `Open as app: ${name}` }, icon("run"), "Open as app") : "";
    node.append(el("div", { class: "card-actions" }, el("span", { class: "grow" }), open, openApp));
    return node;
  }

  function section(title: string, items: Item[], empty: string, testid: string): HTMLElement {
    // A notebook already on the page in an earlier section is not repeated.
    const fresh = items.filter((item) => !shown.has(item.path));
    for (const item of fresh) shown.add(item.path);
    if (items.length && !fresh.length) return el("span", { hidden: "" });
    items = fresh;
    const list = el("div", { class: "card-list" }, ...items.map(card));
    if (!items.length) list.append(el("p", { class: "empty muted" }, empty));
    return el("section", { class: "gallery-section", "data-testid": testid }, el("h2", {}, title), list);
  }

  async function loadTags(): Promise<void> {
    const answer = await attempt("Could not load the tags", () => api<{ tags: { tag: string; count: number }[] }>("GET", "api/collab/tags"));
    if (!answer) return;
    const most = Math.max(1, ...answer.tags.map((t) => t.count));
    tagCloud.replaceChildren(...answer.tags.slice(0, 60).map(({ tag, count }) => {
      const chip = el("button", { class: "tag", type: "button", style: `font-size: ${(0.8 + 0.6 * (count / most)).toFixed(2)}rem`,
        title: `${count} notebook${count === 1 ? "" : "s"}` }, tag);
      chip.addEventListener("click", () => setQuery(`tag:${tag}`));
      return chip;
    }));
    side.classList.toggle("no-tags", !answer.tags.length);
    if (!answer.tags.length) tagCloud.append(el("p", { class: "muted" }, "No tags yet. Add one with the Tag button of a notebook."));
  }

  async function loadSections(): Promise<void> {
    const get = <T>(url: string) => api<T>("GET", url).catch((e) => { showError(`Could not load the gallery: ${e.message}`); return null; });
    const [apps, copies, mine, recs, trend, recent] = await Promise.all([
      get<{ apps: AppItem[] }>(`api/collab/apps?limit=${APPS_LISTED}`),
      // Enough to fill the section after leaving out the copies listed among the apps.
      get<{ published: PublishedItem[] }>(`api/collab/published?limit=${PUBLISHED_SHOWN + APPS_SHOWN}`),
      get<{ results: Item[] }>("api/collab/stars"),
      get<{ results: Item[] }>("api/collab/recommendations?limit=6"),
      get<{ results: Item[] }>("api/collab/trending?limit=6"),
      get<{ total: number; results: Item[] }>("api/collab/search?limit=10"),
    ]);
    starred.clear();
    for (const item of mine?.results || []) starred.add(item.path);
    appOf.clear();
    for (const app of apps?.apps || []) if (app.path && !appOf.has(app.path)) appOf.set(app.path, app);  // newest first
    // Apps to run are those with a form to fill in; any other published notebook still has
    // "Open as app" on its notebook's card.
    const appList = (apps?.apps || []).filter((app) => (app.inputs ?? 0) > 0).slice(0, APPS_SHOWN);
    readable.clear();
    for (const copy of copies?.published || []) readable.add(copy.id);
    // A copy whose app card is above is not listed again: that card links to it ("Read it").
    const appIds = new Map((apps?.apps || []).map((app) => [app.id, app]));
    const onAppCards = new Set(appList.map((app) => app.id));
    const copyList = (copies?.published || []).filter((copy) => !onAppCards.has(copy.id)).slice(0, PUBLISHED_SHOWN);
    const publishedSection = el("section", { class: "gallery-section", "data-testid": "published" }, el("h2", {}, "Published"),
      el("p", { class: "muted" }, "Fixed copies of notebooks their authors published for you to read or copy."),
      el("div", { class: "card-list" }, ...copyList.map((copy) => publishedCard(copy, appIds.get(copy.id)))));
    const appSection = el("section", { class: "gallery-section", "data-testid": "apps" }, el("h2", {}, "Apps"),
      el("p", { class: "muted" }, "Run a published notebook with your own values; you get its results, not its code to edit."),
      el("div", { class: "card-list" }, ...appList.map(appCard)));
    shown.clear();
    sections.replaceChildren(
      section("Recommended for you", recs?.results || [], "Nothing to recommend yet: open a few notebooks.", "recommended"),
      section("Your starred notebooks", mine?.results || [], "Star a notebook to find it here again.", "starred"),
      section("Trending this week", (trend?.results || []).map((i) => ({ ...i, reason: i.people ? `Opened by ${i.people} ${i.people === 1 ? "person" : "people"} this week` : undefined })),
        "Nothing is trending yet.", "trending"),
      section("Recently updated", recent?.results || [], "No notebooks yet.", "recent"));
    // Apps come first when there are any: most people here run notebooks others wrote; then
    // what others published for them to read.
    if (copyList.length) sections.prepend(publishedSection);
    if (appList.length) sections.prepend(appSection);
    sections.dataset.state = "ready";
  }

  // The cards show the person's stars and each notebook's app, which come with the sections:
  // a search answered before they are in waits for them (else its cards would show no star
  // and no "Open as app", and a star clicked then would be forgotten by the sections' load).
  let sectionsLoaded: Promise<void> = Promise.resolve();
  let sequence = 0;
  async function runSearch(): Promise<void> {
    const q = input.value.trim();
    const mine = ++sequence;
    if (!q) {
      results.replaceChildren();
      status.textContent = "";
      sections.hidden = false;
      return;
    }
    sections.hidden = true;
    status.className = "status muted";
    status.textContent = "Searching…";
    try {
      const answer = await api<{ total: number; results: Item[] }>("GET", `api/collab/search?q=${encodeURIComponent(q)}&limit=30`);
      await sectionsLoaded;
      if (mine !== sequence) return;  // a later search is on its way
      status.textContent = answer.total === 0 ? "No notebooks match." : `${answer.total} notebook${answer.total === 1 ? "" : "s"} found`;
      results.replaceChildren(...answer.results.map(card));
    } catch (e: any) {
      if (mine !== sequence) return;
      results.replaceChildren();
      if (e instanceof ApiError && e.status === 400) {
        status.className = "status error";  // the parser says what to change in the query
        status.textContent = e.message;
      } else {
        status.textContent = "";
        showError(`Could not search: ${e.message}`);
      }
    }
  }

  let timer: number | undefined;
  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void runSearch(), SEARCH_DELAY_MS);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { window.clearTimeout(timer); void runSearch(); }
  });

  const initial = new URLSearchParams(location.search).get("q") || "";
  sectionsLoaded = loadSections().catch(() => undefined);
  await Promise.all([sectionsLoaded, loadTags()]);
  if (initial) setQuery(initial);
  // On a touch screen focusing the box would open the keyboard over the page.
  else if (!window.matchMedia("(pointer: coarse)").matches) input.focus();
  main.dataset.state = "ready";
}

// Notebook outputs. HTML and JavaScript run in the output frame (/collab-output-frame): a
// sandboxed iframe without same-origin rights, under its own policy, so whatever an output
// does it cannot read the page, its cookie or the API. The frame reports its height by
// postMessage; we believe only messages from that very frame, and clamp what it asks for.
// Long text outputs are collapsed to a scrollable box with "Show all". Text and tracebacks
// keep their ANSI colours (kernel/ansi: spans, never HTML); Markdown goes through the
// sanitizer; JSON is a collapsible pretty-printed block; LaTeX shows its source (no renderer
// is bundled: a TeX engine would be larger than the whole page). A capped stream (the server
// keeps its head and tail) links to its full text.

import { base } from "../net/api";
import { appendAnsi } from "../kernel/ansi";
import { el } from "../ui/dom";
import { renderMarkdown } from "../ui/markdown";

type Output = Record<string, any>;

export const MAX_FRAME_HEIGHT = 4000;
const MIN_FRAME_HEIGHT = 24;
/** Outputs longer than this many lines start collapsed. */
export const COLLAPSE_LINES = 200;
/** Characters shown of a collapsed output until "Show all" (the DOM would choke on 480k lines). */
const COLLAPSED_CHARS = 20_000;

function text(value: unknown): string {
  return Array.isArray(value) ? value.join("") : String(value ?? "");
}

const frames = new WeakMap<object, HTMLIFrameElement>(); // the frame's window → the frame
window.addEventListener("message", (event) => {
  const frame = event.source ? frames.get(event.source) : undefined;
  if (!frame || !frame.isConnected) return; // only our output frames may size themselves
  const height = Number(event.data?.collabOutputHeight);
  if (!Number.isFinite(height)) return;
  frame.style.height = `${Math.max(MIN_FRAME_HEIGHT, Math.min(MAX_FRAME_HEIGHT, Math.ceil(height)))}px`;
});

/** Where a capped stream's full text is (relative to the base URL), if anywhere. */
export interface OutputContext { streamUrl?: string }

const TRUNCATED = /\u2026 (\d+) bytes truncated \u2026/;

export function renderOutputs(outputs: Output[], context: OutputContext = {}): HTMLElement {
  const box = el("div", { class: "outputs", "data-testid": "outputs" });
  for (const output of outputs) box.append(renderOutput(output, context));
  return box;
}

function renderOutput(output: Output, context: OutputContext): HTMLElement {
  switch (output.output_type) {
    case "stream": {
      const value = text(output.text);
      const node = longText(value, `output stream ${output.name || ""}`);
      const capped = TRUNCATED.exec(value);
      if (!capped || !context.streamUrl) return node;
      const link = el("a", { href: base + context.streamUrl, download: "", "data-testid": "full-output" }, "Download the full text");
      return el("div", {}, node, el("p", { class: "muted small" }, `${capped[1]} bytes were left out here. `, link));
    }
    case "error":
      // The traceback repeats "ename: evalue" as its last line, in colour.
      return longText(output.traceback?.length ? text(output.traceback.join("\n"))
        : `${output.ename}: ${output.evalue}`, "output error");
    case "execute_result":
    case "display_data":
      return renderData(output.data || {});
    default:
      return el("pre", { class: "output" }, "");
  }
}

/** A text output; a long one starts collapsed in a scrollable box with "Show all". */
function longText(value: string, className: string): HTMLElement {
  let lines = 0;
  for (let i = value.indexOf("\n"); i !== -1 && lines <= COLLAPSE_LINES; i = value.indexOf("\n", i + 1)) lines++;
  if (lines <= COLLAPSE_LINES && value.length <= COLLAPSED_CHARS) return appendAnsi(el("pre", { class: className }), value);
  const pre = appendAnsi(el("pre", { class: `${className} collapsed`, tabindex: "0" }), value.slice(0, COLLAPSED_CHARS));
  const more = el("button", { class: "button quiet small", type: "button" }, "Show all");
  const note = el("span", { class: "muted" }, `A long output (${(value.length / 1024).toFixed(0)} KB).`);
  more.addEventListener("click", () => {
    pre.replaceChildren();
    if (pre.classList.contains("collapsed")) {
      appendAnsi(pre, value);
      pre.classList.remove("collapsed");
      more.textContent = "Collapse";
    } else {
      appendAnsi(pre, value.slice(0, COLLAPSED_CHARS));
      pre.classList.add("collapsed");
      more.textContent = "Show all";
    }
  });
  return el("div", { class: "long-output", "data-testid": "long-output" }, pre, el("div", { class: "row" }, note, more));
}

function htmlFrame(html: string): HTMLIFrameElement {
  const frame = el("iframe", {
    class: "output html",
    // Scripts yes; same origin never (the frame is an opaque origin: no cookie, no API).
    sandbox: "allow-scripts",
    referrerpolicy: "no-referrer",
    title: "HTML output (sandboxed)",
    src: `${base}collab-output-frame`,
  }) as HTMLIFrameElement;
  frame.style.height = "3em";
  frame.addEventListener("load", () => {
    if (!frame.contentWindow) return;
    frames.set(frame.contentWindow, frame);
    // The frame is another origin: "*" is the only target that reaches it.
    frame.contentWindow.postMessage({ html }, "*");
  }, { once: true });
  return frame;
}

function renderData(data: Record<string, unknown>): HTMLElement {
  if (data["text/html"] !== undefined) return htmlFrame(text(data["text/html"]));
  for (const kind of ["image/png", "image/jpeg", "image/gif"]) {
    if (data[kind] !== undefined) {
      return el("img", { class: "output image", alt: "image output", src: `data:${kind};base64,${text(data[kind]).trim()}` });
    }
  }
  if (data["image/svg+xml"] !== undefined) {
    const svg = btoa(unescape(encodeURIComponent(text(data["image/svg+xml"]))));
    return el("img", { class: "output image", alt: "SVG output", src: `data:image/svg+xml;base64,${svg}` });
  }
  if (data["text/markdown"] !== undefined) {
    const box = el("div", { class: "output markdown-output markdown" });
    box.innerHTML = renderMarkdown(text(data["text/markdown"])); // sanitized
    return box;
  }
  if (data["application/json"] !== undefined) {
    let pretty: string;
    try {
      pretty = JSON.stringify(data["application/json"], null, 2);
    } catch {
      pretty = String(data["application/json"]);
    }
    const details = el("details", { class: "output json", open: "" }, el("summary", {}, "JSON"), el("pre", {}, pretty));
    return details;
  }
  if (data["text/latex"] !== undefined) {
    return el("pre", { class: "output latex", title: "LaTeX source (not rendered)" }, text(data["text/latex"]));
  }
  return longText(text(data["text/plain"]), "output");
}

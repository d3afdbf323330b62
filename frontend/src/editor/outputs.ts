// Notebook outputs. HTML and JavaScript run in the output frame (/collab-output-frame): a
// sandboxed iframe without same-origin rights, under its own policy, so whatever an output
// does it cannot read the page, its cookie or the API. The frame reports its height by
// postMessage; we believe only messages from that very frame, and clamp what it asks for.
// Long text outputs are collapsed to a scrollable box with "Show all".

import { base } from "../net/api";
import { el } from "../ui/dom";

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

export function renderOutputs(outputs: Output[]): HTMLElement {
  const box = el("div", { class: "outputs" });
  for (const output of outputs) box.append(renderOutput(output));
  return box;
}

function renderOutput(output: Output): HTMLElement {
  switch (output.output_type) {
    case "stream":
      return longText(text(output.text), `output stream ${output.name || ""}`);
    case "error":
      return longText(`${output.ename}: ${output.evalue}\n`
        + text((output.traceback || []).join("\n")).replace(/\x1b\[[0-9;]*m/g, ""), "output error");
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
  if (lines <= COLLAPSE_LINES && value.length <= COLLAPSED_CHARS) return el("pre", { class: className }, value);
  const pre = el("pre", { class: `${className} collapsed`, tabindex: "0" }, value.slice(0, COLLAPSED_CHARS));
  const more = el("button", { class: "button quiet small", type: "button" }, "Show all");
  const note = el("span", { class: "muted" }, `A long output (${(value.length / 1024).toFixed(0)} KB).`);
  more.addEventListener("click", () => {
    if (pre.classList.contains("collapsed")) {
      pre.textContent = value;
      pre.classList.remove("collapsed");
      more.textContent = "Collapse";
    } else {
      pre.textContent = value.slice(0, COLLAPSED_CHARS);
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
  return longText(text(data["text/plain"]), "output");
}

// Notebook outputs. HTML and JavaScript run in a sandboxed iframe without same-origin
// rights: whatever a notebook's output does, it cannot read the page, its cookie or the API.

import { el } from "./api";

type Output = Record<string, any>;

function text(value: unknown): string {
  return Array.isArray(value) ? value.join("") : String(value ?? "");
}

export function renderOutputs(outputs: Output[]): HTMLElement {
  const box = el("div", { class: "outputs" });
  for (const output of outputs) box.append(renderOutput(output));
  return box;
}

function renderOutput(output: Output): HTMLElement {
  switch (output.output_type) {
    case "stream":
      return el("pre", { class: `output stream ${output.name || ""}` }, text(output.text));
    case "error":
      return el("pre", { class: "output error" },
        `${output.ename}: ${output.evalue}\n`,
        text((output.traceback || []).join("\n")).replace(/\x1b\[[0-9;]*m/g, ""));
    case "execute_result":
    case "display_data":
      return renderData(output.data || {});
    default:
      return el("pre", { class: "output" }, "");
  }
}

function renderData(data: Record<string, unknown>): HTMLElement {
  if (data["text/html"] !== undefined) {
    const frame = el("iframe", {
      class: "output html",
      sandbox: "allow-scripts",
      referrerpolicy: "no-referrer",
      title: "HTML output (sandboxed)",
    }) as HTMLIFrameElement;
    frame.srcdoc = text(data["text/html"]);
    frame.addEventListener("load", () => {
      frame.style.height = "12em"; // the frame's document is not ours to measure
    });
    return frame;
  }
  for (const kind of ["image/png", "image/jpeg", "image/gif"]) {
    if (data[kind] !== undefined) {
      return el("img", { class: "output image", alt: "image output", src: `data:${kind};base64,${text(data[kind]).trim()}` });
    }
  }
  if (data["image/svg+xml"] !== undefined) {
    const svg = btoa(unescape(encodeURIComponent(text(data["image/svg+xml"]))));
    return el("img", { class: "output image", alt: "SVG output", src: `data:image/svg+xml;base64,${svg}` });
  }
  return el("pre", { class: "output" }, text(data["text/plain"]));
}

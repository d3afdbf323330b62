// Downloading a notebook: as .ipynb through the contents API, or converted (HTML, Python
// script) through jupyter_server's nbconvert route. Fetched first, so a failure is shown on
// the page instead of replacing it with an error page.

import { api, ApiError, base } from "./api";
import { contentsUrl, nameOf, nbconvertUrl } from "./paths";

export type Format = "ipynb" | "html" | "script";

export const FORMATS: { format: Format; label: string }[] = [
  { format: "ipynb", label: "Notebook (.ipynb)" },
  { format: "html", label: "HTML page (.html)" },
  { format: "script", label: "Script (.py for Python)" },
];


function save(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The file name a server's Content-Disposition gives, if any. */
function dispositionName(header: string | null): string | null {
  if (!header) return null;
  const star = header.match(/filename\*=(?:UTF-8'')?([^;]+)/i);
  if (star) {
    try {
      return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ""));
    } catch {
      // fall through to the plain name
    }
  }
  const plain = header.match(/filename="?([^";]+)"?/i);
  return plain ? plain[1] : null;
}

export async function download(path: string, format: Format): Promise<void> {
  const name = nameOf(path);
  if (format === "ipynb") {
    const model = await api<{ content: unknown }>("GET", `${contentsUrl(path)}?content=1&type=notebook`);
    save(new Blob([JSON.stringify(model.content, null, 1) + "\n"], { type: "application/x-ipynb+json" }), name);
    return;
  }
  let response: Response;
  try {
    response = await fetch(base + nbconvertUrl(format, path), { credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "Could not reach the server. Check your connection and try again.");
  }
  if (!response.ok) {
    const why = response.status === 404 ? "the server cannot convert notebooks (is nbconvert installed?) or the notebook is gone."
      : response.status === 403 ? "you are not allowed to."
        : `the server answered ${response.status}.`;
    throw new ApiError(response.status, why);
  }
  const stem = name.replace(/\.ipynb$/, "");
  const fallback = format === "html" ? `${stem}.html` : `${stem}.py`;
  save(await response.blob(), dispositionName(response.headers.get("Content-Disposition")) || fallback);
}

// Every address the page builds goes through here: one segment encoder, used everywhere, so a
// name or an id read from a file (a thread id, a notebook name) can never climb out of the
// place it belongs to ("../", "#", "?", "%" all stay inside their segment).

export class BadPathError extends Error {}

/** One path segment: percent-encoded; "", "." and ".." refused (a URL parser would resolve
 * them, even encoded as "%2e%2e"). */
export function segment(value: string): string {
  if (value === "" || value === "." || value === ".." || /^(\.|%2e){1,2}$/i.test(value)) {
    throw new BadPathError(`Not a valid name: “${value}”`);
  }
  return encodeURIComponent(value);
}

/** A notebook or folder path ("a/b c/d.ipynb"), encoded segment by segment; "" is the root. */
export function encodePath(path: string): string {
  const parts = path.split("/").filter((p) => p !== "");
  return parts.map(segment).join("/");
}

/** An API address: a fixed prefix, a notebook/folder path, then ids (each one segment). */
export function apiPath(prefix: string, path: string, ...ids: string[]): string {
  const rest = ids.map((id) => "/" + segment(id)).join("");
  return `${prefix}/${encodePath(path)}${rest}`;
}

export const contentsUrl = (path: string): string => apiPath("api/contents", path);
export const sessionUrl = (path: string): string => apiPath("api/collaboration/session", path);
export const sharesUrl = (path: string): string => apiPath("api/collab/shares", path);
/** jupyter_server's nbconvert address of ``path`` as ``format`` (``download=true``: a file). */
export const nbconvertUrl = (format: string, path: string): string => `nbconvert/${segment(format)}/${encodePath(path)}?download=true`;
export const commentsUrl = (path: string, ...ids: string[]): string => apiPath("api/collab/comments", path, ...ids);

/** The page of one notebook, and of one folder, relative to the server's base URL. */
export const notebookPage = (path: string): string => `notebooks/${encodePath(path)}`;
export const appPage = (id: string): string => `apps/${segment(id)}`;
export const publishedPage = (id: string): string => `published/${segment(id)}`;
export const folderPage = (path: string): string => (path ? `?path=${encodeURIComponent(path)}` : "");

/** The folder a path is in ("" for the root). */
export const parentOf = (path: string): string => path.split("/").slice(0, -1).join("/");
export const nameOf = (path: string): string => path.split("/").pop() || path;
/** Your API tokens, and one of them (its id is one segment). */
export const tokensUrl = (...ids: string[]): string => `api/collab/tokens${ids.map((id) => "/" + segment(id)).join("")}`;
/** A kernel's execute address (the id is one segment). */
export const executeUrl = (kernelId: string): string => `api/kernels/${segment(kernelId)}/execute`;

// Talking to the server: same-origin fetch with the session cookie and the XSRF token.

export const base: string = (document.body.dataset.baseUrl || "/").replace(/\/?$/, "/");

function xsrf(): string {
  const match = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export class ApiError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(base + path.replace(/^\//, ""), {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-XSRFToken": xsrf() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    location.assign(`${base}login?next=${encodeURIComponent(location.pathname + location.search)}`);
  }
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new ApiError(response.status, data.message || `${method} ${path}: ${response.status}`);
  }
  return response.status === 204 ? (undefined as T) : response.json();
}

export function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

export interface Me {
  identity: { username: string; name: string; display_name: string; color: string; initials: string };
  path: string;
  permissions: Record<string, boolean>;
  server_admin: boolean;
  shared_with_me: { path: string; role: string }[];
}

export function me(path = ""): Promise<Me> {
  return api<Me>("GET", `api/collab/me?path=${encodeURIComponent(path)}`);
}

export function roleOf(permissions: Record<string, boolean>): string {
  if (permissions.share) return "owner";
  if (permissions.write) return "editor";
  if (permissions.comment) return "commenter";
  if (permissions.read) return "viewer";
  return "no access";
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

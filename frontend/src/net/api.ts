// Talking to the server: same-origin fetch with the session cookie and the XSRF token. Every
// failure becomes an ApiError with a sentence a person can read (the server's message).

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

const FALLBACK: Record<number, string> = {
  403: "You are not allowed to do that.",
  404: "Not found: it does not exist, or you cannot see it.",
  409: "Someone changed this meanwhile; reload and try again.",
  413: "That is too large.",
  500: "The server failed; please try again.",
};

/** ``path`` is built with net/paths (already encoded). ``body`` is JSON unless it is a string. */
export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(base + path.replace(/^\//, ""), {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-XSRFToken": xsrf() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "Could not reach the server. Check your connection and try again.");
  }
  if (response.status === 401) {
    location.assign(`${base}login?next=${encodeURIComponent(location.pathname + location.search)}`);
  }
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new ApiError(response.status, data.message || FALLBACK[response.status] || `The server answered ${response.status}.`);
  }
  return response.status === 204 ? (undefined as T) : response.json();
}

export interface Me {
  identity: { username: string; name: string; display_name: string; color: string; initials: string };
  path: string;
  permissions: Record<string, boolean>;
  server_admin: boolean;
  shared_with_me: { path: string; role: string }[];
}

let knownAdmin = false;

/** Does the signed-in person administer this server (as the last ``me`` answer said)? The
 * user menu shows the administration page to them only (the server refuses anyone else). */
export function isServerAdmin(): boolean {
  return knownAdmin;
}

export async function me(path = ""): Promise<Me> {
  const found = await api<Me>("GET", `api/collab/me?path=${encodeURIComponent(path)}`);
  knownAdmin = !!found.server_admin;
  return found;
}

export function roleOf(permissions: Record<string, boolean>): string {
  if (permissions.share) return "owner";
  if (permissions.write) return "editor";
  if (permissions.comment) return "commenter";
  if (permissions.read) return "viewer";
  return "no access";
}

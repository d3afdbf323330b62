// The administration page's pure logic (no page, no server): searching users, principals in
// words, the API's addresses. Kept apart so it can be checked in node.

import { segment } from "../net/paths";

export interface User {
  name: string;
  display_name: string;
  is_admin: boolean;
  may_execute: boolean;
  disabled: boolean;
  groups: string[];
  has_password: boolean;
  created_at: string | null;
  last_sign_in_at: string | null;
}

/** A person's API token or browser session as an administrator sees it (never its secret). */
export interface Token {
  id: string;
  label: string;
  kind: "api" | "session";
  created_at: string | null;
  expires_at: string | null;
  last_used_at?: string | null;
}

/** A token's kind and label in words: "API token “nightly job”", "Browser session". */
export function tokenText(token: Token): string {
  const what = token.kind === "session" ? "Browser session" : "API token";
  return token.label && !(token.kind === "session" && token.label === "browser") ? `${what} “${token.label}”` : what;
}

/** The users whose name, display name or group contains every word of ``query``. */
export function filterUsers(users: User[], query: string): User[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return users.filter((u) => {
    const text = [u.name, u.display_name, ...u.groups, u.is_admin ? "administrator" : "",
      u.disabled ? "disabled" : ""].join(" ").toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

/** A principal in words: "user:ann" → "ann", "group:team" → "group team". */
export function principalText(principal: string): string {
  if (principal === "signed-in") return "everyone signed in";
  if (principal === "everyone") return "everyone";
  const [kind, ...rest] = principal.split(":");
  const name = rest.join(":");
  return kind === "group" ? `group ${name}` : name || principal;
}

export const ADMIN = "api/collab/admin";

/** A user's address, and what is below it ("reset-password", "access", "tokens", id); each part is one segment. */
export const userUrl = (name: string, ...rest: string[]): string =>
  [`${ADMIN}/users/${segment(name)}`, ...rest.map(segment)].join("/");
export const memberUrl = (group: string, name: string): string =>
  `${ADMIN}/groups/${segment(group)}/members/${segment(name)}`;
export const accessUrl = (path: string): string => `${ADMIN}/access?path=${encodeURIComponent(path)}`;

// Who is here: everyone in the room, in the identity the server vouches for.

import type { Awareness } from "y-protocols/awareness";

import { el } from "../ui/dom";

/** Black or white, whichever reads better on ``color`` (people's colours come from the
 * server; white on a light one, e.g. orange, is unreadable). */
export function textOn(color: string): string {
  const hex = /^#?([0-9a-f]{6})$/i.exec(color.trim());
  if (!hex) return "#fff";
  const channel = (i: number) => {
    const c = parseInt(hex[1].slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
  // Contrast with white is 1.05 / (L + .05), with black (L + .05) / .05: pick the larger.
  return 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 ? "#fff" : "#000";
}

export function presenceList(awareness: Awareness, me: Record<string, unknown>): HTMLElement {
  const node = el("div", { class: "presence", "aria-label": "People here", "data-testid": "presence" });
  const show = () => {
    const people = new Map<string, any>();
    awareness.getStates().forEach((s: any) => {
      if (s.user?.username) people.set(s.user.username, s.user);
    });
    node.replaceChildren(...[...people.values()].map((user) =>
      el("span", { class: "person", title: user.display_name || user.name, style: `--person: ${user.color}; --person-text: ${textOn(String(user.color || ""))}`,
        "data-username": user.username }, user.initials || (user.name || "?").slice(0, 1))));
  };
  awareness.on("change", show);
  // What others see of us is pinned by the server; this is how we appear to ourselves.
  awareness.setLocalStateField("user", me);
  return node;
}

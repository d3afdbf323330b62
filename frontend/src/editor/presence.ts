// Who is here: everyone in the room, in the identity the server vouches for.

import type { Awareness } from "y-protocols/awareness";

import { el } from "../ui/dom";

export function presenceList(awareness: Awareness, me: Record<string, unknown>): HTMLElement {
  const node = el("div", { class: "presence", "aria-label": "People here", "data-testid": "presence" });
  const show = () => {
    const people = new Map<string, any>();
    awareness.getStates().forEach((s: any) => {
      if (s.user?.username) people.set(s.user.username, s.user);
    });
    node.replaceChildren(...[...people.values()].map((user) =>
      el("span", { class: "person", title: user.display_name || user.name, style: `--person: ${user.color}`,
        "data-username": user.username }, user.initials || (user.name || "?").slice(0, 1))));
  };
  awareness.on("change", show);
  // What others see of us is pinned by the server; this is how we appear to ourselves.
  awareness.setLocalStateField("user", me);
  return node;
}

// The editor's two status lines: the connection (connected / reconnecting / offline / stopped
// and why) and the save state. "All changes saved" means on the server, only: after a local
// change the state is "Unsaved changes" until the server has answered a "save" request sent
// after that change (a socket's messages are handled in order, so that reply proves the server
// had everything before it). Viewers and commenters never show a save state.
// Each line has its words and a compact form (a mark, or a word or two) that narrow screens
// show instead: the words stay for screen readers, and a phone still sees whether its changes
// are saved.

import type * as Y from "yjs";

import type { Notice, Room } from "../net/room";
import { el } from "../ui/dom";
import { icon } from "../ui/icons";

/** Show ``text`` on a status line, with ``short`` (a string or an icon) for narrow screens. */
function showState(node: HTMLElement, state: string, text: string, short: string | SVGElement): void {
  node.dataset.state = state;
  node.title = text;
  node.replaceChildren(...(text ? [el("span", { class: "state-short", "aria-hidden": "true" }, short),
    el("span", { class: "state-text" }, text)] : []));
}

export const SAVE_DEBOUNCE_MS = 1000;

export class SaveTracker {
  private local = 0; // local changes made so far
  private acked = 0; // local changes the server has acknowledged
  private pending = new Map<number, number>(); // save request id → local changes it covers
  private timer: number | undefined;
  private failed = "";
  private halted = "";

  constructor(private room: Room, doc: Y.Doc, private node: HTMLElement) {
    doc.on("update", (_update: Uint8Array, _origin: unknown, _doc: Y.Doc, tr: Y.Transaction) => {
      if (tr.local) this.changed();
    });
    room.onNoticeReceived((n) => this.notice(n));
    room.provider.on("sync", (synced: boolean) => {
      if (synced && this.local > this.acked) this.save();
    });
    room.provider.on("status", (e: { status: string }) => {
      if (e.status !== "connected") {
        this.pending.clear(); // replies to those will never come
        this.show();
      }
    });
  }

  get unsaved(): boolean {
    return this.local > this.acked;
  }

  /** Ask the server to save now (Ctrl+S, or after the debounce). */
  save(): void {
    window.clearTimeout(this.timer);
    if (this.halted) return;
    const id = this.room.requestSave();
    if (id !== null) this.pending.set(id, this.local);
    this.show();
  }

  /** The room stopped: nothing more will be saved from this page. */
  halt(why: string): void {
    this.halted = why;
    window.clearTimeout(this.timer);
    this.pending.clear();
    this.show();
  }

  private changed(): void {
    this.local++;
    this.failed = "";
    this.show();
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.save(), SAVE_DEBOUNCE_MS);
  }

  private notice(n: Notice): void {
    if (n.type === "save") {
      const covers = this.pending.get(n.responseTo);
      if (covers === undefined) return;
      this.pending.delete(n.responseTo);
      if (n.status === "success" || n.status === "skipped") {
        this.acked = Math.max(this.acked, covers);
        this.failed = "";
      } else {
        this.failed = "The server could not save this notebook.";
      }
      this.show();
    } else if (n.type === "save_failed") {
      this.failed = n.message || "The server could not save this notebook.";
      this.show();
    }
  }

  private show(): void {
    let state: string;
    let text: string;
    if (this.halted && this.local > this.acked) [state, text] = ["failed", this.halted];
    else if (this.halted) [state, text] = ["halted", ""];
    else if (this.failed) [state, text] = ["failed", `Not saved: ${this.failed}`];
    else if (this.local > this.acked) [state, text] = this.pending.size ? ["saving", "Saving…"] : ["unsaved", "Unsaved changes"];
    else if (this.pending.size) [state, text] = ["saving", "Saving…"];
    else [state, text] = ["saved", "All changes saved"];
    const short = state === "saved" ? icon("check") : state === "saving" ? "Saving…"
      : state === "unsaved" ? "Unsaved" : "Not saved";
    showState(this.node, state, text, short);
  }
}

export function showConnection(node: HTMLElement, room: Room): void {
  const render = (status?: string) => {
    const stopped = room.stoppedFor;
    const state = stopped ? "stopped" : !navigator.onLine ? "offline" : status === "connected" ? "connected" : "reconnecting";
    const [text, short] = state === "connected" ? ["Connected", ""] : state === "offline" ? ["Offline — your edits are kept", "Offline"]
      : state === "stopped" ? ["Disconnected", "Disconnected"] : ["Reconnecting…", "Reconnecting…"];
    showState(node, state, text, short);
  };
  let last = "connecting";
  node.textContent = "Connecting…";
  room.provider.on("status", (e: { status: string }) => { last = e.status; render(last); });
  room.onStopped(() => render(last));
  window.addEventListener("offline", () => render(last));
  window.addEventListener("online", () => render(last));
}

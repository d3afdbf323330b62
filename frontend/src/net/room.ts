// A shared document's room over the jupyter-collaboration wire protocol (y-websocket framing).
// This module owns the socket: reconnecting with exponential back-off and jitter (never a
// retry storm), giving up on close codes that will not get better, and the RAW (type 2)
// messages: the server's JSON notices and the replies to our "save" requests.

import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { WebsocketProvider } from "y-websocket";
import type * as Y from "yjs";
import type { Awareness } from "y-protocols/awareness";

import { base } from "./api";
import { backoff } from "./backoff";

const RAW = 2;

/** A JSON notice the server sent (save replies, errors, renames, save results). */
export interface Notice {
  type: string;
  [key: string]: any;
}

/** Why the room stopped for good (no more reconnecting). */
export interface Stopped {
  reason: "deleted" | "invalid_file" | "too_large" | "forbidden" | "unknown_session";
  message: string;
}

// Close codes that retrying cannot fix, and what each one means.
const FINAL: Record<number, Stopped["reason"]> = {
  4400: "invalid_file",
  4403: "forbidden",
  4404: "deleted",
  1009: "too_large", // resending the same change would fail the same way
};

export class Room {
  readonly provider: WebsocketProvider;
  private attempts = 0;
  private timer: number | undefined;
  private stopped: Stopped | null = null;
  private lastError: Notice | null = null;
  private noticeListeners: ((n: Notice) => void)[] = [];
  private stopListeners: ((s: Stopped) => void)[] = [];
  private requestId = 0;

  constructor(name: string, doc: Y.Doc, params: Record<string, string> = {}, awareness?: Awareness) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.provider = new WebsocketProvider(`${scheme}//${location.host}${base}api/collaboration/room`,
      name, doc, { params, awareness, disableBc: true });
    (this.provider as any).messageHandlers[RAW] = (_encoder: unknown, decoder: decoding.Decoder) => {
      let notice: Notice;
      try {
        notice = JSON.parse(decoding.readVarString(decoder));
      } catch {
        return; // not JSON: not a notice we know
      }
      if (notice && typeof notice.type === "string") this.onNotice(notice);
    };
    this.provider.on("connection-close", (event: CloseEvent | null) => this.onClose(event));
    this.provider.on("sync", (synced: boolean) => { if (synced) this.attempts = 0; });
    // Going offline drops the socket on purpose: a socket that merely stalls could swallow
    // what is typed meanwhile, while a fresh connection always re-syncs both ways.
    window.addEventListener("offline", () => this.dropSocket());
    window.addEventListener("online", () => this.reconnectNow());
  }

  get stoppedFor(): Stopped | null {
    return this.stopped;
  }

  onNoticeReceived(listener: (n: Notice) => void): void {
    this.noticeListeners.push(listener);
  }

  onStopped(listener: (s: Stopped) => void): void {
    this.stopListeners.push(listener);
  }

  /** Send Jupyter's RAW "save" request; returns its id, or null when not connected. */
  requestSave(): number | null {
    const ws = this.provider.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || this.stopped) return null;
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, RAW);
    encoding.writeVarString(encoder, "save");
    encoding.writeVarUint(encoder, ++this.requestId);
    ws.send(encoding.toUint8Array(encoder));
    return this.requestId;
  }

  /** Stop for good (the page shows why). */
  stop(stopped: Stopped): void {
    if (this.stopped) return;
    this.stopped = stopped;
    window.clearTimeout(this.timer);
    this.provider.disconnect();
    this.stopListeners.forEach((f) => f(stopped));
  }

  destroy(): void {
    window.clearTimeout(this.timer);
    this.provider.destroy();
  }

  /** Let go of the socket now. A plain close() waits for the closing handshake, which
   * cannot finish while offline: until it does the provider still counts itself connected,
   * the page would say "Connected" on the way back online, and connect() would do nothing. */
  private dropSocket(): void {
    this.provider.disconnect();
    const ws = this.provider.ws;
    if (!ws) return;
    const onclose = ws.onclose;
    ws.onclose = null;
    ws.onmessage = null;
    onclose?.call(ws, new CloseEvent("close", { code: 1006, reason: "offline" }));
  }

  private reconnectNow(): void {
    if (this.stopped) return;
    window.clearTimeout(this.timer);
    this.provider.connect();
  }

  private onNotice(notice: Notice): void {
    if (notice.type === "error") this.lastError = notice;
    this.noticeListeners.forEach((f) => f(notice));
  }

  private onClose(event: CloseEvent | null): void {
    // y-websocket would retry on its own after at most 2.5 s, forever; we take over.
    this.provider.shouldConnect = false;
    if (this.stopped) return;
    const notice = this.lastError;
    this.lastError = null;
    const code = event?.code ?? 1006;
    const reasonText = event?.reason ?? "";
    if (code === 1003 && reasonText.includes("unknown_session")) {
      this.stop({ reason: "unknown_session", message: "This notebook's session ended; reload the page." });
      return;
    }
    const final = FINAL[code] ?? (notice && FINAL_BY_REASON[notice.reason as string]);
    if (final) {
      this.stop({ reason: final, message: (notice?.message as string) || "" });
      return;
    }
    if (code === 1011 && !notice) {
      // An older server says only "internal error": most often its storage is unavailable.
      this.onNotice({ type: "error", reason: "store_unavailable", message: "" });
    }
    if (!navigator.onLine) return; // "online" reconnects
    const delay = backoff(this.attempts++);
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.provider.connect(), delay);
  }
}

const FINAL_BY_REASON: Record<string, Stopped["reason"]> = {
  deleted: "deleted",
  invalid_file: "invalid_file",
  too_large: "too_large",
};

// The notebook's shared kernel as the page sees it: its state (pushed to the room's sockets as
// RAW "kernel" notices, fetched once when the page opens) and the requests that run cells,
// interrupt, restart and answer input(). Cells run on the server, which writes their outputs
// into the shared document: the page only asks, and shows who runs what.

import { api, ApiError } from "../net/api";
import { apiPath, executeUrl } from "../net/paths";
import type { Notice, Room } from "../net/room";
import { sourceHash } from "./murmur";

export type KernelStatus = "none" | "starting" | "idle" | "busy" | "restarting" | "dead" | "lost";

export interface Person { username: string; display_name: string }

export interface KernelState {
  type: "kernel";
  document_id: string;
  path: string | null;
  state: KernelStatus;
  kernel: { id: string; name: string; display_name: string; started_at: string; started_by: Person; runs_as: string } | null;
  cells: { cell_id: string; state: "running" | "queued"; by: Person; since: string }[];
  input: { cell_id: string; prompt: string; password: boolean; since: string } | null;
  now: string;
}

/** What a run request came to: ``ok``, the cell raised (``error``: its traceback is in the
 * outputs), or a problem to show (``message``). */
export type RunResult = { ok: true } | { ok: false; message: string | null };

/** Times a run refused as stale (409) is asked again before saying so. */
const STALE_RETRIES = 4;

export class KernelClient {
  state: KernelState | null = null;
  /** Server clock minus ours (ms), so "for how long" does not depend on the person's clock. */
  skew = 0;
  private listeners: ((s: KernelState) => void)[] = [];

  constructor(private path: () => string, readonly documentId: string, room: Room) {
    room.onNoticeReceived((n: Notice) => {
      if (n.type === "kernel" && n.document_id === documentId) this.take(n as unknown as KernelState);
    });
  }

  onChange(listener: (s: KernelState) => void): void {
    this.listeners.push(listener);
  }

  private url(...rest: string[]): string {
    return apiPath("api/collab/kernels", this.path(), ...rest);
  }

  private take(state: KernelState): void {
    // A pushed state and a fetched one may cross: keep the newer.
    if (this.state && Date.parse(state.now) < Date.parse(this.state.now)) return;
    this.state = state;
    const now = Date.parse(state.now);
    if (Number.isFinite(now)) this.skew = now - Date.now();
    this.listeners.forEach((f) => f(state));
  }

  /** Milliseconds since ``since`` (an ISO time of the server's). */
  elapsed(since: string): number {
    return Math.max(0, Date.now() + this.skew - Date.parse(since));
  }

  async refresh(): Promise<void> {
    this.take(await api<KernelState>("GET", this.url()));
  }

  /** The kernel's id, starting one if the notebook has none (or it died, or was lost). */
  private async kernelId(): Promise<string> {
    const s = this.state;
    if (s?.kernel && s.state !== "dead" && s.state !== "lost" && s.state !== "none") return s.kernel.id;
    const state = await api<KernelState>("POST", this.url(), {});
    this.take(state);
    if (!state.kernel) throw new ApiError(500, "The kernel could not be started.");
    return state.kernel.id;
  }

  /** Run cells (one, or several as one batch that stops at the first error); resolves when
   * they have run. */
  async run(cells: { id: string; source: string }[]): Promise<RunResult> {
    if (!cells.length) return { ok: true };
    const kernel = await this.kernelId();
    // Always with each cell's hash: the server runs a cell only as the person sees it. Just
    // after typing, the last keystrokes may still be on their way over the socket: the server
    // then answers 409, and asking again a moment later runs what was typed.
    const body = { document_id: this.documentId, cells: cells.map((c) => ({ cell_id: c.id, source_hash: sourceHash(c.source) })) };
    for (let attempt = 0; ; attempt++) {
      try {
        await api("POST", executeUrl(kernel), body);
        return { ok: true };
      } catch (e) {
        // 422: the cell raised (or did not run after an earlier error): the outputs say why.
        if (e instanceof ApiError && e.status === 422) return { ok: false, message: null };
        if (e instanceof ApiError && e.status === 409) {
          if (attempt < STALE_RETRIES) {
            await new Promise((done) => setTimeout(done, 250 * (attempt + 1)));
            continue;
          }
          return { ok: false, message: e.message }; // the server says which cell, and why
        }
        throw e;
      }
    }
  }

  async interrupt(): Promise<void> {
    this.take(await api<KernelState>("POST", this.url("interrupt")));
  }

  async restart(): Promise<void> {
    this.take(await api<KernelState>("POST", this.url("restart")));
  }

  async answer(value: string): Promise<void> {
    this.take(await api<KernelState>("POST", this.url("input"), { value }));
  }

  /** The address of a cell's full stream text (a capped output's download). */
  streamUrl(cellId: string): string {
    return this.url("cells", cellId, "stream");
  }
}

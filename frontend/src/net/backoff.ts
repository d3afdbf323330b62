// How long to wait before reconnecting (pure: unit-tested in node).

export const MIN_DELAY_MS = 500;
export const MAX_DELAY_MS = 30_000;

/** Delay before reconnect attempt ``n`` (0-based): doubling from 0.5 s up to 30 s, with
 * "equal jitter" (between half and all of it) so many pages dropped together do not come
 * back in step. */
export function backoff(n: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** Math.max(0, n));
  return ceiling / 2 + random() * (ceiling / 2);
}

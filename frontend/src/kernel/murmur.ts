// MurmurHash2 of a cell's source, as the server's batch "run" requests expect it (pure: no
// DOM, unit-tested in node against the server's own implementation).

/** MurmurHash2 (seed 0) of the UTF-8 bytes of ``source``, as a decimal string: the server
 * checks it to refuse running a cell edited since it was asked to run (pure). */
export function sourceHash(source: string): string {
  const data = new TextEncoder().encode(source);
  const m = 0x5bd1e995;
  let length = data.length;
  let h = length >>> 0;
  let i = 0;
  while (length >= 4) {
    let k = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) >>> 0;
    k = Math.imul(k, m) >>> 0;
    k ^= k >>> 24;
    k = Math.imul(k, m) >>> 0;
    h = (Math.imul(h, m) ^ k) >>> 0;
    i += 4;
    length -= 4;
  }
  if (length === 3) h ^= data[i + 2] << 16;
  if (length >= 2) h ^= data[i + 1] << 8;
  if (length >= 1) {
    h ^= data[i];
    h = Math.imul(h, m) >>> 0;
  }
  h ^= h >>> 13;
  h = Math.imul(h, m) >>> 0;
  h ^= h >>> 15;
  return String(h >>> 0);
}

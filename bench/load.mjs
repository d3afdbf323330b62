// Load generator for the benchmark: N Yjs clients in one room, each typing into its own cell.
//
// Every client syncs the notebook first. "Observers" keep applying every update they receive
// and time each marker another client typed (edit-to-remote latency, one clock: one process).
// The other clients stop applying after the first sync and only count frames: they cost the
// server exactly what a real client costs (a socket, every broadcast) but not this process.
//
// Usage: node load.mjs '<json config>'  ->  prints one JSON result line.
import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import WebSocket from 'ws';
import { performance } from 'node:perf_hooks';

const config = JSON.parse(process.argv[2]);
const {
  url, room, params = {}, clients: count, observers: observerCount = 10,
  rate = 5, duration = 5, mode = 'type', grace = 3,
} = config;

const sentAt = new Map(); // "i:seq" -> time
const latencies = [];
let delivered = 0;
let sent = 0;
let closed = 0;

class Client {
  constructor(index, observer) {
    this.index = index;
    this.observer = observer;
    this.doc = new Y.Doc();
    this.synced = false;
    this.frames = 0;
    this.seq = 0;
  }

  connect() {
    const query = new URLSearchParams(params).toString();
    this.ws = new WebSocket(`${url}/${room}?${query}`, { perMessageDeflate: false });
    this.ws.binaryType = 'arraybuffer';
    this.doc.on('update', (update, origin) => {
      if (origin === this || this.ws.readyState !== WebSocket.OPEN) return;
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, 0);
      syncProtocol.writeUpdate(encoder, update);
      this.ws.send(encoding.toUint8Array(encoder));
    });
    this.ws.on('close', () => { closed += 1; });
    this.ws.on('error', () => {});
    this.ws.on('message', (data) => this.onMessage(new Uint8Array(data)));
    return new Promise((resolve, reject) => {
      this.resolveSynced = resolve;
      this.ws.on('open', () => {
        const encoder = encoding.createEncoder();
        encoding.writeVarUint(encoder, 0);
        syncProtocol.writeSyncStep1(encoder, this.doc);
        this.ws.send(encoding.toUint8Array(encoder));
      });
      this.ws.on('close', (code) => { if (!this.synced) reject(new Error('closed ' + code)); });
    });
  }

  onMessage(data) {
    this.frames += 1;
    if (this.synced && !this.observer) return;
    const decoder = decoding.createDecoder(data);
    if (decoding.readVarUint(decoder) !== 0) return;
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, 0);
    const kind = syncProtocol.readSyncMessage(decoder, encoder, this.doc, this);
    if (encoding.length(encoder) > 1) this.ws.send(encoding.toUint8Array(encoder));
    if (kind === 1 && !this.synced) {
      this.synced = true;
      this.text = this.doc.getArray('cells').get(this.index).get('source');
      if (this.observer) this.watch();
      this.resolveSynced();
    }
  }

  watch() {
    const cells = this.doc.getArray('cells');
    cells.observeDeep((events) => {
      const now = performance.now();
      for (const event of events) {
        if (!(event.target instanceof Y.Text)) continue;
        for (const op of event.delta) {
          if (typeof op.insert !== 'string') continue;
          for (const match of op.insert.matchAll(/\u0001(\d+):(\d+)\u0002/g)) {
            if (Number(match[1]) === this.index) continue;
            const start = sentAt.get(`${match[1]}:${match[2]}`);
            if (start !== undefined) {
              latencies.push(now - start);
              delivered += 1;
            }
          }
        }
      }
    });
  }

  type() {
    const seq = this.seq++;
    sentAt.set(`${this.index}:${seq}`, performance.now());
    this.text.insert(this.text.length, `\u0001${this.index}:${seq}\u0002`);
    sent += 1;
  }
}

// Mode "outputs": one client watches the stream outputs the server writes for a running cell.
// Each line the cell prints carries the kernel's time.time() between '@' signs (same machine,
// same clock); the latency is when the line reaches this client's document minus that time.
// The client prints {"ready":true} once synced (the driver then runs the cell) and stops at
// the line "@end@", or after duration + grace seconds.
class OutputWatcher extends Client {
  constructor() {
    super(0, true);
    this.seen = 0;
    this.ended = false;
  }

  scan(text) {
    const now = performance.timeOrigin + performance.now();
    for (const match of text.matchAll(/@(\d+\.\d+)@/g)) {
      latencies.push(now - Number(match[1]) * 1000);
      this.seen += 1;
    }
    if (text.includes('@end@')) this.ended = true;
  }

  watch() {
    this.doc.getArray('cells').observeDeep((events) => {
      for (const event of events) {
        if (event.target instanceof Y.Text) {
          for (const op of event.delta) if (typeof op.insert === 'string') this.scan(op.insert);
        } else if (event.target instanceof Y.Array) {
          // A new output arrives whole, its first text already in it.
          for (const op of event.delta) {
            if (!Array.isArray(op.insert)) continue;
            for (const item of op.insert) {
              const text = item instanceof Y.Map ? item.get('text') : null;
              if (text instanceof Y.Text) this.scan(text.toString());
            }
          }
        }
      }
    });
  }
}

async function watchOutputs() {
  const watcher = new OutputWatcher();
  await watcher.connect();
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  const stopAt = performance.now() + (duration + grace) * 1000;
  while (!watcher.ended && performance.now() < stopAt) {
    await new Promise((r) => setTimeout(r, 20));
  }
  latencies.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({
    lines: watcher.seen,
    ended: watcher.ended,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.length ? latencies[latencies.length - 1] : null,
  }) + '\n');
  watcher.ws.terminate();
  process.exit(0);
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main() {
  const all = [];
  for (let i = 0; i < count; i++) all.push(new Client(i, i < observerCount));
  // Connect in small batches: a real room fills up over seconds, not in one tick.
  for (let i = 0; i < all.length; i += 10) {
    await Promise.all(all.slice(i, i + 10).map((c) => c.connect()));
  }
  const start = performance.now();
  const stopAt = start + duration * 1000;
  if (mode === 'type') {
    const period = 1000 / rate;
    await Promise.all(all.map((client) => new Promise((resolve) => {
      const tick = () => {
        if (performance.now() >= stopAt) return resolve();
        client.type();
        setTimeout(tick, period);
      };
      setTimeout(tick, Math.random() * period);
    })));
  } else {
    // Flood: every client sends as fast as its socket drains.
    await Promise.all(all.map((client) => new Promise((resolve) => {
      const burst = () => {
        if (performance.now() >= stopAt) return resolve();
        while (client.ws.bufferedAmount < 64 * 1024 && performance.now() < stopAt) {
          for (let k = 0; k < 20; k++) client.type();
        }
        setImmediate(burst);
      };
      burst();
    })));
  }
  const sendSeconds = (performance.now() - start) / 1000;
  const expectedPerObserver = (observer) => sent - observer.seq;
  const expected = () => all.filter((c) => c.observer).reduce((n, c) => n + expectedPerObserver(c), 0);
  const graceEnd = performance.now() + grace * 1000;
  while (delivered < expected() && performance.now() < graceEnd) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const lastDelivery = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const result = {
    clients: count,
    observers: Math.min(observerCount, count),
    sent,
    sendSeconds,
    expected: expected(),
    delivered,
    dropped: expected() - delivered,
    closed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.length ? latencies[latencies.length - 1] : null,
    deliveredPerSecond: delivered / Math.min(observerCount, count) / lastDelivery,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
  for (const client of all) client.ws.terminate();
  process.exit(0);
}

(mode === 'outputs' ? watchOutputs() : main()).catch((e) => {
  process.stdout.write(JSON.stringify({ error: String(e && e.stack ? e.stack : e) }) + '\n');
  process.exit(1);
});

// A collaboration client built from exactly what JupyterLab runs: y-websocket's
// WebsocketProvider and @jupyter/ydoc's YNotebook / YFile. The pytest suite drives it through
// stdin/stdout, one JSON object per line: {"id", "cmd", ...} in, {"id", "ok", ...} out.
import readline from 'node:readline';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import { YFile, YNotebook } from '@jupyter/ydoc';

let doc = null; // YNotebook or YFile
let provider = null;
const closes = [];

function reply(id, payload) {
  process.stdout.write(JSON.stringify({ id, ok: true, ...payload }) + '\n');
}

function fail(id, error) {
  process.stdout.write(JSON.stringify({ id, ok: false, error: String(error) }) + '\n');
}

function waitFor(predicate, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (predicate()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error('timeout'));
      setTimeout(tick, 10);
    };
    tick();
  });
}

const commands = {
  async connect({ url, room, params, kind }) {
    doc = kind === 'file' ? new YFile() : new YNotebook();
    provider = new WebsocketProvider(url, room, doc.ydoc, {
      WebSocketPolyfill: WebSocket,
      params: params || {},
      disableBc: true,
      awareness: doc.awareness,
    });
    provider.on('connection-close', (event) => {
      if (event) closes.push({ code: event.code, reason: String(event.reason || '') });
    });
    await waitFor(() => provider.synced);
    return {};
  },
  async setUser({ user }) {
    provider.awareness.setLocalStateField('user', user);
    return {};
  },
  async setCursor({ cursor }) {
    provider.awareness.setLocalStateField('cursor', cursor);
    return {};
  },
  // Indexes are UTF-16 code units, as in a browser.
  async insertText({ cell, index, text }) {
    const ytext = kindText(cell);
    ytext.insert(index ?? ytext.length, text);
    return {};
  },
  async deleteText({ cell, index, length }) {
    kindText(cell).delete(index, length);
    return {};
  },
  async addCell({ index, cell_type, source }) {
    doc.insertCell(index ?? doc.cells.length, { cell_type: cell_type || 'code', source: source || '' });
    return {};
  },
  async deleteCell({ index }) {
    doc.deleteCell(index);
    return {};
  },
  async get() {
    if (doc instanceof YFile) return { content: doc.getSource() };
    return { content: doc.toJSON() };
  },
  async awareness() {
    const states = [];
    provider.awareness.getStates().forEach((state, clientId) => states.push({ clientId, state }));
    return { clientId: provider.awareness.clientID, states };
  },
  async status() {
    return { connected: provider.wsconnected, synced: provider.synced, closes };
  },
  async disconnect() {
    provider.disconnect();
    return {};
  },
  async reconnect() {
    provider.connect();
    await waitFor(() => provider.synced && provider.wsconnected);
    return {};
  },
  async waitSynced() {
    await waitFor(() => provider.synced && provider.wsconnected, 20000);
    return {};
  },
  async exit() {
    if (provider) provider.destroy();
    setTimeout(() => process.exit(0), 10);
    return {};
  },
};

function kindText(cell) {
  return doc instanceof YFile ? doc.ysource : doc.getCell(cell).ysource;
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  let message;
  try {
    message = JSON.parse(line);
  } catch (e) {
    return fail(null, 'bad command: ' + e);
  }
  const handler = commands[message.cmd];
  if (!handler) return fail(message.id, 'unknown command ' + message.cmd);
  try {
    reply(message.id, await handler(message));
  } catch (e) {
    fail(message.id, e && e.stack ? e.stack : e);
  }
});
rl.on('close', () => {
  if (provider) provider.destroy();
  process.exit(0);
});

// What a version diff shows, cell by cell: pure (no DOM), from the base notebook's cells and
// the server's diff (nbdime's format, see collab_server/versions/diff.py). Cells are added,
// removed, moved (the server marks a move with ``moved_to``/``moved_from`` on the ranges) or
// changed; in a changed cell, removed and added lines are listed, and where a removed line
// and an added one pair up, the part that differs is marked inside them.

export interface NbCell {
  cell_type?: string;
  source?: string | string[];
  id?: string;
  [key: string]: unknown;
}

export interface DiffEntry {
  op: string;
  key: string | number;
  diff?: DiffEntry[];
  valuelist?: any[];
  length?: number;
  value?: unknown;
  moved_to?: (number | null)[];
  moved_from?: (number | null)[];
}

/** A piece of a line: ``mark`` is the part that changed (only in paired changed lines). */
export interface Piece { text: string; mark: boolean }

export interface Line { kind: "same" | "del" | "ins"; pieces: Piece[] }

export type RowKind = "same" | "added" | "removed" | "moved-here" | "moved-away" | "changed";

export interface Row {
  kind: RowKind;
  cellType: string;
  /** Added, removed, moved and unchanged cells: their source. */
  source: string;
  /** Changed cells: the lines (unchanged ones around the changes included). */
  lines: Line[];
  /** Changed cells: what else changed besides the text (cell type, metadata, outputs…). */
  other: string[];
  /** Where a moved cell went to / came from (1-based position on the other side). */
  movedTo?: number;
  movedFrom?: number;
}

export function sourceOf(cell: NbCell | undefined): string {
  const source = cell?.source;
  return Array.isArray(source) ? source.join("") : typeof source === "string" ? source : "";
}

/** ``text`` split into lines that keep their line ends (Python's ``splitlines(True)`` for
 * ``\n``, which is what the server diffs). */
export function splitLines(text: string): string[] {
  const lines = text.match(/[^\n]*\n|[^\n]+$/g);
  return lines ?? [];
}

/** The two lines with their differing middles marked (common head and tail not). */
export function markChange(before: string, after: string): [Piece[], Piece[]] {
  let head = 0;
  const limit = Math.min(before.length, after.length);
  while (head < limit && before[head] === after[head]) head++;
  let tail = 0;
  while (tail < limit - head && before[before.length - 1 - tail] === after[after.length - 1 - tail]) tail++;
  const pieces = (text: string): Piece[] => [
    { text: text.slice(0, head), mark: false },
    { text: text.slice(head, text.length - tail), mark: true },
    { text: text.slice(text.length - tail), mark: false },
  ].filter((p) => p.text !== "");
  return [pieces(before), pieces(after)];
}

/** The lines of a cell whose source was patched with line ``ops`` (keys index base lines). */
export function patchedLines(base: string, ops: DiffEntry[]): Line[] {
  const lines = splitLines(base);
  const out: Line[] = [];
  const sorted = [...ops].sort((a, b) => Number(a.key) - Number(b.key) || (a.op === "addrange" ? -1 : 1));
  let at = 0;
  let i = 0;
  const plain = (text: string, kind: Line["kind"]): Line => ({ kind, pieces: [{ text, mark: false }] });
  while (i < sorted.length || at < lines.length) {
    const next = sorted[i];
    const key = next ? Number(next.key) : lines.length;
    while (at < key && at < lines.length) out.push(plain(lines[at++], "same"));
    if (!next) break;
    // The changes at one place: lines removed there, lines added there.
    const removed: string[] = [];
    const added: string[] = [];
    while (i < sorted.length && Number(sorted[i].key) === key) {
      const op = sorted[i++];
      if (op.op === "addrange") added.push(...(op.valuelist ?? []).map(String));
      else if (op.op === "removerange") {
        const length = op.length ?? 0;
        removed.push(...lines.slice(key, key + length));
        at = Math.max(at, key + length);
      }
    }
    const paired = Math.min(removed.length, added.length);
    const dels: Line[] = [];
    const inss: Line[] = [];
    removed.forEach((text, n) => {
      if (n < paired) {
        const [before, after] = markChange(text, added[n]);
        dels.push({ kind: "del", pieces: before });
        inss.push({ kind: "ins", pieces: after });
      } else dels.push(plain(text, "del"));
    });
    added.slice(paired).forEach((text) => inss.push(plain(text, "ins")));
    out.push(...dels, ...inss);
  }
  return out;
}

const OTHER: Record<string, string> = {
  cell_type: "cell type",
  metadata: "cell metadata",
  outputs: "outputs",
  execution_count: "execution count",
  attachments: "attachments",
};

/** Every row of the diff of ``cells`` (the base version's) by ``diff`` (the whole notebook's
 * entries: the ``cells`` entry is used; ``notebookChanges`` says what else changed). */
export function diffRows(cells: NbCell[], diff: DiffEntry[]): Row[] {
  const entry = diff.find((e) => e.key === "cells" && e.op === "patch");
  const ops = entry?.diff ?? [];
  const byKey = new Map<number, DiffEntry[]>();
  for (const op of ops) {
    const key = Number(op.key);
    if (!byKey.has(key)) byKey.set(key, []);
    byKey.get(key)!.push(op);
  }
  const rows: Row[] = [];
  const row = (kind: RowKind, cell: NbCell | undefined, extra: Partial<Row> = {}): Row => ({
    kind, cellType: String(cell?.cell_type ?? "code"), source: sourceOf(cell), lines: [], other: [], ...extra,
  });
  let removedUntil = 0;
  let removedFrom = 0;
  let movedTo: (number | null)[] = [];
  for (let i = 0; i <= cells.length; i++) {
    const here = byKey.get(i) ?? [];
    for (const op of here.filter((o) => o.op === "addrange")) {
      (op.valuelist ?? []).forEach((cell: NbCell, n: number) => {
        const from = op.moved_from?.[n];
        rows.push(from === null || from === undefined ? row("added", cell)
          : row("moved-here", cell, { movedFrom: from + 1 }));
      });
    }
    if (i === cells.length) break;
    const remove = here.find((o) => o.op === "removerange");
    if (remove) {
      removedFrom = i;
      removedUntil = i + (remove.length ?? 0);
      movedTo = remove.moved_to ?? [];
    }
    const cell = cells[i];
    if (i < removedUntil) {
      const to = movedTo[i - removedFrom];
      rows.push(to === null || to === undefined ? row("removed", cell) : row("moved-away", cell, { movedTo: to + 1 }));
      continue;
    }
    const patch = here.find((o) => o.op === "patch");
    if (!patch) {
      rows.push(row("same", cell));
      continue;
    }
    const changes = patch.diff ?? [];
    const source = changes.find((c) => c.key === "source");
    let lines: Line[] = splitLines(sourceOf(cell)).map((text) => ({ kind: "same", pieces: [{ text, mark: false }] }));
    if (source?.op === "patch") lines = patchedLines(sourceOf(cell), source.diff ?? []);
    else if (source && (source.op === "replace" || source.op === "add")) {
      const after = Array.isArray(source.value) ? source.value.join("") : String(source.value ?? "");
      lines = [
        ...splitLines(sourceOf(cell)).map((text): Line => ({ kind: "del", pieces: [{ text, mark: false }] })),
        ...splitLines(after).map((text): Line => ({ kind: "ins", pieces: [{ text, mark: false }] })),
      ];
    }
    const other = changes.filter((c) => c.key !== "source" && c.key !== "id")
      .map((c) => OTHER[String(c.key)] ?? String(c.key));
    rows.push(row("changed", cell, { lines, other }));
  }
  return rows;
}

/** What changed in the notebook besides its cells (for one line above the cells). */
export function notebookChanges(diff: DiffEntry[]): string[] {
  return diff.filter((e) => e.key !== "cells").map((e) => (e.key === "metadata" ? "notebook metadata" : String(e.key)));
}

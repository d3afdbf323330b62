// Notebook operations on the shared document that are more than one call into @jupyter/ydoc:
// switching a cell's type, the cell clipboard, hiding outputs. Each change is one transaction
// with the notebook as its origin, so the notebook's undo manager takes it back in one step.

import type { YNotebook } from "@jupyter/ydoc";

export type Cell = YNotebook["cells"][number];
export type CellType = "code" | "markdown";

/** A cell as nbformat JSON (what the clipboard holds). */
export type CellJSON = Record<string, any> & { cell_type: string; source: string | string[] };

/**
 * Make the cell at ``index`` a ``type`` cell, keeping its id, source and metadata (so comments
 * anchored to it stay attached). Like JupyterLab's ``changeCellType``: the cell's map is
 * replaced by one of the other type, in one transaction. Returns the new cell, or null when
 * the cell already has that type.
 */
export function changeCellType(notebook: YNotebook, index: number, type: CellType): Cell | null {
  const old = notebook.cells[index];
  if (!old || old.cell_type === type) return null;
  const raw = old.toJSON() as CellJSON;
  const metadata = { ...(raw.metadata || {}) };
  // Output settings mean nothing to a Markdown cell.
  delete metadata.collapsed;
  delete metadata.scrolled;
  if (metadata.jupyter && typeof metadata.jupyter === "object") {
    const { outputs_hidden: _hidden, ...jupyter } = metadata.jupyter;
    if (Object.keys(jupyter).length) metadata.jupyter = jupyter;
    else delete metadata.jupyter;
  }
  const next: CellJSON = { id: old.getId(), cell_type: type, source: old.getSource(), metadata };
  if (type === "code") Object.assign(next, { outputs: [], execution_count: null });
  else if (raw.attachments) next.attachments = raw.attachments;
  let made: Cell | null = null;
  notebook.transact(() => {
    notebook.deleteCell(index);
    made = notebook.insertCell(index, next as any) as Cell;
  });
  return made;
}

/** Cells as clipboard JSON (outputs included, as JupyterLab copies them). */
export function cellsToJSON(cells: Cell[]): CellJSON[] {
  return cells.map((cell) => cell.toJSON() as CellJSON);
}

/** Whether ``value`` looks like cells we put on the clipboard (it may come from anywhere). */
export function parseCells(value: unknown): CellJSON[] | null {
  if (!Array.isArray(value) || !value.length) return null;
  const cells: CellJSON[] = [];
  for (const item of value) {
    if (!item || typeof item !== "object") return null;
    const type = (item as any).cell_type;
    const source = (item as any).source;
    if (type !== "code" && type !== "markdown" && type !== "raw") return null;
    if (typeof source !== "string" && !(Array.isArray(source) && source.every((s) => typeof s === "string"))) return null;
    cells.push(item as CellJSON);
  }
  return cells;
}

/** Insert copies of ``cells`` at ``index`` with fresh ids (a pasted cell is a new cell: two
 * cells with one id would confuse comments and every Jupyter tool). Returns them. */
export function insertCopies(notebook: YNotebook, index: number, cells: CellJSON[]): Cell[] {
  const copies = cells.map((cell) => {
    const { id: _id, ...rest } = cell;
    const source = Array.isArray(rest.source) ? rest.source.join("") : rest.source;
    const copy: CellJSON = { ...rest, source, metadata: { ...(rest.metadata || {}) } };
    if (copy.cell_type === "code") {
      copy.outputs = Array.isArray(copy.outputs) ? copy.outputs : [];
      copy.execution_count = copy.execution_count ?? null;
    }
    return copy;
  });
  let made: Cell[] = [];
  notebook.transact(() => {
    made = notebook.insertCells(index, copies as any) as Cell[];
  });
  return made;
}

/** Whether the cell's outputs are hidden (``metadata.jupyter.outputs_hidden``, as JupyterLab). */
export function outputsHidden(cell: Cell): boolean {
  const jupyter = cell.getMetadata("jupyter") as Record<string, unknown> | undefined;
  return !!jupyter && jupyter.outputs_hidden === true;
}

/** Hide or show the cell's outputs; JupyterLab removes the key rather than storing false. */
export function setOutputsHidden(cell: Cell, hidden: boolean): void {
  const jupyter = { ...((cell.getMetadata("jupyter") as Record<string, unknown> | undefined) || {}) };
  if (hidden) jupyter.outputs_hidden = true;
  else delete jupyter.outputs_hidden;
  if (Object.keys(jupyter).length) cell.setMetadata("jupyter", jupyter as any);
  else cell.deleteMetadata("jupyter");
}

// The cell clipboard: localStorage, so a copy in one notebook pastes in another (same site,
// any tab). The system clipboard gets the sources as text too, for pasting elsewhere.
export const CLIPBOARD_KEY = "collab:cells";

export function writeClipboard(cells: CellJSON[]): void {
  try {
    localStorage.setItem(CLIPBOARD_KEY, JSON.stringify(cells));
  } catch {
    // storage full or disabled: the in-page copy below still works for this tab
  }
  memory = cells;
  void navigator.clipboard?.writeText(cells.map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source)).join("\n\n"))
    .catch(() => undefined);
}

let memory: CellJSON[] | null = null;

export function readClipboard(): CellJSON[] | null {
  try {
    const stored = localStorage.getItem(CLIPBOARD_KEY);
    if (stored) return parseCells(JSON.parse(stored));
  } catch {
    // unreadable: fall back to this tab's copy
  }
  return memory;
}

// The notebook's keyboard outside the cell editors, as in JupyterLab: undo and redo of one's
// own changes to the notebook, and command mode (a cell selected, not being edited) with its
// one-letter commands. ``commandFor`` is pure (unit-tested in node).

export type Command =
  | "undo" | "redo" | "save" | "edit" | "previous" | "next" | "insert-above" | "insert-below"
  | "markdown" | "code" | "cut" | "copy" | "paste-below" | "paste-above" | "delete" | "outputs"
  | "run" | "run-advance";

export interface Keys {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  shiftKey?: boolean;
  altKey?: boolean;
}

/** The command a key press means outside a cell editor (``previous`` is the key pressed just
 * before, for the "D, D" pair), or null. */
export function commandFor(e: Keys, previous = ""): Command | null {
  const mod = !!(e.ctrlKey || e.metaKey);
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (mod && !e.altKey) {
    if (key === "z") return e.shiftKey ? "redo" : "undo";
    if (key === "y" && e.ctrlKey && !e.shiftKey) return "redo";
    if (key === "s") return "save";
    if (key === "Enter" && !e.shiftKey) return "run";
    return null;
  }
  if (e.altKey) return null;
  if (e.shiftKey) return key === "v" ? "paste-above" : key === "Enter" ? "run-advance" : null;
  switch (key) {
    case "Enter": return "edit";
    case "ArrowUp": case "k": return "previous";
    case "ArrowDown": case "j": return "next";
    case "a": return "insert-above";
    case "b": return "insert-below";
    case "m": return "markdown";
    case "y": return "code";
    case "x": return "cut";
    case "c": return "copy";
    case "v": return "paste-below";
    case "o": return "outputs";
    case "d": return previous === "d" ? "delete" : null;
    default: return null;
  }
}

/** Commands that change the notebook (refused on a read-only page). */
export const WRITES: ReadonlySet<Command> = new Set<Command>([
  "undo", "redo", "insert-above", "insert-below", "markdown", "code", "cut", "paste-below", "paste-above", "delete",
]);

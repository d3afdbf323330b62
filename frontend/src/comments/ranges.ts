// Commented text ranges highlighted in the cell editors. They follow edits at once (mapped
// through each change) until the server's next update of the thread places them exactly.

import { StateEffect, StateField, RangeSetBuilder } from "@codemirror/state";
import { Decoration, DecorationSet, EditorView } from "@codemirror/view";

import type { Thread } from "./panel";

const setRanges = StateEffect.define<{ from: number; to: number; id: string }[]>();
const mark = (id: string) => Decoration.mark({ class: "cm-comment-range", attributes: { "data-thread": id } });

export const commentRanges = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(ranges, tr) {
    ranges = ranges.map(tr.changes);
    for (const effect of tr.effects) {
      if (effect.is(setRanges)) {
        const builder = new RangeSetBuilder<Decoration>();
        const length = tr.state.doc.length;
        for (const r of [...effect.value].sort((a, b) => a.from - b.from)) {
          if (r.from < r.to && r.to <= length) builder.add(r.from, r.to, mark(r.id));
        }
        ranges = builder.finish();
      }
    }
    return ranges;
  },
  provide: (field) => EditorView.decorations.from(field),
});

/** Code points → UTF-16 offset in ``text`` (the server counts code points). */
export function utf16(text: string, codePoints: number): number {
  return Array.from(text).slice(0, codePoints).join("").length;
}

/** UTF-16 offset → code points. */
export function codePoints(text: string, offset: number): number {
  return Array.from(text.slice(0, offset)).length;
}

export function highlight(view: EditorView, cellId: string, threads: Thread[]): void {
  const text = view.state.doc.toString();
  const ranges = threads
    .filter((t) => t.target.type === "text" && t.target.cellId === cellId && t.anchor === "attached"
      && t.status === "open")
    .map((t) => ({ from: utf16(text, t.target.start!), to: utf16(text, t.target.end!), id: t.id }));
  view.dispatch({ effects: setRanges.of(ranges) });
}

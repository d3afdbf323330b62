// ANSI escape codes (the colours of a traceback) to DOM spans. Text is only ever text nodes
// (never innerHTML): a colour becomes a class (the 16 standard ones) or a CSSOM colour (the
// 256-colour and RGB forms, validated numbers). Every other escape sequence is dropped.

// CSI sequences (colours are "m"), OSC sequences (a terminal title: up to BEL or ST), and
// any other lone escape with the character after it.
const ESCAPE = /\x1b\[([0-9;?]*)([A-Za-z@`~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[^[\]]?/g;

interface Style {
  fg: string | null; // "ansi-red" or "rgb(…)"
  bg: string | null;
  bold: boolean;
}

const NAMES = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];

function xterm(n: number): string {
  if (n < 16) return `ansi-${n >= 8 ? "bright-" : ""}${NAMES[n % 8]}`;
  if (n < 232) {
    const v = n - 16;
    const level = (c: number) => (c ? 55 + c * 40 : 0);
    return `rgb(${level(Math.floor(v / 36))}, ${level(Math.floor(v / 6) % 6)}, ${level(v % 6)})`;
  }
  const grey = 8 + (n - 232) * 10;
  return `rgb(${grey}, ${grey}, ${grey})`;
}

const byte = (v: number | undefined) => Math.max(0, Math.min(255, v ?? 0));

/** Apply one SGR sequence's parameters to ``style``. */
function apply(style: Style, params: number[]): void {
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    if (p === 0) { style.fg = null; style.bg = null; style.bold = false; }
    else if (p === 1) style.bold = true;
    else if (p === 22) style.bold = false;
    else if (p >= 30 && p <= 37) style.fg = `ansi-${NAMES[p - 30]}`;
    else if (p >= 90 && p <= 97) style.fg = `ansi-bright-${NAMES[p - 90]}`;
    else if (p === 39) style.fg = null;
    else if (p >= 40 && p <= 47) style.bg = `ansi-${NAMES[p - 40]}`;
    else if (p >= 100 && p <= 107) style.bg = `ansi-bright-${NAMES[p - 100]}`;
    else if (p === 49) style.bg = null;
    else if (p === 38 || p === 48) {
      let colour: string | null = null;
      if (params[i + 1] === 5) { colour = xterm(byte(params[i + 2])); i += 2; }
      else if (params[i + 1] === 2) {
        colour = `rgb(${byte(params[i + 2])}, ${byte(params[i + 3])}, ${byte(params[i + 4])})`;
        i += 4;
      }
      if (p === 38) style.fg = colour; else style.bg = colour;
    }
  }
}

/** A segment of text and the style it is drawn in (pure: unit-testable). */
export interface Segment { text: string; fg: string | null; bg: string | null; bold: boolean }

export function parseAnsi(input: string): Segment[] {
  const out: Segment[] = [];
  const style: Style = { fg: null, bg: null, bold: false };
  let last = 0;
  const push = (text: string) => { if (text) out.push({ text, ...style }); };
  for (const match of input.matchAll(ESCAPE)) {
    push(input.slice(last, match.index));
    last = (match.index ?? 0) + match[0].length;
    if (match[2] === "m") apply(style, (match[1] || "0").split(";").map((s) => (s === "" ? 0 : Number(s))));
  }
  push(input.slice(last));
  return out;
}

/** ``input`` as text nodes and coloured spans, appended to ``parent``. */
export function appendAnsi(parent: HTMLElement, input: string): HTMLElement {
  for (const seg of parseAnsi(input)) {
    if (!seg.fg && !seg.bg && !seg.bold) { parent.append(seg.text); continue; }
    const span = document.createElement("span");
    span.textContent = seg.text;
    if (seg.bold) span.classList.add("ansi-bold");
    for (const [value, kind] of [[seg.fg, "fg"], [seg.bg, "bg"]] as const) {
      if (!value) continue;
      if (value.startsWith("ansi-")) span.classList.add(`${value}-${kind}`);
      else if (kind === "fg") span.style.color = value; else span.style.backgroundColor = value;
    }
    parent.append(span);
  }
  return parent;
}

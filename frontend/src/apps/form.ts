// An app's parameters form, from its JSON Schema: one field per parameter (numbers, text,
// choices for enums, dates, checkboxes; lists and objects as JSON), values from the address
// (so a run is a bookmark) or the defaults, and back: the form's values as parameters and as
// a query string. What a field shows is what runs: a field with a default that is left empty
// is refused with a message beside it (running with the hidden default would surprise), and
// only a field that starts empty (the notebook works the value out) may stay empty.

import { el } from "../ui/dom";

export type Schema = { type?: string | string[]; properties?: Record<string, Prop>; [key: string]: unknown };
export type Prop = {
  type?: string | string[]; title?: string; description?: string; default?: unknown; enum?: unknown[];
  format?: string; minimum?: number; maximum?: number;
};

export type Kind = "integer" | "number" | "boolean" | "date" | "choice" | "json" | "text";

export function kindOf(prop: Prop): Kind {
  const type = Array.isArray(prop.type) ? prop.type.find((t) => t !== "null") : prop.type;
  if (Array.isArray(prop.enum) && prop.enum.length) return "choice";
  if (type === "integer" || type === "number" || type === "boolean") return type;
  if (type === "string" && prop.format === "date") return "date";
  if (type === "string") return "text";
  return "json";
}

/** A parameter's value from its text in the address (``undefined`` if it does not parse). */
export function parseValue(prop: Prop, text: string): unknown {
  const kind = kindOf(prop);
  if (kind === "integer") return /^-?\d+$/.test(text.trim()) ? Number(text) : undefined;
  if (kind === "number") return text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : undefined;
  if (kind === "boolean") return ["1", "true", "yes", "on"].includes(text.toLowerCase());
  if (kind === "choice") return prop.enum!.find((v) => formatValue(v) === text);
  if (kind === "json") {
    try { return JSON.parse(text); } catch { return undefined; }
  }
  return text;
}

/** A value as it goes into the address and into text fields. */
export function formatValue(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** What to type into a field of this kind, said when it is empty or does not parse. */
function askFor(kind: Kind): string {
  if (kind === "integer") return "Enter a whole number";
  if (kind === "number") return "Enter a number";
  if (kind === "date") return "Enter a date";
  return "Enter a value as JSON (for example [1, 2] or {\"a\": 1})";
}

export interface ParameterForm {
  element: HTMLElement;
  /** The parameters to send: fields left at the notebook's default are left out. A field
   * that is wrong is marked (its message beside it) and the first one is focused; ``problem``
   * then names it. */
  values(): { parameters: Record<string, unknown>; problem?: string };
  /** Fill the fields (missing names go back to their defaults). */
  fill(values: Record<string, unknown>): void;
}

export function buildForm(schema: Schema): ParameterForm {
  const props = schema.properties || {};
  const readers = new Map<string, () => { value?: unknown; problem?: string }>();
  const marks = new Map<string, (problem: string) => void>();
  const inputs = new Map<string, HTMLElement>();
  const writers = new Map<string, (value: unknown) => void>();
  const fields: HTMLElement[] = [];
  for (const [name, prop] of Object.entries(props)) {
    const id = `param-${name}`;
    const kind = kindOf(prop);
    const label = prop.title && prop.title !== name ? `${prop.title} (${name})` : name;
    const help = prop.description ? el("span", { class: "help muted", id: `${id}-help` }, prop.description) : null;
    const error = el("span", { class: "field-error", id: `${id}-error`, "data-testid": `${id}-error`, hidden: "" });
    const describedBy = help ? help.id : "";
    const common: Record<string, string> = { id, name, "data-testid": id };
    if (describedBy) common["aria-describedby"] = describedBy;
    // Required-looking: it starts with a value (the notebook's default), so empty is a mistake.
    const required = prop.default !== undefined && prop.default !== null && kind !== "text" && kind !== "boolean" && kind !== "choice";
    if (required) common["aria-required"] = "true";
    let input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
    if (kind === "choice") {
      input = el("select", common, ...prop.enum!.map((v) => el("option", { value: formatValue(v) }, formatValue(v))));
    } else if (kind === "boolean") {
      input = el("input", { ...common, type: "checkbox" });
    } else if (kind === "json") {
      input = el("textarea", { ...common, rows: "2", spellcheck: "false", placeholder: "JSON" });
    } else {
      const type = kind === "date" ? "date" : kind === "text" ? "text" : "number";
      const attrs: Record<string, string> = { ...common, type };
      if (kind === "integer") attrs.step = "1";
      if (kind === "number") attrs.step = "any";
      if (prop.minimum !== undefined) attrs.min = String(prop.minimum);
      if (prop.maximum !== undefined) attrs.max = String(prop.maximum);
      input = el("input", attrs);
    }
    if (!required && kind !== "boolean" && kind !== "choice" && kind !== "text") {
      input.setAttribute("placeholder", "Worked out by the app if left empty");
    }
    const mark = (problem: string): void => {
      error.textContent = problem;
      error.hidden = !problem;
      if (problem) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", [error.id, describedBy].filter(Boolean).join(" "));
      } else {
        input.removeAttribute("aria-invalid");
        if (describedBy) input.setAttribute("aria-describedby", describedBy);
        else input.removeAttribute("aria-describedby");
      }
    };
    marks.set(name, mark);
    inputs.set(name, input);
    // A corrected field stops saying it is wrong as soon as it changes.
    input.addEventListener("input", () => mark(""));
    input.addEventListener("change", () => mark(""));
    const write = (value: unknown): void => {
      if (input instanceof HTMLInputElement && input.type === "checkbox") input.checked = value === true;
      else input.value = value === undefined ? "" : formatValue(value);
    };
    writers.set(name, (value) => { write(value); mark(""); });
    readers.set(name, () => {
      if (input instanceof HTMLInputElement && input.type === "checkbox") return { value: input.checked };
      if (input.value.trim() === "" && kind !== "text") return required ? { problem: askFor(kind) } : {};
      const value = parseValue(prop, input.value);
      if (value === undefined) return { problem: askFor(kind) };
      return { value };
    });
    write(prop.default);
    const row = kind === "boolean"
      ? el("div", { class: "field check" }, input, el("label", { for: id }, label), error, ...(help ? [help] : []))
      : el("div", { class: "field" }, el("label", { for: id }, label), input, error, ...(help ? [help] : []));
    fields.push(row);
  }
  const element = el("div", { class: "fields" }, ...fields);
  if (!fields.length) element.append(el("p", { class: "muted" }, "This app takes no parameters."));
  return {
    element,
    values() {
      const parameters: Record<string, unknown> = {};
      let first: string | null = null;
      let said = "";
      for (const [name, read] of readers) {
        const { value, problem } = read();
        marks.get(name)!(problem || "");
        if (problem) {
          if (first === null) { first = name; said = problem; }
          continue;
        }
        if (value === undefined) continue;
        if (JSON.stringify(value) === JSON.stringify(props[name].default)) continue;
        parameters[name] = value;
      }
      if (first !== null) {
        inputs.get(first)!.focus();
        return { parameters, problem: `Check "${first}": ${said}.` };
      }
      return { parameters };
    },
    fill(values) {
      for (const [name, write] of writers) write(name in values ? values[name] : props[name].default);
    },
  };
}

/** Parameters given in a query string (names the app does not take are ignored). */
export function fromQuery(schema: Schema, query: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, prop] of Object.entries(schema.properties || {})) {
    const text = query.get(name);
    if (text === null) continue;
    const value = parseValue(prop, text);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

export function toQuery(parameters: Record<string, unknown>, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) query.set(name, formatValue(value));
  for (const [name, value] of Object.entries(extra)) query.set(name, value);
  const text = query.toString();
  return text ? `?${text}` : "";
}

/** Parameters in words, for a schedule or a run: "n = 5, name = moon" ("The defaults" for none). */
export function parametersText(parameters: Record<string, unknown>): string {
  const parts = Object.entries(parameters).map(([name, value]) => `${name} = ${formatValue(value)}`);
  return parts.length ? parts.join(", ") : "The defaults";
}

/** Parameters in brief, for a list of runs: "n=5, name=moon", long values and long lists cut
 * with "…" ("default values" for none). */
export function parametersBrief(parameters: Record<string, unknown>, max = 60): string {
  const cut = (text: string, at: number): string => (text.length > at ? `${text.slice(0, at - 1)}…` : text);
  const parts = Object.entries(parameters).map(([name, value]) => `${name}=${cut(formatValue(value).replace(/\s+/g, " "), 24)}`);
  return parts.length ? cut(parts.join(", "), max) : "default values";
}

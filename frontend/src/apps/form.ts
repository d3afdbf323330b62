// An app's parameters form, from its JSON Schema: one field per parameter (numbers, text,
// choices for enums, dates, checkboxes; lists and objects as JSON), values from the address
// (so a run is a bookmark) or the defaults, and back: the form's values as parameters and as
// a query string.

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

export interface ParameterForm {
  element: HTMLElement;
  /** The parameters to send: fields left at the notebook's default are left out. */
  values(): { parameters: Record<string, unknown>; problem?: string };
  /** Fill the fields (missing names go back to their defaults). */
  fill(values: Record<string, unknown>): void;
}

export function buildForm(schema: Schema): ParameterForm {
  const props = schema.properties || {};
  const readers = new Map<string, () => { value?: unknown; problem?: string }>();
  const writers = new Map<string, (value: unknown) => void>();
  const fields: HTMLElement[] = [];
  for (const [name, prop] of Object.entries(props)) {
    const id = `param-${name}`;
    const kind = kindOf(prop);
    const label = prop.title && prop.title !== name ? `${prop.title} (${name})` : name;
    const help = prop.description ? el("span", { class: "help muted", id: `${id}-help` }, prop.description) : null;
    const common: Record<string, string> = { id, name, "data-testid": id };
    if (help) common["aria-describedby"] = help.id;
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
    const write = (value: unknown): void => {
      if (input instanceof HTMLInputElement && input.type === "checkbox") input.checked = value === true;
      else input.value = value === undefined ? "" : formatValue(value);
    };
    writers.set(name, write);
    readers.set(name, () => {
      if (input instanceof HTMLInputElement && input.type === "checkbox") return { value: input.checked };
      if (input.value === "" && kind !== "text") return {};
      const value = parseValue(prop, input.value);
      if (value === undefined) return { problem: `"${name}" is not a valid ${kind === "json" ? "JSON value" : kind}` };
      return { value };
    });
    write(prop.default);
    const row = kind === "boolean"
      ? el("div", { class: "field check" }, input, el("label", { for: id }, label), ...(help ? [help] : []))
      : el("div", { class: "field" }, el("label", { for: id }, label), input, ...(help ? [help] : []));
    fields.push(row);
  }
  const element = el("div", { class: "fields" }, ...fields);
  if (!fields.length) element.append(el("p", { class: "muted" }, "This app takes no parameters."));
  return {
    element,
    values() {
      const parameters: Record<string, unknown> = {};
      for (const [name, read] of readers) {
        const { value, problem } = read();
        if (problem) return { parameters, problem };
        if (value === undefined) continue;
        if (JSON.stringify(value) === JSON.stringify(props[name].default)) continue;
        parameters[name] = value;
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

/** How the page writes a moment and a day: one format on every page ("Nov 23, 2026, 9:22 AM",
 * and "Nov 23, 2026" for a day), in the reader's language and time zone. The API sends
 * ISO-8601 UTC strings; tokens' times come as seconds since the epoch. */

function dateOf(value: string | number): Date {
  return typeof value === "number" ? new Date(value * 1000) : new Date(value);
}

/** A moment, or ``none`` when there is none; a value that is no date is shown as it is. */
export function when(value: string | number | null | undefined, none = ""): string {
  if (value === null || value === undefined || value === "") return none;
  const date = dateOf(value);
  return Number.isNaN(date.getTime()) ? String(value)
    : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** A day (no time of day), or "" when there is none or it is no date. */
export function day(value: string | null | undefined): string {
  if (!value) return "";
  const date = dateOf(value);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleDateString(undefined, { dateStyle: "medium" });
}

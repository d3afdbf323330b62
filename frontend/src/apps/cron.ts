// Schedules in words (no DOM): a cron expression said as a person would ("Every day at 07:00
// UTC"), the Schedule dialog's frequency choice turned into cron, and times shown in UTC. The
// server runs schedules in UTC, so every time here is UTC and says so. An expression with no
// plain wording (ranges, lists, steps, seconds) is shown as its cron text.

export const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

export type Every = "hour" | "day" | "week" | "custom";

/** The Schedule dialog's fields, as typed: ``time`` is "HH:MM", ``day`` 0 (Sunday) … 6. */
export interface Choice { every: Every; minute: string; time: string; day: string; cron: string }

function number(field: string, low: number, high: number): number | null {
  if (!/^\d{1,2}$/.test(field)) return null;
  const value = Number(field);
  return value >= low && value <= high ? value : null;
}

function weekday(field: string): number | null {
  const named = DAY_NAMES.indexOf(field.toLowerCase());
  if (named >= 0) return named;
  const value = number(field, 0, 7);
  return value === null ? null : value % 7;  // 7 is Sunday too
}

const two = (n: number): string => String(n).padStart(2, "0");

function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : ["th", "st", "nd", "rd"][n % 10] || "th";
  return `${n}${suffix}`;
}

/** ``cron`` in words, or null when it has no plain wording. */
export function cronWords(cron: string): string | null {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5) return null;
  const [m, h, dom, mon, dow] = fields;
  if (mon !== "*") return null;
  const minute = number(m, 0, 59);
  const hour = number(h, 0, 23);
  if (fields.every((f) => f === "*")) return "Every minute";
  const step = /^\*\/(\d+)$/.exec(m);
  if (step && h === "*" && dom === "*" && dow === "*") {
    const n = Number(step[1]);
    if (n >= 1 && n <= 59) return n === 1 ? "Every minute" : `Every ${n} minutes`;
  }
  if (minute === null) return null;
  if (h === "*" && dom === "*" && dow === "*") return `Every hour at minute ${minute}`;
  if (hour === null) return null;
  const at = `at ${two(hour)}:${two(minute)} UTC`;
  if (dom === "*" && dow === "*") return `Every day ${at}`;
  if (dom === "*" && /^(1-5|mon-fri)$/i.test(dow)) return `Every weekday (Monday to Friday) ${at}`;
  if (dom === "*" && /^(0,6|6,0|sat,sun|sun,sat)$/i.test(dow)) return `Every Saturday and Sunday ${at}`;
  if (dom === "*") {
    const day = weekday(dow);
    return day === null ? null : `Every ${DAYS[day]} ${at}`;
  }
  const date = number(dom, 1, 31);
  if (date !== null && dow === "*") return `Every month on the ${ordinal(date)} ${at}`;
  return null;
}

/** ``cron`` in words, else its cron text (said to be cron, in UTC). */
export function describeCron(cron: string): string {
  return cronWords(cron) ?? `Cron "${cron.trim()}" (UTC)`;
}

/** The cron expression for the dialog's choice, or the problem with what was typed. */
export function choiceCron(choice: Choice): { cron: string } | { problem: string } {
  if (choice.every === "custom") {
    const cron = choice.cron.trim().split(/\s+/).join(" ");
    if (!cron) return { problem: "Type a cron expression, such as 0 6 * * 1-5." };
    return { cron };
  }
  if (choice.every === "hour") {
    const minute = number(choice.minute.trim(), 0, 59);
    return minute === null ? { problem: "The minute must be a whole number from 0 to 59." }
      : { cron: `${minute} * * * *` };
  }
  const time = /^(\d{1,2}):(\d{2})(?::\d{2})?$/.exec(choice.time.trim());
  const hour = time ? number(time[1], 0, 23) : null;
  const minute = time ? number(time[2], 0, 59) : null;
  if (hour === null || minute === null) return { problem: "Give the time as HH:MM (UTC), such as 07:30." };
  if (choice.every === "day") return { cron: `${minute} ${hour} * * *` };
  const day = number(choice.day, 0, 6);
  if (day === null) return { problem: "Choose a day of the week." };
  return { cron: `${minute} ${hour} * * ${day}` };
}

/** An ISO-8601 time as "2026-11-24 07:00 UTC" ("" for none or nonsense). */
export function utcText(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const seconds = date.getUTCSeconds() ? `:${two(date.getUTCSeconds())}` : "";
  return `${date.getUTCFullYear()}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())} `
    + `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}${seconds} UTC`;
}

// The app page's schedules (for people who may run the app): their schedules of this app in
// words (cron.ts), with the parameters, the next and last run, active or stopped and why,
// Delete (asked first); and the Schedule dialog, which takes the parameters in the form (checked
// by the form, as Run does) and a frequency: every hour, day or week at a time, or a cron
// expression, all in UTC. The server checks everything again; its refusals are shown in words.
// Whatever came from the notebook or the parameters is set as text, never as HTML.

import { api, ApiError } from "../net/api";
import { segment } from "../net/paths";
import { confirmAction } from "../ui/dialog";
import { el } from "../ui/dom";
import { icon } from "../ui/icons";
import { choiceCron, DAYS, describeCron, utcText, type Every } from "./cron";
import { parametersText } from "./form";

export interface Schedule {
  id: string; app: string; user: string; cron: string; parameters: Record<string, unknown>;
  created: string; active: boolean; stopped: string | null; last_fired: string | null; next: string | null;
}

/** A refusal of the server in words (its own message for a parameter or cron at fault). */
export function scheduleProblem(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 403) return "You may not run this app, so you cannot schedule it.";
    if (e.status === 429) return `Too many requests just now: wait a moment and try again. (${e.message})`;
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

export interface ScheduleSection {
  element: HTMLElement;
  load(): Promise<void>;
  /** Open the Schedule dialog for these (already checked) parameters. */
  open(parameters: Record<string, unknown>): void;
}

export function scheduleSection(appUrl: string): ScheduleSection {
  const url = `${appUrl}/schedules`;
  const list = el("ul", { class: "schedules", "aria-labelledby": "schedules-title", "data-testid": "schedules" });
  const notice = el("p", { class: "muted", role: "status", "data-testid": "schedules-status" });
  const error = el("p", { class: "error", role: "alert", "data-testid": "schedules-error" });
  const element = el("section", { class: "app-schedules", "aria-labelledby": "schedules-title" },
    el("h2", { id: "schedules-title" }, "Schedules"), list, notice, error);

  function item(schedule: Schedule): HTMLElement {
    const words = describeCron(schedule.cron);
    const remove = el("button", { class: "button quiet small danger", type: "button",
      "aria-label": `Delete the schedule: ${words}`, "data-testid": "delete-schedule" }, icon("trash"), "Delete");
    remove.addEventListener("click", async () => {
      if (!await confirmAction(`Delete the schedule "${words}"? It will not run again.`, "Delete")) return;
      error.textContent = "";
      try {
        await api("DELETE", `api/collab/schedules/${segment(schedule.id)}`);
        notice.textContent = `Deleted the schedule "${words}".`;
        await load();
      } catch (e) {
        error.textContent = scheduleProblem(e);
      }
    });
    const row = (term: string, value: string, testId: string): HTMLElement[] =>
      [el("dt", {}, term), el("dd", { "data-testid": testId }, value)];
    const state = schedule.active ? "Active" : `Stopped: ${schedule.stopped || "no reason given"}`;
    return el("li", { class: schedule.active ? "schedule" : "schedule stopped", "data-schedule": schedule.id },
      el("p", { class: "schedule-when", "data-testid": "schedule-when", title: `cron: ${schedule.cron}` }, words),
      el("dl", {},
        ...row("Parameters", parametersText(schedule.parameters), "schedule-parameters"),
        ...row("Next run", schedule.active ? utcText(schedule.next) || "—" : "None: it is stopped", "schedule-next"),
        ...row("Last run", utcText(schedule.last_fired) || "Not yet", "schedule-last"),
        ...row("Status", state, "schedule-state")),
      remove);
  }

  async function load(): Promise<void> {
    try {
      const { schedules } = await api<{ schedules: Schedule[] }>("GET", url);
      list.replaceChildren(...schedules.map(item));
      if (!schedules.length) list.append(el("li", { class: "muted" }, "None. Schedule… runs this app by itself at set times."));
    } catch (e) {
      error.textContent = scheduleProblem(e);
    }
  }

  function open(parameters: Record<string, unknown>): void {
    const dialog = el("dialog", { class: "dialog schedule-dialog", "aria-labelledby": "schedule-title",
      "data-testid": "schedule-dialog" }) as HTMLDialogElement;
    const every = el("select", { id: "schedule-every", "data-testid": "schedule-every" },
      el("option", { value: "hour" }, "Every hour"), el("option", { value: "day" }, "Every day"),
      el("option", { value: "week" }, "Every week"), el("option", { value: "custom" }, "Custom (cron)")) as HTMLSelectElement;
    every.value = "day";
    const minute = el("input", { id: "schedule-minute", type: "number", min: "0", max: "59", step: "1", value: "0",
      "data-testid": "schedule-minute" }) as HTMLInputElement;
    const day = el("select", { id: "schedule-day", "data-testid": "schedule-day" },
      ...DAYS.map((name, i) => el("option", { value: String(i) }, name))) as HTMLSelectElement;
    day.value = "1";
    const time = el("input", { id: "schedule-time", type: "time", value: "07:00", "data-testid": "schedule-time" }) as HTMLInputElement;
    const cron = el("input", { id: "schedule-cron", autocomplete: "off", spellcheck: "false", placeholder: "0 6 * * 1-5",
      "aria-describedby": "schedule-cron-help", "data-testid": "schedule-cron" }) as HTMLInputElement;
    const field = (label: string, input: HTMLElement): HTMLElement => el("label", { for: input.id }, label, input);
    const minuteField = field("At minute (0–59) past each hour", minute);
    const dayField = field("Day of the week", day);
    const timeField = field("At (time in UTC)", time);
    const cronField = el("div", { class: "field" }, field("Cron expression (UTC)", cron),
      el("span", { class: "help muted", id: "schedule-cron-help" },
        "Five fields: minute hour day-of-month month weekday. For example 0 6 * * 1-5 is 06:00 UTC on weekdays."));
    const preview = el("p", { class: "schedule-preview", "aria-live": "polite", "data-testid": "schedule-preview" });
    const problem = el("p", { class: "error", role: "alert", "data-testid": "schedule-error" });
    const cancel = el("button", { class: "button quiet small", type: "button" }, "Cancel");
    const submit = el("button", { class: "button small", type: "submit", "data-testid": "schedule-submit" }, "Schedule");
    const form = el("form", { class: "schedule-form" },
      el("h2", { id: "schedule-title" }, "Schedule this app"),
      el("p", { class: "muted" }, "It runs by itself, as you, at the times you choose. Times are in UTC."),
      el("p", {}, el("strong", {}, "Parameters: "), el("span", { "data-testid": "schedule-dialog-parameters" }, parametersText(parameters))),
      field("How often", every), minuteField, dayField, timeField, cronField, preview, problem,
      el("div", { class: "row end" }, cancel, submit));
    dialog.append(form);

    const choice = () => ({ every: every.value as Every, minute: minute.value, time: time.value, day: day.value, cron: cron.value });
    const update = (): void => {
      const kind = every.value;
      minuteField.hidden = kind !== "hour";
      dayField.hidden = kind !== "week";
      timeField.hidden = kind !== "day" && kind !== "week";
      cronField.hidden = kind !== "custom";
      const chosen = choiceCron(choice());
      preview.textContent = "cron" in chosen ? `Runs: ${describeCron(chosen.cron)}` : "";
    };
    for (const input of [every, minute, day, time, cron]) {
      // A new choice: the refusal of the previous one no longer applies.
      const edited = (): void => { problem.textContent = ""; update(); };
      input.addEventListener("input", edited);
      input.addEventListener("change", edited);
    }
    update();
    cancel.addEventListener("click", () => dialog.close());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      problem.textContent = "";
      const chosen = choiceCron(choice());
      if ("problem" in chosen) { problem.textContent = chosen.problem; return; }
      submit.disabled = true;
      try {
        const made = await api<Schedule>("POST", url, { cron: chosen.cron, parameters });
        dialog.close();
        error.textContent = "";
        notice.textContent = `Scheduled: ${describeCron(made.cron)}. Next run ${utcText(made.next)}.`;
        await load();
      } catch (e) {
        problem.textContent = scheduleProblem(e);
      } finally {
        submit.disabled = false;
      }
    });
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
    every.focus();
  }

  return { element, load, open };
}

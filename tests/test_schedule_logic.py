"""Pure logic of the app page's schedules, run in node (bundled from frontend/src/apps by
esbuild): cron expressions in words (else their cron text), the Schedule dialog's frequency
choice as cron, times in UTC, and parameters in words."""

from __future__ import annotations

from pathlib import Path

from support.frontend import needs_node, run_in_node

pytestmark = needs_node

CHECKS = """
import { choiceCron, cronWords, describeCron, utcText } from "SRC/apps/cron";
import { parametersText } from "SRC/apps/form";
const crons = ["0 7 * * *", "30 7 * * 1", "5 * * * *", "0 18 * * 1-5", "15 9 * * SUN", "0 0 * * 7",
  "0 6 1 * *", "0 6 22 * *", "* * * * *", "*/15 * * * *", "0 */2 * * *", "0 6 * 1 *",
  "0 6 1-7 * 1", "* * * * * */10", "61 7 * * *", "0 7 * * 8", "0   7 * * *", "0 6 * * 0,6"];
const choice = (every, extra = {}) =>
  ({ every, minute: "0", time: "07:00", day: "1", cron: "", ...extra });
console.log(JSON.stringify({
  words: Object.fromEntries(crons.map((c) => [c, cronWords(c)])),
  described: [describeCron("0 7 * * *"), describeCron(" 0 6 1-7 * 1 ")],
  choices: [
    choiceCron(choice("hour", { minute: "5" })), choiceCron(choice("hour", { minute: "60" })),
    choiceCron(choice("hour", { minute: "" })), choiceCron(choice("day", { time: "07:30" })),
    choiceCron(choice("day", { time: "7:05:00" })), choiceCron(choice("day", { time: "25:00" })),
    choiceCron(choice("day", { time: "" })),
    choiceCron(choice("week", { day: "0", time: "23:59" })),
    choiceCron(choice("week", { day: "" })),
    choiceCron(choice("custom", { cron: "  0  6 * * 1-5 " })),
    choiceCron(choice("custom", { cron: " " })),
  ],
  times: [utcText("2026-11-24T07:00:00.000Z"), utcText("2030-01-02T03:04:05Z"),
    utcText("2026-11-24T08:00:00+01:00"), utcText(null), utcText("soon")],
  parameters: [parametersText({ n: 5, name: "<b>moon</b>", flags: [1, 2] }), parametersText({})],
}));
"""


def test_schedules_in_words_and_the_dialogs_choice_as_cron(tmp_path: Path) -> None:
    result = run_in_node(CHECKS, tmp_path)
    assert result["words"] == {
        "0 7 * * *": "Every day at 07:00 UTC",
        "30 7 * * 1": "Every Monday at 07:30 UTC",
        "5 * * * *": "Every hour at minute 5",
        "0 18 * * 1-5": "Every weekday (Monday to Friday) at 18:00 UTC",
        "15 9 * * SUN": "Every Sunday at 09:15 UTC",
        "0 0 * * 7": "Every Sunday at 00:00 UTC",
        "0 6 1 * *": "Every month on the 1st at 06:00 UTC",
        "0 6 22 * *": "Every month on the 22nd at 06:00 UTC",
        "* * * * *": "Every minute",
        "*/15 * * * *": "Every 15 minutes",
        # No plain wording: shown as cron text.
        "0 */2 * * *": None,
        "0 6 * 1 *": None,
        "0 6 1-7 * 1": None,
        "* * * * * */10": None,
        "61 7 * * *": None,
        "0 7 * * 8": None,
        "0   7 * * *": "Every day at 07:00 UTC",
        "0 6 * * 0,6": "Every Saturday and Sunday at 06:00 UTC",
    }
    assert result["described"] == ["Every day at 07:00 UTC", 'Cron "0 6 1-7 * 1" (UTC)']
    assert result["choices"] == [
        {"cron": "5 * * * *"},
        {"problem": "The minute must be a whole number from 0 to 59."},
        {"problem": "The minute must be a whole number from 0 to 59."},
        {"cron": "30 7 * * *"},
        {"cron": "5 7 * * *"},
        {"problem": "Give the time as HH:MM (UTC), such as 07:30."},
        {"problem": "Give the time as HH:MM (UTC), such as 07:30."},
        {"cron": "59 23 * * 0"},
        {"problem": "Choose a day of the week."},
        {"cron": "0 6 * * 1-5"},
        {"problem": "Type a cron expression, such as 0 6 * * 1-5."},
    ]
    assert result["times"] == [
        "2026-11-24 07:00 UTC", "2030-01-02 03:04:05 UTC", "2026-11-24 07:00 UTC", "", ""
    ]  # fmt: skip
    assert result["parameters"] == ["n = 5, name = <b>moon</b>, flags = [1,2]", "The defaults"]

"""An accessibility check of a page with axe-core (``frontend``'s dev dependency).

The pages' Content-Security-Policy allows only our own scripts, so axe cannot be added as an
inline ``<script>`` (``page.add_script_tag(path=…)`` inlines it, and the policy blocks that).
It is evaluated through the DevTools protocol instead (``Runtime.evaluate``), which the page's
policy does not govern; nothing about the page is changed to make room for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"

# What axe checks: WCAG 2.1 A and AA, and its best practices (landmarks, one h1, …).
RUN = """async () => {
  const result = await axe.run(document, {
    resultTypes: ["violations"],
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
    iframes: false,
  });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 6).map((n) =>
      n.target.join(" ") + " :: " + (n.failureSummary || "").split("\\n").slice(1, 2).join("")),
  }));
}"""


async def axe_violations(page: Any) -> list[dict[str, Any]]:
    """The page's axe violations (each with ``id``, ``impact``, ``help`` and a few nodes)."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        session = await page.context.new_cdp_session(page)
        result = await session.send(
            "Runtime.evaluate", {"expression": AXE.read_text(), "returnByValue": False}
        )
        assert "exceptionDetails" not in result, result
        await session.detach()
    return list(await page.evaluate(RUN))


def describe(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"[{v['impact']}] {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"])
        for v in violations
    )

"""Who may run an app as a whole audience: the choice, checked, and what grants mean; pure.

An app (``apps:{id}``) is run by whoever holds role ``runner`` on it (DESIGN section 12).
Besides people granted one by one, its publishers may open it to every signed-in person
(``signed-in``) — never to ``everyone``: an app runs code on this server, so only people who
signed in may run it. ``restricted`` means only the people (and groups) granted one by one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..auth.provider import AUDIENCES, EVERYONE, SIGNED_IN
from ..core.errors import Unprocessable

RESTRICTED = "restricted"
RUNNER = "runner"
CHOICES = (RESTRICTED, SIGNED_IN)


def check_run_audience(value: Any) -> str:
    """``value`` as a run audience a publisher may choose, or a 422 saying why not."""
    if value == EVERYONE:
        raise Unprocessable(
            "An app runs code on this server, so only signed-in people may run it: "
            'choose "signed-in" or "restricted", not "everyone"'
        )
    if value not in CHOICES:
        raise Unprocessable('"audience" must be "restricted" or "signed-in"')
    return str(value)


def run_audience(grants: Iterable[dict[str, Any]]) -> str:
    """The widest audience that may run the app, from the grants on ``apps:{id}``
    (``everyone`` only when an administrator granted it; a grant that only lets an audience
    see the app is no run audience). A grant without a role is taken as the provider's
    ``runner``: a provider that does not tell roles grants running."""
    runners = {g.get("principal") for g in grants if g.get("role", RUNNER) == RUNNER}
    return next((a for a in reversed(AUDIENCES) if a in runners), RESTRICTED)


def audiences_to_remove(grants: Iterable[dict[str, Any]], wanted: str) -> list[str]:
    """The audiences whose grant to run must go for ``wanted`` to be the run audience (a
    wider one would stay in force; ``restricted`` leaves none)."""
    return [
        principal
        for g in grants
        if (principal := str(g.get("principal"))) in AUDIENCES
        and principal != wanted
        and g.get("role", RUNNER) == RUNNER
    ]

"""Which of the server's environment variables a kernel inherits.

A kernel runs whatever code anyone with ``execute`` in the notebook types, and its
environment is readable by that code (``os.environ``). The server's own environment often
holds its secrets — ``COLLAB_SERVER_TOKEN`` is the whole server's key with the single-token
provider, ``COLLAB_JWT_SECRET`` signs everyone's identity, a deployment adds cloud keys and
database passwords — so a kernel starts from the server's environment *without* every
variable whose name matches a drop pattern (names that look like secrets, and the server's
own ``COLLAB_*`` configuration), except the names an operator keeps. What the provider's
``kernel_env`` supplies is added afterwards by the caller, so it always arrives.

Patterns are shell-style (``fnmatch``) and matched case-insensitively against the name.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase

#: Names (patterns) of server environment variables a kernel does not inherit by default.
DEFAULT_DROP: tuple[str, ...] = (
    "*TOKEN*",
    "*SECRET*",
    "*PASSWORD*",
    "*PASSWD*",
    "*KEY*",
    "*CREDENTIAL*",
    # The server's own configuration (its token, its JWT secret, …).
    "COLLAB_*",
)


def _matches(name: str, patterns: Iterable[str]) -> bool:
    upper = name.upper()
    return any(fnmatchcase(upper, pattern.upper()) for pattern in patterns)


def inherited_environment(
    environ: Mapping[str, str], drop: Iterable[str] = DEFAULT_DROP, keep: Iterable[str] = ()
) -> dict[str, str]:
    """``environ`` without the variables whose names match ``drop``, unless they match
    ``keep``."""
    drop, keep = tuple(drop), tuple(keep)
    return {
        name: value
        for name, value in environ.items()
        if not _matches(name, drop) or _matches(name, keep)
    }

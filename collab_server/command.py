"""The ``collab-server`` command's entry point: what runs before the server is imported.

Sub-commands (``create-user``, ``reset-password``, …) are answered without importing
jupyter_server, kernels or apps: an administrator's command (and every account a test makes)
should not wait seconds for a server it never starts.

Starting the server imports jupyter_server, whose event logger imports jsonschema, whose
format checker imports ``rfc3987_syntax`` when it is installed (``jsonschema[format-nongpl]``,
required by jupyter_events). That module compiles an Earley grammar at import: measured at 1.3
to 1.7 s on 2 cores, more than the rest of the server's imports together. It only checks the
``iri`` and ``iri-reference`` string formats, which no schema the server validates uses, so the
command marks it as absent before jupyter_server is imported. Only this command does: loaded
as an extension of someone else's Jupyter server, collab_server changes nothing of theirs.
"""

from __future__ import annotations

import sys

from .auth.cli import SUBCOMMANDS, print_help

# Imports jsonschema may try and go on without (an ImportError it suppresses).
SKIPPED_IMPORTS = ("rfc3987_syntax",)


def main(argv: list[str] | None = None) -> None:
    """``collab-server [SUB-COMMAND] …``: a sub-command, else the server."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in SUBCOMMANDS:
        raise SystemExit(SUBCOMMANDS[args[0]](args[1:]))
    if args and args[0] in ("-h", "--help", "help"):
        print_help()
        if args[0] == "help":
            return  # "--help" goes on to the server's options
    for name in SKIPPED_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "not installed"
    from .app import serve

    serve(argv)

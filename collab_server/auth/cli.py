"""``collab-server create-user``: add or update a local account without a running server.

    collab-server create-user NAME [--admin] [--execute] [--group G]... [--display-name TEXT]
                                   [--password-stdin] [--data-dir DIR]

The password is asked for twice on a terminal, or read from standard input with
``--password-stdin`` (for scripts: ``echo "$PW" | collab-server create-user ann
--password-stdin``). It never appears on the command line, where other users of the machine
could read it in the process list.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir

from .accounts import AccountError, AccountStore

MIN_PASSWORD_LENGTH = 8


def create_user(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="collab-server create-user", description="Create or update a local account."
    )
    parser.add_argument("name", help="the user name people sign in with (lower case)")
    parser.add_argument("--admin", action="store_true", help="may do everything, on every file")
    parser.add_argument(
        "--execute", action="store_true", help="may run code (kernels run with the server's rights)"
    )
    parser.add_argument("--group", action="append", default=[], help="add to this group")
    parser.add_argument("--display-name", help="the name collaborators see")
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    parser.add_argument("--data-dir", help="the server's data directory (as for the server)")
    args = parser.parse_args(argv)

    data_dir = Path(args.data_dir or os.path.join(jupyter_data_dir(), "collab_server"))
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            print("No terminal to ask for a password on: use --password-stdin", file=sys.stderr)
            return 2
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("Repeat it: ") != password:
            print("The passwords differ; nothing was changed.", file=sys.stderr)
            return 1
    if len(password) < MIN_PASSWORD_LENGTH:
        print(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.", file=sys.stderr)
        return 1
    store = AccountStore(data_dir / "collab.sqlite")
    existed = store.user(args.name.strip()) is not None
    try:
        store.put_user(
            args.name,
            password,
            display_name=args.display_name,
            admin=args.admin,
            may_execute=args.execute,
            groups=args.group,
        )
    except AccountError as e:
        print(str(e), file=sys.stderr)
        return 1
    role = "admin" if args.admin else "user"
    print(f"{'Updated' if existed else 'Created'} {role} {args.name!r} in {data_dir}")
    if not args.admin:
        print("They see only what is shared with them (an admin or owner shares files).")
    return 0


SUBCOMMANDS = {"create-user": create_user}

"""The ``collab-server`` sub-commands that manage local accounts without a running server.

    collab-server create-user NAME [--admin|--no-admin] [--execute|--no-execute] [--group G]...
                                   [--display-name TEXT] [--password-stdin]
                                   [--root-dir DIR | --data-dir DIR]
    collab-server set-password NAME [--password-stdin] [--root-dir DIR | --data-dir DIR]

The password is asked for twice on a terminal, or read from standard input with
``--password-stdin`` (for scripts: ``echo "$PW" | collab-server create-user ann
--password-stdin``). It never appears on the command line, where other users of the machine
could read it in the process list. Running ``create-user`` again for an existing account
changes only what is given (flags not given keep their value) and prints what changed; a new
password revokes the account's browser sessions and API tokens. Both work while the server
runs.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from pathlib import Path

from ..core import datadir
from .accounts import MIN_PASSWORD_LENGTH, AccountError, AccountStore
from .provider import Busy

HELP = """usage: collab-server [options]              start the server (--help-all: every option)
       collab-server create-user NAME [--admin] [--execute] [--password-stdin] ...
                                                 create or update a local account
       collab-server set-password NAME [--password-stdin]
                                                 set the password of an existing account
       collab-server SUBCOMMAND --help           the options of a sub-command

Common options: --root-dir=DIR (the notebooks), --data-dir=DIR (database; default: a folder
per root directory under Jupyter's data directory), --ip, --port, --no-browser.
"""


def print_help() -> None:
    print(HELP)


def _location(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root-dir", help="the server's root directory (default: the current directory)"
    )
    parser.add_argument("--data-dir", help="the server's data directory (overrides --root-dir)")


def _data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir:
        return Path(args.data_dir).expanduser()
    return datadir.default_data_dir(args.root_dir or os.getcwd())


def _read_password(name: str, from_stdin: bool) -> str | None:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            print("No terminal to ask for a password on: use --password-stdin", file=sys.stderr)
            return None
        password = getpass.getpass(f"Password for {name}: ")
        if getpass.getpass("Repeat it: ") != password:
            print("The passwords differ; nothing was changed.", file=sys.stderr)
            return None
    if len(password) < MIN_PASSWORD_LENGTH:
        print(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.", file=sys.stderr)
        return None
    return password


def _save(store: AccountStore, name: str, password: str, **flags: object) -> list[str]:
    # The running server may hold the database for a moment: wait for it here (a command
    # line can wait; the server's event loop cannot).
    for attempt in range(50):
        try:
            return store.put_user(name, password, **flags)  # type: ignore[arg-type]
        except Busy:
            if attempt == 49:
                raise
            time.sleep(0.1)
    return []


def create_user(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="collab-server create-user",
        description="Create a local account, or update one (what is not given is kept).",
    )
    parser.add_argument("name", help="the user name people sign in with (lower case)")
    parser.add_argument(
        "--admin", action=argparse.BooleanOptionalAction, help="may do everything, on every file"
    )
    parser.add_argument(
        "--execute",
        action=argparse.BooleanOptionalAction,
        help="may run code (kernels run with the server's rights)",
    )
    parser.add_argument("--group", action="append", default=[], help="add to this group")
    parser.add_argument("--display-name", help="the name collaborators see")
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    _location(parser)
    args = parser.parse_args(argv)
    return _put(args, create=True)


def set_password(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="collab-server set-password",
        description="Set the password of an existing account (its sessions and API tokens "
        "are revoked).",
    )
    parser.add_argument("name", help="the user name")
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    _location(parser)
    args = parser.parse_args(argv)
    args.admin = args.execute = args.display_name = None
    args.group = []
    return _put(args, create=False)


def _put(args: argparse.Namespace, *, create: bool) -> int:
    data_dir = _data_dir(args)
    datadir.secure(data_dir)
    store = AccountStore(datadir.database_path(data_dir))
    name = args.name.strip()
    if not create and store.user(name) is None:
        print(f"No account named {name!r}: create it with create-user.", file=sys.stderr)
        return 1
    password = _read_password(name, args.password_stdin)
    if password is None:
        return 1 if args.password_stdin or sys.stdin.isatty() else 2
    try:
        changes = _save(
            store,
            args.name,
            password,
            display_name=args.display_name,
            admin=args.admin,
            may_execute=args.execute,
            groups=args.group,
        )
    except (AccountError, Busy) as e:
        print(str(e), file=sys.stderr)
        return 1
    user = store.user(name) or {}
    role = "admin" if user.get("is_admin") else "user"
    print(f"{role.capitalize()} {name!r} in {data_dir}: {', '.join(changes) or 'no change'}.")
    if not user.get("is_admin") and "created" in changes:
        print("They see only what is shared with them (an admin or owner shares files).")
    return 0


SUBCOMMANDS = {"create-user": create_user, "set-password": set_password}

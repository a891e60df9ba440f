"""`marugoto admin create-user`: add a staff account from the command line.

The password is read from the terminal (asked twice) or, with --password-stdin, from the
first line of standard input; never from an argument (it would stay in shell history and
the process list).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from bot.models.staff import ROLES


def add_commands(sub: Any) -> None:
    p = sub.add_parser("admin", help="staff accounts of the web UI")
    admin_sub = p.add_subparsers(dest="admin_command", required=True)
    create = admin_sub.add_parser("create-user", help="create a staff account")
    create.add_argument("username")
    create.add_argument("--role", choices=ROLES, default="staff")
    create.add_argument("--display-name", default="")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create.set_defaults(handler=create_user)


def _read_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("パスワード: ")
    second = getpass.getpass("もう一度: ")
    if first != second:
        print("パスワードが一致しません。", file=sys.stderr)
        return None
    return first


def create_user(args: argparse.Namespace) -> int:
    from bot.actions.staff import AccountError, PasswordRejected
    from bot.actions.staff import create_user as create
    from bot.db import Database
    from bot.migrate import upgrade
    from bot.settings import get_settings

    password = _read_password(args)
    if password is None:
        return 2
    database = Database.connect(get_settings().database_url)
    try:
        upgrade(database)
        with database.write() as session:
            user = create(
                session,
                username=args.username,
                password=password,
                role=args.role,
                display_name=args.display_name,
                actor_type="system",
                actor_id="cli",
            )
            user_id = user.id
    except PasswordRejected as error:
        print(f"password refused: {error.reason}", file=sys.stderr)
        return 1
    except AccountError as error:
        print(f"cannot create the account: {error}", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    print(f"created {args.role} account id={user_id}")
    return 0

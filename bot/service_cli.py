"""`marugoto serve` and `marugoto db upgrade` (added to bot.cli's parser)."""

from __future__ import annotations

import argparse
from typing import Any

#: bot.app.ROLES, repeated so that `marugoto triage` does not load the web stack.
ROLES = ("all", "web", "worker", "scheduler")


def add_commands(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the service (webhook, worker, sender, scheduler)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--role",
        choices=ROLES,
        default="all",
        help="all (one process, default), or web / worker / scheduler for scale-out",
    )
    p.set_defaults(handler=serve)

    p = sub.add_parser("db", help="database maintenance")
    db_sub = p.add_subparsers(dest="db_command", required=True)
    upgrade_parser = db_sub.add_parser("upgrade", help="migrate the database to the newest schema")
    upgrade_parser.set_defaults(handler=db_upgrade)

    p = sub.add_parser("richmenu", help="the menu residents see under the chat")
    richmenu_sub = p.add_subparsers(dest="richmenu_command", required=True)
    install_parser = richmenu_sub.add_parser(
        "install", help="create the rich menu, upload its image, make it the default"
    )
    install_parser.add_argument(
        "--image", help="the designer's PNG/JPEG, 2500x843, <= 1 MB (default: a plain grid)"
    )
    install_parser.set_defaults(handler=richmenu_install)

    from admin.cli import add_commands as add_admin_commands

    add_admin_commands(sub)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.app import create_app
    from bot.logging import setup_logging
    from bot.settings import get_settings

    setup_logging()
    settings = get_settings()
    app = create_app(settings, role=args.role)
    # uvicorn handles SIGTERM/SIGINT: stop accepting, let in-flight requests finish (up to
    # the grace period), then run the lifespan shutdown that stops the loops (H5).
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        lifespan="on",
    )
    return 0


def db_upgrade(args: argparse.Namespace) -> int:
    from bot.db import Database
    from bot.logging import setup_logging
    from bot.migrate import upgrade
    from bot.settings import get_settings

    setup_logging()
    database = Database.connect(get_settings().database_url)
    try:
        upgrade(database)
    finally:
        database.dispose()
    return 0


def richmenu_install(args: argparse.Namespace) -> int:
    from bot.logging import setup_logging
    from bot.richmenu import run_install

    setup_logging()
    return run_install(args.image)

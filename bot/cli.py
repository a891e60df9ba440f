"""The `marugoto` command line. Each sub-command imports its layer lazily, so that
`marugoto triage` starts without loading the web stack or the database."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]


def _triage(args: argparse.Namespace) -> int:
    from triage.cli import run_triage

    return run_triage(args.text, sys.stdin, sys.stdout)


def _eval(args: argparse.Namespace) -> int:
    from triage.evaluation import run_eval

    return run_eval(args.file, sys.stdout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="marugoto", description="Marugoto welfare front door")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("triage", help="read a worry and print the windows that help")
    p.add_argument("text", nargs="?", help="one message; without it, JSON lines on stdin")
    p.set_defaults(handler=_triage)

    p = sub.add_parser("eval", help="measure the triage on a labelled JSON-lines file")
    p.add_argument("file", nargs="?", help="labelled set (default: tests/data/triage_set.jsonl)")
    p.set_defaults(handler=_eval)

    _add_service_commands(sub)
    return parser


def _add_service_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`serve`, `db` and `admin` live in bot.service_cli (owned by the service layer)."""
    from bot.service_cli import add_commands

    add_commands(sub)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())

"""The import contracts of pyproject.toml hold for the tree, and the layers contract really
refuses an upward import (a contract that cannot fail would prove nothing)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter import configuration
from importlinter.application.use_cases import read_user_options
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def options() -> Any:
    configuration.configure()  # what the lint-imports command does first
    return read_user_options(config_filename=str(ROOT / "pyproject.toml"))


@pytest.fixture(scope="module")
def graph(options: Any) -> Any:
    return grimp.build_graph(
        *options.session_options["root_packages"], include_external_packages=True
    )


def _contract(options: Any, name_starts: str) -> Any:
    (raw,) = [c for c in options.contracts_options if c["name"].startswith(name_starts)]
    kind = {"layers": LayersContract, "forbidden": ForbiddenContract}[raw["type"]]
    return kind(name=raw["name"], session_options=options.session_options, contract_options=raw)


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("knowledge.windows", "bot.db"),  # knowledge is the bottom
        ("triage.engine", "bot.conversation"),
        ("bot.conversation.machine", "bot.actions.booking"),  # the pure machine writes nothing
        ("bot.queries.booking", "bot.actions.booking"),  # reads never write
        ("bot.actions.booking", "bot.worker.inbox"),
        ("bot.worker.inbox", "admin.queries.cases"),
        ("admin.case_routes", "bot.app"),
        ("bot.db", "bot.conversation.texts"),
        ("bot.worker.inbox", "bot.webhook"),  # siblings stay independent
    ],
)
def test_an_upward_import_breaks_the_layers(
    options: Any, graph: Any, importer: str, imported: str
) -> None:
    layers = _contract(options, "Imports go downwards only")
    assert layers.check(copy.deepcopy(graph), verbose=False).kept
    broken = copy.deepcopy(graph)
    broken.add_import(importer=importer, imported=imported, line_number=1, line_contents="x")
    assert not layers.check(broken, verbose=False).kept


def test_admin_queries_stay_away_from_the_web(options: Any, graph: Any) -> None:
    contract = _contract(options, "Queries are not web code")
    assert contract.check(copy.deepcopy(graph), verbose=False).kept
    broken = copy.deepcopy(graph)
    broken.add_import(
        importer="admin.queries.cases",
        imported="admin.templating",
        line_number=1,
        line_contents="from admin.templating import TOKYO",
    )
    assert not contract.check(broken, verbose=False).kept

"""The one text store: every resident-facing word (answers, buttons, the booking dialogue,
the rich menu, the staff hand-back) in one file per language, checked at load. Adding a
language is a file; a key missing in it, a label over LINE's limit, a preachy phrase, a
language without review rules or a key the code does not use is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot import richmenu
from bot.actions import cases
from bot.conversation import texts
from bot.conversation.texts import TextsError
from bot.conversation.texts.spec import TEXTS, labels
from knowledge.booking import load_booking_settings
from knowledge.menu import load_menu

ROOT = Path(__file__).resolve().parents[2]


def _store(tmp_path: Path) -> Path:
    """A copy of the packaged store to break."""
    directory = tmp_path / "texts"
    directory.mkdir()
    shutil.copy(texts.path_of("ja"), directory / "ja.yaml")
    return directory


def _english(directory: Path, edit: dict[str, str] | None = None, drop: str = "") -> Path:
    """An en.yaml with every key (the Japanese words stand in for a translation), edited."""
    data = yaml.safe_load(texts.path_of("ja").read_text(encoding="utf-8"))
    for dotted, value in (edit or {}).items():
        node = data
        *parents, last = dotted.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    if drop:
        *parents, last = drop.split(".")
        node = data
        for part in parents:
            node = node[part]
        del node[last]
    path = directory / "en.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_a_second_language_is_one_file(tmp_path: Path) -> None:
    directory = _store(tmp_path)
    _english(directory, {"media.text": "Thank you. Please tell me in words what worries you."})
    store = texts.read_store(directory)
    assert set(store) == {"ja", "en"}
    assert store["en"].texts["media.text"].startswith("Thank you")


@pytest.mark.parametrize(
    ("edit", "drop", "problem"),
    [
        ({}, "erase.kept", r"en\.yaml: erase\.kept: missing"),
        ({}, "labels.booking_cant_go", r"en\.yaml: labels\.booking_cant_go: missing"),
        ({"labels.staff": "Please ask a counsellor to call me"}, "", "longer than 20"),
        ({"start.write": "You should write it here."}, "", "you should"),
        ({"clarify.ask": "Which is {closest}?"}, "", "placeholders"),
        ({"consent.version": "2030-01-01.1"}, "", "consent.version"),
        ({"crisis.spare": "unused words"}, "", r"crisis\.spare: not used by the code"),
    ],
)
def test_a_broken_language_is_refused_at_load(
    tmp_path: Path, edit: dict[str, str], drop: str, problem: str
) -> None:
    directory = _store(tmp_path)
    _english(directory, edit, drop)
    with pytest.raises(TextsError, match=problem):
        texts.validate(directory)


def test_a_language_without_review_rules_is_refused(tmp_path: Path) -> None:
    directory = _store(tmp_path)
    shutil.copy(texts.path_of("ja"), directory / "xx.yaml")
    with pytest.raises(TextsError, match="'xx' has no review rules"):
        texts.validate(directory)


def test_every_menu_entry_needs_its_label_and_question() -> None:
    menu = load_menu()
    names = set(labels())
    assert {f"cat_{c}" for c in menu.categories} <= names
    assert {f"start_{p.id}" for p in menu.start_points} <= names
    asking = [p.id for p in menu.start_points if p.flow is None]
    assert asking and all(f"start.{p}" in TEXTS for p in asking)


def test_resident_words_live_only_in_the_store() -> None:
    # The staff hand-back and the rich menu come from the store, not from the code.
    assert not hasattr(cases, "HAND_BACK_TEXT")
    assert texts.text("staff.hand_back").startswith("担当の職員との やりとりは")
    areas = [a["action"]["label"] for a in richmenu.definition()["areas"]]
    assert areas == [texts.label(f"richmenu_{item.key}") for item in richmenu.ITEMS]
    assert richmenu.definition()["chatBarText"] == texts.label("richmenu_chat_bar")
    assert not (ROOT / "bot" / "conversation" / "booking_texts.yaml").exists()
    # Issue 10 adds English in the same store (no second store anywhere).
    assert sorted(p.name for p in texts.path_of().parent.glob("*.yaml")) == ["en.yaml", "ja.yaml"]


def test_service_names_come_from_knowledge() -> None:
    from admin.queries import reports
    from bot.conversation import booking as dialogue

    services = list(load_booking_settings().services.values())
    buttons = dialogue.handle_postback("a=book", None, None, port=None, now=None)
    shown = [item["action"]["label"] for item in buttons.messages[0]["quickReply"]["items"]]
    assert shown[: len(services)] == [s.label for s in services]
    assert [reports.service_label(s.id) for s in services] == [s.short_name for s in services]
    assert not hasattr(reports, "SERVICE_LABELS")
    assert "service_labels" not in texts.path_of().read_text(encoding="utf-8")

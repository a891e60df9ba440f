"""The rich menu: its definition passes LINE's SDK model and limits, every area's postback is
answered sensibly by the conversation itself, and the generated image is a valid PNG of the
menu's size."""

from __future__ import annotations

import struct
import zlib
from datetime import timedelta
from typing import Any

import pytest

from bot import richmenu
from bot.conversation import Context, State, events, postback, step, step_strict, texts
from bot.conversation.booking import BookingView
from bot.conversation.messages import problems
from bot.fakeline.richmenu import check_definition
from bot.line_api import (
    InvalidRichMenu,
    check_request_body,
    rich_menu_request,
    validate_messages,
)
from tests.unit.booking_port import NOW, ListPort, make_port


def tap_area(key: str, port: ListPort | None = None, state: State | None = None) -> Any:
    """What the resident sees after tapping the area `key` of the rich menu."""
    item = next(i for i in richmenu.ITEMS if i.key == key)
    ctx = Context(now=NOW, booking=port if port is not None else make_port())
    result = step(state or State(), events.Postback(item.data), ctx)
    assert result.replies, f"{key}: no answer"
    assert problems(result.replies) == []
    validate_messages(result.replies)  # LINE's SDK accepts the answer as it is
    return result


def first_text(result: Any) -> str:
    message = result.replies[0]
    return str(message.get("text") or message.get("altText"))


def datas(message: dict[str, Any]) -> list[str]:
    items = (message.get("quickReply") or {}).get("items") or []
    return [item["action"].get("data", "") for item in items]


# --- the definition -------------------------------------------------------------------------


def test_definition_passes_the_sdk_model_unchanged() -> None:
    definition = richmenu.definition()
    check_request_body("richmenu", definition)
    assert rich_menu_request(definition).to_dict() == definition


def test_definition_keeps_lines_limits() -> None:
    definition = richmenu.definition()
    assert check_definition(definition) == []
    assert definition["size"] == {"width": 2500, "height": 843}
    assert definition["chatBarText"] == "メニュー"
    assert 1 <= len(definition["chatBarText"]) <= 14
    assert 4 <= len(definition["areas"]) <= 6


def test_areas_tile_the_menu_without_gaps_or_overlap() -> None:
    covered = 0
    boxes = [area["bounds"] for area in richmenu.definition()["areas"]]
    for box in boxes:
        assert box["x"] >= 0 and box["y"] >= 0
        assert box["x"] + box["width"] <= richmenu.WIDTH
        assert box["y"] + box["height"] <= richmenu.HEIGHT
        covered += box["width"] * box["height"]
    assert covered == richmenu.WIDTH * richmenu.HEIGHT
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart_x = a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
            apart_y = a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"]
            assert apart_x or apart_y


def test_every_area_is_a_postback_of_ours_with_display_text() -> None:
    labels = []
    for area in richmenu.definition()["areas"]:
        action = area["action"]
        assert action["type"] == "postback"
        assert action["displayText"] == action["label"]
        assert postback.decode(action["data"]) is not None
        labels.append(action["label"])
    assert labels == ["相談する", "予約する", "居場所", "予約の確認", "削除"]


def test_a_broken_definition_is_refused_before_sending() -> None:
    definition = richmenu.definition()
    del definition["chatBarText"]
    with pytest.raises(InvalidRichMenu, match="chatBarText"):
        rich_menu_request(definition)
    too_long = {**richmenu.definition(), "chatBarText": "メニュー" * 4}
    with pytest.raises(InvalidRichMenu):
        rich_menu_request(too_long)
    outside = richmenu.definition()
    outside["areas"][0]["bounds"]["width"] = 3000
    assert any("outside" in p for p in check_definition(outside))


# --- every area, through the conversation -----------------------------------------------------


def test_consult_opens_the_start_point_menu() -> None:
    result = tap_area("consult", state=State().evolve(phase="erase_confirm"))
    assert first_text(result) == texts.text("menu.ask")
    assert result.state.phase == "idle"
    assert "a=start&k=money" in datas(result.replies[-1])


def test_book_starts_the_booking_dialogue() -> None:
    result = tap_area("book")
    assert first_text(result) == texts.text("booking.choose_service")
    choices = datas(result.replies[0])
    assert "a=book&o=svc&s=consultation" in choices
    assert "a=book&o=svc&s=ibasho" in choices


def test_ibasho_shows_the_places() -> None:
    result = tap_area("ibasho")
    assert first_text(result) == texts.text("ibasho.intro")
    cards = str(result.replies[1])
    assert result.replies[1]["type"] == "flex"
    assert "居場所" in cards


def test_bookings_lists_none_then_the_residents_booking() -> None:
    assert first_text(tap_area("bookings")) == texts.text("booking.list_none")
    starts = NOW + timedelta(days=7)
    booked = BookingView(
        7, "MG-2F7K", "consultation", starts, starts + timedelta(hours=1), "visit", None, "active"
    )
    result = tap_area("bookings", port=make_port(bookings=[booked]))
    assert "MG-2F7K" in first_text(result)
    assert "a=book&o=cancel_ask&b=7" in datas(result.replies[0])


def test_erase_asks_before_erasing_anything() -> None:
    result = tap_area("erase")
    assert first_text(result) == texts.text("erase.confirm")
    assert result.state.phase == "erase_confirm"
    assert result.effects == ()
    assert datas(result.replies[0]) == ["a=erase&v=yes", "a=erase&v=no"]


def test_no_area_falls_into_a_fallback() -> None:
    """No area raises inside the conversation (step would hide that behind its error
    answer) and none but 相談する lands on the plain start menu (an unknown postback)."""
    for item in richmenu.ITEMS:
        ctx = Context(now=NOW, booking=make_port())
        strict = step_strict(State(), events.Postback(item.data), ctx)
        assert strict.replies == tap_area(item.key).replies
        if item.key != "consult":
            assert first_text(strict) != texts.text("menu.ask"), item.key


# --- the image --------------------------------------------------------------------------------


def decode_png(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, raw scanlines) of an 8-bit RGB PNG, checking every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, header = 8, b"", b""
    kinds = []
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, kind
        kinds.append(kind)
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, colour, interlace) == (8, 2, 0)
    return width, height, zlib.decompress(idat)


def test_generated_png_is_valid_and_menu_sized() -> None:
    image = richmenu.png_image()
    width, height, raw = decode_png(image)
    assert (width, height) == (2500, 843)
    assert len(raw) == height * (1 + 3 * width)
    assert all(raw[y * (1 + 3 * width)] == 0 for y in range(height))  # filter bytes
    assert len(image) <= richmenu.IMAGE_MAX_BYTES
    assert richmenu.png_size(image) == (2500, 843)
    assert richmenu.check_image(image) == []


def test_generated_png_is_high_contrast() -> None:
    _, _, raw = decode_png(richmenu.png_image())
    stride = 1 + 3 * richmenu.WIDTH
    row = raw[stride * 200 + 1 : stride * 201]  # a scanline through the top row's centres
    pixels = {bytes(row[i : i + 3]) for i in range(0, len(row), 3)}
    luminance = [0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2] for p in pixels]
    assert max(luminance) - min(luminance) > 180


def test_a_wrong_image_is_refused_before_sending() -> None:
    assert richmenu.check_image(b"GIF89a")
    assert richmenu.check_image(b"\xff\xd8\xff" + b"\0" * (richmenu.IMAGE_MAX_BYTES + 1))
    small = richmenu.PNG_SIGNATURE + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", 800, 270)
    assert any("menu is" in p for p in richmenu.check_image(small))

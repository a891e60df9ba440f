"""The rich menu: the five buttons residents see under the chat, and a plain image for it.

The menu is data (`definition()`): LINE's rich menu object, 2500x843, chat bar 「メニュー」.
Each area is a postback whose data the conversation already answers (tests/unit/
test_richmenu.py runs every one through `bot.conversation.step`), with displayText so the
chat shows what was tapped:

    相談する   a=menu          the start-point menu (お金・住まい・家族 …)
    予約する   a=book          the booking dialogue's first question
    居場所     a=ibasho        the 居場所プロジェクト and the family gathering
    予約の確認 a=book&o=list   the resident's bookings (cancel / change from there)
    削除       a=erase&v=ask   「消してもいいですか？」 (the resident's right to erase)

`png_image()` draws a plain, high-contrast grid of the same size with pure Python (zlib +
struct), so `marugoto richmenu install` works out of the box. It has no words on it: the
city's designer should supply the final image (same 2500x843 layout, PNG or JPEG, at most
1 MB) with `marugoto richmenu install --image PATH`.

No LINE SDK here (bot.line_api validates the definition with the SDK's RichMenuRequest).
"""

from __future__ import annotations

import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.conversation import postback, texts

if TYPE_CHECKING:
    from bot.settings import Settings

WIDTH = 2500
HEIGHT = 843
NAME = "marugoto-main"
#: LINE's limits for the rich menu image (bytes) and the chat bar text (characters).
IMAGE_MAX_BYTES = 1024 * 1024
CHAT_BAR_TEXT_MAX = 14
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class MenuItem:
    key: str
    data: str
    #: Which row (0 top, 1 bottom) and column of that row the area takes.
    row: int
    column: int

    @property
    def label(self) -> str:
        """The words on the button (the text store's labels.richmenu_<key>)."""
        return texts.label(f"richmenu_{self.key}")


#: The areas, built from the conversation's own postback encoding (bot.conversation.postback).
ITEMS: tuple[MenuItem, ...] = (
    MenuItem("consult", postback.encode("menu"), 0, 0),
    MenuItem("book", postback.encode("book"), 0, 1),
    MenuItem("ibasho", postback.encode("ibasho"), 0, 2),
    MenuItem("bookings", postback.encode("book", o="list"), 1, 0),
    MenuItem("erase", postback.encode("erase", v="ask"), 1, 1),
)


def _row_columns(row: int) -> int:
    return sum(1 for item in ITEMS if item.row == row)


def _rows() -> int:
    return max(item.row for item in ITEMS) + 1


def _span(total: int, parts: int, index: int) -> tuple[int, int]:
    """Start and length of part `index` when `total` pixels are cut into `parts` (no gaps)."""
    start = total * index // parts
    return start, total * (index + 1) // parts - start


def bounds(item: MenuItem) -> dict[str, int]:
    x, width = _span(WIDTH, _row_columns(item.row), item.column)
    y, height = _span(HEIGHT, _rows(), item.row)
    return {"x": x, "y": y, "width": width, "height": height}


def definition() -> dict[str, Any]:
    """LINE's rich menu object (POST /v2/bot/richmenu)."""
    return {
        "size": {"width": WIDTH, "height": HEIGHT},
        "selected": True,  # shown open when the chat is opened
        "name": NAME,
        "chatBarText": texts.label("richmenu_chat_bar"),
        "areas": [
            {
                "bounds": bounds(item),
                "action": {
                    "type": "postback",
                    "label": item.label,
                    "data": item.data,
                    "displayText": item.label,
                },
            }
            for item in ITEMS
        ],
    }


# --- the image --------------------------------------------------------------------------------

_BACKGROUND = (255, 255, 255)
_INK = (26, 26, 26)
#: A light tint per area so neighbouring buttons read apart even without labels.
_TINTS = ((230, 244, 234), (255, 243, 214), (228, 238, 252), (252, 232, 236), (238, 238, 238))
_LINE = 8  # grid line width in pixels
_MARK = 120  # side of the dark square centred in each area (where a designer puts the icon)


def png_image() -> bytes:
    """A WIDTHxHEIGHT RGB PNG: one tinted cell per area, dark grid lines, a dark square
    in each cell's centre. Deterministic; about 10 KB."""
    raw = bytearray()
    for y in range(HEIGHT):
        row = bytearray(_BACKGROUND * WIDTH)
        for index, item in enumerate(ITEMS):
            box = bounds(item)
            top, left = box["y"], box["x"]
            bottom, right = top + box["height"], left + box["width"]
            if not top <= y < bottom:
                continue
            edge = y < top + _LINE // 2 or y >= bottom - _LINE // 2
            middle_y = abs(y - (top + bottom) // 2) < _MARK // 2
            for x0, x1, colour in (
                (left, right, _INK if edge else _TINTS[index % len(_TINTS)]),
                (left, left + _LINE // 2, _INK),
                (right - _LINE // 2, right, _INK),
            ):
                row[3 * x0 : 3 * x1] = bytes(colour) * (x1 - x0)
            if middle_y and not edge:
                centre = (left + right) // 2
                x0, x1 = centre - _MARK // 2, centre + _MARK // 2
                row[3 * x0 : 3 * x1] = bytes(_INK) * (x1 - x0)
        raw += b"\x00" + row  # filter type 0 (None) per scanline
    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG from its IHDR, or None when `data` is not a PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def image_content_type(data: bytes) -> str | None:
    """image/png or image/jpeg by the file's signature; None for anything else."""
    if data.startswith(PNG_SIGNATURE):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def check_image(data: bytes) -> list[str]:
    """Why LINE would refuse this image for our menu (empty: fine). Content-free reasons."""
    problems: list[str] = []
    if len(data) > IMAGE_MAX_BYTES:
        problems.append(f"image is {len(data)} bytes; LINE takes at most {IMAGE_MAX_BYTES}")
    kind = image_content_type(data)
    if kind is None:
        problems.append("image is neither PNG nor JPEG")
    elif kind == "image/png" and png_size(data) != (WIDTH, HEIGHT):
        problems.append(f"PNG is {png_size(data)}, the menu is {(WIDTH, HEIGHT)}")
    return problems


# --- install (`marugoto richmenu install [--image PATH]`) -----------------------------------


async def install(settings: Settings, image: bytes) -> str:
    """Create the menu, upload `image`, make it every friend's default; the new menu's id.
    Raises bot.line_api.LineCallFailed / InvalidRichMenu (content-free messages)."""
    from bot.line_api import LineCallFailed, create_line_client

    # Uploads of up to 1 MB get more time than a message does.
    client = create_line_client(settings, timeout=max(settings.line_timeout_seconds, 30.0))
    try:
        rich_menu_id = await client.create_rich_menu(definition())
        try:
            await client.upload_rich_menu_image(
                rich_menu_id, image, image_content_type(image) or "image/png"
            )
            await client.set_default_rich_menu(rich_menu_id)
        except LineCallFailed as exc:
            raise LineCallFailed(
                f"rich menu {rich_menu_id} was created but not finished ({exc})", exc.result
            ) from None
        return rich_menu_id
    finally:
        await client.close()


def run_install(
    image_path: str | None,
    *,
    settings: Settings | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """The command: prints the new richMenuId; exit 0, 1 (LINE refused) or 2 (bad input)."""
    import asyncio

    from bot.line_api import InvalidRichMenu, LineCallFailed
    from bot.settings import get_settings

    out = out or sys.stdout
    err = err or sys.stderr
    try:
        image = Path(image_path).read_bytes() if image_path else png_image()
    except OSError as exc:
        print(f"cannot read the image: {exc.strerror}", file=err)
        return 2
    problems = check_image(image)
    if problems:
        print("the image does not fit the menu: " + "; ".join(problems), file=err)
        return 2
    settings = settings or get_settings()
    if settings.line_channel_access_token is None:
        print("LINE_CHANNEL_ACCESS_TOKEN is not set", file=err)
        return 2
    try:
        rich_menu_id = asyncio.run(install(settings, image))
    except (LineCallFailed, InvalidRichMenu) as exc:
        print(f"rich menu not installed: {exc}", file=err)
        return 1
    print(rich_menu_id, file=out)
    return 0

"""The fake's rich menu endpoints: create, upload the image, set as default.

Checked as LINE does (https://developers.line.biz/en/reference/messaging-api/#rich-menu):
the SDK's RichMenuRequest, the required fields and limits the model does not encode (size
800–2500 wide, at least 250 high, aspect ratio ≥ 1.45; chat bar text 1–14; 1–20 areas inside
the menu; action limits), the OpenAPI spec when present; the image is PNG or JPEG, at most
1 MB, and a PNG must have the menu's size; one image per menu; the default needs the image.
Refused requests are violations, like every other endpoint of the fake.
"""

from __future__ import annotations

import json
import struct
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.fakeline import limits, openapi
from bot.fakeline.state import FakeLineState
from bot.line_api import check_request_body

CREATE_PATH = "/v2/bot/richmenu"
CONTENT_PATH = "/v2/bot/richmenu/{rich_menu_id}/content"
DEFAULT_PATH = "/v2/bot/user/all/richmenu/{rich_menu_id}"
DATA_HOST = "https://api-data.line.me"

IMAGE_MAX_BYTES = 1024 * 1024
MAX_AREAS = 20
CHAT_BAR_TEXT_MAX = 14
NAME_MAX = 300
_PNG = b"\x89PNG\r\n\x1a\n"
_NO_AUTH = "missing or malformed Authorization: Bearer header"


def _answer(status: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"x-line-request-id": uuid.uuid4().hex})


def _authorised(request: Request) -> bool:
    auth = request.headers.get("authorization", "")
    return auth.startswith("Bearer ") and bool(auth[len("Bearer ") :].strip())


def check_definition(body: Any) -> list[str]:
    """What LINE would refuse in a rich menu object beyond the SDK model (empty: fine)."""
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    problems = [
        f"{key} is required"
        for key in ("size", "selected", "name", "chatBarText", "areas")
        if key not in body
    ]
    found = body.get("size")
    size: dict[str, Any] = found if isinstance(found, dict) else {}
    width, height = size.get("width"), size.get("height")
    if not isinstance(width, int) or not isinstance(height, int):
        problems.append("size.width and size.height must be integers")
        width = height = None
    elif not (800 <= width <= 2500 and height >= 250 and width / height >= 1.45):
        problems.append("size must be 800-2500 wide, at least 250 high, width/height >= 1.45")
    bar = body.get("chatBarText")
    if not isinstance(bar, str) or not 1 <= len(bar) <= CHAT_BAR_TEXT_MAX:
        problems.append(f"chatBarText must be 1 to {CHAT_BAR_TEXT_MAX} characters")
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX:
        problems.append(f"name must be 1 to {NAME_MAX} characters")
    areas = body.get("areas")
    if not isinstance(areas, list) or not 1 <= len(areas) <= MAX_AREAS:
        return [*problems, f"areas must hold 1 to {MAX_AREAS} areas"]
    for index, area in enumerate(areas):
        where = f"areas[{index}]"
        box = area.get("bounds") if isinstance(area, dict) else None
        action = area.get("action") if isinstance(area, dict) else None
        if not isinstance(box, dict) or not all(
            isinstance(box.get(k), int) for k in ("x", "y", "width", "height")
        ):
            problems.append(f"{where}.bounds needs integer x, y, width, height")
        elif width is not None and height is not None:
            x, y, w, h = box["x"], box["y"], box["width"], box["height"]
            if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > width or y + h > height:
                problems.append(f"{where}.bounds lie outside the menu")
        if not isinstance(action, dict) or "type" not in action:
            problems.append(f"{where}.action is required")
        else:
            problems.extend(
                f"{where}.{p}"
                for p in limits._check_action(action, limits.ACTION_LABEL_MAX, label_required=False)
            )
    return problems


def png_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 24 or not data.startswith(_PNG) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def routes(state: FakeLineState, validator: Any | None) -> list[Route]:
    """The three rich menu routes on `state` (mounted before the fake's catch-all)."""

    def refuse(endpoint: str, status: int, reason: str, arrived: float) -> JSONResponse:
        state.record_violation(endpoint, reason)
        state.record_request(endpoint, status, None, None, arrived)
        return _answer(status, {"message": reason})

    def spec(path: str, raw: bytes, request: Request, host: str | None = None) -> str | None:
        if validator is None:
            return None
        headers = {key.lower(): value for key, value in request.headers.items()}
        return openapi.check(
            validator,
            path=path,
            method="post",
            body=raw,
            headers=headers,
            **({"host_url": host} if host else {}),
        )

    async def create(request: Request) -> JSONResponse:
        arrived = time.monotonic()
        endpoint = "richmenu"
        raw = await request.body()
        if not _authorised(request):
            return refuse(endpoint, 401, _NO_AUTH, arrived)
        if not request.headers.get("content-type", "").startswith("application/json"):
            return refuse(endpoint, 400, "Content-Type must be application/json", arrived)
        try:
            body = json.loads(raw)
        except ValueError:
            return refuse(endpoint, 400, "body is not JSON", arrived)
        problems: list[str] = []
        try:
            check_request_body("richmenu", body)
        except Exception as exc:
            problems.append(f"sdk: {type(exc).__name__}: {exc}"[:500])
        problems.extend(check_definition(body))
        reason = spec(CREATE_PATH, raw, request)
        if reason:
            problems.append(reason)
        if problems:
            return refuse(endpoint, 400, "; ".join(problems), arrived)
        rich_menu_id = state.add_rich_menu(body)
        state.record_request(endpoint, 200, None, None, arrived)
        return _answer(200, {"richMenuId": rich_menu_id})

    async def content(request: Request) -> JSONResponse:
        arrived = time.monotonic()
        endpoint = "richmenu_content"
        rich_menu_id = request.path_params["rich_menu_id"]
        raw = await request.body()
        if not _authorised(request):
            return refuse(endpoint, 401, _NO_AUTH, arrived)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in ("image/png", "image/jpeg"):
            return refuse(endpoint, 415, "Content-Type must be image/png or image/jpeg", arrived)
        if len(raw) > IMAGE_MAX_BYTES:
            return refuse(endpoint, 413, f"image larger than {IMAGE_MAX_BYTES} bytes", arrived)
        menu = state.rich_menus.get(rich_menu_id)
        if menu is None:
            return refuse(endpoint, 404, "no such rich menu", arrived)
        problems: list[str] = []
        if kind == "image/png":
            found = png_size(raw)
            size = menu.get("size") or {}
            wanted = (size.get("width"), size.get("height"))
            if found is None:
                problems.append("body is not a PNG (signature or IHDR missing)")
            elif found != wanted:
                problems.append(f"image is {found[0]}x{found[1]}, the menu {wanted[0]}x{wanted[1]}")
        elif not raw.startswith(b"\xff\xd8\xff"):
            problems.append("body is not a JPEG")
        reason = spec(CONTENT_PATH.format(rich_menu_id=rich_menu_id), raw, request, DATA_HOST)
        if reason:
            problems.append(reason)
        if problems:
            return refuse(endpoint, 400, "; ".join(problems), arrived)
        outcome = state.set_rich_menu_image(rich_menu_id, kind, raw)
        if outcome == "already":
            return refuse(endpoint, 400, "an image has already been uploaded to this menu", arrived)
        if outcome == "unknown":
            return refuse(endpoint, 404, "no such rich menu", arrived)
        state.record_request(endpoint, 200, None, None, arrived)
        return _answer(200, {})

    async def default(request: Request) -> JSONResponse:
        arrived = time.monotonic()
        endpoint = "richmenu_default"
        rich_menu_id = request.path_params["rich_menu_id"]
        raw = await request.body()
        if not _authorised(request):
            return refuse(endpoint, 401, _NO_AUTH, arrived)
        reason = spec(DEFAULT_PATH.format(rich_menu_id=rich_menu_id), raw, request)
        if reason:
            return refuse(endpoint, 400, reason, arrived)
        outcome = state.set_default_rich_menu(rich_menu_id)
        if outcome == "unknown":
            return refuse(endpoint, 404, "no such rich menu", arrived)
        if outcome == "no_image":
            return refuse(endpoint, 400, "upload the rich menu image first", arrived)
        state.record_request(endpoint, 200, None, None, arrived)
        return _answer(200, {})

    return [
        Route(CREATE_PATH, create, methods=["POST"]),
        Route(CONTENT_PATH, content, methods=["POST"]),
        Route(DEFAULT_PATH, default, methods=["POST"]),
    ]

"""`marugoto richmenu install` against the fake LINE over real HTTP: the three calls LINE
needs, in order, nothing LINE would refuse; and the fake refuses what LINE refuses."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot import richmenu
from bot.fakeline import FakeLine, openapi
from bot.line_api import LineCallFailed, create_line_client
from bot.richmenu import run_install
from bot.settings import Settings

pytestmark = pytest.mark.integration

TOKEN = "richmenu-test-token-7d1c"  # a test value; it must never be printed
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake() -> Iterator[FakeLine]:
    # The OpenAPI check is on whenever ../shared/line-openapi is there (as in CI).
    with FakeLine(openapi_check=True if openapi.spec_path() else None) as server:
        yield server


def settings_for(fake: FakeLine, **overrides: str) -> Settings:
    values = {
        "LINE_API_BASE_URL": fake.base_url,
        "LINE_API_DATA_BASE_URL": fake.base_url,
        "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def calls(fake: FakeLine) -> list[tuple[str, int]]:
    return [(r.endpoint, r.status) for r in fake.requests]


def solid_png(width: int, height: int) -> bytes:
    raw = (b"\x00" + b"\xff\xff\xff" * width) * height

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        richmenu.PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_install_creates_uploads_and_sets_default(fake: FakeLine) -> None:
    out = io.StringIO()
    assert run_install(None, settings=settings_for(fake), out=out) == 0
    rich_menu_id = out.getvalue().strip()
    assert fake.violations == []
    assert calls(fake) == [
        ("richmenu", 200),
        ("richmenu_content", 200),
        ("richmenu_default", 200),
    ]
    assert fake.rich_menus == {rich_menu_id: richmenu.definition()}
    assert fake.rich_menu_images[rich_menu_id] == ("image/png", richmenu.png_image())
    assert fake.default_rich_menu == rich_menu_id


def test_the_command_line_installs_a_designers_image(fake: FakeLine, tmp_path: Path) -> None:
    image = tmp_path / "menu.png"
    image.write_bytes(solid_png(richmenu.WIDTH, richmenu.HEIGHT))
    env = {
        **os.environ,
        "LINE_API_BASE_URL": fake.base_url,
        "LINE_API_DATA_BASE_URL": fake.base_url,
        "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "richmenu", "install", "--image", str(image)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rich_menu_id = done.stdout.strip()
    assert rich_menu_id.startswith("richmenu-")
    assert TOKEN not in done.stdout + done.stderr
    assert fake.violations == []
    assert fake.default_rich_menu == rich_menu_id
    assert fake.rich_menu_images[rich_menu_id] == ("image/png", image.read_bytes())


def test_a_wrong_sized_image_is_refused_before_any_call(fake: FakeLine, tmp_path: Path) -> None:
    image = tmp_path / "small.png"
    image.write_bytes(solid_png(800, 270))
    assert run_install(str(image), settings=settings_for(fake)) == 2
    assert fake.requests == []


def test_upload_goes_to_the_data_host(fake: FakeLine) -> None:
    """With api-data pointing nowhere, the menu is created (api host) and the upload fails:
    the image is not sent to the api host."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    settings = settings_for(fake, LINE_API_DATA_BASE_URL=closed, LINE_TIMEOUT_SECONDS="2")
    assert run_install(None, settings=settings) == 1
    assert calls(fake) == [("richmenu", 200)]
    assert fake.violations == []


def test_line_refusing_raises_without_content(fake: FakeLine) -> None:
    async def twice() -> str:
        client = create_line_client(settings_for(fake))
        try:
            rich_menu_id = await client.create_rich_menu(richmenu.definition())
            await client.upload_rich_menu_image(rich_menu_id, richmenu.png_image())
            await client.upload_rich_menu_image(rich_menu_id, richmenu.png_image())
        finally:
            await client.close()
        return rich_menu_id

    with pytest.raises(LineCallFailed) as raised:
        asyncio.run(twice())
    assert raised.value.result.status == 400
    assert TOKEN not in str(raised.value)
    assert [v.endpoint for v in fake.violations] == ["richmenu_content"]


def test_the_fake_refuses_what_line_refuses(fake: FakeLine) -> None:
    base = fake.base_url
    json_auth = {**AUTH, "Content-Type": "application/json"}
    png = {**AUTH, "Content-Type": "image/png"}
    with httpx.Client(base_url=base, timeout=10) as http:
        bad = {**richmenu.definition(), "chatBarText": "とても長いメニューの名前ですよね"}
        assert (
            http.post("/v2/bot/richmenu", content=json.dumps(bad), headers=json_auth).status_code
            == 400
        )
        outside = richmenu.definition()
        outside["areas"][0]["bounds"]["x"] = 2400
        assert http.post("/v2/bot/richmenu", json=outside, headers=json_auth).status_code == 400
        assert http.post("/v2/bot/richmenu", json=richmenu.definition()).status_code == 401
        created = http.post("/v2/bot/richmenu", json=richmenu.definition(), headers=json_auth)
        assert created.status_code == 200
        menu = created.json()["richMenuId"]
        # The default needs the image first.
        assert http.post(f"/v2/bot/user/all/richmenu/{menu}", headers=AUTH).status_code == 400
        content = f"/v2/bot/richmenu/{menu}/content"
        assert http.post(content, content=b"not a png", headers=png).status_code == 400
        wrong = solid_png(2500, 1686)
        assert http.post(content, content=wrong, headers=png).status_code == 400
        huge = richmenu.png_image() + b"\0" * richmenu.IMAGE_MAX_BYTES
        assert http.post(content, content=huge, headers=png).status_code == 413
        gif = {**AUTH, "Content-Type": "image/gif"}
        assert http.post(content, content=b"GIF89a", headers=gif).status_code == 415
        unknown = "/v2/bot/richmenu/richmenu-0000/content"
        assert http.post(unknown, content=richmenu.png_image(), headers=png).status_code == 404
    assert len(fake.violations) == 9
    assert fake.rich_menu_images == {}
    assert fake.default_rich_menu is None

"""`/simulator`: the page, its two static files, `POST /simulator/send` (build, sign and
deliver one webhook event) and `GET /simulator/messages` (what the fake LINE received)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from importlib import resources
from typing import Any, Literal

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, Field

from bot.settings import Settings
from bot.webhook import sign

log = logging.getLogger("marugoto.simulator")

WEBHOOK_PATH = "/line/webhook"
_USER_ID = re.compile(r"^U[0-9a-f]{32}$")
_STATIC = {"simulator.js": "text/javascript", "simulator.css": "text/css"}
_TIMEOUT = httpx.Timeout(10.0)

_templates = Environment(
    loader=PackageLoader("bot.simulator", "templates"),
    autoescape=select_autoescape(["html"]),
)


class SendRequest(BaseModel):
    """One thing the resident does in the simulator."""

    user_id: str = Field(alias="userId", pattern=_USER_ID.pattern)
    kind: Literal["text", "postback", "follow", "unfollow", "sticker", "image", "location"]
    text: str | None = Field(None, max_length=5000)
    data: str | None = Field(None, max_length=300)
    params: dict[str, str] | None = None


def _message_event(message: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "message": {"id": _id_digits(), **message}}


def _id_digits() -> str:
    return str(uuid.uuid4().int)[:18]


def build_event(request: SendRequest) -> dict[str, Any]:
    """A LINE webhook event as LINE would send it (fields per the Messaging API)."""
    if request.kind == "text":
        if not request.text:
            raise HTTPException(422, "text required")
        event = _message_event(
            {"type": "text", "text": request.text, "quoteToken": uuid.uuid4().hex},
        )
    elif request.kind == "postback":
        if request.data is None:
            raise HTTPException(422, "data required")
        postback: dict[str, Any] = {"data": request.data}
        if request.params:
            postback["params"] = request.params
        event = {"type": "postback", "postback": postback}
    elif request.kind == "sticker":
        event = _message_event(
            {
                "type": "sticker",
                "packageId": "446",
                "stickerId": "1988",
                "stickerResourceType": "STATIC",
                "quoteToken": uuid.uuid4().hex,
            },
        )
    elif request.kind == "image":
        event = _message_event(
            {
                "type": "image",
                "contentProvider": {"type": "line"},
                "quoteToken": uuid.uuid4().hex,
            },
        )
    elif request.kind == "location":
        event = _message_event(
            {"type": "location", "title": "現在地", "latitude": 35.6996, "longitude": 139.5031},
        )
    else:
        event = {"type": request.kind}
        if request.kind == "follow":
            event["follow"] = {"isUnblocked": False}
    event.update(
        {
            "mode": "active",
            "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": request.user_id},
            "webhookEventId": uuid.uuid4().hex.upper()[:26],
            "deliveryContext": {"isRedelivery": False},
        }
    )
    return event


def _own_base_url(request: Request) -> str:
    """This server's own address, from the socket it listens on (not the Host header, so
    a forged Host cannot send the signed body elsewhere)."""
    server = request.scope.get("server")
    if server and server[1]:
        host = str(server[0])
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{server[1]}"
    return str(request.base_url).rstrip("/")


def router(settings: Settings) -> APIRouter:
    """The simulator's routes. Only mount in demo mode (its settings point at the fake)."""
    fake_base = settings.line_api_base_url.rstrip("/")
    api = APIRouter(prefix="/simulator", include_in_schema=False)

    @api.get("", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        html = _templates.get_template("simulator.html").render()
        return HTMLResponse(
            html,
            headers={
                "Cache-Control": "no-store",
                "Content-Security-Policy": (
                    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'"
                ),
            },
        )

    @api.get("/static/{name}")
    async def static(name: str) -> Response:
        media_type = _STATIC.get(name)
        if media_type is None:
            raise HTTPException(404)
        body = resources.files("bot.simulator").joinpath("static", name).read_bytes()
        return Response(body, media_type=media_type, headers={"Cache-Control": "no-cache"})

    @api.post("/send")
    async def send(body: SendRequest, request: Request) -> JSONResponse:
        secret = request.app.state.settings.line_channel_secret
        if secret is None:
            raise HTTPException(503, "no channel secret (is MARUGOTO_DEMO set?)")
        event = build_event(body)
        async with httpx.AsyncClient(timeout=_TIMEOUT) as client:
            if body.kind != "unfollow":
                # The fake LINE issues the reply token the bot will answer with.
                issued = await client.post(
                    f"{fake_base}/_fake/reply-token", json={"userId": body.user_id}
                )
                issued.raise_for_status()
                event["replyToken"] = issued.json()["replyToken"]
            payload = json.dumps(
                {"destination": "U" + "0" * 32, "events": [event]},
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode("utf-8")
            own = _own_base_url(request)
            answer = await client.post(
                own + WEBHOOK_PATH,
                content=payload,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "X-Line-Signature": sign(secret.get_secret_value(), payload),
                },
            )
        log.info("simulator event %s → webhook %d", event["type"], answer.status_code)
        return JSONResponse({"webhook": answer.status_code, "type": event["type"]})

    @api.get("/messages")
    async def messages(user: str, after: int = 0) -> JSONResponse:
        if not _USER_ID.match(user):
            raise HTTPException(422, "bad user id")
        async with httpx.AsyncClient(timeout=_TIMEOUT) as client:
            answer = await client.get(
                f"{fake_base}/_fake/messages/{user}", params={"after": max(0, after)}
            )
        answer.raise_for_status()
        return JSONResponse(answer.json(), headers={"Cache-Control": "no-store"})

    return api

"""Jinja2 for the staff UI: autoescape on for every template, Japanese time formats.

Resident text is untrusted: templates print it with autoescape inside `<bdi>` (or an
element with dir="auto") so bidi controls cannot reorder the page around it, and never
through `|safe`. Jinja never evaluates data, so `{{7*7}}` in a message stays literal.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse

from admin import labels, wording
from knowledge.calendar import JST

TEMPLATES = Path(__file__).with_name("templates")


def jst(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(JST).strftime(fmt)


def duration(value: timedelta | None) -> str:
    if value is None:
        return ""
    minutes = max(int(value.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes}分"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}時間{minutes}分"
    return f"{hours // 24}日{hours % 24}時間"


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["jst"] = jst
    env.filters["duration"] = duration
    env.filters["jst_weekday"] = lambda v: v.astimezone(JST).weekday()
    env.filters["window"] = labels.window_label
    env.filters["status"] = lambda v: labels.STATUS_LABELS.get(v, v)
    env.filters["urgency"] = lambda v: labels.URGENCY_LABELS.get(v, v)
    env.filters["reporter"] = lambda v: labels.REPORTER_LABELS.get(v, v)
    env.filters["role"] = lambda v: labels.ROLE_LABELS.get(v, v)
    env.filters["delivery"] = lambda v: labels.DELIVERY_LABELS.get(v, v)
    env.filters["action"] = wording.action_label
    env.filters["actor"] = lambda v: wording.ACTOR_LABELS.get(v, v)
    env.filters["target"] = lambda v: wording.TARGET_LABELS.get(v, v)
    env.filters["evidence"] = wording.evidence_line
    env.globals["describe"] = wording.describe
    env.globals["STATUS_LABELS"] = labels.STATUS_LABELS
    env.globals["URGENCY_LABELS"] = labels.URGENCY_LABELS
    env.globals["REPORTER_LABELS"] = labels.REPORTER_LABELS
    env.globals["ROLE_LABELS"] = labels.ROLE_LABELS
    env.globals["window_names"] = labels.window_names
    return env


_ENV = build_environment()


def render(
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    html = _ENV.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=headers)

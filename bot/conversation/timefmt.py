"""Every date and time a resident reads, in Asia/Tokyo, one formatter for all of them; the
formats are in the text store (time.* in bot/conversation/texts/ja.yaml).

    when(t)        「11月24日 月曜日 8時30分」   the desk's next opening
    slot_day(d)    「12月3日（水）」               a booking's day
    slot_when(t)   「12月3日（水）10:00」          a booking's time
    short_day(d)   「12/3（水）」                  on a button
    short_when(t)  「12/3（水）10:00」             on a button
"""

from __future__ import annotations

from datetime import date, datetime

from bot.conversation import texts
from knowledge.calendar import next_opening, office_is_open, to_jst


def when(t: datetime, lang: str = texts.DEFAULT_LANGUAGE) -> str:
    local = to_jst(t)
    if local.minute:
        minute = f"{local.minute:02d}"
        clock = texts.text("time.clock_minutes", lang=lang, hour=local.hour, minute=minute)
    else:
        clock = texts.text("time.clock_hour", lang=lang, hour=local.hour)
    return texts.text(
        "time.when",
        lang=lang,
        month=local.month,
        day=local.day,
        weekday=texts.weekday(local.weekday(), lang),
        clock=clock,
    )


def slot_day(day: date) -> str:
    return texts.text(
        "time.date", month=day.month, day=day.day, weekday=texts.weekday(day.weekday())
    )


def short_day(day: date) -> str:
    return texts.text(
        "time.short_date", month=day.month, day=day.day, weekday=texts.weekday(day.weekday())
    )


def _slot(day_text: str, local: datetime) -> str:
    return texts.text("time.slot", date=day_text, hour=local.hour, minute=f"{local.minute:02d}")


def slot_when(t: datetime) -> str:
    local = to_jst(t)
    return _slot(slot_day(local.date()), local)


def short_when(t: datetime) -> str:
    local = to_jst(t)
    return _slot(short_day(local.date()), local)


def desk_next_opening(now: datetime, lang: str = texts.DEFAULT_LANGUAGE) -> str | None:
    """When staff of the 福祉総合相談窓口 will next be at work, or None if open now."""
    if office_is_open(now):
        return None
    opens = next_opening("general_desk", now)
    return when(opens, lang) if opens is not None else None

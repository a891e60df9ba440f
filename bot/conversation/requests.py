"""Typed requests that mean a button: 「相談員に連絡してほしい」, 「メニュー」, 「削除してほしい」,
and greetings (「こんにちは」).

A resident who types what a button says must get what the button does (README: 「相談員に
連絡してほしい」 makes a handoff). Only short messages are read as requests: a long message
is a worry and goes to the triage, which the conversation runs first anyway (a crisis always
wins). Booking words (予約したい, キャンセル …) are the booking dialogue's
(bot.conversation.booking.booking_intent).
"""

from __future__ import annotations

import unicodedata
from typing import Literal

Request = Literal["staff", "menu", "erase", "greeting"]

#: A request is a short message: longer ones are worries, read by the triage.
MAX_REQUEST = 30

#: Who: a person of the desk.
_PERSON = ("相談員", "職員", "担当", "担当者", "人間", "スタッフ", "窓口の人", "専門家")
#: …and what the resident wants from them.
_CONTACT = (
    "連絡してほしい",
    "連絡ほしい",
    "連絡がほしい",
    "連絡をください",
    "連絡ください",
    "連絡して",
    "電話がほしい",
    "電話ほしい",
    "電話してほしい",
    "電話して",
    "電話をください",
    "電話ください",
    "話したい",
    "話せますか",
    "話せる",
    "会いたい",
    "会って話",
    "会えますか",
    "つないで",
    "つないでほしい",
    "繋いで",
    "代わって",
    "相談したい",
)
#: Without a person named: only these (直接話したい is about a person by itself).
_STAFF_ALONE = (
    "直接話したい",
    "直接相談したい",
    "会って話したい",
    "会って相談したい",
    "電話がほしい",
    "電話してほしい",
    "電話で話したい",
    "電話で相談したい",
    "連絡してほしい",
    "折り返し",
)
_MENU = frozenset(
    {"メニュー", "めにゅー", "menu", "はじめから", "最初から", "さいしょから", "トップ", "戻る"}
)
_ERASE = ("削除", "けして", "消して", "消したい", "データを消", "履歴を消")
_GREETINGS = frozenset(
    {
        "こんにちは",
        "こんにちわ",
        "こんばんは",
        "こんばんわ",
        "おはよう",
        "おはようございます",
        "はじめまして",
        "はじめまして、よろしくお願いします",
        "よろしくお願いします",
        "よろしくおねがいします",
        "もしもし",
        "やあ",
        "どうも",
        "hello",
        "hi",
        "hey",
        "good morning",
        "good afternoon",
        "good evening",
    }
)
_TRAILING = " 　。.!！?？、,〜~…w笑"


def _squash(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    return "".join(folded.split()).strip(_TRAILING)


def typed_request(text: str) -> Request | None:
    """The button a short typed message asks for, or None (a worry, a question…)."""
    words = _squash(text)
    if not words or len(words) > MAX_REQUEST:
        return None
    spoken = unicodedata.normalize("NFKC", text).strip().lower().strip(_TRAILING + "ー")
    if words in _GREETINGS or spoken in _GREETINGS or words.rstrip("ー") in _GREETINGS:
        return "greeting"
    if words in _MENU:
        return "menu"
    if any(word in words for word in _ERASE) and len(words) <= 12:
        return "erase"
    if any(word in words for word in _STAFF_ALONE):
        return "staff"
    if any(person in words for person in _PERSON) and any(c in words for c in _CONTACT):
        return "staff"
    return None

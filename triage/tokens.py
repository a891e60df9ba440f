"""Sudachi tokens: the one view of a message that the routing engine and the risk model read.

Mode A (finest units), so a compound term is a run of tokens on both sides (住居確保給付金 in
the lexicon and in a message split the same way). A token keeps its normalized form (lemma:
飲んだ → 飲む, くすり → 薬), its katakana reading, its part of speech and conjugated form
(the risk model reads 飛び降りよう as a volition), and where it sits in the cleaned text.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

#: Sudachi reads at most this many characters of one message (LINE caps a text at 5,000).
MAX_TOKENISED = 5000

# Symbols carry no topic; of the particles only those that mark case or topic are dropped
# (家賃が払えない = 家賃払えない), while から/まで/で/と/の keep their meaning
# (どこから相談 is not どこに相談).
FUNCTION_POS = frozenset({"補助記号", "空白"})
DROPPABLE_PARTICLES = frozenset(
    {"が", "を", "は", "も", "って", "とか", "なんか", "ね", "よ", "さ", "わ"}
)
NEGATIONS = frozenset({"ない", "無い", "ぬ", "ず"})
CONTENT_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞", "副詞", "代名詞", "連体詞", "接頭辞"})

_KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def has_kanji(text: str) -> bool:
    return _KANJI.search(text) is not None


_KANA_ONLY = re.compile("[\u3041-\u30ff]*")


def is_kana_only(text: str) -> bool:
    return _KANA_ONLY.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class Token:
    surface: str
    lemma: str
    reading: str
    content: bool
    function: bool
    start: int
    end: int
    #: Punctuation or a symbol: a kana reading never runs across it (た。どう is not 多動).
    punct: bool = False
    #: Part of speech (名詞, 動詞, 助動詞, 助詞 …) and its sub-class (接続助詞 …).
    pos: str = ""
    pos_detail: str = ""
    #: Conjugated form (終止形-一般, 意志推量形 …), "*" for words that do not conjugate.
    form: str = "*"


class Tokenizer:
    """One shared Sudachi dictionary and tokenizer."""

    def __init__(self) -> None:
        from sudachipy import Dictionary, SplitMode

        self._dictionary = Dictionary(dict="core")
        self._tokenizer = self._dictionary.tokenizer(
            mode=SplitMode.A, fields={"pos", "normalized_form", "reading_form"}
        )
        self._lock = threading.Lock()

    def tokens(self, text: str) -> list[Token]:
        if not text.strip():
            return []
        # The Sudachi tokenizer object is not safe to share between threads.
        with self._lock:
            morphemes: Any = self._tokenizer.tokenize(text[:MAX_TOKENISED])
            tokens: list[Token] = []
            for m in morphemes:
                tags = m.part_of_speech()
                pos = tags[0]
                if pos == "空白":
                    continue
                lemma = m.normalized_form()
                tokens.append(
                    Token(
                        surface=m.surface(),
                        lemma=lemma,
                        reading=m.reading_form(),
                        content=pos in CONTENT_POS,
                        function=pos in FUNCTION_POS
                        or (pos == "助詞" and lemma in DROPPABLE_PARTICLES),
                        start=m.begin(),
                        end=m.end(),
                        punct=pos == "補助記号",
                        pos=pos,
                        pos_detail=tags[1],
                        form=tags[5],
                    )
                )
            return tokens

"""Risk in English: the same concepts and frames, found by words instead of Sudachi lemmas.

Foreign residents write in English too (issue 10). The frames of knowledge/data/risk/ are
about meaning, not language, so English messages are read with them unchanged: this module
finds the concepts of knowledge/data/risk/english.yaml in the lower-cased words (apostrophes
dropped: don't → dont), with the aspect a term carries (took@done, want to die@desire), a
negation right before a term (not, dont, never …), and the sentence of each word; the
frames then combine them as for Japanese.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from triage.risk import ConceptHit, Reading, RiskModel
from triage.tokens import Token

_WORD = re.compile(r"[a-z0-9*]+")
_SENTENCE = re.compile(r"[.!?\n]+")
_NEGATIONS = frozenset(
    {"not", "dont", "never", "no", "wont", "cant", "isnt", "arent", "didnt", "doesnt", "wasnt"}
)
#: How many words before a term a negation still applies to it (not really suicidal).
_NEGATION_SPAN = 3


@dataclass(frozen=True, slots=True)
class _EnglishTerm:
    concept: str
    text: str
    words: tuple[str, ...]
    aspect: str | None


def is_english(text: str) -> bool:
    """Latin letters and no Japanese script: the English reader reads it."""
    has_latin = any("a" <= ch.lower() <= "z" for ch in text)
    japanese = any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in text)
    return has_latin and not japanese


def _words(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) of each word, apostrophes removed."""
    out: list[tuple[str, int, int]] = []
    for m in _WORD.finditer(text.lower().replace("'", "").replace("’", "")):
        out.append((m.group(0), m.start(), m.end()))
    return out


def _matches(term_word: str, word: str) -> bool:
    if term_word.endswith("*"):
        return word.startswith(term_word[:-1])
    return word == term_word


class EnglishReader:
    """Compiled English terms; `read` gives a Reading the frames understand."""

    def __init__(self, terms: Mapping[str, Sequence[str]], model: RiskModel) -> None:
        self.model = model
        self._by_first: dict[str, list[_EnglishTerm]] = {}
        self._prefix: list[_EnglishTerm] = []
        for concept, texts in terms.items():
            for text in texts:
                phrase, _, aspect = text.partition("@")
                words = tuple(phrase.lower().replace("'", "").split())
                term = _EnglishTerm(concept, text, words, aspect or None)
                if words[0].endswith("*"):
                    self._prefix.append(term)
                else:
                    self._by_first.setdefault(words[0], []).append(term)

    def read(self, text: str) -> Reading:
        cleaned = text.lower().replace("'", "").replace("’", "")
        words = _words(text)
        tokens = [Token(w, w, "", True, False, start, end, pos="名詞") for w, start, end in words]
        ends = [m.start() for m in _SENTENCE.finditer(cleaned)]
        sentences = tuple(sum(1 for e in ends if e < start) for _, start, _ in words)
        hits: list[ConceptHit] = []
        names = [w for w, _, _ in words]
        for i, word in enumerate(names):
            candidates = [*self._by_first.get(word, ()), *self._prefix]
            for term in candidates:
                n = len(term.words)
                if i + n > len(names):
                    continue
                if not all(_matches(tw, names[i + k]) for k, tw in enumerate(term.words)):
                    continue
                if sentences[i] != sentences[i + n - 1]:
                    continue
                aspects = {term.aspect} if term.aspect else set()
                if term.words[0] not in _NEGATIONS and any(
                    w in _NEGATIONS for w in names[max(0, i - _NEGATION_SPAN) : i]
                ):
                    aspects.add("negated")
                if term.aspect == "done":
                    aspects.add("done")
                hits.append(
                    ConceptHit(
                        concept=term.concept,
                        term=term.text,
                        matched=" ".join(names[i : i + n]),
                        start=i,
                        end=i + n,
                        sentence=sentences[i],
                        aspects=frozenset(aspects),
                    )
                )
        ordered = tuple(sorted(hits, key=lambda h: (h.start, h.concept)))
        return self.model.read_hits(ordered, tokens, sentences)

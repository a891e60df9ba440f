"""The second routing signal: how much a message resembles each window's example requests.

The lexicon (triage.engine) knows the words residents use; this knows what residents ask.
Each window has its own description (name, purpose, for whom — windows.yaml) and example
requests (knowledge/examples/). A message is compared with every one of them by TF-IDF
cosine over its words:

- Japanese: the content lemmas Sudachi gives (払えなくて → 払う, 家賃; こども → 子供), so
  conjugation and spelling variants meet; particles and auxiliaries are left out;
- English: lower-cased words with the plural, -ing and -ed endings cut, stop words left out.

A window's resemblance is its best match among its documents; the evidence names that
example (or "description") and the words the message shares with it, so staff see what it
resembled. Words that carry no topic in either language (する, 思う, want, help …) are left
out, and a word shared by almost every document weighs almost nothing (IDF).

Pure and fast: an inverted index built once; a message costs one pass over its words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from knowledge.examples import WindowExamples
from triage.tokens import Token, Tokenizer

#: Lemmas that say nothing about which window (verbs of wanting, asking, being, doing).
_JA_STOP = frozenset(
    [
        "する",
        "為る",
        "ある",
        "有る",
        "いる",
        "居る",
        "なる",
        "成る",
        "できる",
        "出来る",
        "思う",
        "言う",
        "いう",
        "知る",
        "聞く",
        "教える",
        "こと",
        "事",
        "もの",
        "物",
        "ところ",
        "所",
        "よう",
        "様",
        "ため",
        "為",
        "方",
        "人",
        "自分",
        "私",
        "僕",
        "俺",
        "わたし",
        "何",
        "なに",
        "どう",
        "どこ",
        "いい",
        "良い",
        "良く",
        "よい",
        "今",
        "いま",
        "もう",
        "まだ",
        "とても",
        "すごく",
        "ちょっと",
        "少し",
        "本当",
        "ほんと",
        "全然",
        "ない",
        "無い",
        "ください",
        "下さる",
        "欲しい",
        "貰う",
        "もらう",
        "行く",
        "いく",
        "来る",
        "くる",
        "見る",
        "みる",
        "最近",
        "毎日",
        "ずっと",
        "色々",
        "いろいろ",
        "それ",
        "これ",
        "あれ",
        "その",
        "この",
        "あの",
        "そう",
        "こう",
        "感じ",
        "相談",
        "窓口",
        "お願い",
        "お",
        "御",
        "ご",
        "様子",
        "的",
        "中",
        "時",
        "とき",
        "日",
        "年",
        "月",
        "一",
        "二",
        "歳",
        "さん",
        "ちゃん",
        "くん",
        "場合",
        "大丈夫",
        "問題",
        "状態",
        "わかる",
        "分かる",
        "分る",
        "困る",
        "心配",
        "不安",
        "つらい",
        "辛い",
        "しんどい",
        "大変",
        "付く",
        "つく",
        "かける",  # 外れかけ, 見かけ: a helper verb more often than a topic
        "掛ける",
        "対する",
        "関する",
        "疲れる",
        "聞ける",
        "気",
        "今月",
        "来月",
        "先月",
        "息子",
        "娘",
        "母",
        "父",
        "兄",
        "弟",
        "姉",
        "妹",
        "夫",
        "妻",
        "親",
        "子供",
        "友達",
        "家族",
        "祖母",
        "祖父",
        "彼",
        "彼女",
        "家",
        "暮らす",
        "暮らし",
    ]
)
_EN_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "so",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "from",
        "with",
        "by",
        "about",
        "into",
        "as",
        "is",
        "am",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "having",
        "i",
        "me",
        "my",
        "mine",
        "myself",
        "we",
        "our",
        "you",
        "your",
        "he",
        "him",
        "his",
        "she",
        "her",
        "it",
        "its",
        "they",
        "them",
        "their",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "when",
        "where",
        "why",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "not",
        "no",
        "nor",
        "very",
        "too",
        "just",
        "also",
        "only",
        "than",
        "then",
        "now",
        "still",
        "yet",
        "again",
        "any",
        "some",
        "all",
        "each",
        "every",
        "more",
        "most",
        "much",
        "many",
        "other",
        "such",
        "own",
        "same",
        "up",
        "down",
        "out",
        "off",
        "over",
        "under",
        "please",
        "hi",
        "hello",
        "dear",
        "thank",
        "thanks",
        "want",
        "wanted",
        "need",
        "needed",
        "help",
        "know",
        "get",
        "got",
        "go",
        "going",
        "like",
        "feel",
        "really",
        "don't",
        "can't",
        "i'm",
        "i've",
        "it's",
        "there's",
        "what's",
        "is",
        "there",
        "anyone",
        "someone",
        "something",
        "anything",
        "one",
    ]
)
#: A resemblance rests on at least this many shared words; one word alone counts this much.
MIN_SHARED = 2
ONE_WORD_FACTOR = 0.5
_EN_WORD = re.compile(r"[a-z][a-z']*")


def _en_stem(word: str) -> str:
    """A light stemmer: enough for rent/rents, paying/paid is not needed (examples vary)."""
    word = word.strip("'")
    if word.endswith("'s"):
        word = word[:-2]
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith("ss"):
                break
            return word[: -len(suffix)] + keep
    return word


def english_words(text: str) -> list[str]:
    """The topical words of an English text, lower-cased and lightly stemmed."""
    words = _EN_WORD.findall(text.lower())
    return [_en_stem(w) for w in words if w not in _EN_STOP and len(w) > 1]


def japanese_words(tokens: Sequence[Token]) -> list[str]:
    """The topical lemmas of a Japanese message (content words, no stop lemmas)."""
    out: list[str] = []
    for token in tokens:
        if token.function or not token.content or token.pos == "代名詞":
            continue
        lemma = token.lemma
        if lemma in _JA_STOP or (len(lemma) == 1 and not _is_kanji(lemma)):
            continue
        out.append(lemma)
    return out


def _is_kanji(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


@dataclass(frozen=True, slots=True)
class Resemblance:
    """A window the message resembles: its score (cosine, 0..1), the document it resembled
    most (an example request, or "" for the window's description) and the shared words."""

    window: str
    score: float
    example: str
    shared: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Doc:
    window: str
    text: str  # "" for the description
    weights: Mapping[str, float]


class _Index:
    def __init__(self, docs: list[tuple[str, str, list[str]]]) -> None:
        df: Counter[str] = Counter()
        for _, _, words in docs:
            df.update(set(words))
        n = len(docs)
        self.idf = {w: math.log((n + 1) / (c + 0.5)) for w, c in df.items()}
        self.docs: list[_Doc] = []
        self.postings: dict[str, list[tuple[int, float]]] = {}
        for window, text, words in docs:
            vector = self._vector(words)
            if not vector:
                continue
            index = len(self.docs)
            self.docs.append(_Doc(window, text, vector))
            for word, weight in vector.items():
                self.postings.setdefault(word, []).append((index, weight))

    def _vector(self, words: Sequence[str]) -> dict[str, float]:
        counts = Counter(w for w in words if w in self.idf)
        raw = {w: (1.0 + math.log(c)) * self.idf[w] for w, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in raw.values()))
        return {w: v / norm for w, v in raw.items()} if norm else {}

    def resemble(self, words: Sequence[str], limit: int) -> list[Resemblance]:
        query = self._vector(words)
        if not query:
            return []
        dots: dict[int, float] = {}
        for word, weight in query.items():
            for doc, doc_weight in self.postings.get(word, ()):
                dots[doc] = dots.get(doc, 0.0) + weight * doc_weight
        best: dict[str, tuple[float, int]] = {}
        for doc, score in dots.items():
            if sum(word in self.docs[doc].weights for word in query) < MIN_SHARED:
                # One shared word is a coincidence more often than a resemblance.
                score *= ONE_WORD_FACTOR
            window = self.docs[doc].window
            if window not in best or score > best[window][0]:
                best[window] = (score, doc)
        ranked = sorted(best.items(), key=lambda kv: -kv[1][0])[:limit]
        out: list[Resemblance] = []
        for window, (score, doc) in ranked:
            found = self.docs[doc]
            shared = tuple(sorted(set(query) & set(found.weights), key=lambda w: -query[w]))
            out.append(Resemblance(window, round(score, 4), found.text, shared))
        return out


class ExampleIndex:
    """The windows' descriptions and example requests, indexed per language."""

    def __init__(self, examples: Mapping[str, WindowExamples], tokenizer: Tokenizer) -> None:
        ja: list[tuple[str, str, list[str]]] = []
        en: list[tuple[str, str, list[str]]] = []
        for window, entry in examples.items():
            ja.append((window, "", japanese_words(tokenizer.tokens(entry.description["ja"]))))
            for text in entry.examples.get("ja", ()):
                ja.append((window, text, japanese_words(tokenizer.tokens(text))))
            if entry.description.get("en"):
                en.append((window, "", english_words(entry.description["en"])))
            for text in entry.examples.get("en", ()):
                en.append((window, text, english_words(text)))
        self._indexes = {"ja": _Index(ja), "en": _Index(en)}

    def resemble_japanese(self, tokens: Sequence[Token], limit: int = 4) -> list[Resemblance]:
        return self._indexes["ja"].resemble(japanese_words(tokens), limit)

    def resemble_english(self, text: str, limit: int = 4) -> list[Resemblance]:
        return self._indexes["en"].resemble(english_words(text), limit)

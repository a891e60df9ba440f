"""The risk model: concepts found on Sudachi lemmas, combined into frames, read within scope.

Counsellors screen in an order (wish to be dead → active thoughts → method → intent → plan →
preparation → timing → act) and listen for the same things in words that never say 死:
a rope bought and tied, pills saved up, a letter to the family, a night chosen, someone
standing somewhere high, a neighbour not seen for a week. `knowledge/data/risk/` holds those
concepts and the frames that combine them, each with a note for the reviewing 相談員; this
module compiles them once through the same tokenizer as the routing engine and applies them:

1. **Concepts** are found as runs of lemmas (飲んだ, のんじゃった, 飲みました all read 飲む);
   ``#`` in a term is a number (30錠). Each hit records how it is conjugated (`aspects`):
   done (〜た, 〜てしまった, 〜ている), now (〜ている), desire (〜たい), volition (〜しよう),
   negated (〜ない, 〜とは思わない, 〜わけじゃない), passive, subject (友達が).
2. **Frames** need every `all` concept within a sentence (`scope: clause`) or the message,
   and one `any` concept anywhere in the message (the words around a plan colour all of it).
3. **Scope** concepts (a book or the news, prevention work, camping, someone else's death,
   the past …) cancel or lower a frame; the frame is still reported with why, never dropped.
   A scope concept with `reach` must sit that close (in tokens) to the frame's words.
4. **Attribution**: a frame about the writer whose words follow another person as subject
   (妹が薬を全部飲んだ) is that person's risk (`other_person`).

Pure and fast: a dictionary lookup per token; no regular expression on the message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from knowledge.risk import Concept, Frame, Need, RiskData
from triage.normalise import clean, fold
from triage.tokens import NEGATIONS, Token, Tokenizer, has_kanji, is_kana_only

#: Sentence ends: a frame with `scope: clause` reads one of these spans.
_SENTENCE_ENDS = frozenset("。．.！!？?\n")
#: Tokens after a hit that may carry its conjugation (〜てしまった, 〜たくない …).
_ASPECT_SPAN = 6
#: Words that may stand between a hit and its negation (死にたいとは思わない、死ぬつもりはない).
_NEGATION_BRIDGE = frozenset(
    {
        "と",
        "思う",
        "考える",
        "訳",
        "わけ",
        "だ",
        "で",
        "つもり",
        "気",
        "事",
        "こと",
        "程",
        "ほど",
        "言う",
        "の",
        "ん",
        "じゃ",
        "ます",
        "感じ",
        "程度",
        "まで",
        "とか",
        "音",  # 叩く音とかはない
        "有る",  # 死ぬつもりはありません
        "ある",
        "気持ち",  # 死にたい気持ちはない
        "思い",
        "考え",
        "て",
        "居る",
        "いる",
        "は",
        "も",
        "全然",
        "別に",
        "決して",
        "絶対",
        "今",
        "もう",
        "そう",
        "そういう",
        "そんな",
        "系",
        "全く",
        "まったく",
        "特に",
        "か",
        "なんか",
        "など",
        "なんて",
        "一度",
        "ござる",
        "御座る",
        "たり",
        "為る",
        "する",
        "おる",
    }
)
#: Verbs that carry an aspect after 〜て (〜てくる, 〜てくれる, 〜てもらう): read through them.
_AUXILIARY_VERBS = frozenset({"成る", "なる", "来る", "くる", "貰う", "下さる", "呉れる", "くれる"})
_DONE = frozenset({"た", "ちゃう", "ちまう", "仕舞う", "しまう", "じゃう"})
_PROGRESSIVE = frozenset({"てる", "でる", "とる", "どる"})
_BEING = frozenset({"居る", "いる", "有る", "ある", "おる", "置く"})
_DESIRE = frozenset({"たい", "たがる"})
_PASSIVE = frozenset({"れる", "られる"})
_VOLITION = frozenset({"う", "よう"})
_SUBJECT_MARKERS = frozenset({"が", "は", "も", "って", "ったら", "なんか", "から"})
_CONNECTIVES = frozenset({"けど", "けれど", "が", "し", "のに", "ので", "から"})
_KANJI_NUMERALS = dict(
    zip("〇一二三四五六七八九十百", (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100), strict=True)
)


def number_of(token: Token) -> int | None:
    """The value of a number token (30, 三十 → Sudachi normalizes to 30), else None."""
    return _number_in(token.lemma)


@lru_cache(maxsize=65536)
def _number_in(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if text and all(ch in _KANJI_NUMERALS for ch in text):
        value = 0
        for ch in text:
            digit = _KANJI_NUMERALS[ch]
            value = value * 10 + digit if digit < 10 else max(value, 1) * digit
        return value
    return None


def canonical(tokens: Sequence[Token]) -> list[tuple[int, str]]:
    """The content words as the risk model compares them, with their token index.

    Politeness and aspect spellings are folded so a term written one way meets the others:
    ます/です dropped (見かけません = 見かけない), every negation reads ない (取れず = 取れない;
    ありません = ない),
    〜ている/〜てる read 〜て (食べていない = 食べてない), 〜ちゃう/〜てしまう read しまう
    (飲んじゃった = 飲んでしまった)."""
    out: list[tuple[int, str]] = []
    for i, t in enumerate(tokens):
        if t.function:
            continue
        lemma = t.lemma
        if t.pos == "助動詞" and lemma in ("ます", "です"):
            continue
        if lemma in NEGATIONS:
            lemma = "ない"
            if out and out[-1][1] in ("有る", "ある"):
                out.pop()  # 応答がありません = 応答がない (the words end at the negation)
        elif t.pos == "助動詞" and lemma in _PROGRESSIVE:
            lemma = "て"
        elif t.pos == "助動詞" and lemma in ("ちゃう", "じゃう", "ちまう"):
            lemma = "仕舞う"
        elif lemma in ("居る", "いる") and out and out[-1][1] == "て":
            continue
        if lemma in ("仕舞う", "しまう") and out and out[-1][1] in ("て", "で"):
            out.pop()
            lemma = "仕舞う"
        if lemma == "で" and t.pos == "助詞" and t.pos_detail == "接続助詞":
            lemma = "て"
        out.append((i, lemma))
    return out


#: The key a number position is found by (see RiskModel.concept_hits).
_NUMBER = "#"


@lru_cache(maxsize=65536)
def _fold_surface(surface: str) -> str:
    """fold() of a token's surface; the same words come back in every message."""
    return fold(surface)


@dataclass(frozen=True, slots=True)
class _Match:
    """One position of a compiled term: a word, or a number of at least `minimum`."""

    lemma: str = ""
    reading: str = ""
    surface: str = ""
    minimum: int | None = None
    #: What a message position must share with this one to possibly match it.
    keys: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        found = {_NUMBER} if self.minimum is not None else {self.lemma, self.surface, self.reading}
        object.__setattr__(self, "keys", frozenset(k for k in found if k))

    def accepts(self, token: Token, lemma: str, folded: str) -> bool:
        if self.minimum is not None:
            value = number_of(token)
            return value is not None and value >= self.minimum
        if lemma == self.lemma or folded == self.surface:
            return True
        # Kana spellings meet their kanji through the reading (ひも = 紐) — only where one side
        # wrote kana and Sudachi did not already read the kana as another word (いきたくない
        # is 行きたくない, not 生きたくない), so homophones stay apart.
        if not is_kana_only(token.surface) or has_kanji(lemma):
            return False
        if token.pos in ("助詞", "助動詞"):
            return False  # で泣い is not 出ない: particles do not stand for words
        return bool(self.reading) and token.reading == self.reading


@dataclass(frozen=True, slots=True)
class _Term:
    concept: str
    text: str
    matches: tuple[_Match, ...]
    #: Matched as folded text instead (今も, 前は: the particle is the meaning).
    literal: str = ""


class _Node:
    """A trie node over term positions. A term is inserted along its lemmas; every key the
    same position also accepts (surface, reading) is an extra edge to the same child, so a
    walk follows what the message offers and exact matching checks only terms that end."""

    __slots__ = ("by_lemma", "edges", "terms")

    def __init__(self) -> None:
        self.by_lemma: dict[str, _Node] = {}
        self.edges: dict[str, list[_Node]] = {}
        self.terms: list[_Term] = []

    def insert(self, term: _Term) -> None:
        node = self
        for match in term.matches:
            lemma = _NUMBER if match.minimum is not None else match.lemma
            child = node.by_lemma.get(lemma)
            if child is None:
                child = node.by_lemma[lemma] = _Node()
            for key in {lemma, *match.keys}:
                listed = node.edges.setdefault(key, [])
                if child not in listed:
                    listed.append(child)
            node = child
        node.terms.append(term)


@dataclass(frozen=True, slots=True)
class ConceptHit:
    concept: str
    term: str
    matched: str
    #: Token indices into the message's full token list: [start, end).
    start: int
    end: int
    sentence: int
    aspects: frozenset[str]
    #: Inside 「」 or 『』 (a title or a quotation).
    quoted: bool = False

    def fits(self, aspect: str) -> bool:
        if "negated" in self.aspects and aspect != "negated":
            return False
        if "lifetime" in self.aspects and self.concept in _LIFETIME_CONCEPTS:
            return False  # 死ぬまで, 今まで: a span of time, not a death or a now
        # 死にたいって思ってた: a wish the writer places in the past (read as concern).
        if "past_thought" in self.aspects and aspect in ("desire", "volition"):
            return False
        if aspect == "any":
            return True
        if aspect == "done":
            return bool(self.aspects & {"done", "now"})
        return aspect in self.aspects


@dataclass(frozen=True, slots=True)
class FrameHit:
    frame: Frame
    #: `active`, `negated` (the writer said no: concern), `lowered` (by a scope concept:
    #: concern) or `cancelled` (about something else: not a risk).
    status: str
    hits: tuple[ConceptHit, ...]
    kind: str
    danger_now: bool
    #: The scope concept that lowered or cancelled it.
    by: str | None = None

    @property
    def level(self) -> str | None:
        if self.status == "active":
            return self.frame.level
        if self.status in ("negated", "lowered"):
            return "concern"
        return None


@dataclass(frozen=True, slots=True)
class Reading:
    """What the risk model read in one message."""

    hits: tuple[ConceptHit, ...]
    frames: tuple[FrameHit, ...]
    #: Sentence index of each token, and whether each token is inside quotation marks.
    sentences: tuple[int, ...] = field(default=())
    quoted: tuple[bool, ...] = field(default=())
    #: The role of each concept found (means, intent, scope …).
    roles: dict[str, str] = field(default_factory=dict)

    def active(self) -> tuple[FrameHit, ...]:
        return tuple(f for f in self.frames if f.status == "active")

    def by_concept(self) -> dict[str, list[ConceptHit]]:
        grouped: dict[str, list[ConceptHit]] = {}
        for hit in self.hits:
            grouped.setdefault(hit.concept, []).append(hit)
        return grouped


def sentence_of_each(tokens: Sequence[Token], text: str) -> tuple[int, ...]:
    """The sentence each token is in (a new one after 。！？ or a line break). Dots in a
    row are a trailing-off, not an end (… is ... once normalised): 未練はない…ってくらい."""
    ends = [
        i
        for i, ch in enumerate(text)
        if ch in _SENTENCE_ENDS
        and not (ch in ".．" and ("." in text[i - 1 : i] + text[i + 1 : i + 2]))
    ]
    result: list[int] = []
    k = 0
    for token in tokens:
        while k < len(ends) and ends[k] < token.start:
            k += 1
        result.append(k)
    return tuple(result)


def quoted_tokens(tokens: Sequence[Token], text: str) -> tuple[bool, ...]:
    """Whether each token sits inside 「」, 『』 or “” (a title, a quotation)."""
    depth = 0
    inside: list[bool] = []
    k = 0
    for t in tokens:
        while k < t.start and k < len(text):
            ch = text[k]
            depth += ch in "「『“"
            depth -= ch in "」』”" and depth > 0
            k += 1
        inside.append(depth > 0)
    return tuple(inside)


def aspects_within(tokens: Sequence[Token], start: int, end: int) -> frozenset[str]:
    """Aspects of words found as one piece (a pattern like 死にたい or 飲んじゃった): what its
    own auxiliaries say, and what follows it."""
    inner: set[str] = set()
    for t in tokens[start + 1 : end]:
        if t.pos == "助動詞" and t.lemma in _DESIRE:
            inner.add("desire")
        elif t.pos == "助動詞" and t.lemma in _DONE:
            inner.add("done")
        elif t.pos == "助動詞" and t.lemma in _VOLITION:
            inner.add("volition")
        elif t.pos == "助動詞" and t.lemma in _PROGRESSIVE:
            inner |= {"now", "done"}
    if tokens[start].form.startswith("意志推量形"):
        inner.add("volition")
    return aspects_after(tokens, start, end, frozenset(inner))


def aspects_after(
    tokens: Sequence[Token], start: int, end: int, seed: frozenset[str] = frozenset()
) -> frozenset[str]:
    """How the words tokens[start:end] are conjugated, read from the head and what follows
    (`seed`: what the words themselves already say, e.g. the たい inside 死にたい)."""
    found: set[str] = set(seed)
    head = tokens[end - 1]
    if head.form.startswith("意志推量形"):
        found.add("volition")
    saw_te = False
    thought = False
    i = _after_parenthesis(tokens, end)
    while i < len(tokens) and i < end + _ASPECT_SPAN:
        t = tokens[i]
        if t.punct:
            break
        lemma = t.lemma
        if t.pos == "助動詞":
            if thought and lemma == "た" and ("desire" in found or "volition" in found):
                found.add("past_thought")
            if (lemma == "た" and t.surface in ("たら", "だら")) or t.surface == "なら":
                found.add("conditional")
            elif lemma in _DONE:
                found.add("done")
            elif lemma in _PROGRESSIVE:
                found |= {"now", "done"}
            elif lemma in _DESIRE:
                found.add("desire")
            elif lemma in _PASSIVE:
                found.add("passive")
            elif lemma in _VOLITION:
                found.add("volition")
            elif lemma in NEGATIONS and _asks_for_it(tokens, i):
                found.add("wish")  # 突っ込んできてくれないかな: a hope, not a denial
            elif lemma in NEGATIONS:
                found.add("negated")
        elif t.pos == "助詞":
            if t.lemma == "しか":
                return frozenset(found)  # 死にたいしか思えない: nothing but the wish
            if i == end and t.lemma in _LIFETIME_MARKERS:
                found.add("lifetime")  # 死ぬまでにしたい, 死ぬ前に会いたい: the wish is another's
                break
            if i == end and t.surface in _SUBJECT_MARKERS:
                found |= {"subject", "agent"}
            elif i == end and t.surface in ("に", "にも"):
                found.add("agent")  # 父に殴られる: who does it (with a passive)
            elif i == end and t.surface == "を":
                found.add("object")
            if lemma in ("て", "で"):
                saw_te = True
            elif lemma in ("ば", "なら"):
                found.add("conditional")
            elif lemma == "のに" and "conditional" in found:
                found.add("wish")
            elif t.pos_detail == "接続助詞" and lemma in _CONNECTIVES:
                break
        elif t.pos == "動詞" and lemma in ("思う", "考える"):
            thought = True
        elif t.pos == "動詞" and saw_te and lemma in _BEING:
            found |= {"now", "done"}
        elif t.pos == "動詞" and saw_te and lemma in ("仕舞う", "しまう"):
            found.add("done")
        elif t.pos == "形容詞" and lemma in NEGATIONS:
            found.add("negated")
        elif (
            t.pos == "形容詞"
            and lemma in ("良い", "いい", "欲しい")
            and ("conditional" in found or saw_te)
        ):
            found.add("wish")
        elif not (t.pos == "動詞" and lemma in _AUXILIARY_VERBS) and lemma not in _NEGATION_BRIDGE:
            break
        i += 1
    if "negated" not in found and _negated_later(tokens, i):
        found.add("negated")
    return frozenset(found)


#: Right after a word of death, the end of a lifetime, not a wish (死ぬまで, 死ぬ前に).
_LIFETIME_MARKERS = frozenset({"まで", "前"})
#: The concepts such a span of time empties (今まで is not "now"; 誕生日前に keeps its time).
_LIFETIME_CONCEPTS = frozenset({"die", "vanish", "end_life", "fatal_event", "now"})

#: Sentence-final particles that turn 〜ないか into a hope (来てくれないかな, 当たらないかしら).
_HOPE_PARTICLES = frozenset({"か", "かな", "かしら", "かなあ", "かなー"})


def _asks_for_it(tokens: Sequence[Token], i: int) -> bool:
    """〜てくれないかな / 〜ないかな after a plain verb: the writer hopes it happens. A
    negated wish (死にたくないかな) is not this: the word before ない must be a verb."""
    if i == 0 or i + 1 >= len(tokens) or tokens[i - 1].pos != "動詞":
        return False
    return tokens[i + 1].surface in _HOPE_PARTICLES or tokens[i + 1].lemma in _HOPE_PARTICLES


def _denied_nearby(tokens: Sequence[Token], end: int) -> bool:
    for t in tokens[end : end + 5]:
        if t.punct or (t.pos == "助詞" and t.pos_detail == "接続助詞"):
            return False
        if t.lemma in NEGATIONS:
            return True
    return False


def _after_parenthesis(tokens: Sequence[Token], i: int) -> int:
    """Skip a parenthesis right after a word: 息子（15）が reads as 息子が."""
    if i < len(tokens) and tokens[i].surface in ("（", "("):
        for j in range(i + 1, min(len(tokens), i + 8)):
            if tokens[j].surface in ("）", ")"):
                return j + 1
    return i


def _negated_later(tokens: Sequence[Token], i: int) -> bool:
    """死にたいとは思わない, 死ぬつもりはない, 消えたいわけじゃない: a denial a few words on."""
    for j in range(i, min(len(tokens), i + _ASPECT_SPAN + 3)):
        t = tokens[j]
        if t.punct and t.surface in ("、", ",", "，"):
            continue  # しにたい、とかじゃない
        if t.punct or (t.pos == "助詞" and t.pos_detail == "接続助詞") or t.lemma == "しか":
            return False
        if t.lemma in NEGATIONS:
            return True
        if t.lemma not in _NEGATION_BRIDGE and not t.function:
            return False
    return False


class RiskModel:
    """The compiled concepts and frames (built once; `read` is pure and thread-safe)."""

    def __init__(self, data: RiskData, tokenizer: Tokenizer) -> None:
        self.data = data
        self.concepts: dict[str, Concept] = {c.id: c for c in data.concepts}
        #: Each frame with the concepts of its `all` needs (one of each must be present).
        self._needs = [
            (frame, [frozenset(need.concepts) for need in frame.all]) for frame in data.frames
        ]
        self._root = _Node()
        self._index: dict[str, list[_Term]] = {}
        self._by_reading: dict[str, list[_Term]] = {}
        self._by_surface: dict[str, list[_Term]] = {}
        self._numbered: list[_Term] = []
        self._literal: list[_Term] = []
        for concept in data.concepts:
            for text in concept.terms:
                term = _compile(concept.id, text, tokenizer)
                if term is None:
                    continue
                if term.literal:
                    self._literal.append(term)
                    continue
                self._root.insert(term)
                first = term.matches[0]
                if first.minimum is not None:
                    self._numbered.append(term)
                    continue
                self._index.setdefault(first.lemma, []).append(term)
                if first.surface and first.surface != first.lemma:
                    self._by_surface.setdefault(first.surface, []).append(term)
                if first.reading:
                    self._by_reading.setdefault(first.reading, []).append(term)

    # --- finding concepts ------------------------------------------------------------------
    def _walk(
        self,
        pos: int,
        keys: Sequence[set[str]],
        content: Sequence[int],
        sentences: Sequence[int],
    ) -> Iterable[_Term]:
        """The terms whose words may start at `pos`: a walk down the trie of terms, each step
        taking every edge this position's keys allow (lemma, surface, reading, number)."""
        frontier: list[_Node] = [self._root]
        sentence = sentences[content[pos]]
        j = pos
        while frontier and j < len(content) and sentences[content[j]] == sentence:
            step: dict[int, _Node] = {}
            for node in frontier:
                for key in keys[j]:
                    for child in node.edges.get(key, ()):
                        step[id(child)] = child
            frontier = list(step.values())
            for node in frontier:
                yield from node.terms
            j += 1

    def _candidates(self, token: Token, lemma: str, folded: str) -> Iterable[_Term]:
        yield from self._index.get(lemma, ())
        if folded != lemma:
            for term in self._by_surface.get(folded, ()):
                if term.matches[0].lemma != lemma:
                    yield term
        # A reading stands for a word only where the resident wrote kana and Sudachi read it
        # as no other word (see _Match.accepts); the terms met by their lemma are not repeated.
        if not has_kanji(lemma) and is_kana_only(token.surface):
            for term in self._by_reading.get(token.reading, ()):
                if term.matches[0].lemma != lemma:
                    yield term
        if number_of(token) is not None:
            yield from self._numbered

    def concept_hits(
        self, tokens: Sequence[Token], sentences: Sequence[int], quoted: Sequence[bool] = ()
    ) -> tuple[ConceptHit, ...]:
        view = canonical(tokens)
        content = [i for i, _ in view]
        lemmas = [lemma for _, lemma in view]
        folded = [_fold_surface(tokens[i].surface) for i in content]
        # What each position can be matched by: a cheap set test before the exact one.
        keys = [
            {lemmas[p], folded[p], tokens[i].reading, _NUMBER if number_of(tokens[i]) else ""}
            for p, i in enumerate(content)
        ]
        found: dict[tuple[str, int], ConceptHit] = {}
        # The surfaces once, so a hit's words are a slice, not a join per hit; and the
        # aspects once per span (several concepts often share one: あげた is tidy_up and report).
        surfaces = "".join(t.surface for t in tokens)
        offsets = [0]
        for t in tokens:
            offsets.append(offsets[-1] + len(t.surface))
        span_aspects: dict[tuple[int, int], frozenset[str]] = {}
        for pos in range(len(content)):
            for term in self._walk(pos, keys, content, sentences):
                n = len(term.matches)
                span = content[pos : pos + n]
                if sentences[span[0]] != sentences[span[-1]]:
                    continue
                if not all(
                    m.accepts(tokens[k], lemmas[pos + j], folded[pos + j])
                    for j, (m, k) in enumerate(zip(term.matches, span, strict=True))
                ):
                    continue
                start, end = span[0], span[-1] + 1
                key = (term.concept, start)
                earlier = found.get(key)
                if earlier is not None and earlier.end >= end:
                    continue
                aspects = span_aspects.get((start, end))
                if aspects is None:
                    aspects = span_aspects[start, end] = aspects_within(tokens, start, end)
                found[key] = ConceptHit(
                    concept=term.concept,
                    term=term.text,
                    matched=surfaces[offsets[start] : offsets[end]],
                    start=start,
                    end=end,
                    sentence=sentences[start],
                    aspects=self._scoped(term.concept, aspects, tokens, end),
                    quoted=bool(quoted) and quoted[start],
                )
        self._literal_hits(tokens, sentences, found)
        return tuple(sorted(found.values(), key=lambda h: (h.start, h.concept)))

    def _scoped(
        self, concept: str, found: frozenset[str], tokens: Sequence[Token], end: int
    ) -> frozenset[str]:
        # A context denied a few words on is no context (キャンプなんか行かない).
        scope = self.concepts[concept].role == "scope"
        if scope and "negated" not in found and _denied_nearby(tokens, end):
            found = found | {"negated"}
        return found

    def _literal_hits(
        self,
        tokens: Sequence[Token],
        sentences: Sequence[int],
        found: dict[tuple[str, int], ConceptHit],
    ) -> None:
        if not tokens or not self._literal:
            return
        # One character per entry with the token it belongs to; spaces and punctuation
        # left out, so おかあさん かえってこない meets おかあさんかえってこない.
        chars: list[str] = []
        owner: list[int] = []
        starts: set[int] = set()
        for index, t in enumerate(tokens):
            if t.punct:
                continue
            starts.add(len(chars))
            for ch in _fold_surface(t.surface):
                chars.append(ch)
                owner.append(index)
        ends = {i - 1 for i in starts if i} | {len(chars) - 1}
        text = "".join(chars)
        for term in self._literal:
            at = text.find(term.literal)
            while at >= 0:
                end = at + len(term.literal) - 1
                # Whole tokens only: って本 is not inside って本当.
                if at not in starts or end not in ends:
                    at = text.find(term.literal, at + 1)
                    continue
                first = owner[at]
                last = owner[end]
                key = (term.concept, first)
                if key not in found:
                    found[key] = ConceptHit(
                        concept=term.concept,
                        term=term.text,
                        matched="".join(t.surface for t in tokens[first : last + 1]),
                        start=first,
                        end=last + 1,
                        sentence=sentences[first],
                        aspects=aspects_after(tokens, first, last + 1),
                    )
                at = text.find(term.literal, at + 1)

    # --- reading frames ---------------------------------------------------------------------
    def read(self, tokens: Sequence[Token], text: str) -> Reading:
        sentences = sentence_of_each(tokens, text)
        quoted = quoted_tokens(tokens, text)
        hits = self.concept_hits(tokens, sentences, quoted)
        return self.read_hits(hits, tokens, sentences, quoted)

    def read_hits(
        self,
        hits: tuple[ConceptHit, ...],
        tokens: Sequence[Token],
        sentences: tuple[int, ...],
        quoted: tuple[bool, ...] = (),
    ) -> Reading:
        """The frames of concepts already found (by Sudachi lemmas, or the English reader)."""
        by_concept: dict[str, list[ConceptHit]] = {}
        for hit in hits:
            by_concept.setdefault(hit.concept, []).append(hit)
        frames: list[FrameHit] = []
        present = by_concept.keys()
        for frame, needs in self._needs:
            # Most frames need a concept the message does not have: skip them at once.
            if any(present.isdisjoint(need) for need in needs):
                continue
            found = self._frame(frame, by_concept, tokens, sentences)
            if found is not None:
                frames.append(found)
        roles = {
            h.concept: self.concepts[h.concept].role for h in hits if h.concept in self.concepts
        }
        return Reading(
            hits=hits, frames=tuple(frames), sentences=sentences, quoted=quoted, roles=roles
        )

    def _frame(
        self,
        frame: Frame,
        by_concept: dict[str, list[ConceptHit]],
        tokens: Sequence[Token],
        sentences: Sequence[int],
    ) -> FrameHit | None:
        groups: list[int | None] = [None]
        if frame.scope == "clause":
            groups = [*sorted({h.sentence for hs in by_concept.values() for h in hs})]
        best: FrameHit | None = None
        for sentence in groups:
            chosen, negated = _satisfy(frame, by_concept, sentence)
            if chosen is None:
                if negated is not None:
                    best = _better(best, FrameHit(frame, "negated", negated, frame.kind, False))
                continue
            status, by = self._scope(frame.unless, chosen, by_concept, sentence)
            danger = frame.danger_now or any(
                h.fits("any") for name in frame.danger_now_with for h in by_concept.get(name, ())
            )
            kind = self._attribute(frame.kind, chosen, by_concept, tokens)
            if frame.kind in ("child", "elder") and _agent_not_victim(chosen, self.concepts):
                continue  # 息子が母を殴る: the son does the harm; the mother's frame reads it
            if not _agents_come_first(frame, chosen, self.concepts):
                continue  # 先生に叩かれた。親に言っても…: the parent is told, not the one who hit
            if status == "active" and frame.denial_lowers and _denied(by_concept):
                status, by = "lowered", "denial"  # 死にたいわけじゃない。でも生きる意味が…
            if status == "active" and kind == "other_person" and _bereaved(frame, chosen):
                status, by = "lowered", "bereaved"  # 親友が命を絶った: grief, not a risk now
            hit = FrameHit(frame, status, chosen, kind, danger and status == "active", by)
            if status == "active":
                return hit
            best = _better(best, hit)
        return best

    def scope(
        self,
        unless: Sequence[str],
        chosen: Sequence[ConceptHit],
        reading: Reading,
        sentence: int | None,
    ) -> tuple[str, str | None]:
        """`active`, or `cancelled` / `lowered` by which scope concept (for words found
        outside the frames, e.g. by the spelling-noise layer)."""
        return self._scope(unless, chosen, reading.by_concept(), sentence)

    def attribute(
        self,
        kind: str,
        chosen: Sequence[ConceptHit],
        reading: Reading,
        tokens: Sequence[Token],
    ) -> str:
        """Whose risk words about a death are: the writer's, or another person's."""
        return self._attribute(kind, chosen, reading.by_concept(), tokens)

    def _scope(
        self,
        unless: Sequence[str],
        chosen: Sequence[ConceptHit],
        by_concept: dict[str, list[ConceptHit]],
        sentence: int | None,
    ) -> tuple[str, str | None]:
        sentences_used = {h.sentence for h in chosen}
        lowered: str | None = None
        for name in unless:
            concept = self.concepts[name]
            for scope_hit in by_concept.get(name, ()):
                if (
                    sentence is not None
                    and scope_hit.sentence != sentence
                    and not concept.whole_message
                ):
                    continue
                if concept.effect == "lower" and scope_hit.sentence not in sentences_used:
                    continue  # the past of another sentence says nothing about this one
                voided = any(
                    h.sentence == scope_hit.sentence
                    for other in concept.void_with
                    for h in by_concept.get(other, ())
                )
                if voided or "negated" in scope_hit.aspects:
                    continue
                if concept.reach is not None and not any(
                    _distance(scope_hit, h) <= concept.reach for h in chosen
                ):
                    # Reach matters where the words are the writer's own (映画を見ていたら
                    # 死にたくなった); a title in quotes or a mere mention (ニュースの一家心中)
                    # is read within the whole sentence.
                    own = any(h.aspects & _OWN_WORDS for h in chosen)
                    if own and not any(h.quoted for h in chosen):
                        continue
                if concept.effect == "cancel":
                    return "cancelled", name
                lowered = lowered or name
        return ("lowered", lowered) if lowered else ("active", None)

    def _attribute(
        self,
        kind: str,
        chosen: Sequence[ConceptHit],
        by_concept: dict[str, list[ConceptHit]],
        tokens: Sequence[Token],
    ) -> str:
        """A frame about the writer whose words follow another person as their subject,
        with no word of the writer's in between (妹が手首を切った, 友達が薬を全部飲んだ)."""
        if kind != "self":
            return kind
        first = min(chosen, key=lambda h: h.start)
        for person in by_concept.get("third_person", ()):
            if person.sentence != first.sentence or "subject" not in person.aspects:
                continue
            if person.end > first.start:
                continue
            between = tokens[person.end + 1 : first.start]
            if any(
                t.lemma in _FIRST_PERSON and not _reflexive(between, k)
                for k, t in enumerate(between)
            ):
                continue
            if any(t.pos == "動詞" for t in between):
                continue  # 夫が暴れて死にたい: the other person did something else
            return "other_person"
        return kind


def _compact(text: str) -> str:
    return "".join(ch for ch in text if not ch.isspace() and ch not in "、。,.!?！？・「」『』")


#: Aspects that make words the writer's own wish or plan (not a mention of a topic).
_OWN_WORDS = frozenset({"desire", "volition", "wish", "now", "done"})


def _reflexive(tokens: Sequence[Token], k: int) -> bool:
    """自分で (by oneself) after another person is that person acting, not the writer."""
    return (
        tokens[k].lemma == "自分" and k + 1 < len(tokens) and tokens[k + 1].lemma in ("で", "から")
    )


_STATUS_RANK = {"active": 0, "lowered": 1, "negated": 2, "cancelled": 3}


def _better(a: FrameHit | None, b: FrameHit) -> FrameHit:
    return b if a is None or _STATUS_RANK[b.status] < _STATUS_RANK[a.status] else a


_IDEATION = ("die", "vanish", "end_life")
_PASSIVE_ENDINGS = ("れる", "られる", "れた", "られた", "れて", "られて", "され", "られ")


def _agents_come_first(
    frame: Frame, chosen: Sequence[ConceptHit], concepts: dict[str, Concept]
) -> bool:
    """A person needed as the one who does the harm (`@agent`) is named before it."""
    agents = {c for need in frame.all for c, aspect in need.options if aspect == "agent"}
    if not agents:
        return True
    harm_starts = [h.start for h in chosen if concepts[h.concept].role == "harm"]
    return all(
        h.start < min(harm_starts, default=h.start + 1) for h in chosen if h.concept in agents
    )


def _agent_not_victim(chosen: Sequence[ConceptHit], concepts: dict[str, Concept]) -> bool:
    """The person of a child or elder frame is the subject of an active harm verb
    (息子が母を殴っている): they do the harm, so the frame is not about their safety."""
    people = [h for h in chosen if concepts[h.concept].role == "person"]
    harms = [h for h in chosen if concepts[h.concept].role == "harm"]
    if not people or not harms:
        return False
    person, harm = people[0], harms[0]
    passive = "passive" in harm.aspects or harm.term.endswith(_PASSIVE_ENDINGS)
    return "subject" in person.aspects and not passive and person.start < harm.start


def _denied(by_concept: dict[str, list[ConceptHit]]) -> bool:
    """The writer said they do not want to die (死にたくはない, 死にたいわけじゃない)."""
    return any("negated" in h.aspects for name in _IDEATION for h in by_concept.get(name, ()))


def _bereaved(frame: Frame, chosen: Sequence[ConceptHit]) -> bool:
    """Another person's death told in the past (親友が自分で命を絶った)."""
    return frame.axis in ("active_ideation", "plan") and any(
        h.concept in _IDEATION and "done" in h.aspects and "desire" not in h.aspects for h in chosen
    )


def _distance(a: ConceptHit, b: ConceptHit) -> int:
    """Tokens between two hits (0 when they touch or overlap)."""
    return max(0, max(a.start, b.start) - min(a.end, b.end))


_FIRST_PERSON = frozenset({"私", "僕", "俺", "自分", "わたし", "あたし", "わたくし", "うち", "儂"})


def _satisfy(
    frame: Frame, by_concept: dict[str, list[ConceptHit]], sentence: int | None
) -> tuple[tuple[ConceptHit, ...] | None, tuple[ConceptHit, ...] | None]:
    """The hits that make the frame (None if it is not there), and — when only a negated
    hit was missing — the negated reading (死にたくはない: the writer told us)."""
    needs = list(frame.all)
    scopes: list[int | None] = [sentence] * len(needs)
    if frame.any:
        # "any": one of them, anywhere in the message — one need with all their options.
        needs.append(Need(tuple(option for need in frame.any for option in need.options)))
        scopes.append(None)
    chosen = _assign(needs, scopes, by_concept, [])
    if chosen is not None:
        return tuple(chosen), None
    if _assign(list(frame.all), scopes[: len(frame.all)], by_concept, []) is not None:
        return None, None  # all there, but none of the `any`
    negated: list[ConceptHit] = []
    for need in frame.all:
        hit = _find(need, by_concept, sentence, negated)
        if hit is None:
            hit = _find(
                Need(tuple((c, "negated") for c in need.concepts)), by_concept, sentence, negated
            )
            if hit is None:
                return None, None
        negated.append(hit)
    return None, tuple(negated) if negated else None


def _assign(
    needs: Sequence[Need],
    scopes: Sequence[int | None],
    by_concept: dict[str, list[ConceptHit]],
    taken: list[ConceptHit],
) -> list[ConceptHit] | None:
    """One hit for each need, no two sharing words. Tries the alternatives (一人暮らしの兄:
    the words that are the person cannot also be "lives alone" when 兄 can be the person)."""
    if not needs:
        return list(taken)
    for hit in _fitting(needs[0], by_concept, scopes[0], taken):
        found = _assign(needs[1:], scopes[1:], by_concept, [*taken, hit])
        if found is not None:
            return found
    return None


def _find(
    need: Need,
    by_concept: dict[str, list[ConceptHit]],
    sentence: int | None,
    taken: Sequence[ConceptHit],
) -> ConceptHit | None:
    return next(_fitting(need, by_concept, sentence, taken), None)


def _fitting(
    need: Need,
    by_concept: dict[str, list[ConceptHit]],
    sentence: int | None,
    taken: Sequence[ConceptHit],
) -> Iterator[ConceptHit]:
    for name, aspect in need.options:
        for hit in by_concept.get(name, ()):
            if sentence is not None and hit.sentence != sentence:
                continue
            # Two needs are two pieces of meaning: the same words cannot be both.
            if any(hit.start < t.end and t.start < hit.end for t in taken):
                continue
            if aspect == "negated":
                if hit.aspects & {"negated", "past_thought"}:
                    yield hit
            elif hit.fits(aspect):
                yield hit


class RiskTermError(ValueError):
    """A concept term that would match on function words only (じゃあね → で)."""


def _compile(concept: str, text: str, tokenizer: Tokenizer) -> _Term | None:
    """A term as a run of matchers. ``#n`` is a number of at least n, read in its context
    (``# 年前`` is tokenised as 1年前, so 年前 does not become one word). A term that
    tokenising would shrink to one word by dropping its particle (今も → 今) is kept as
    literal text instead."""
    if text.startswith("="):
        return _Term(concept, text, (), literal=_compact(fold(clean(text[1:]))))
    placeholders = [int(p[1:] or 0) for p in text.split() if p.startswith("#")]
    written = "".join("1" if p.startswith("#") else p for p in text.split())
    tokens = tokenizer.tokens(clean(written))
    view = canonical(tokens)
    if len(view) == 1 and len(tokens) > 1 and not placeholders and any(t.function for t in tokens):
        return _Term(concept, text, (), literal=_compact(fold(clean(written))))
    matches: list[_Match] = []
    content = False
    numbers = iter(placeholders)
    for i, lemma in view:
        t = tokens[i]
        if placeholders and number_of(t) is not None:
            matches.append(_Match(minimum=next(numbers, 0)))
            continue
        content = content or lemma not in _TOO_COMMON
        matches.append(_Match(lemma, t.reading, fold(t.surface)))
    if matches and not content and all(m.minimum is None for m in matches):
        raise RiskTermError(f"{concept}: term {text!r} has no content word for Sudachi")
    return _Term(concept, text, tuple(matches)) if matches else None


#: A term made only of these would match nearly every message (じゃあね reads で).
_TOO_COMMON = frozenset(
    {"で", "だ", "た", "て", "に", "の", "と", "ない", "か", "な", "や", "へ", "から", "まで"}
)

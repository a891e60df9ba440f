"""The triage engine: normalise → crisis check → tokenise → match the lexicon → rank windows.

Sudachi runs in mode A (finest units) on both the lexicon terms and the message, so a
compound term (住居確保給付金) is simply a run of tokens on either side. Terms are compiled
once, when the engine is built, into four ways of matching (`via` in the evidence):

- `lemma`: the term's normalized forms without case/topic particles (家賃が払えない → 家賃
  払う ない), matched as a contiguous run of the message's lemmas, so conjugation and a
  dropped が/を do not matter (家賃払えなくて) while から/まで/で keep their meaning, and a
  negation right after the run flips it (貸してもらえる ≠ 貸してもらえない).
- `reading`: the term's katakana reading (家賃 → ヤチン), matched on token boundaries, but
  only where the message wrote kana (やちん, ﾔﾁﾝ); where it wrote kanji the lemma and
  surface passes decide, so homophones (障害/生涯) do not mix.
- `surface`: the folded term as a substring of the folded message (long vowels removed on
  both sides), for phrases Sudachi splits unpredictably; only for terms with a kanji or
  latin letter, or of four or more kana (りこん must not match inside ふりこんだ).
- `fuzzy`: a guarded second pass (rapidfuzz) only when nothing else matched well, only for
  terms of six or more characters, keeping the first character and most of the kanji, so
  介護 never matches 解雇 and 詐欺 never matches うさぎ.

A window's score combines its matched meaning groups: 1 − Π(1 − weight), in [0, 1], after
these rules: the same words count once per window; a short word inside a longer phrase of
another meaning is part of that phrase (滞納 in 家賃滞納); words read in a context another
window asked for belong to that window (いじめ from a child writing → child_ombuds); a
context group (うちの子, 夫) counts only with the group that asked for it; a vague group
(しんどい) counts only when nothing specific matched.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from knowledge.examples import load_examples
from knowledge.lexicon import Lexicon, MeaningGroup, load_lexicon, read_lexicon
from knowledge.risk import load_english, load_risk
from triage import language, reporter, safety
from triage.analysis import (
    GENERAL_DESK,
    OUT_OF_SCOPE,
    Analysis,
    Evidence,
    Reporter,
    Risk,
    WindowScore,
)
from triage.english import EnglishReader
from triage.learned import Learned, load_learned
from triage.normalise import bare, clean, fold, normalise, to_hiragana, typed_in_katakana
from triage.risk import RiskModel
from triage.similarity import ExampleIndex, Resemblance
from triage.tokens import NEGATIONS, Token, Tokenizer, has_kanji, is_kana_only

#: A window is returned when its score reaches this…
MIN_SCORE = 0.3
#: …and is at least this fraction of the best score.
MIN_RELATIVE = 0.3
MAX_WINDOWS = 4
#: The score of the general desk when nothing matched (a vague or empty message).
FALLBACK_SCORE = 0.2
#: A matched word this short (characters) can be part of a longer phrase of another meaning.
SHORT_WORD = 4
#: A word claimed by a context group may be this many characters shorter than the other match.
CONTEXT_SLACK = 2
#: Scores closer than this count as a tie, broken by which worry the message names first.
TIE = 0.015
#: Non-vague evidence at least this strong means we understood the worry (no question back).
CONFIDENT = 0.45
#: Out-of-scope questions step behind a real worry: their score is scaled by this…
OUT_OF_SCOPE_BEHIND_WORRY = 0.5
#: All-kana terms shorter than this match only on token boundaries (reading), never inside
#: a word (りこん is inside ふりこんだ).
SURFACE_MIN_KANA = 4
#: …when the worry is at least this strong.
WORRY_BEFORE_OUT_OF_SCOPE = 0.6
FUZZY_MIN_LEN = 6
FUZZY_CUTOFF = 80.0
FUZZY_FACTOR = 0.8
_GENERAL = frozenset({GENERAL_DESK, "self_reliance"})
_GENERAL_PENALTY = 0.01
#: The second signal (triage.similarity): a window's resemblance to the message adds this
#: share of it to the window's lexicon score…
SIM_WEIGHT = 0.6
#: …when it reaches this (a weaker resemblance is noise, shared by chance)…
SIM_MIN = 0.2
#: …and a resemblance this close means we understood the worry even without a lexicon word.
SIM_CONFIDENT = 0.45
#: A window that only names who the person is (障害, 80歳, 介護保険: `who` groups) steps behind
#: another window's need (借りたい, 部屋探し, 住民票の写し): its score, resemblance included,
#: ends this far below the best window with a need, when a need at least CONFIDENT matched.
WHO_BEHIND_NEED = 0.02
#: …except a window that serves the whole life of who it names (label rules: a single
#: parent's money, nursery or divorce → ひとり親・女性相談). Its who words are no worry
#: that pushes a city question behind, all the same.
_WHOLE_LIFE = frozenset({"single_parent"})
#: …but house hunting is the 居住支援's whoever hunts (label rules), and a city question is
#: nobody's.
_BEFORE_WHOLE_LIFE = frozenset({OUT_OF_SCOPE, "housing_search"})
#: For English, the resemblance is the whole signal: it needs no lexicon word to count.
EN_SIM_WEIGHT = 1.5
EN_SIM_MIN = 0.15


@dataclass(frozen=True, slots=True)
class _Term:
    group: int  # index into Engine.groups
    term: str
    weight: float


@dataclass(slots=True)
class _Hit:
    term: str
    matched: str
    weight: float
    via: str
    #: Where in the message the words start and end (earlier mention wins a tie; a longer
    #: match for one window hides a shorter one inside it for another: 家賃滞納 is rent).
    start: int
    end: int


class Engine:
    def __init__(
        self,
        lexicon: Lexicon,
        tokenizer: Tokenizer | None = None,
        risk: RiskModel | None = None,
        examples: ExampleIndex | None = None,
    ) -> None:
        self.tokenizer = tokenizer or Tokenizer()
        #: The windows' descriptions and example requests (knowledge/examples/).
        self.examples = examples or ExampleIndex(load_examples(), self.tokenizer)
        #: The risk frames, compiled through the same tokenizer (knowledge/data/risk/).
        self.risk = risk or RiskModel(load_risk(), self.tokenizer)
        #: The learned second opinion (knowledge/data/risk/learned.json), if trained.
        self.learned: Learned | None = load_learned()
        #: The same concepts in English words (knowledge/data/risk/english.yaml).
        self.english = EnglishReader(load_english(), self.risk)
        self.groups: tuple[MeaningGroup, ...] = lexicon.groups
        self._lemma: dict[tuple[str, ...], list[_Term]] = {}
        self._lemma_first: set[str] = set()
        self._lemma_max = 1
        self._reading: dict[str, list[_Term]] = {}
        self._reading_max = 0
        self._surface: dict[str, list[tuple[str, _Term]]] = {}
        self._fuzzy: list[tuple[str, _Term]] = []
        for index, group in enumerate(self.groups):
            for term in group.terms:
                self._compile(_Term(index, term, group.weight))
        self._fuzzy_keys = [key for key, _ in self._fuzzy]
        #: Context groups (named by another group's `requires`): they say who or what the
        #: message is about, and count only together with a group that asked for them.
        self._contexts = {(g.window, need) for g in self.groups for need in g.requires}

    # --- building ------------------------------------------------------------------------
    def _compile(self, term: _Term) -> None:
        key = fold(clean(term.term))
        surface = bare(key)
        if len(surface) >= 2 and (not is_kana_only(surface) or len(surface) >= SURFACE_MIN_KANA):
            self._surface.setdefault(surface[:2], []).append((surface, term))
        if len(key) >= FUZZY_MIN_LEN:
            self._fuzzy.append((key, term))
        tokens = self.tokenizer.tokens(clean(term.term))
        lemmas = tuple(_plain_negation([t for t in tokens if not t.function])[1])
        # クビに → (首,) would match every 首: a term that needs its particle is surface-only.
        if lemmas and (len(lemmas) > 1 or len(lemmas) == len(tokens)):
            self._lemma.setdefault(lemmas, []).append(term)
            self._lemma_first.add(lemmas[0])
            self._lemma_max = max(self._lemma_max, len(lemmas))
        kept = [t for t in tokens if not t.function]
        # The long vowel is folded away in hiragana (あいびー → あいび) but kept in katakana
        # (アイビー): readings meet without it.
        reading = "".join(t.reading for t in kept).replace("ー", "")
        # Like the lemma rule: サロンを → サロン would match every サロン.
        dropped = len(kept) < len(tokens)
        if (
            len(reading) >= (4 if dropped else 2)
            and "*" not in reading
            and (len(kept) > 1 or not dropped)
        ):
            self._reading.setdefault(reading, []).append(term)
            self._reading_max = max(self._reading_max, len(reading))

    # --- matching ------------------------------------------------------------------------
    def _match_lemmas(self, tokens: Sequence[Token], hits: dict[int, _Hit]) -> None:
        seq, lemmas = _plain_negation([t for t in tokens if not t.function])
        for i, first in enumerate(lemmas):
            if first not in self._lemma_first:
                continue
            for k in range(1, min(self._lemma_max, len(lemmas) - i) + 1):
                key = tuple(lemmas[i : i + k])
                if key not in self._lemma:
                    continue
                # 貸してもらえる is not 貸してもらえない: a negation right after flips it.
                if i + k < len(lemmas) and lemmas[i + k] in NEGATIONS and key[-1] not in NEGATIONS:
                    continue
                for term in self._lemma[key]:
                    matched = "".join(t.surface for t in seq[i : i + k])
                    _record(hits, term, matched, "lemma", seq[i].start, seq[i + k - 1].end)

    def _match_readings(self, tokens: Sequence[Token], hits: dict[int, _Hit]) -> None:
        kanji = [has_kanji(t.surface) for t in tokens]
        for i in range(len(tokens)):
            if tokens[i].function or (tokens[i].pos == "助詞" and i and tokens[i - 1].content):
                continue  # a word starts on a word, not on が, 。 or the か of いつか
            reading = ""
            content = False
            for j in range(i, len(tokens)):
                if kanji[j] or tokens[j].punct:
                    break  # written in kanji: the lemma and surface passes decide
                if tokens[j].function:
                    continue  # が, を, は … (ﾎｼｮｳﾆﾝ ｲﾅｲ = 保証人がいない)
                reading += tokens[j].reading.replace("ー", "")
                if len(reading) > self._reading_max:
                    break
                content = content or tokens[j].content
                if content and reading in self._reading:
                    surface = "".join(t.surface for t in tokens[i : j + 1])
                    for term in self._reading[reading]:
                        _record(hits, term, surface, "reading", tokens[i].start, tokens[j].end)

    def _match_surface(self, folded: str, hits: dict[int, _Hit]) -> None:
        for i in range(len(folded) - 1):
            for key, term in self._surface.get(folded[i : i + 2], ()):
                # 5歳 is not inside 25歳: a term that starts with a digit starts a number.
                if folded.startswith(key, i) and not (
                    key[0].isdigit() and folded[i - 1 : i].isdigit()
                ):
                    _record(hits, term, key, "surface", i, i + len(key))

    def _match_fuzzy(self, folded: str, hits: dict[int, _Hit]) -> None:
        from rapidfuzz import fuzz, process

        # A typo keeps the first character (checked below), so only terms whose first
        # character occurs in the message are candidates; one C++ pass scores those.
        present = set(folded)
        subset = [i for i, key in enumerate(self._fuzzy_keys) if key[0] in present]
        candidates = process.extract(
            folded,
            [self._fuzzy_keys[i] for i in subset],
            scorer=fuzz.partial_ratio,
            score_cutoff=FUZZY_CUTOFF,
            limit=None,
        )
        for key, _, position in candidates:
            term = self._fuzzy[subset[position]][1]
            if term.group in hits or len(folded) < len(key):
                continue
            found = fuzz.partial_ratio_alignment(key, folded, score_cutoff=FUZZY_CUTOFF)
            if found is None:
                continue
            aligned = folded[found.dest_start : found.dest_end]
            # A typo keeps most of a word's kanji: 返金してくれない is not 何もしてくれない.
            kanji = [ch for ch in key if has_kanji(ch)]
            if kanji and sum(ch in aligned for ch in kanji) * 2 < len(kanji) + 1:
                continue
            if aligned[:1] != key[:1] or abs(len(aligned) - len(key)) > 1:
                continue
            weighted = _Term(term.group, term.term, term.weight * FUZZY_FACTOR)
            _record(hits, weighted, aligned, "fuzzy", found.dest_start, found.dest_end)

    # --- the public entry ----------------------------------------------------------------
    def analyse(self, text: str) -> Analysis:
        norm = normalise(text)
        tokens = self.tokenizer.tokens(norm.clean)
        if typed_in_katakana(norm.clean):
            # The risk frames read Sudachi's words: give them the message in hiragana (one
            # character for one, so every offset holds). Routing keeps the katakana tokens.
            as_hiragana = replace(norm, clean=to_hiragana(norm.clean))
            risk_tokens = self.tokenizer.tokens(as_hiragana.clean)
            danger = safety.assess(as_hiragana, risk_tokens, self.risk, self.learned, self.english)
        else:
            danger = safety.assess(norm, tokens, self.risk, self.learned, self.english)
        writer, writer_evidence = reporter.detect(norm.fold)
        hits: dict[int, _Hit] = {}
        self._match_lemmas(tokens, hits)
        self._match_readings(tokens, hits)
        self._match_surface(norm.bare, hits)
        scores, first, evidence, confident, behind = self._score(hits, writer)
        if not confident and norm.fold.strip():
            self._match_fuzzy(norm.fold, hits)
            scores, first, evidence, confident, behind = self._score(hits, writer)
        lang = language.detect(text)
        if lang == "en":
            # Our lexicon is Japanese: an English message is routed by its resemblance to
            # the windows' English descriptions and examples alone.
            resembled = self.examples.resemble_english(norm.clean)
            weight, minimum = EN_SIM_WEIGHT, EN_SIM_MIN
        else:
            resembled = self.examples.resemble_japanese(tokens)
            weight, minimum = SIM_WEIGHT, SIM_MIN
        confident = (
            _blend(scores, first, evidence, resembled, len(norm.clean), weight, minimum)
            or confident
        )
        _step_behind(scores, behind)
        if any(e.matched == "child" for e in writer_evidence) and _CHILD_OMBUDS in behind[1]:
            _child_first(scores)
        if danger.urgency == "crisis" and OUT_OF_SCOPE in scores:
            del scores[OUT_OF_SCOPE]  # a message about a life in danger is never "not ours"
        windows = _rank(scores, first)
        # Ask back when the worry is unclear; a plain city question needs no question back.
        clarify = not confident
        if not windows:
            windows = (WindowScore(GENERAL_DESK, FALLBACK_SCORE),)
            clarify = True
        elif danger.urgency == "crisis" and GENERAL_DESK not in (w.id for w in windows):
            # A life at risk also reaches the front door's staff (windows.md: 安否確認).
            windows = (*windows[: MAX_WINDOWS - 1], WindowScore(GENERAL_DESK, FALLBACK_SCORE))
        elif [w.id for w in windows] == [OUT_OF_SCOPE]:
            clarify = False
        if danger.risk is not None and windows[0].id == GENERAL_DESK:
            windows = _safeguarding_first(windows, danger.risk, writer_evidence)
        writer = _writer_for(writer, writer_evidence, windows[0].id)
        if danger.own_distress and writer in ("family", "third_party"):
            writer = "self"  # 全部私が悪い、子どもが学校に行けないのも: the writer's own burden
        if not norm.fold.strip():
            writer = "unknown"
        return Analysis(
            windows=windows,
            urgency=danger.urgency,
            reporter=writer,
            clarify=clarify,
            evidence=danger.evidence + tuple(evidence) + writer_evidence,
            crisis_signals=danger.signals,
            risk=danger.risk,
            lang=lang,
        )

    def _score(
        self, hits: dict[int, _Hit], writer: Reporter
    ) -> tuple[dict[str, float], dict[str, int], list[Evidence], bool, _Behind]:
        miss: dict[str, float] = {}
        first: dict[str, int] = {}
        evidence: list[Evidence] = []
        confident = False
        live = [
            (i, h)
            for i, h in hits.items()
            if _counts(self.groups[i], writer, hits, self.groups)
            and not _inside_longer(i, h, hits, self.groups)
            and not _cut_across(i, h, hits, self.groups)
        ]
        live = [(i, h) for i, h in live if not _claimed_in_context(i, h, live, self.groups)]
        asked = {(self.groups[i].window, need) for i, _ in live for need in self.groups[i].requires}
        live = [
            (i, h)
            for i, h in live
            if (self.groups[i].window, self.groups[i].name) not in self._contexts
            or (self.groups[i].window, self.groups[i].name) in asked
        ]
        specific = any(not self.groups[i].vague for i, _ in live)
        taken: dict[str, list[tuple[int, int]]] = {}
        named: dict[str, bool] = {}  # window -> every counted word only says who
        needs: set[str] = set()  # windows asked for by a need, not by who the person is
        before: set[tuple[str, str]] = set()  # (window, window it opens before)
        for index, hit in sorted(live, key=lambda kv: -kv[1].weight):
            group = self.groups[index]
            if group.vague and specific:
                continue  # しんどい next to 家賃 is colour, not a second topic
            spans = taken.setdefault(group.window, [])
            if any(hit.start < end and start < hit.end for start, end in spans):
                continue  # the same words, found again by a synonym group: count them once
            spans.append((hit.start, hit.end))
            before.update((group.window, other) for other in group.before)
            context = (group.window, group.name) in self._contexts  # うちの子 says neither
            if not context:
                named[group.window] = named.get(group.window, True) and group.who
            if (
                not context
                and (not group.who or group.window in _WHOLE_LIFE)
                and not group.vague
                and hit.weight >= CONFIDENT
                and group.window not in _GENERAL
            ):
                needs.add(group.window)
            miss[group.window] = miss.get(group.window, 1.0) * (1.0 - hit.weight)
            first[group.window] = min(first.get(group.window, hit.start), hit.start)
            evidence.append(Evidence(group.window, hit.term, hit.matched, hit.weight, hit.via))
            if not group.vague and hit.weight >= CONFIDENT and group.window != OUT_OF_SCOPE:
                confident = True
        # On a tie the specific window goes first; the general ones are the fallback.
        scores = {
            w: 1.0 - m - (_GENERAL_PENALTY if w in _GENERAL else 0.0) for w, m in miss.items()
        }
        who_only = frozenset(w for w, only in named.items() if only)
        # Who the person is (介護保険の書類, 生活保護を受けてても) is no worry of its own.
        worry = max(
            (s for w, s in scores.items() if w != OUT_OF_SCOPE and not named.get(w)),
            default=0.0,
        )
        if OUT_OF_SCOPE in scores and worry >= WORRY_BEFORE_OUT_OF_SCOPE:
            scores[OUT_OF_SCOPE] *= OUT_OF_SCOPE_BEHIND_WORRY
        if OUT_OF_SCOPE in scores and scores[OUT_OF_SCOPE] >= CONFIDENT:
            confident = True
        evidence.sort(key=lambda e: (-scores.get(e.window, 0.0), -e.weight))
        return scores, first, evidence, confident, (who_only, frozenset(needs), frozenset(before))


#: (windows that only name who the person is, windows asked for by a need, (window, window
#: it opens before) from the lexicon's `before`)
_Behind = tuple[frozenset[str], frozenset[str], frozenset[tuple[str, str]]]


def _step_behind(scores: dict[str, float], behind: _Behind) -> None:
    """The lexicon's `before` first (失業して家賃が… opens before the card debts beside it),
    then 障害年金の入金まで…お金を借りたい: the window of who the person is follows the
    window of what they ask (in place). It keeps its place before every other window."""
    who_only, needs, before = behind
    for w, other in sorted(before):
        if w in scores and other in scores:
            scores[w] = max(scores[w], scores[other] + 2 * TIE)
    for w in who_only:
        asked = needs if w not in _WHOLE_LIFE else needs & _BEFORE_WHOLE_LIFE
        present = [scores[n] for n in asked if n in scores and n != w]
        if w in scores and present:
            scores[w] = min(scores[w], max(present) - WHO_BEHIND_NEED)


_CHILD_OMBUDS = "child_ombuds"
#: Where a child writing about their own life would otherwise be sent (label rules: a child
#: writing about their own rights → 子どもオンブズ, often also education or 子ども家庭支援).
_BEFORE_A_CHILD = frozenset({"education", "child_family"})


def _child_first(scores: dict[str, float]) -> None:
    """A child writing (中2です, 先生がわたし…) about a wrong done to them (the 子どもオンブズ's
    own words matched): it opens before the school and family windows that share its words
    (in place). Schoolwork alone (授業についていけない) stays education's."""
    if _CHILD_OMBUDS not in scores:
        return
    rivals = [scores[w] for w in _BEFORE_A_CHILD if w in scores]
    if rivals:
        scores[_CHILD_OMBUDS] = max(scores[_CHILD_OMBUDS], max(rivals) + 2 * TIE)


def _blend(
    scores: dict[str, float],
    first: dict[str, int],
    evidence: list[Evidence],
    resembled: Sequence[Resemblance],
    length: int,
    weight: float,
    minimum: float,
) -> bool:
    """Add the second signal to the lexicon's scores (in place); True when a resemblance
    alone is close enough to understand the worry. Its evidence names the example."""
    confident = False
    for r in resembled:
        if r.score < minimum:
            continue
        scores[r.window] = scores.get(r.window, 0.0) + weight * r.score
        first.setdefault(r.window, length)
        evidence.append(
            Evidence(r.window, r.example or "description", " ".join(r.shared), r.score, "example")
        )
        if r.score >= SIM_CONFIDENT and r.window != OUT_OF_SCOPE:
            confident = True
    return confident


#: Polite negation (払えません = 払え ます ず; ありません = 有る ます ず) reads as plain negation.
_POLITE = "ます"
_POLITE_NEGATION = frozenset({"ず", "ぬ"})


def _plain_negation(seq: Sequence[Token]) -> tuple[list[Token], list[str]]:
    """The lemma view with 〜ません folded into 〜ない, so 払えません matches 払えない and
    お金ありません matches お金がない."""
    tokens: list[Token] = []
    lemmas: list[str] = []
    i = 0
    while i < len(seq):
        tok = seq[i]
        if (
            tok.lemma == _POLITE
            and i + 1 < len(seq)
            and seq[i + 1].lemma in _POLITE_NEGATION
            # 貸してもらえませんか, 制度はありませんか: a polite request or question, not a no.
            and not (i + 2 < len(seq) and seq[i + 2].lemma == "か")
        ):
            end = seq[i + 1]
            merged = Token(
                tok.surface + end.surface, "ない", "ナイ", False, False, tok.start, end.end
            )
            if lemmas and lemmas[-1] in ("有る", "ある"):
                prev = tokens.pop()
                lemmas.pop()
                merged = Token(
                    prev.surface + merged.surface, "無い", "ナイ", True, False, prev.start, end.end
                )
            tokens.append(merged)
            lemmas.append(merged.lemma)
            i += 2
            continue
        tokens.append(tok)
        lemmas.append(tok.lemma)
        i += 1
    return tokens, lemmas


def _record(
    hits: dict[int, _Hit], term: _Term, matched: str, via: str, start: int, end: int
) -> None:
    best = hits.get(term.group)
    if (
        best is None
        or term.weight > best.weight
        or (term.weight == best.weight and end - start > best.end - best.start)
    ):
        hits[term.group] = _Hit(term.term, matched, term.weight, via, start, end)


def _inside_longer(
    index: int, hit: _Hit, hits: dict[int, _Hit], groups: Sequence[MeaningGroup]
) -> bool:
    """A short word inside a longer phrase matched for another meaning (滞納 in 家賃滞納,
    離婚 in 離婚したい) is part of that phrase, not a topic of its own."""
    if hit.end - hit.start > SHORT_WORD:
        return False
    return any(
        j != index
        and other.start <= hit.start
        and hit.end <= other.end
        and other.end - other.start >= hit.end - hit.start + 2
        for j, other in hits.items()
    )


def _cut_across(
    index: int, hit: _Hit, hits: dict[int, _Hit], groups: Sequence[MeaningGroup]
) -> bool:
    """Kana is split unreliably (おやのかいご → お や の かい ご): a reading that ends or starts
    inside a longer match for another window (親の会 across 親の介護) is a misreading."""
    if hit.via != "reading":
        return False
    window = groups[index].window
    return any(
        groups[j].window != window
        and other.start < hit.end
        and hit.start < other.end
        and not (other.start <= hit.start and hit.end <= other.end)
        and not (hit.start <= other.start and other.end <= hit.end)
        and other.end - other.start > hit.end - hit.start
        for j, other in hits.items()
    )


def _claimed_in_context(
    index: int, hit: _Hit, live: Sequence[tuple[int, _Hit]], groups: Sequence[MeaningGroup]
) -> bool:
    """The same words read in a context another window asked for (いじめられ from a child
    writing → child_ombuds, not education) belong to that window only."""
    window = groups[index].window
    return any(
        groups[j].requires
        and groups[j].window != window
        and other.start < hit.end
        and hit.start < other.end
        and (hit.end - hit.start) - (other.end - other.start) <= CONTEXT_SLACK
        for j, other in live
    )


#: Windows about a child that a parent writes to: the person in need is their child.
_FOR_A_CHILD = frozenset({"child_development", "medical_care_child"})
#: Windows about one's own parenting: a parent writing about their child is `self`.
_OWN_PARENTING = frozenset({"child_family", "nursery", "single_parent"})
#: Windows about one's own relationship: a partner or in-law mentioned is the writer's own.
_OWN_RELATIONSHIP = frozenset({"women", "single_parent"})


#: The window that acts on each kind of safeguarding emergency (tests/data/README.md label
#: rules): violence now → 女性相談, an older person harmed → 高齢者の相談, a welfare check →
#: the front door. A child harmed goes to 子ども家庭支援 — or to the 子どもの権利擁護 window
#: when the child writes.
_SAFEGUARDING_WINDOW = {
    "violence": "women",
    "elder": "elderly_care",
    "welfare_check": GENERAL_DESK,
    "child": "child_family",
}


def _safeguarding_first(
    windows: tuple[WindowScore, ...], risk: Risk, writer_evidence: tuple[Evidence, ...]
) -> tuple[WindowScore, ...]:
    """When nothing but the front door matched, the window that acts on the emergency opens
    first (a routine window the message named keeps its place: label rules). A welfare
    check stays with the front door."""
    wanted = _SAFEGUARDING_WINDOW.get(risk.kind)
    if wanted is None:
        return windows
    if risk.kind in ("child", "violence") and any(e.matched == "child" for e in writer_evidence):
        wanted = "child_ombuds"  # the child is writing about themselves

    if windows[0].id == wanted:
        return windows
    top = max(w.score for w in windows)
    rest = tuple(w for w in windows if w.id != wanted)
    return (WindowScore(wanted, top), *rest)[:MAX_WINDOWS]


def _writer_for(writer: Reporter, evidence: tuple[Evidence, ...], primary: str) -> Reporter:
    """The reporter rules that depend on the window (tests/data/README.md label rules)."""
    child_writer = any(e.matched == "child" for e in evidence)
    if writer == "self" and primary in _FOR_A_CHILD and not child_writer:
        return "family"
    if (
        writer == "family"
        and primary in _OWN_PARENTING
        and evidence
        and reporter.is_child_word(evidence[0].matched)
    ):
        return "self"
    # 夫は味方してくれない, DVから逃げてきました。子どもと二人: one's own marriage and children.
    if (
        writer == "family"
        and primary in _OWN_RELATIONSHIP
        and evidence
        and (
            reporter.is_partner_word(evidence[0].matched)
            or reporter.is_child_word(evidence[0].matched)
        )
    ):
        return "self"
    return writer


def _writer_fits(group: MeaningGroup, writer: Reporter) -> bool:
    return group.reporter is None or writer in group.reporter


def _counts(
    group: MeaningGroup, writer: Reporter, hits: dict[int, _Hit], groups: Sequence[MeaningGroup]
) -> bool:
    if group.reporter is not None and writer not in group.reporter:
        return False
    if group.requires:
        matched = {
            groups[i].name
            for i in hits
            if groups[i].window == group.window and _writer_fits(groups[i], writer)
        }
        return all(need in matched for need in group.requires)
    return True


def _rank(scores: dict[str, float], first: dict[str, int]) -> tuple[WindowScore, ...]:
    ordered = sorted(scores.items(), key=lambda kv: (-kv[1], first.get(kv[0], 0), kv[0]))
    # Nearly equal scores: the worry mentioned first is usually the one to open first.
    changed = True
    while changed:
        changed = False
        for i in range(len(ordered) - 1):
            (wa, sa), (wb, sb) = ordered[i], ordered[i + 1]
            if sa - sb < TIE and first.get(wb, 0) < first.get(wa, 0):
                ordered[i], ordered[i + 1] = ordered[i + 1], ordered[i]
                changed = True
    if not ordered:
        return ()
    top = max(s for _, s in ordered)
    kept = [
        WindowScore(w, round(min(1.0, max(0.0, s)), 4))
        for w, s in ordered
        if s >= MIN_SCORE and s >= top * MIN_RELATIVE
    ]
    return tuple(kept[:MAX_WINDOWS])


_engine: Engine | None = None
_engines: dict[Path, Engine] = {}
_engine_lock = threading.Lock()


def default_engine() -> Engine:
    """The shared engine over the packaged lexicon, built on first use."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = Engine(load_lexicon())
    return _engine


def engine_for(lexicon_dir: Path) -> Engine:
    """An engine over the lexicon files of another directory (validated like the packaged
    one; raises `knowledge.lexicon.LexiconError` when they are not valid). Built once per
    directory, sharing the packaged engine's tokenizer."""
    key = lexicon_dir.resolve()
    engine = _engines.get(key)
    if engine is None:
        lexicon = read_lexicon(key)
        packaged = default_engine()
        with _engine_lock:
            engine = _engines.setdefault(
                key, Engine(lexicon, packaged.tokenizer, packaged.risk, packaged.examples)
            )
    return engine


def analyse_many(texts: Iterable[str]) -> list[Analysis]:
    engine = default_engine()
    return [engine.analyse(t) for t in texts]

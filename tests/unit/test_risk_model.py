"""The risk model (issue 9): concepts and frames as data, read within scope, in Japanese and
English; the learned second opinion, reproducible from the tuning sets and only ever raising.

The figures on the labelled sets are in test_eval_sets.py; these pin the mechanisms a
reviewer of knowledge/data/risk/ relies on."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from knowledge._loading import KnowledgeDataError
from knowledge.risk import AXES, KINDS, load_english, load_risk, parse_risk
from triage import analyse
from triage.engine import default_engine

pytest.importorskip("triage.engine")


def risk_of(text: str):  # type: ignore[no-untyped-def]
    return analyse(text).risk


# --- data: every frame reviewable and checked at load ------------------------------------------


def test_every_concept_and_frame_has_a_note_and_a_known_axis() -> None:
    data = load_risk()
    assert all(c.note for c in data.concepts)
    assert all(f.note and f.axis in AXES and f.kind in KINDS for f in data.frames)
    # Every axis of risk-frames.md has at least one frame that reads it.
    assert {f.axis for f in data.frames} == set(AXES)
    assert set(data.calls) == set(KINDS)


def _docs(frame: dict[str, object]) -> tuple[dict[str, object], dict[str, object]]:
    concepts = {
        "concepts": [
            {"id": "rope", "role": "means", "note": "n", "terms": ["ロープ"]},
            {
                "id": "camping",
                "role": "scope",
                "effect": "cancel",
                "note": "n",
                "terms": ["キャンプ"],
            },
        ]
    }
    calls = {kind: "119" for kind in KINDS}
    return concepts, {"calls": calls, "frames": [frame]}


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        ({"all": ["nope"]}, "unknown concept"),
        ({"all": ["rope@sometimes"]}, "unknown aspect"),
        ({"all": ["rope"], "unless": ["rope"]}, "not a scope concept"),
        ({"all": ["camping"]}, "put it under unless"),
        ({"all": ["rope"], "axis": "vibes"}, "axis"),
        ({"all": ["rope"], "call": "112"}, "call"),
    ],
)
def test_a_wrong_frame_stops_the_program_at_load(frame: dict[str, object], problem: str) -> None:
    base: dict[str, object] = {
        "id": "f",
        "axis": "method",
        "kind": "self",
        "level": "crisis",
        "scope": "clause",
        "note": "n",
        "unless": ["camping"],
    }
    concepts, frames = _docs({**base, **frame})
    with pytest.raises(KnowledgeDataError, match=problem):
        parse_risk(concepts, frames)


def test_a_term_of_function_words_only_is_refused() -> None:
    from triage.risk import RiskTermError, _compile

    with pytest.raises(RiskTermError):
        _compile("farewell", "でした", default_engine().tokenizer)


def test_english_words_belong_to_known_concepts() -> None:
    known = {c.id for c in load_risk().concepts}
    assert set(load_english()) <= known


# --- reading: words without 死, scope, who it is about ------------------------------------------


@pytest.mark.parametrize(
    ("text", "axis"),
    [
        ("ロープ買ってきた。もう疲れた", "method"),
        ("睡眠薬を少しずつためてる", "method"),
        ("家族に手紙を書いた。身辺整理も終わった", "preparation"),
        ("もう十分生きました。お迎えが来てほしい", "passive_wish"),
        ("私がいなくなれば家族は楽になる", "burden"),
        ("介護に疲れた。母と一緒に楽になりたい", "murder_suicide"),
        ("保険金で借金を返せる", "debt_insurance"),
        ("いまベランダの柵の外にいる", "act"),
    ],
)
def test_risk_said_without_the_word_death_is_read(text: str, axis: str) -> None:
    risk = risk_of(text)
    assert risk is not None and axis in risk.frames, (text, risk)


@pytest.mark.parametrize(
    "text",
    [
        "キャンプ用のロープとナイフはどこで借りられますか",
        "「死にたい夜にかぎって」って本、図書館にありますか",
        "自殺予防のボランティアに参加したい",
        "祖父の葬式が終わりました。死亡届の出し方は",
        "上司に殺される笑 締め切りわすれてた",
        "風邪薬は何錠まで飲んでいいですか",
        "ありがとうございました",
    ],
)
def test_other_contexts_are_not_a_crisis(text: str) -> None:
    assert analyse(text).urgency != "crisis", text


def test_a_denial_lowers_and_is_kept_as_evidence() -> None:
    result = analyse("死にたいとかは全然ないです。家計の相談です")
    assert result.urgency != "crisis"
    assert any("negated" in e.term for e in result.evidence if e.window == "crisis")


def test_a_past_attempt_long_ago_is_concern() -> None:
    assert (
        analyse("20年前に自殺未遂をしたことがあります。今は落ち着いています").urgency == "concern"
    )


def test_someone_elses_act_is_their_risk_and_danger_now() -> None:
    risk = risk_of("友達が薬を全部飲んだって電話がきた")
    assert risk is not None and risk.kind == "other_person" and risk.danger_now


def test_the_one_who_harms_is_not_the_one_in_danger() -> None:
    risk = risk_of("同居の息子が母を殴っていて、母の顔が腫れてる")
    assert risk is not None and risk.kind == "elder"


@pytest.mark.parametrize(
    ("text", "call"),
    [
        ("薬を30錠飲みました。ふらふらする", "119"),
        ("夫が包丁を持って暴れてる、助けて", "110"),
        ("隣のおばあさんを一週間見かけない。新聞がたまってる", "110"),
    ],
)
def test_danger_now_names_whom_to_call(text: str, call: str) -> None:
    risk = risk_of(text)
    assert risk is not None and risk.danger_now and risk.call == call


@pytest.mark.parametrize(
    ("text", "urgent"),
    [
        ("I took like 40 of my sleeping pills and now im scared", True),
        ("tonight is the last night. sorry to everyone", True),
        ("Not suicidal or anything, just lonely since we moved", False),
        ("This job is killing me lol, where can I ask about overtime?", False),
    ],
)
def test_english_is_read_by_the_same_frames(text: str, urgent: bool) -> None:
    assert (analyse(text).urgency == "crisis") is urgent, text


# --- the learned opinion -----------------------------------------------------------------------


def test_the_learned_model_only_raises_and_never_on_a_greeting() -> None:
    engine = default_engine()
    assert engine.learned is not None
    for text in ("こんにちは", "ありがとう", "はい", "よろしくお願いします"):
        assert analyse(text).urgency == "normal", text


def test_the_committed_model_is_what_training_gives() -> None:
    """`python -m triage.training` is deterministic: the file is its output, not an edit."""
    from triage import training

    started = time.process_time()
    assert training.render(training.build()) == training.LEARNED_FILE.read_text("utf-8"), (
        "re-run: .venv/bin/python -m triage.training"
    )
    assert time.process_time() - started < 300


def test_the_model_never_learns_from_a_blind_set() -> None:
    from triage import training

    assert not any(name.startswith("blind_") for name in training.TRAINING_SETS)
    trained_on = json.loads(Path(training.LEARNED_FILE).read_text("utf-8"))["trained_on"]
    assert set(trained_on) == set(training.TRAINING_SETS)


# --- round 4: kinds of miss the quiet, everyday and safeguarding dev sets showed ----------------


def _frames(text: str) -> dict[str, str]:
    """Frame id → status, read by the rules alone (the learned opinion left out)."""
    from triage.normalise import normalise
    from triage.risk import RiskModel

    engine = default_engine()
    model = RiskModel(load_risk(), engine.tokenizer)
    norm = normalise(text)
    reading = model.read(engine.tokenizer.tokens(norm.clean), norm.clean)
    return {hit.frame.id: hit.status for hit in reading.frames}


def test_a_hope_asked_as_a_question_is_a_wish_not_a_denial() -> None:
    # 〜てくれないかな hopes it happens; 死にたくないかな still says no.
    hope = _frames("トラック突っ込んできてくれないかなって思う")
    assert hope.get("passive_fatal_event") == "active"
    assert _frames("死にたくないかな").get("wish_to_die") == "negated"


@pytest.mark.parametrize(
    ("text", "frame"),
    [
        ("罪悪感で押しつぶされそうです", "heavy_heart"),
        ("友達が最近元気なくて学校も休みがち", "someone_low"),
        ("彼の機嫌が悪いと物に当たる。壁殴ったり", "violence_at_home_reported"),
    ],
)
def test_a_heavy_heart_without_death_words_is_concern(text: str, frame: str) -> None:
    assert _frames(text).get(frame) == "active"
    assert analyse(text).urgency == "concern"


@pytest.mark.parametrize(
    ("text", "frame"),
    [
        ("隣の棟のおばあちゃんが寝間着で車道の真ん中を歩いてた。今一緒にいます", "elder_wandering"),
        (
            "お客様の首元に指の形のあざ。旦那さんから「どうなるかわかってるよな」と電話",
            "partner_hurt_and_threatened",
        ),
        (
            "訪問入浴です。利用者さんの背中に打撲のあと。ご家族の説明が毎回違います",
            "elder_injury_unexplained",
        ),
        ("またやっちゃった　今回ちょっと深くて血とまんない", "relapse_hurt"),
    ],
)
def test_what_others_see_and_quiet_acts_are_read(text: str, frame: str) -> None:
    assert _frames(text).get(frame) == "active", _frames(text)


def test_a_worker_reporting_violence_is_not_read_as_work_hyperbole() -> None:
    # 夜勤中 / 店長 say where the writer is, not that the violence is a figure of speech.
    text = "コンビニ夜勤中です。いま駐車場で男が女性の髪をつかんで車に押し込もうとしてる。店長不在"
    assert analyse(text).urgency == "crisis"
    assert analyse("上司に殺される笑 締め切りわすれてた").urgency != "crisis"


@pytest.mark.parametrize(
    ("text", "primary"),
    [
        ("隣の部屋から女の人の悲鳴と物が壊れる音がいまずっとしてる", "women"),
        ("隣の家の子どもが裸足でベランダに出されて泣いてる、今", "child_family"),
        ("おやに たたかれる。いえ かえりたくない", "child_ombuds"),  # the child writes
        ("隣のおじいさん一週間見かけない。新聞がたまってる", "general_desk"),
        ("家賃が払えない。夫にいま殴られてる", "housing_benefit"),  # a named worry keeps its place
    ],
)
def test_an_emergency_with_no_other_topic_opens_the_window_that_acts_on_it(
    text: str, primary: str
) -> None:
    result = analyse(text)
    assert result.urgency == "crisis" and result.primary == primary, result.windows


@pytest.mark.parametrize(
    "text",
    [
        "ｼﾞﾌﾞﾝｶﾞｲﾅｹﾚﾊﾞ ﾐﾝﾅﾗｸﾆﾅﾙ",  # a whole message in half-width katakana
        "ｸｽﾘ ｾﾞﾝﾌﾞﾉﾝﾀﾞ",
        "ﾄﾅﾘﾉｵｯｻﾝｶﾞ ｵｸｻﾝﾆ ｲｽﾅｹﾞﾃﾙ ｲﾏ ｽｺﾞｲｵﾄ ﾀｽｹﾃｯﾃｺｴｽﾙ",
        "たひたい。ほんとに",
    ],
)
def test_messages_typed_in_katakana_or_slang_are_read(text: str) -> None:
    assert analyse(text).urgency == "crisis", text


@pytest.mark.parametrize(
    "text", ["ゲームのアカウントを消したいです", "またひたいをぶつけた", "ロープウェイに乗りたい"]
)
def test_the_katakana_reading_and_the_slang_do_not_raise_ordinary_messages(text: str) -> None:
    assert analyse(text).urgency == "normal", text


# --- round 7: how words are read, not which words -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "urgency"),
    [
        # The words that are the person cannot also be "lives alone" (一人暮らしの弟): the
        # frame tries the other assignment (弟 as the person) before giving up.
        ("一人暮らしの弟と連絡がとれない。職場も無断欠勤していて、様子もおかしかった", "crisis"),
        # ありません reads ない: 応答がありません is 応答がない.
        ("担当の高齢の女性、雨戸が4日閉まったまま。インターホンにも応答がありません", "crisis"),
        # しか…ない affirms (nothing but the wish); 死ぬまで is a lifetime, not a wish.
        ("仕事がきつくて、もう死にたいとしか思えない", "crisis"),
        ("死ぬまでこの町で暮らしたいので、住まいの相談をしたいです", "normal"),
        ("「死ぬまでに行きたい絶景」の写真展は公民館でやってますか", "normal"),
        # A denial reaches through 気持ち and ある.
        ("死ぬつもりはありません。ただ眠れなくてつらい", "concern"),
    ],
)
def test_scope_reads_japanese_grammar(text: str, urgency: str) -> None:
    assert analyse(text).urgency == urgency, text


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("今夜やると決めた。準備はもうできてる", "self"),  # intent, a time, readiness
        ("おかあさんが すごく おこって ぼう もって くる。こわい", "child"),
        ("夫がバットを持ってこっちに来る。逃げられない", "violence"),
        ("手元の睡眠薬を全部いただきました。", "self"),  # a polite overdose
        ("保育士です。園児の腕にやけど、家で熱湯をかけられたと。今日家に帰していいのか", "child"),
    ],
)
def test_emergencies_without_the_usual_words_are_danger_now(text: str, kind: str) -> None:
    risk = risk_of(text)
    assert risk is not None and risk.danger_now and risk.kind == kind, (text, risk)


def test_a_future_date_in_a_plan_is_a_crisis_but_not_danger_now() -> None:
    risk = risk_of("来月の給料日にやると決めた。準備はもうできてる")
    assert risk is not None and not risk.danger_now


def test_the_word_dv_alone_is_not_violence_now() -> None:
    for text in ("DVの相談窓口はどこ？学校の課題で調べてる", "DV被害の支援ボランティアをしたい"):
        assert analyse(text).urgency != "crisis", text
    assert analyse("いま夫からDVを受けてます。助けて").urgency == "crisis"


@pytest.mark.parametrize(
    ("text", "urgency"),
    [
        # Dots in a row trail off; they do not end the sentence a joke belongs to.
        ("もう悔いはない…ってくらい楽しい旅行だった！次の旅行の補助ってありますか", "normal"),
        # 〜たことがある tells an experience; 今まで is not "now".
        ("昔、死のうとしたことがあります。今は落ち着いていますが、ふと不安になります", "concern"),
        ("転勤で引っ越します。サロンの皆さん、今までありがとうございました！", "normal"),
        # A wish for an illness, an end of the year, a morning that does not come.
        ("検査の結果、悪い病気だったらいいのにと思ってしまう", "crisis"),
        ("今年はもう年を越せなくてもいいや", "crisis"),
    ],
)
def test_round_eight_readings(text: str, urgency: str) -> None:
    assert analyse(text).urgency == urgency, text

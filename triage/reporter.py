"""Who is writing: the person themselves, family, a third party (neighbour, friend), or unknown.

Read from the folded text with bounded patterns. A kin word as the subject or topic of the
worry (母が, 息子は, うちの子が, 父の物忘れ) means `family`; a neighbour, friend or colleague
(近所の, 隣の, 友達が, 知人) means `third_party`. Without either, a message about one's own
life reads as `self`; a bare question about a city service reads as `unknown`.
"""

from __future__ import annotations

import re

from triage.analysis import Evidence, Reporter
from triage.normalise import to_hiragana


def _compile(pattern: str) -> re.Pattern[str]:
    """Patterns are written in natural script; the text they read is folded to hiragana."""
    return re.compile(to_hiragana(pattern))


_KIN = (
    r"(?:母親|父親|お母さん|お父さん|おかあさん|おとうさん|母|父|はは|ちち|両親|親御さん|(?<!ひとり)(?<!一人)(?<![片里])親|兄|姉|弟|妹|"
    r"お兄ちゃん|お姉ちゃん|にいちゃん|ねえちゃん|あに|あね|おとうと|いもうと|兄弟|姉妹|きょうだい|"
    r"息子|娘|むすこ|むすめ|長男|次男|三男|長女|次女|三女|うちの子|うちの娘|うちの息子|子ども|子供|こども|"
    r"赤ちゃん|あかちゃん|孫|まご|(?<![丈工])夫|妻|旦那|だんな|嫁|主人|家内|配偶者|主人|義母|義父|義理の|姑|舅|"
    r"祖母|祖父|ばあちゃん|じいちゃん|おばあちゃん|おじいちゃん|ばーちゃん|じーちゃん|ばあば|じいじ|"
    r"叔父|叔母|伯父|伯母|甥|姪|いとこ|家族|おかん|おとん|お袋|おふくろ|親父|おやじ|ママ|パパ|"
    r"まま|ぱぱ|おっと|つま|彼氏|彼女|パートナー|ぱーとなー)"
)
_HONORIFIC = r"(?:さん|ちゃん|くん|君)?"
# Kin word as subject/topic/possessor of the worry. 親と話さない (object) does not count.
_FAMILY = _compile(
    r"(?<!元)"
    + _KIN
    + _HONORIFIC
    + r"(?:が|は|も|の|って|、|,|。|を|[0-9]+歳|[0-9]+代|\([0-9]+\)|です|だけど|と二人|と2人)"
    # An age right after a kin word written in kanji: 「私85、息子55」.
    r"|(?:息子|娘|(?<![丈工])夫|妻|(?<!祖)母|(?<!祖)父|兄|姉|弟|妹|祖母|祖父|長男|長女|次男|次女)[0-9]{1,3}(?![0-9])"
    # A relative named first, particle dropped: 「おばあちゃん最近ごはん食べてない」.
    r"|^(?:母親|父親|お母さん|お父さん|息子|娘|祖母|祖父|おばあちゃん|おじいちゃん|ばあちゃん|じいちゃん"
    r"|お兄ちゃん|お姉ちゃん|兄貴|姉貴|旦那|うちの子|うちの母|うちの父|うちの息子|うちの娘)"
    r"(?=[\u4e00-\u9fff ])"
)
_THIRD = _compile(
    r"(?:近所|きんじょ|ご近所|隣|となり|お隣|向かい|友達|友人|ともだち|知人|知り合い|しりあい|同僚|先輩|後輩|"
    r"民生委員|上の階|下の階|上の部屋|下の部屋|住人|利用者|クラスメイト|くらすめいと|同級生|近くに住む|町内|"
    r"マンションの|アパートの|団地の|大家として|担任|職場の人|バイト先の人|同じ(?:アパート|マンション)|地域の|"
    r"ケアマネ|教員|教師|保育士|ヘルパー|匿名|おじさん|おばさん|おじいさん|おばあさん|若い人|男の人|女の人|"
    r"若い女性|若い男性|町内会|自治会|役員|パートさん|バイトの子|生徒さん|学生さん|担任の先生)"
    r"(?:の|が|は|も|って|さん|ちゃん|くん|です|、|,|として|がいて|がいる|をよく|で|をして)"
    r"|(?:人|方|子|男性|女性)が(?:いて|いる|います|いるん)"
    r"|(?:近所|きんじょ|ご近所|隣|となり|お隣|地域|町内|向かい|近く|団地|マンション|アパート)に"
)
_NOT_THIRD = _compile(
    r"(?:友達|友人|ともだち|知り合い)(?:が|は|も)?(?:いない|いません|いなくて|ゼロ|0人|居ない|できない)"
)
_SELF = _compile(
    r"(?:私|わたし|あたし|僕|ぼく|俺|おれ|自分|じぶん|わし|うち(?!の子|の娘|の息子|の親|の母|の父|の家))"
    r"(?:が|は|も|の|って|、|です|だけ)"
)
# A child writing about themselves: 中2です, 高校生だけど, 親に言えない.
_CHILD_WRITER = _compile(
    r"(?:小学生|中学生|高校生|中[1-3123]|高[1-3123]|小[4-6456])(?:の)?(?:女子|男子|女|男)?"
    r"(?:です|だけど|だけど|。|、|$|で|の私)"
    r"|親に(?:は)?(?:言えない|いえない|ばれたくない|内緒)"
)
# A kin word followed by a loss (夫が亡くなって) describes the writer's situation, not a
# family member's worry.
_KIN_LOSS = _compile(
    _KIN
    + _HONORIFIC
    + r"(?:が|を)?(?:亡くな|亡くし|なくな|なくし|他界|死んで|死別|と離婚|と別れ|自殺|自死)"
)


_CHILD_KIN = _compile(
    r"^(?:息子|娘|むすこ|むすめ|長男|次男|三男|長女|次女|三女|うちの子|うちの娘|うちの息子|子ども|子供|こども|赤ちゃん|あかちゃん)"
)


_PARTNER_KIN = _compile(
    r"^(?:元)?(?:夫|妻|旦那|だんな|主人|彼氏|彼女|パートナー|ぱーとなー|おっと|義母|義父|義理の|姑|舅|嫁)"
)


def is_partner_word(matched: str) -> bool:
    """Whether a family mention is the writer's partner or in-law (their own relationship)."""
    return _PARTNER_KIN.match(matched) is not None


def is_child_word(matched: str) -> bool:
    """Whether a family mention is the writer's child (their own parenting, not a relative)."""
    return _CHILD_KIN.match(matched) is not None


# A pupil's world (学校, 先生, 部活): with a parent named and no child of the writer's own,
# the writer is the pupil (お母さんが学校に行けって言う), not a parent writing about school.
_SCHOOL = _compile(
    r"学校|がっこう|クラス|くらす|先生|せんせい|担任|部活|授業|宿題|テスト|給食|休み時間|校則|同級生|先輩"
)
_PARENT_KIN = _compile(
    r"^(?:母親|父親|お母さん|お父さん|おかあさん|おとうさん|母|父|はは|ちち|両親|親|おかん|おとん|ママ|パパ|まま|ぱぱ)"
)
# Being at home for years (ひきこもって6年, ずっと家にいる): with only a parent named, the
# writer is the one at home (親は年金暮らし is their household), not a parent writing.
_AT_HOME = _compile(
    r"ひきこもって|引きこもって|ひきこもり|引きこもり|ずっと家に|家から出て(?:ない|いない)|部屋から出て(?:ない|いない)"
    r"|外に出て(?:ない|いない)|ニート"
)
_OTHER_KIN = _compile(
    r"兄|姉|弟|妹|夫|妻|旦那|主人|祖母|祖父|おばあ|おじい|ばあちゃん|じいちゃん|叔|伯"
)
_SCHOOL_PEOPLE = _compile(r"^(?:担任|先輩|後輩|同級生|クラスメイト|くらすめいと|担任の先生)")
_OWN_CHILD = _compile(
    r"息子|娘|むすこ|むすめ|長男|次男|長女|次女|うちの子|子ども|子供|こども|赤ちゃん|孫|児童|生徒さん|利用者"
)


def detect(folded: str) -> tuple[Reporter, tuple[Evidence, ...]]:
    """Guess the writer from the folded text (see triage.normalise.fold)."""
    third = _THIRD.search(folded)
    if third and _NOT_THIRD.match(folded, third.start()):
        third = None
    family = [m for m in _FAMILY.finditer(folded) if not _KIN_LOSS.match(folded, m.start())]
    child = _CHILD_WRITER.search(folded)
    # 息子が死にたいって言ってる。中学生: the age describes the son named first, not the writer.
    if child and not (
        family and is_child_word(family[0].group(0)) and family[0].start() < child.start()
    ):
        return "self", (Evidence("reporter", "self", "child", 1.0, "pattern"),)
    pupil = _SCHOOL.search(folded) and not _OWN_CHILD.search(folded)
    if pupil and (
        (family and not third and _PARENT_KIN.match(family[0].group(0)))
        or (third and _SCHOOL_PEOPLE.match(third.group(0)) and not family)
    ):
        return "self", (Evidence("reporter", "self", "child", 1.0, "pattern"),)
    if (
        family
        and not third
        and _PARENT_KIN.match(family[0].group(0))
        and _AT_HOME.search(folded)
        and not _OWN_CHILD.search(folded)
        and not _OTHER_KIN.search(folded)
    ):
        return "self", (Evidence("reporter", "self", family[0].group(0), 1.0, "pattern"),)
    first_person = _SELF.search(folded)
    if third and (not family or third.start() < family[0].start()):
        return "third_party", (Evidence("reporter", "third_party", third.group(0), 1.0, "pattern"),)
    if family:
        return "family", (Evidence("reporter", "family", family[0].group(0), 1.0, "pattern"),)
    if first_person:
        return "self", (Evidence("reporter", "self", first_person.group(0), 1.0, "pattern"),)
    return "self", ()

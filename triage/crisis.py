"""The crisis layer: risk to life or safety, checked first on every message.

It reads only the normalised text (no dictionary, no lexicon file, nothing optional), so it
cannot fail because something else did. It is tuned for recall: spelling noise is handled by
the normaliser (ｼﾆﾀｲ, しにたぃ, し に た い) and by the patterns (氏にたい, タヒ, 4ぬ).

A negation (死にたくはない) or an ambiguous phrase (楽になりたい about one's shoulders) lowers
the urgency to `concern`; an idiom (死ぬほど眠い, 課金しすぎて死んだw) or a death of someone
else (祖母が亡くなった) does not raise it. Either way the signal is recorded, never dropped.

Every pattern is a bounded alternation (no nested or unbounded repetition), so matching is
linear in the length of the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from triage.analysis import Evidence, Urgency
from triage.normalise import Normalised, to_hiragana

SUICIDAL = "suicidal"
SELF_HARM = "self_harm"
OVERDOSE = "overdose"
VIOLENCE_NOW = "violence_now"
OTHER_IN_DANGER = "other_in_danger"
#: Signal families that make a message `crisis` when active.
CRISIS_SIGNALS = (SUICIDAL, SELF_HARM, OVERDOSE, VIOLENCE_NOW, OTHER_IN_DANGER)

# Spellings of 死 that residents type: kanji, kana, look-alikes (氏, 市), 4, タヒ (folded たひ).
_SHI = r"(?:死|し|氏|市|4|〇|○|◯|●|×|(?<!っ)たひ)"
# 死ん… in kana only where し starts a word (マシンでもいい is not 死んでもいい).
_SHI_N = r"(?:死|4|〇|○|◯|●|×|(?<![ぁ-ゖァ-ヺー])し|(?<=もう)し|(?<=いっそ)し)"
_BODY = r"(?:手首|てくび|腕|うで|太もも|ふともも|太腿|脚|足首|からだ|身体|体)"
_DRUG = r"(?:薬|くすり|睡眠薬|眠剤|みんざい|市販薬|精神薬|頓服|ロキソニン|ろきそにん|ぶろん|ブロン)"
_MANY = (
    r"(?:大量|たいりょう|たくさん|沢山|いっぱい|一杯|全部|ぜんぶ|まとめて|一気|いっき|ありったけ"
    r"|[0-9]+錠|[0-9]+個|ひと箱|一箱)"
)
_SAY = r"(?:って|と)(?:言|い[っうわ]|ゆ[っう]|らいん|line|連絡|めーる|メール|書い|かい)"


@dataclass(frozen=True, slots=True)
class _Pattern:
    signal: str
    label: str
    regex: re.Pattern[str]
    #: `script`: match on the original-script compact view instead of the folded one.
    script: bool = False


def _fold_re(pattern: str) -> re.Pattern[str]:
    """Patterns are written in natural script; the compact view they read is hiragana."""
    return re.compile(to_hiragana(pattern))


def _p(signal: str, label: str, regex: str, *, script: bool = False) -> _Pattern:
    return _Pattern(signal, label, re.compile(regex if script else to_hiragana(regex)), script)


_PATTERNS: tuple[_Pattern, ...] = (
    # --- direct ideation ---------------------------------------------------------------
    _p(
        SUICIDAL,
        "死にたい",
        _SHI + r"に(?:たい|たく|て[えー]|たす|たみ|たさ|たかっ)(?!して|する|しま|すれ|し[たて])",
    ),
    _p(SUICIDAL, "タヒ", r"タヒ(?=[にねりるぬんた])", script=True),
    # たひたい (タヒたい, net slang for 死にたい), never inside a word (またひたいを打った).
    _p(SUICIDAL, "たひたい", r"(?<![ぁ-ゖ一-鿿])たひ(?:たい|たく|て[えー])"),
    _p(SUICIDAL, "死のう", r"(?:死|し)のう(?:かな|と|か|って|よ|$)"),
    _p(
        SUICIDAL,
        "romaji",
        r"(?<![a-z])(?:sh?initai|kietai|jisat?su(?:shitai)?|ikitakunai)(?![a-z])",
    ),
    # English, read on the compact text (spaces and apostrophes gone, lower case):
    # "I want to die" is wanttodie; "I don't want to die" is dontwanttodie, never a match.
    _p(
        SUICIDAL,
        "english",
        r"(?<!dont)(?<!not)(?<!never)"
        r"(?:wantto|wanna|goingto|gonna|iwill|illjust|readyto|planto|decidedto)"
        r"(?:die|endit|endmylife|killmyself|disappear|vanish|dieto(?:night|day))"
        r"|killmyself|endmylife|endingmylife|takemy(?:own)?life|suicid"
        r"|betteroff(?:dead|withoutme)"
        r"|(?:sleep|go\w{0,6})andnot(?:wake|waking)up|nottowakeup|neverwakeup|dontwanttowakeup"
        r"|(?:dont|donot)wantto(?:live|beali?ve|existanymore|beherean)"
        r"|nopointin(?:living|life|goingon)|noreasontolive"
        r"|wish(?:i|id)(?:was|were|had)(?:dead|neverbeenborn|died)"
        r"|wanttobedead|cantgoonanymore|cantgoonliving|cantdothisanymore|everyonewouldbebetter"
        r"|(?:tookallmy|tookallthe|swallowedall|tookawholebox|tookawholebottle)"
        r"|overdos|cutmy(?:self|wrist|arm)|cuttingmyself|hurtmyself|selfharm",
    ),
    _p(
        SUICIDAL,
        "死んだ方がまし",
        r"(?:死|し)(?:んだ|んじゃった)(?:ほう|方)が(?:まし|いい|楽|らく)",
    ),
    _p(SUICIDAL, "死ぬしかない", r"(?:死|し)ぬ(?:しか|以外|ほか)(?:ない|な|無)"),
    _p(
        SUICIDAL,
        "死ぬ方法",
        r"(?:死|し)(?:ぬ|ねる|に)(?:方法|ほうほう|場所|ばしょ|準備|じゅんび|薬)|楽に(?:死|し)ね|(?:死|し)に(?:方|かた)",
    ),
    _p(SUICIDAL, "死ねたら", r"(?:死|し)ね(?:たら|れば)(?:いい|楽|らく|どんなに)"),
    _p(SUICIDAL, "自殺", r"自殺|じさつ|自死|希死念慮|きしねんりょ"),
    _p(
        SUICIDAL,
        "死ぬことを考える",
        r"(?:(?:死|し)ぬ|(?:消|き)える|いなくなる|(?:自殺|じさつ)する)(?:こと|事)(?:ばかり|ばっかり|ばっか|を|も|が)?"
        r"(?:考え|かんがえ|思っ|頭から)"
        r"|(?:死|し)ぬ(?:勇気|元気|気力)|(?:死|し)に(?:場所|ばしょ)|保険金(?:を|で)?(?:残|のこ)",
    ),
    _p(
        SUICIDAL,
        "殺して",
        r"(?:殺|ころ)して(?:ほしい|欲しい|くれ|ください)|(?:死|し)なせて"
        r"|(?:誰か|だれか)(?:私を|僕を|俺を|わたしを)?(?:殺|ころ)して",
    ),
    _p(
        SUICIDAL,
        "死んでしまいたい",
        _SHI_N
        + r"ん(?:で|じゃ)(?:しまいたい|しまおう|しまえたら|いたい|おうかな|おう|やる|もいい|も構わ"
        r"|もかまわ)"
        r"|(?:死|し)ぬ(?:つもり|こと(?:に|を)決め|決心|覚悟)|いっそ(?:死|し)|(?:死|し)んだら(?:楽|らく|どんなに)"
        r"|(?:今から|いまから|今日|きょう|今夜|こんや|明日|あした)(?:死|し)(?:ぬ|にます)"
        r"|(?:死|し)にます|(?:死|し)ぬね(?!む)|(?:死|し)なせ",
    ),
    _p(
        SUICIDAL,
        "命を絶つ",
        r"自ら(?:命|いのち)|(?:命|いのち)を(?:捨て|終わら)|硫化水素|樹海|入水|(?:ロープ|縄|紐)を?(?:買|用意|準備)"
        r"|(?:橋|ビル|マンション|屋上|崖|高い所|高いところ)から(?:飛|と)"
        r"|(?:川|海|線路|ホーム)に(?:飛び込|とびこ|入ろ|はいろ)|心中|しんじゅう|一緒に(?:死|し)の",
    ),
    _p(
        SUICIDAL,
        "消滅したい",
        r"(?:消滅|蒸発)したい|(?:存在|そんざい)(?:を|が)?(?:消し|消え|けし|きえ|なくな)"
        r"|(?:存在|そんざい)したくない|(?:生|い)きる(?:気力|希望|理由|目的)(?:が|も)?(?:ない|無い|なくな|わから|見つから)"
        r"|(?:生|い)きて(?:て|いて|る)?(?:も)?(?:仕方|しかた|しょうが|しょーが)(?:ない|ねー|無い)"
        r"|(?:生|い)きて(?:る|いる)(?:の|こと)?(?:が|に)?(?:疲れ|つかれ)|(?:生|い)きること(?:に|が)(?:疲れ|つかれ)"
        r"|(?:事故|病気)(?:に|で)?(?:あって|遭って|なって)?(?:死|し)(?:ね|ん)",
    ),
    # --- indirect ideation -------------------------------------------------------------
    _p(
        SUICIDAL,
        "消えたい",
        r"(?:消|き)え(?:たい|たく|てしまいたい|ちゃいたい|てなくなりたい|てしまえたら|たみ|られたら)",
    ),
    _p(
        SUICIDAL,
        "いなくなりたい",
        r"(?:いなく|居なく)な(?:りたい|りたく|れたら|っちゃいたい|ってしまいたい)"
        r"|(?:この世|このよ|世界|せかい|世の中|よのなか)から(?:いなく|消え|きえ)",
    ),
    _p(
        SUICIDAL,
        "生きてる意味ない",
        r"(?:生|い)き(?:てる|ている|てく|ていく|る|てて|てても|ていても)(?:意味|いみ|価値|かち|理由|りゆう|目的)"
        r"(?:が|も|って|とか|なんて)?(?:ない|無い|なし|ねー|わから|分から|ある|あんの|見出せ)",
    ),
    _p(
        SUICIDAL,
        "生きていたくない",
        r"生き(?:てい|て)?たく(?:ない|ねー|ねえ|なく)|いき(?:てい|て)たく(?:ない|ねー|なく)",
    ),
    _p(
        SUICIDAL,
        "生きるのがつらい",
        r"(?:生|い)き(?:る|てる|ている|てく|ていく)(?:の|こと)(?:が|に|も)?"
        r"(?:つら|辛|しんど|疲|つか|いや|嫌|めんど|面倒|無理|むり|苦し|くるし|限界)",
    ),
    _p(
        SUICIDAL,
        "生まれてこなければ",
        r"(?:生|う)まれて(?:こな|来な)(?:ければ|きゃ|けりゃ|かった)|(?:生|う)まれてきたくなかった",
    ),
    _p(
        SUICIDAL,
        "楽になりたい",
        r"(?:楽|らく)に(?:なりたい|なりたく|なれるかな|なれるなら|してほしい)",
    ),
    _p(
        SUICIDAL,
        "終わりにしたい",
        r"(?:終わり|おわり)に(?:したい|したく|しよう|しちゃいたい)"
        r"|(?:終わり|おわり)にする(?!か|の)|(?:終わら|おわら)せ(?:たい|よう|たく|る)"
        r"|(?:命|いのち)を?(?:絶|断)",
    ),
    _p(
        SUICIDAL,
        "この世にいたくない",
        r"(?:この世|このよ|世の中|よのなか)に(?:いたくない|居たくない|未練|いる意味)"
        r"|(?:自分|じぶん)を?(?:消し|けし)たい|(?:目覚め|めざめ)たくない"
        r"|(?:明日|あした|朝|あさ)(?:が|なんて)?(?:来|き)てほしくない"
        r"|(?:もう|みんな|これで)(?:さよなら|さようなら)",
    ),
    _p(SUICIDAL, "もう限界", r"もう(?:限界|げんかい)(?!突破|とっぱ|価格|まで)"),
    _p(
        SUICIDAL,
        "お別れ",
        r"(?:みんな|皆|家族|かぞく|両親|親|母|父|子ども|子供)に(?:ありがとう|ごめん|ごめんなさい|よろしく)"
        r"(?:って|と)(?:伝えて(?:ください|下さい|ほしい|欲しい|おいて)|言っといて|言っておいて)"
        r"|今まで(?:お世話|おせわ)になりました|先立つ不孝|これで(?:お別れ|おわかれ)(?:です|だ|します|ね)",
    ),
    _p(
        SUICIDAL,
        "もう生きていけない",
        r"もう(?:生|い)きて(?:いけ|け)(?:ない|ねー|ません)|人生(?:ごと)?(?:を)?(?:やめ|辞め|止め|リタイア)たい"
        r"|(?:生|い)きるの(?:を)?(?:やめ|辞め|諦め|あきらめ)",
    ),
    _p(
        SUICIDAL,
        "首を吊る",
        r"首を?吊|(?:首|くび)を?つ(?:る|ろう|りたい)|首つり|くびつり|練炭|れんたん|遺書|いしょを?書",
    ),
    _p(
        SUICIDAL,
        "飛び降り",
        r"(?:飛|と)び(?:降|お)り(?:たい|たく|よう|る|ちゃ|そう|自殺|かけ|たら)|屋上にいます|屋上にいる",
    ),
    _p(
        SUICIDAL,
        "高い所にいる",
        r"(?:屋上|橋の上|ビルの上|崖|線路|踏切|ふみきり)(?:に|の上に|の前に)?(?:いる|います|来た|きた|来ました|立って)"
        r"|(?:ベランダ|べらんだ|窓|まど)(?:に|から|の外|で)?(?:いる|います|出た|立って|身を乗り出)"
        r"(?=.{0,24}?(?:もう|飛|さよなら|さようなら|ごめん|限界|無理|むり|終わり|おわり))"
        r"|もう(?:無理|むり|限界|だめ|ダメ|いい).{0,24}?(?:ベランダ|べらんだ)(?:に|から|の外)?(?:いる|います|出た|立って)"
        r"|(?:今から|いまから|これから)(?:屋上|線路|せんろ|踏切|ふみきり|橋|樹海|崖)(?:に|へ|まで)(?:行|い[くっき]|向か|むか)"
        r"|(?:今から|いまから|これから)(?:飛ぶ|とぶ|飛びます|とびます)"
        r"(?!鳥|とり|飛行|ひこう|の|こと|ように|よう|練習|予定|便|機|き|ね|よ)",
    ),
    _p(
        SUICIDAL,
        "飛び込み",
        r"(?:電車|でんしゃ|線路|せんろ|ほーむ|踏切|ふみきり)に?(?:飛び込|とびこ)"
        r"|(?:線路|せんろ|踏切|ふみきり)(?:を|ばかり|ばっか)?(?:見て|みて|見つめ|眺め|ながめ)",
    ),
    _p(
        SUICIDAL,
        "目が覚めなければ",
        r"(?:覚め|さめ|起き|おき|目覚め|めざめ)(?:なければ|なきゃ|なけりゃ|ないで|なかったら)(?:いい|いいのに|ほしい|楽)"
        r"|(?:明日|あした|あす|朝|あさ)(?:が|なんて)?(?:来|こ)な(?:ければ|きゃ|けりゃ|いで)",
    ),
    _p(
        SUICIDAL,
        "いないほうがいい",
        r"(?:自分|じぶん|私|わたし|僕|ぼく|俺|おれ)(?:なんか|なんて|が|は)?(?:いない|居ない|消えた|きえた)(?:ほう|方)が",
    ),
    # --- self-harm ---------------------------------------------------------------------
    _p(
        SELF_HARM,
        "リスカ",
        r"りすか|りすとかっと|あむか|れぐか|自傷|じしょう(?:行為|こうい)|根性焼き"
        r"|(?:カッター|かったー|剃刀|かみそり|カミソリ)で(?:腕|手首|自分|足|切)"
        r"|(?:頭|あたま)を?(?:壁|かべ)に(?:打ち|ぶつけ)|血を見ると|傷つけたくな|切りたい衝動",
    ),
    _p(
        SELF_HARM,
        "体を切る",
        _BODY + r"(?:を|に)?(?:切|きっ|きざ|刻|傷つけ|傷付け|きずつけ)"
        r"|(?:自分|じぶん)(?:を|の体を)?(?:傷つけ|傷付け|きずつけ|痛めつけ|いためつけ)",
    ),
    _p(
        SELF_HARM,
        "切ってる",
        r"(?:(?<=つい)|(?<![いきしちにひみりぎじびえけせてねへめれげでべ]))"
        r"切っ(?:てる|ちゃ|てしま|た跡|たあと|てます)|切りたくな",
    ),
    _p(SELF_HARM, "血が止まらない", r"血が?(?:止まらな|とまらな)"),
    _p(
        SELF_HARM,
        "腕の傷",
        _BODY + r"(?:に|の)?(?:切り傷|傷跡|きずあと|傷が(?:いっぱい|増え|たくさん))"
        r"|(?:タバコ|たばこ)を?(?:押し付け|おしつけ)",
    ),
    # --- overdose ----------------------------------------------------------------------
    _p(OVERDOSE, "OD", r"(?<![a-z])od(?![a-z])|おーばーどーず|おばどず|過剰摂取|まとめ飲み|ぱきる"),
    _p(
        OVERDOSE,
        "薬をたくさん飲んだ",
        _DRUG + r"を?" + _MANY + r"に?(?:飲|の[んみむも])"
        r"|" + _MANY + r"に?の?" + _DRUG + r"を?(?:飲|の[んみむも])"
        r"|" + _DRUG + r"を?(?:ため|溜め|貯め|集め)(?:て|こん)"
        r"|" + _DRUG + r"を?(?:飲み過ぎ|飲みすぎ|のみすぎ)",
    ),
    # --- violence or abuse happening now -----------------------------------------------
    _p(
        VIOLENCE_NOW,
        "殴られる",
        r"殴られ|なぐられ|殴って(?:く|き)|なぐって(?:く|き)|殴る蹴る|叩かれ|たたかれ|蹴られ"
        r"|暴力を?(?:振る|ふる|受け|うけ|され)|(?<![a-z])dv(?:を|被害を)?(?:受け|うけ|され)",
    ),
    # The word DV alone (a question about a window, a school report) is noticed; it is
    # violence now only with a sign of now (_NEEDS_NOW).
    _p(VIOLENCE_NOW, "DV", r"(?<![a-z])dv(?![a-z])"),
    _p(
        VIOLENCE_NOW, "物を投げられる", r"(?:物|もの|モノ)を?(?:投げ|なげ)(?:られ|て(?:く|き)|つけ)"
    ),
    # Throwing or breaking things at home counts with a sign of now or of fear (_NEEDS_NOW).
    _p(
        VIOLENCE_NOW,
        "物を投げる",
        r"(?:物|もの|モノ)を?(?:投げ|なげ)る|(?:物|もの|モノ|家具|壁|ドア|窓)を?(?:壊|こわ)(?:す|し|され)"
        r"|暴れ(?:て|る)|あばれ(?:て|る)",
    ),
    _p(VIOLENCE_NOW, "首を絞められる", r"首を?(?:絞|締|しめ)(?:られ|め)|くびを?しめられ"),
    _p(
        VIOLENCE_NOW,
        "殴っている",
        r"(?:殴|なぐ|叩|たた|蹴)(?:って|いて)(?:る|いる|た|ます)(?:音|声)?|(?:家|いえ|うち)の前(?:まで|に)(?:来|き)て"
        r"|何か(?:して|しで)(?:しまい|かし)そう|手を(?:かけ|上げ|あげ)てしまいそう|出してもらえない"
        r"|(?:[0-9]+日|何日も|みっか|３日)(?:間)?(?:何も|なにも)?(?:食べて|たべて)(?:ない|いない|ません)",
    ),
    _p(
        VIOLENCE_NOW,
        "殺される",
        r"殺される|ころされる|殺すぞ|ころすぞ|殺すって|ころすって|包丁を?(?:向け|突きつけ|持って)"
        r"|刃物を?(?:向け|持って)|監禁|閉じ込められ|とじこめられ|れいぷ|性的(?:な)?(?:暴力|被害|虐待)"
        r"|無理やり|むりやり|襲われ|おそわれ|待ち伏せ|まちぶせ|つけられて|追いかけられ|殺すと言われ|殺すって言われ"
        r"|性的暴行|性暴力を受け|(?:知らない|しらない)(?:男|人|ひと)が(?:家|部屋|いえ)に|(?:家|部屋|いえ)に(?:知らない|しらない)(?:男|人|ひと)"
        r"|暴れて(?:る|いる|います)|あばれて(?:る|いる)|突き飛ばされ|つきとばされ|押し倒され"
        r"|引きずられ|(?:けが|ケガ|怪我)を?させ",
    ),
    _p(VIOLENCE_NOW, "虐待されている", r"虐待(?:されて|され|を受け)|ぎゃくたい(?:され|を受け)"),
    _p(
        VIOLENCE_NOW,
        "english violence",
        r"(?:is|s|keeps|started|hes|shes|theyre|are)(?:hitting|beating|choking|strangling|kicking|hurting)"
        r"(?:me|us|my|her|him|the)|(?:hit|beat|choked|kicked|strangled)menow|hasaknife|withaknife"
        r"|(?:going|gonna|threatened|threatening)tokill(?:me|us)|trappedme|lockedmein|heshittingme"
        r"|imhiding|hidinginthe|helpmeplease",
    ),
    _p(
        VIOLENCE_NOW,
        "家に帰れない",
        r"(?:家|いえ|うち)に(?:帰れ|かえれ)(?:ない|なく)|(?:家|いえ|うち)(?:に|へ)?(?:帰る|かえる)のが(?:怖|こわ)",
    ),
    # --- someone else in danger --------------------------------------------------------
    _p(
        OTHER_IN_DANGER,
        "死ぬって言ってる",
        r"(?:死|し)ぬ" + _SAY + r"|(?:自殺|じさつ|飛び降り|とびおり)(?:する|しそう|しようと)"
        r"|もう(?:死|し)ぬ(?!ほど|かと|気|まで)|倒れて(?:て|る|いる|います)|(?:呼びかけ|声をかけ)ても(?:反応|返事)"
        r"|反応がない|意識がない|(?:呼んでも|揺すっても|ゆすっても|たたいても|叩いても)(?:返事|反応|起きな|目を覚まさ)"
        r"|ぐったりして[^。]{0,12}?(?:返事|反応|動かな|意識|起きな|息)|息を?して(?:ない|いない)|物音がしない|お別れのメッセージ|今までありがとう"
        r"|血だらけ|血まみれ|(?:行方不明|ゆくえふめい)|(?:夜|よる|夜中|朝)(?:に|から)?(?:出て行った|出ていった|出かけた)まま"
        r"|(?:認知症|徘徊|はいかい|夜中|夜になっても|よるになっても|朝から|昨日から|きのうから)[^。]{0,20}?"
        r"(?:帰ってこな|帰って来な|戻ってこな|戻って来な|見つからな|見つかりません|見つかってない|いなくな)"
        r"|最後の(?:メッセージ|ライン|line|連絡)|さようなら(?:みんな|皆)|身辺整理",
    ),
    _p(
        OTHER_IN_DANGER,
        "english other",
        r"(?:friend|sister|brother|mom|mum|dad|mother|father|son|daughter|wife|husband|partner"
        r"|girlfriend|boyfriend|roommate|classmate|neighbou?r|colleague|coworker)"
        r"(?:\w{0,24}?)(?:says|said|saying|wrote|texted|told|keepssaying)(?:\w{0,12}?)"
        r"(?:wantstodie|wantedtodie|willkill|goingtokill|gonnakill|goodbye|endit|endherlife|endhislife"
        r"|suicid|takeallthe|tookall)"
        r"|(?:isnt|not|wont|doesnt)(?:breathing|responding|wakingup)|unconscious|collapsed",
    ),
)

# Idioms and other people's deaths: recorded, never raise the urgency.
_IDIOMS = _fold_re(
    r"(?:死|し)ぬ(?:ほど|かと(?:思|おも)|気で|まで|w|笑)|(?:死|し)ん(?:だ|でる|どる)(?:w|笑|わ|ー|かと)"
    r"|笑い(?:死|じ)|心臓(?:が)?(?:止|と)まる|(?:死|し)にそう|亡くな|なくなった|他界|(?:死|し)んだ"
)
# Heavy distress without ideation → `concern`.
_DISTRESS = _fold_re(
    r"眠れ(?:ない|なく|ず)|ねむれ(?:ない|なく)|不眠|毎日(?:つらい|辛い|しんどい|泣|苦し)"
    r"|まいにち(?:つらい|しんどい|ないて)|泣いて|ないてる|涙が|疲れ(?:切|果)|つかれきっ|孤独|ひとりぼっち"
    r"|誰にも(?:相談|言え|頼|いえ)|だれにも(?:相談|言え|いえ)|助けて|たすけて|もう無理|もうむり|絶望"
    r"|価値(?:が)?ない|自分(?:なんか|なんて)|怖くて|こわくて|動悸|パニック|ぱにっく|抱えて"
    r"|見てられない|みてられない|逃げたい|にげたい|限界(?!突破)|しんど|全部(?:むり|無理)|ぜんぶむり|生きづら|病み|やみき"
    r"|(?:生|い)きてて(?:も)?(?:いいこと|良いこと)|からっぽ|空っぽ|虚し|むなし"
    r"|もう(?:疲れ|つかれ)た|へとへと|くたくた|(?:手を(?:あげ|上げ)|叩い|たたい|怒鳴っ|どなっ)てしま"
    r"|泣き叫|叫び声|怒鳴り声|(?:体|からだ|胸|むね|お尻|おしり|下着)を?(?:触|さわ)られ|性被害|性暴力|痴漢"
    r"|つきまと|付きまと|ストーカー|新聞が?(?:たま|溜ま)|郵便物?が?(?:たま|溜ま)"
    r"|(?:毎日|毎晩|いつも).{0,6}?(?:怒鳴られ|どなられ|責められ|罵られ|暴言)"
    r"|(?:何日も|ずっと|数日).{0,10}?連絡が?(?:つかな|取れな|とれな)|遺族(?!年金)"
    r"|さみしくて|寂しくて|頭がおかしくなりそう|気が狂いそう|誰とも話さな|気分が重|全部(?:いや|嫌)"
    r"|(?:話を|はなしを|誰かに|だれかに)?(?:聞|き)いてほしい|きいてほしい"
    # English: heavy distress in the words foreign residents write.
    r"|cantstopcrying|cryingeveryday|cryallthetime|hopeless|solonely|verylonely|imsolonely|cantsleep"
    r"|exhausted|overwhelmed|nobodytotalkto|ihavenobody|havenoone|feelsoheavy|soheavy|depressed"
    r"|panicattack|cantcope|breakingdown|falling ?apart|atmylimit|cantdothis"
    r"|cannotstopcrying|criesevery|cryeverynight|underwater|hurtsmorethan|walkoneggshells"
    r"|darkthoughts|toomuch|sotiredof|nofriends|noonetotalkto|feelnumb|anxious|grieving|grief"
    r"|miscarriage|imnotok|notokay|struggling|sosad|verysad|cantgetoutofbed|nootherway"
)
# After a direct-ideation match: 死にたくはない, 死にたいとかじゃない, 消えたいとまでは思わない.
_NEGATION_AFTER_TAKU = _fold_re(
    r"(?:は|も|なんか|とか)?(?:ない|ねー|ねえ|無い|ありません|なかった)"
)
_NEGATION_AFTER = _fold_re(
    r"[^。!?]{0,6}?(?:思わ|おもわ|思って(?:い)?な|おもって(?:い)?な|言わな|いわな|考えて(?:い)?な|"
    r"じゃな|ではな|わけじゃ|わけでは|わけでもな|訳じゃ|訳では|つもりはな|気はな|きはな|ことはな|よりは)"
)
# Words that make 楽になりたい / 終わりにしたい / もう限界 / 切ってる about something else.
_AMBIGUOUS_CONTEXT = {
    "楽になりたい": _fold_re(
        r"(?:肩|腰|体|からだ|身体|生活|家計|暮らし|くらし|仕事|介護|育児|子育て|家事|気持ち|気分|心|お金|"
        r"支払い|返済|呼吸|少し|ちょっと|金銭|負担|手続き)"
    ),
    "終わりにしたい": _fold_re(
        r"(?:関係|付き合い|つきあい|話|契約|喧嘩|けんか|連絡|同居|片付け|作業)"
    ),
    "もう限界": _fold_re(
        r"(?:介護|仕事|育児|子育て|体力|腰|家計|お金|支払い|バイト|勉強|我慢|ガマン|がまん|部屋|家事|看病|同居|"
        r"貯金|財布|生活費|借金|返済|残業)"
    ),
    "切ってる": _fold_re(
        r"(?:髪|かみ|爪|つめ|電話|でんわ|縁|関係|契約|期限|野菜|やさい|紙|テープ|封|スタート|ハンドル|"
        r"カード|スイッチ|電源|息|いき|ネット|回線|連絡|ケーブル|ガス|電気|水道|十字|身銭|張り|ばっさり)"
    ),
    "家に帰れない": _fold_re(r"(?:終電|電車|残業|仕事|雪|台風|出張|遠い|鍵|かぎ|忙し)"),
    "死ぬって言ってる": _fold_re(
        r"(?:テスト|てすと|勉強|宿題|試験|仕事|バイト|部活|暑|寒|忙し|眠|疲れ|筋肉痛|課題|練習|ダイエット)"
    ),
    "殴られる": _fold_re(r"(?:昔|むかし|子供の頃|子どもの頃|小さい頃|小学生|中学|高校|前の|元)"),
    "殺される": _fold_re(r"(?:推し|おし|尊|とうと|萌え|かわい|可愛|ゲーム|げーむ)"),
    "飛び降り": _fold_re(r"清水の舞台|きよみずのぶたい"),
    # 2歳の息子が物を投げる: a small child's tantrum, not violence against the writer.
    "物を投げられる": _fold_re(
        r"(?:癇癪|かんしゃく|イヤイヤ|いやいや|(?<![0-9])[0-6]歳|赤ちゃん|幼児|幼稚園|保育園|園で)"
    ),
    "物を投げる": _fold_re(
        r"(?:癇癪|かんしゃく|イヤイヤ|いやいや|(?<![0-9])[0-6]歳|赤ちゃん|幼児|幼稚園|保育園|園で)"
    ),
    "お別れ": _fold_re(
        r"(?:引っ越|引越|ひっこ|転居|退職|卒業|異動|転勤|辞め|やめ|退院|閉店|退去|解約|転校|定年|終了)"
    ),
}
_CONTEXT_SPAN = 12
# Words after the match that make it about something else (自殺予防のポスター).
_AMBIGUOUS_AFTER = {
    "自殺": _fold_re(
        r"(?:防止|予防|対策|総合対策|のニュース|の報道|統計|について学|者数|率|ぼうし|よぼう|たいさく)"
    ),
    "家に帰れない": _fold_re(r"(?:事情|理由|わけ)"),
    "殺される": _fold_re(
        # 殺されるレベルで詰められてる, 殺されるくらい怒られた: a measure of a scolding.
        r"(?:レベル|れべる|勢い|いきおい|くらい|ぐらい|ほど)"
        r"|[^。!?]{0,8}?(?:冗談|じょうだん|ふざけ|ゲーム|げーむ|漫画|まんが|ドラマ)"
    ),
    # 飛び降りる覚悟で離婚届を出した: resolve, not a plan.
    "飛び降り": _fold_re(r"(?:くらいの|ぐらいの|ような)?(?:覚悟|つもり|気持ち|勢い|思い)で"),
}
# Being hit counts as happening now only with a sign of now (殴られてる, 今, 毎日, 助けて).
_NEEDS_NOW = frozenset({"殴られる", "物を投げる", "DV"})
_NOW_AFTER = _fold_re(r"[^。!?]{0,5}?(?:てる|ている|ています|てます|続け|そう|てて)")
# いま, but not the います of 調べています.
_NOW_BEFORE = _fold_re(
    r"(?:今|(?<![てでしりき])いま(?!す|せ)|毎日|まいにち|毎晩|いつも|また|今日も|きょうも|さっき)"
)
_URGENT = _fold_re(
    r"助けて|たすけて|怖い|こわい|逃げ(?!て(?:き|来)(?:た|ました))|にげ(?!てき(?:た|ました))|隠れ|かくれ|帰りたくな|かえりたくな|殺され|けが|怪我|血が|警察"
    # いたい after が/も/く or a space (体がいたい, すごくいたい), not 手伝いたい or 会いたい.
    r"|腫れ|はれて|あざ|痣|痛い|(?:^|(?<=[がもく\s、]))いたい|骨|救急|110"
)
_PAST_BEFORE = _fold_re(r"(?:前は|まえは|昔は|昔|むかし|以前|学生の頃|学生時代|若い頃|一時期|当時)")
_PAST_AFTER = _fold_re(r"(?:って|と|とか)?(?:思って|おもって|考えて|かんがえて)(?:た|いた|ました)")
_STILL_NOW = _fold_re(r"今も|いまも|最近また|さいきんまた|また(?:思|おも)|今でも|いまでも")
# 消えたいって思ってた時期もあったけど今は大丈夫: the writer places it in the past themselves.
_PAST_LATER = _fold_re(
    r"^(?:って|と|とか)?(?:思って|おもって|考えて|かんがえて)(?:た|いた|ました)(?:時期|頃|ころ|こと)"
    r"|^.{0,16}?(?:時期|頃|ころ)(?:も|が)?(?:あった|ありました)"
    # 切ったことがございました。もう三十年以上前: an experience told as the past.
    r"|^.{0,4}?ことが(?:あった|ありました|ございました)"
    r"|^.{0,30}?[0-9〇一二三四五六七八九十]+年(?:以上|くらい|ほど|ぐらい)?前"
)
# Indirect phrases that a denial elsewhere in the message (死にたくはない。でも…) lowers.
_SOFT_INDIRECT = frozenset({"生きるのがつらい", "楽になりたい", "もう限界", "生きてる意味ない"})
# A word right before the phrase that makes it about something else (仕事終わりにしたい).
_UNRELATED_RIGHT_BEFORE = {
    "終わりにしたい": _fold_re(
        r"(?:(?:仕事|作業|話|関係|付き合い|契約|喧嘩|けんか|連絡|同居|片付け|会議|勉強|バイト|ゲーム)"
        r"(?:を|は|も)?(?:今日で|今月で|きょうで|で)?|今日(?:を|は|も)?)$"
    ),
}
#: In these contexts the phrase is plainly about something else (髪を切ってる, 終電で家に帰れない).
_UNRELATED_IN_CONTEXT = frozenset(
    {
        "切ってる",
        "家に帰れない",
        "自殺",
        "殺される",
        "飛び降り",
        "お別れ",
        "物を投げる",
        "物を投げられる",
    }
)
# 家族が自殺して / 兄を自殺で亡くし / 自死遺族: someone else's death, the writer is bereaved.
_OTHER_SUBJECT_BEFORE = _fold_re(
    r"(?:家族|父|母|兄|姉|弟|妹|息子|娘|夫|妻|旦那|友人|友達|ともだち|同僚|彼氏|彼女|親|祖父|祖母|知人"
    r"|先輩|後輩|子|子ども|子供|親戚|いとこ|恋人|パートナー)(?:さん|ちゃん|くん)?(?:が|は|を|も)$"
)
_BEREAVED_AFTER = _fold_re(
    r"(?:し(?:て|た(?!い|く)|ちゃっ|てしまっ)|で(?:亡くな|なくな|失|亡くし|なくし))"
)
_BEREAVED = _fold_re(r"(?:自殺|自死|じさつ)(?:者の)?遺族|遺族")


# The counsellor's axis of each pattern (knowledge/risk.py AXES); by signal unless named here.
_AXIS_OF_SIGNAL = {
    SUICIDAL: "active_ideation",
    SELF_HARM: "act",
    OVERDOSE: "act",
    VIOLENCE_NOW: "violence_now",
    OTHER_IN_DANGER: "other_person",
}
_AXIS_OF_LABEL = {
    "死のう": "plan",
    "死んだ方がまし": "burden",
    "いないほうがいい": "burden",
    "死ぬ方法": "method",
    "命を絶つ": "method",
    "首を吊る": "method",
    "飛び降り": "plan",
    "飛び込み": "method",
    "高い所にいる": "act",
    "消滅したい": "passive_wish",
    "生きてる意味ない": "passive_wish",
    "生きていたくない": "passive_wish",
    "生きるのがつらい": "passive_wish",
    "生まれてこなければ": "passive_wish",
    "目が覚めなければ": "passive_wish",
    "この世にいたくない": "passive_wish",
    "死ねたら": "passive_wish",
    "お別れ": "preparation",
    "もう生きていけない": "passive_wish",
}
#: Patterns that mean danger now when active: someone at the edge, bleeding, violence now.
_DANGER_LABELS = frozenset({"高い所にいる", "血が止まらない"})
# An overdose told in the past or in progress (飲んだ, 飲んじゃった, してる) is an act done.
_DONE_AFTER = _fold_re(r"[^。!?]{0,6}?(?:だ|た|ちゃ|じゃ|てる|でる|ている|でいる|ました|しまっ)")
_DONE_IN = _fold_re(
    r"(?:飲んだ|のんだ|飲んじゃ|のんじゃ|飲みました|のみました|した|しちゃ|しました)"
)
_COLLAPSED = _fold_re(
    r"倒れ|意識|反応|息を?して|呼んでも|揺すっても|ゆすっても|叩いても|たたいても|血だらけ|血まみれ"
)


@dataclass(frozen=True, slots=True)
class PatternHit:
    """One pattern found, where (offsets into `compact`, or `compact_script` when `script`)
    and how it was read (`active`, `negated`, `ambiguous`, `past`, `bereaved`, `unrelated`)."""

    signal: str
    label: str
    axis: str
    status: str
    start: int
    end: int
    matched: str
    danger_now: bool


@dataclass(frozen=True, slots=True)
class CrisisResult:
    urgency: Urgency
    #: e.g. ("suicidal",) or ("suicidal:negated", "idiom") — what was noticed and how read.
    signals: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    hits: tuple[PatternHit, ...] = ()
    #: The distress words found (they make a message `concern` without any other sign).
    distress: bool = False


def _negated(text: str, end: int) -> bool:
    tail = text[end : end + 16]
    if text[end - 2 : end] == "たく" and _NEGATION_AFTER_TAKU.match(tail):
        return True
    return _NEGATION_AFTER.match(tail) is not None


def _ambiguous(label: str, text: str, start: int, end: int) -> bool:
    before = text[max(0, start - _CONTEXT_SPAN) : start]
    context = _AMBIGUOUS_CONTEXT.get(label)
    if context is not None and context.search(before):
        return True
    after = _AMBIGUOUS_AFTER.get(label)
    return after is not None and after.match(text, end) is not None


def _past(label: str, text: str, start: int, end: int) -> bool:
    """死にたいって思ってた (前は) / 叩かれて育った: a past event, not risk now."""
    before = text[max(0, start - _CONTEXT_SPAN) : start]
    if label in _NEEDS_NOW:
        now = _NOW_AFTER.match(text, end) or _NOW_BEFORE.search(before) or _URGENT.search(text)
        return now is None
    later = text[end : end + 40]
    if _PAST_LATER.search(later) and not _STILL_NOW.search(later):
        return True
    return bool(_PAST_BEFORE.search(before) and _PAST_AFTER.match(text, end))


def _status(pattern: _Pattern, text: str, start: int, end: int) -> str:
    right_before = _UNRELATED_RIGHT_BEFORE.get(pattern.label)
    if right_before is not None and right_before.search(text[max(0, start - 9) : start]):
        return "unrelated"
    if _negated(text, end):
        return "negated"
    if pattern.label == "自殺" and (
        (
            _OTHER_SUBJECT_BEFORE.search(text[max(0, start - 8) : start])
            and _BEREAVED_AFTER.match(text, end)
        )
        or _BEREAVED.match(text, end)
    ):
        return "bereaved"
    if _past(pattern.label, text, start, end):
        return "past"
    if _ambiguous(pattern.label, text, start, end):
        return "unrelated" if pattern.label in _UNRELATED_IN_CONTEXT else "ambiguous"
    return "active"


def _danger_now(pattern: _Pattern, text: str, m: re.Match[str]) -> bool:
    if pattern.label in _DANGER_LABELS or pattern.signal == VIOLENCE_NOW:
        return True
    if pattern.signal == OVERDOSE:
        matched = m.group(0)
        if any(w in matched for w in ("ため", "溜め", "貯め", "集め")):
            return False
        return bool(_DONE_IN.search(matched) or _DONE_AFTER.match(text, m.end()))
    if pattern.signal == SELF_HARM:
        return bool(_COLLAPSED.search(text))
    if pattern.signal == OTHER_IN_DANGER:
        return bool(_COLLAPSED.search(m.group(0)))
    return False


def check(norm: Normalised) -> CrisisResult:
    """Read the message for risk to life or safety. Pure, fast, no optional dependencies."""
    active: list[str] = []
    lowered: list[str] = []
    cleared: list[str] = []
    evidence: list[Evidence] = []
    found: list[tuple[_Pattern, re.Match[str], str]] = []
    hits: list[PatternHit] = []
    for pattern in _PATTERNS:
        text = norm.compact_script if pattern.script else norm.compact
        for m in pattern.regex.finditer(text):
            found.append((pattern, m, _status(pattern, text, m.start(), m.end())))
    # 死にたくはない。でも生きてるのがしんどい: the writer has told us where they stand.
    denied = any(status == "negated" for _, _, status in found)
    for pattern, m, status in found:
        if denied and status == "active" and pattern.label in _SOFT_INDIRECT:
            status = "negated"
        text = norm.compact_script if pattern.script else norm.compact
        hits.append(
            PatternHit(
                signal=pattern.signal,
                label=pattern.label,
                axis=_AXIS_OF_LABEL.get(pattern.label, _AXIS_OF_SIGNAL[pattern.signal]),
                status=status,
                start=m.start(),
                end=m.end(),
                matched=m.group(0),
                danger_now=status == "active" and _danger_now(pattern, text, m),
            )
        )
        if status == "active":
            active.append(pattern.signal)
        elif status in ("negated", "ambiguous", "past", "bereaved"):
            lowered.append(f"{pattern.signal}:{status}")
        else:
            cleared.append(f"{pattern.signal}:{status}")
        evidence.append(
            Evidence(
                window="crisis",
                term=pattern.label if status == "active" else f"{pattern.label}({status})",
                matched=m.group(0),
                weight=1.0 if status == "active" else 0.5,
                via="pattern",
            )
        )
    idiom = _IDIOMS.search(norm.compact)
    distress = _DISTRESS.search(norm.compact)
    signals = list(dict.fromkeys(active + lowered + cleared))
    if idiom:
        signals.append("idiom")
        evidence.append(Evidence("crisis", "idiom", idiom.group(0), 0.0, "pattern", "idiom"))
    if distress:
        signals.append("distress")
        evidence.append(
            Evidence("crisis", "distress", distress.group(0), 0.3, "pattern", "distress")
        )
    urgency: Urgency
    if active:
        urgency = "crisis"
    elif lowered or distress:
        urgency = "concern"
    else:
        urgency = "normal"
    return CrisisResult(
        urgency=urgency,
        signals=tuple(signals),
        evidence=tuple(evidence),
        hits=tuple(hits),
        distress=distress is not None,
    )

"""Counts of things, in digits or in words, in the languages of the default pack.

`counts("a twenty-point plan", ("point",))` → [20]. A count is a number written right before
one of the given nouns ("28-point", "20 puntos", "28-punktowy", "двадцати пунктов", "28点");
every number of an enumeration before the noun is a count of its own ("26 or 28 points",
"from 28 to 19 points", "з 28 до 20 пунктів").

Number words are a small table of our own, 1 to 30 (the sizes of plans, lists and drafts):
the maintained parsers on PyPI cover a few languages each (number-parser: en, es, hi, ru;
text2num: seven Western European languages) and none reads the case endings of the Slavic
languages ("двадцяти", "dwudziestu", "dvadesetih"), so each word here is a stem that takes
any ending.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

_MAX = 99

# Per language: the words of 1..10, the teens 11..19 ("|" between them) and the tens 20, 30,
# as stems (the shortest spelling every inflected form begins with). Compound forms
# (twenty-eight, achtundzwanzig, veintiocho) are built from these below.
_UNITS: dict[str, str] = {
    "en": "one|two|three|four|five|six|seven|eight|nine|ten",
    "de": "ein|zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn",
    "nl": "een|twee|drie|vier|vijf|zes|zeven|acht|negen|tien",
    "fr": "un|deux|trois|quatre|cinq|six|sept|huit|neuf|dix",
    "es": "uno|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez",
    "it": "uno|due|tre|quattro|cinque|sei|sette|otto|nove|dieci",
    "pt": "um|dois|três|quatro|cinco|seis|sete|oito|nove|dez",
    "ro": "unu|doi|trei|patru|cinci|șase|șapte|opt|nouă|zece",
    "ru": "од|дв|тр|четыр|пят|шест|сем|вос|девят|десят",
    "uk": "од|дв|тр|чотир|п'ят|шіст|сім|віс|дев'ят|десят",
    "bg": "ед|дв|тр|четир|пет|шест|седем|осем|девет|десет",
    "sr": "jed|dv|tr|četir|pet|šest|sedam|osam|devet|deset",
    "pl": "jed|dw|trz|czter|pięć|sześć|siedem|osiem|dziewięć|dziesięć",
    "cs": "jed|dv|tř|čtyř|pět|šest|sedm|osm|devět|deset",
    "tr": "bir|iki|üç|dört|beş|altı|yedi|sekiz|dokuz|on",
    "sv": "en|två|tre|fyra|fem|sex|sju|åtta|nio|tio",
    "no": "en|to|tre|fire|fem|seks|sju|åtte|ni|ti",
    "fi": "yksi|kaksi|kolme|neljä|viisi|kuusi|seitsemän|kahdeksan|yhdeksän|kymmenen",
}

_TEENS: dict[str, str] = {
    "en": "eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen",
    "de": "elf|zwölf|dreizehn|vierzehn|fünfzehn|sechzehn|siebzehn|achtzehn|neunzehn",
    "nl": "elf|twaalf|dertien|veertien|vijftien|zestien|zeventien|achttien|negentien",
    "fr": "onze|douze|treize|quatorze|quinze|seize|dix-sept|dix-huit|dix-neuf",
    "es": "once|doce|trece|catorce|quince|dieciséis|diecisiete|dieciocho|diecinueve",
    "it": "undici|dodici|tredici|quattordici|quindici|sedici|diciassette|diciotto|diciannove",
    "pt": "onze|doze|treze|catorze|quinze|dezesseis|dezessete|dezoito|dezenove",
    "ro": "unsprezece|doisprezece|treisprezece|paisprezece|cincisprezece"
    "|șaisprezece|șaptesprezece|optsprezece|nouăsprezece",
    "ru": "одиннадцат|двенадцат|тринадцат|четырнадцат|пятнадцат|шестнадцат"
    "|семнадцат|восемнадцат|девятнадцат",
    "uk": "одинадцят|дванадцят|тринадцят|чотирнадцят|п'ятнадцят|шістнадцят"
    "|сімнадцят|вісімнадцят|дев'ятнадцят",
    "bg": "единадесет|дванадесет|тринадесет|четиринадесет|петнадесет|шестнадесет"
    "|седемнадесет|осемнадесет|деветнадесет",
    "sr": "jedanaest|dvanaest|trinaest|četrnaest|petnaest|šesnaest|sedamnaest|osamnaest|devetnaest",
    "pl": "jedenast|dwunast|trzynast|czternast|piętnast|szesnast|siedemnast|osiemnast|dziewiętnast",
    "cs": "jedenáct|dvanáct|třináct|čtrnáct|patnáct|šestnáct|sedmnáct|osmnáct|devatenáct",
    "tr": "on bir|on iki|on üç|on dört|on beş|on altı|on yedi|on sekiz|on dokuz",
    "sv": "elva|tolv|tretton|fjorton|femton|sexton|sjutton|arton|nitton",
    "no": "elleve|tolv|tretten|fjorten|femten|seksten|sytten|atten|nitten",
    "fi": "yksitoista|kaksitoista|kolmetoista|neljätoista|viisitoista"
    "|kuusitoista|seitsemäntoista|kahdeksantoista|yhdeksäntoista",
}

# (twenty, thirty, how a unit joins twenty: "{t}-{u}", "{u}und{t}", …)
_TENS: dict[str, tuple[str, str, str]] = {
    "en": ("twenty", "thirty", "{t}-{u}|{t} {u}"),
    "de": ("zwanzig", "dreißig", "{u}und{t}|{u}undzwanzig"),
    "nl": ("twintig", "dertig", "{u}en{t}|{u}ën{t}"),
    "fr": ("vingt", "trente", "{t}-{u}|{t} {u}|{t}-et-{u}|{t} et {u}"),
    "es": ("veint", "treinta", "{t}i{u}|{t} y {u}"),
    "it": ("vent", "trent", "{t}{u}"),
    "pt": ("vinte", "trinta", "{t} e {u}"),
    "ro": ("douăzeci", "treizeci", "{t} și {u}|{t} si {u}"),
    "ru": ("двадцат", "тридцат", "{t} {u}"),
    "uk": ("двадцят", "тридцят", "{t} {u}"),
    "bg": ("двадесет", "тридесет", "{t} и {u}"),
    "sr": ("dvadeset", "trideset", "{t} {u}|{t}i {u}"),
    "pl": ("dwadzieścia", "trzydzieści", "{t} {u}"),
    "cs": ("dvacet", "třicet", "{t} {u}|{t}{u}"),
    "tr": ("yirmi", "otuz", "{t} {u}"),
    "sv": ("tjugo", "trettio", "{t}{u}"),
    "no": ("tjue", "tretti", "{t}{u}"),
    "fi": ("kaksikymmentä", "kolmekymmentä", "{t}{u}"),
}

# Stems that differ from the nominative for a few inflected or compound forms
# ("dwudziestu", "dwudziestopunktowy", "dvacetibodový", "двадцати", "восьми").
_EXTRA_WORDS = (
    "dwudziest:20 trzydziest:30 ośm:8 dvadeset:20 dvacíti:20 восьм:8 сьом:7 чотирьох:4"
    " kahdenkymmenen:20 kolmenkymmenen:30 kahdeksan:8 yhdeksän:9 neljän:4 viiden:5 kuuden:6"
    " seitsemän:7 kolmen:3 kymmenen:10 двайсет:20 трийсет:30"
)
_EXTRA: dict[str, int] = {
    word: int(value) for word, value in (pair.split(":") for pair in _EXTRA_WORDS.split())
}

_L = r"[^\W\d_]"
# A count starts a word, or follows a character of a script without spaces ("に28項目").
_START = r"(?<![.,]|(?![\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff])\w)"
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


@lru_cache(maxsize=1)
def _table() -> dict[str, int]:
    """Every spelling (lower case) → its value, across the pack's languages."""
    table: dict[str, int] = {}

    def put(word: str, value: int) -> None:
        # One and two are left out: no plan has so few points, and their short words ("en",
        # "to", "un", "ein", "dos") are everyday words elsewhere. So are words under three
        # letters, stems of two letters excepted in Cyrillic ("тр" of "трёх").
        if value < 3 or (len(word) < 3 and not _CYRILLIC.match(word)):
            return
        # a spelling shared by two languages keeps the first
        table.setdefault(word.lower(), value)

    for lang, unit_words in _UNITS.items():
        units = unit_words.split("|")
        for value, word in enumerate(units, 1):
            put(word, value)
        for value, word in enumerate(_TEENS[lang].split("|"), 11):
            put(word, value)
        twenty, thirty, joins = _TENS[lang]
        put(twenty, 20)
        put(thirty, 30)
        for tens, tens_value in ((twenty, 20), (thirty, 30)):
            for unit_value, unit in enumerate(units[:9], 1):
                for join in joins.split("|"):
                    word = join.format(t=tens, u=unit)
                    put(word, tens_value + unit_value)
                    if lang == "it" and unit[0] in "uo":  # ventuno, ventotto: the vowel drops
                        put(tens + unit, tens_value + unit_value)
    for word, value in _EXTRA.items():
        put(word, value)
    # "twenty" in Italian and Spanish drops its vowel before a unit; keep the bare word too
    put("venti", 20)
    put("veinte", 20)
    put("trenta", 30)
    return table


def number_value(word: str) -> int | None:
    """The value of one number written in digits or one word ("28", "twenty",
    "двадцати", "achtundzwanzig"), or None."""
    word = word.strip().lower().replace("\u2019", "'").replace("\u02bc", "'")
    if word.isdigit():
        return int(word) if int(word) <= _MAX else None
    table = _table()
    if word in table:
        return table[word]
    # the longest known spelling the word begins with (a stem and its case ending)
    best: tuple[int, int] | None = None
    for spelling, value in table.items():
        if word.startswith(spelling) and (best is None or len(spelling) > best[0]):
            best = (len(spelling), value)
    # an ending, not another word ("tre" in "trenutno"), follows the stem
    if best is None or len(word) - best[0] > 4:
        return None
    return best[1]


_JOIN = re.compile(
    r"\s*(?:[,/]|[-‐‑–—]|\b(?:or|and|to|from|bis|auf|oder|und|ou|à|a|o|y|e|i|of|tot|naar|"
    r"до|на|или|або|чи|lub|albo|do|nebo|až|ili|sau|la|veya|eller|tai|и|і|й)\b|至|到|或)\s*",
    re.IGNORECASE,
)
# What may stand between the number and the noun: a hyphen or dash, a space, a case suffix
# ("28-ти", "28-те", "28-mi"), Romanian "de"; nothing in scripts without spaces ("28点").
_LINK = r"(?:\s*[-‐‑–—]\s*|\s+|)(?:(?:ти|ми|х|те|ых|их|de|di|mi)(?:\s+|[-‐‑]))?"


def _number_re() -> str:
    words = "|".join(re.escape(w) for w in sorted(_table(), key=len, reverse=True))
    return (
        rf"(?:\d{{1,2}}(?!\d)|[{_CJK_DIGITS}十]{{1,3}}|(?:{words}){_L}*(?:[- ](?:{words}){_L}*)?)"
    )


@lru_cache(maxsize=1)
def _one_number() -> re.Pattern[str]:
    return re.compile(_number_re(), re.IGNORECASE)


@lru_cache(maxsize=64)
def _noun_pattern(nouns: tuple[str, ...]) -> re.Pattern[str]:
    stems = "|".join(re.escape(n) for n in sorted(nouns, key=len, reverse=True))
    return re.compile(stems, re.IGNORECASE)


@lru_cache(maxsize=1)
def _count_pattern() -> re.Pattern[str]:
    """An enumeration of numbers and the link to a noun that follows it, at the end of the
    text searched: counts() searches only the few words before each noun."""
    number = _number_re()
    return re.compile(
        rf"{_START}(?P<numbers>{number}(?:{_JOIN.pattern}{number})*){_LINK}\Z",
        re.IGNORECASE,
    )


# a number word right before the noun, in one word with it
_ONE_WORD_BEFORE = re.compile(
    r"(?:dvacet|dwudziest|двадцат|двадцят|dvadeset|trzydziest|třicet)[a-zěíoy]?\Z", re.I
)
_BEFORE_NOUN = 80  # characters before a noun that may hold its enumeration


_CJK_DIGITS = "一二两三四五六七八九"


def _cjk_value(numeral: str) -> int | None:
    """二十八 → 28, 十九 → 19, 二十 → 20, 七 → 7 (Chinese and Japanese numerals below 100)."""
    digit = {c: i for i, c in enumerate("一二三四五六七八九", 1)} | {"两": 2}
    if "十" not in numeral:
        return digit.get(numeral) if len(numeral) == 1 else None
    tens, _, units = numeral.partition("十")
    if len(tens) > 1 or len(units) > 1:
        return None
    ten = digit.get(tens) if tens else 1
    unit = digit.get(units) if units else 0
    return None if ten is None or unit is None else ten * 10 + unit


def _value_of_phrase(phrase: str) -> int | None:
    """A number of one or two words ("twenty eight", "двадцать восемь", "vinte e oito")."""
    phrase = phrase.strip()
    if phrase and all(c in _CJK_DIGITS or c == "十" for c in phrase):
        return _cjk_value(phrase)
    got = number_value(phrase)
    if got is not None:
        return got
    parts = re.split(r"[- ]", phrase)
    if len(parts) == 2:
        tens, unit = number_value(parts[0]), number_value(parts[1])
        if tens in (20, 30) and unit is not None and 0 < unit < 10:
            return tens + unit
        return tens
    return None


def _enumeration(numbers: str) -> list[int]:
    """The numbers of "28", "26 or 28", "from 28 to 19", "двадцать восемь", read in turn."""
    out: list[int] = []
    pos = 0
    number = _one_number()
    while pos < len(numbers):
        m = number.match(numbers, pos)
        if m is None or m.end() == pos:
            break
        value = _value_of_phrase(m.group(0))
        if value is not None:
            out.append(value)
        pos = m.end()
        join = _JOIN.match(numbers, pos)
        if join is None or join.end() == pos:
            break
        pos = join.end()
    return out


def _spaceless(position: int, text: str) -> bool:
    """Whether the character before `position` is of a script written without spaces, or
    the number itself runs into the noun ("dvacetibodový", "dwudziestopunktowy")."""
    before = text[position - 1]
    return bool(re.match(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]", before)) or bool(
        _ONE_WORD_BEFORE.search(text, max(0, position - 20), position)
    )


def counts(text: str, nouns: Sequence[str] | Iterable[str]) -> list[int]:
    """Every number in `text` that counts one of `nouns` (stems: "punkt" finds "punktów"),
    in order of appearance, each once."""
    pattern = _count_pattern()
    found: list[int] = []
    for noun in _noun_pattern(tuple(nouns)).finditer(text):
        # the noun may be a word's beginning ("punktowy") but not its middle ("appoint")
        if (
            noun.start() > 0
            and text[noun.start() - 1].isalpha()
            and not _spaceless(noun.start(), text)
        ):
            continue
        m = pattern.search(text, max(0, noun.start() - _BEFORE_NOUN), noun.start())
        if m is None:
            continue
        for value in _enumeration(m.group("numbers")):
            if 2 < value <= _MAX and value not in found:
                found.append(value)
    return found

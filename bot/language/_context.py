"""What surrounds a place name: a dateline, or a time reference rather than a destination."""

from __future__ import annotations

import re

__all__ = ["is_dateline", "is_destination", "is_time_reference", "is_trip_place"]

# Before a dateline's place only a crawler's date stamp, a bullet or nothing stands on its line.
_LINE_PREFIX = re.compile(r"^[\s•·*>|-]*(?:date\s+\d{4}-\d{2}(?:-\d{2})?\s*)?$", re.IGNORECASE)
# After it: the rest of the dateline ("(AP)", ", Nov 20 (Reuters)", ", 1 дек") then a dash,
# a colon or an opening bracket, within a few words.
_DATELINE_TAIL = re.compile(
    r"^[^\W\d_]*(?:[\s.'’-][^\W\d_]+){0,2}\s*(?:,[^\n.!?:—–]{0,40}?)?\s*(?:[—–:]|-\s|\()"
)

# Words that make the place that follows them a point in time: "after Geneva", "since the
# Riyadh talks", "после Женевы", "після Женеви", "après Genève", "tras Ginebra", "dopo Ginevra".
_TIME_BEFORE = re.compile(
    r"(?:\b(?:after|since|following|post|до и после|после|після|от|від|après|depuis|tras|"
    r"después de|desde|dopo|após|depois de|seit|nach dem|nach den|sinds|efter|jälkeen)"
    r"(?:\s+(?:the|a|la|le|les|el|los|il|lo|der|die|den|dem|de))?\s+)$",
    re.IGNORECASE,
)
# "previous talks in Geneva", "the last round in Abu Dhabi": an earlier meeting named in passing.
# A meeting named by its season or month ("a summer summit in Alaska", "the August summit in
# Alaska") is referred to, not reported.
_EARLIER_BEFORE = re.compile(
    r"\b(?:previous|earlier|last|recent|prior|past|former|spring|summer|autumn|fall|winter|"
    r"January|February|March|April|May|June|July|August|September|October|November|December)"
    r"(?:['’]s)?\s+(?:rounds?\s+of\s+)?"
    r"(?:talks|rounds?|meetings?|summits?|negotiations)\s+(?:in|at)\s+$",
    re.IGNORECASE,
)
# Postpositions: Turkish "Cenevre'den sonra", Finnish "Geneven jälkeen".
_TIME_AFTER = re.compile(r"^[^\W\d_]*['’]?[^\W\d_]*\s+(?:sonra|jälkeen)\b", re.IGNORECASE)


def is_dateline(text: str, position: int) -> bool:
    """Whether the place name at `position` opens a dateline ("WASHINGTON —", "Kyiv, Nov 21
    (Reuters) -", "Москва:"), which says where the reporter is, not where anyone goes."""
    line_start = text.rfind("\n", 0, position) + 1
    if not _LINE_PREFIX.match(text[line_start:position]):
        return False
    return _DATELINE_TAIL.match(text[position : position + 80]) is not None


def is_time_reference(text: str, position: int) -> bool:
    """Whether the place name at `position` names a time ("after Geneva") rather than a place."""
    before = text[max(0, position - 30) : position]
    if _TIME_BEFORE.search(before):
        return True
    if _EARLIER_BEFORE.search(text[max(0, position - 60) : position]):
        return True
    return _TIME_AFTER.match(text[position : position + 40]) is not None


# Words after which a place name is where someone is or goes: prepositions of place and
# direction, and verbs that take the place as their object ("visited Kyiv"). By language;
# languages that mark place with a case ending (tr, fi, hu, et) or that these lists do not
# cover are not checked.
_GOVERNORS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "en": "in to at into for from toward towards visit visits visited visiting reach reached "
        "reaches via inside outside near",
        "de": "in nach zu zum zur im aus bei besucht besuchte besuchen",
        "fr": "à au aux en vers depuis visiter visite visité dans",
        "es": "en a hacia desde visitar visita visitó hasta",
        "it": "a in ad verso visitare visita visitato",
        "pt": "em a para no na ao visitar visita visitou desde",
        "nl": "in naar te bezoekt bezocht vanuit",
        "ru": "в во из на посетил посетили посетит посетить посещение посещения",
        "uk": "в у до з із на відвідав відвідали відвідає відвідати відвідування",
        "pl": "w we do z ze odwiedził odwiedzi odwiedzili",
        "cs": "v ve do z ze navštívil navštíví",
        "sk": "v vo do z zo navštívil",
        "sl": "v do iz obiskal",
        "hr": "u do iz posjetio posjetili",
        "sr": "u do iz у до из посетио посетили",
        "bs": "u do iz",
        "bg": "в във до от на посети",
        "ro": "la în spre din vizitat",
        "sv": "i till på från besökte besöka",
        "no": "i til på fra besøkte",
        "nb": "i til på fra besøkte",
        "da": "i til på fra besøgte",
        "is": "í til á frá",
    }.items()
}
# Words that end the look back: the place is a party, not a place ("talks with Moscow",
# "between Kyiv and Moscow").
_STOP_WORDS = (
    "with between against than about over on behalf",  # en
    "с со между між",  # ru, uk
    "mit zwischen gegen avec entre contre con contra tra fra com met tussen",
    "między mezi između între cu mellan med mellom",
)
_STOPS = frozenset(word for group in _STOP_WORDS for word in group.split())
_WORD = re.compile(r"\w+", re.UNICODE)
_PLACE_OF = re.compile(r"\b(?:at|in|to|into|inside)\s+(?:the\s+)?$", re.IGNORECASE)
_POSSESSIVE = re.compile(r"^[^\W\d_]+(?:[ -][^\W\d_]+)?['’]s?\b")


def is_destination(text: str, position: int, lang: str) -> bool:
    """Whether the place name at `position` stands where a place someone is in or goes to
    stands: after a preposition of place or direction, or a verb like "visited" (up to three
    words back, within the clause), and not as a possessive ("Moscow's refusal")."""
    words = _GOVERNORS.get(lang)
    if words is None:
        return True
    before = text[max(0, position - 60) : position]
    if (
        lang == "en"
        and _POSSESSIVE.match(text[position : position + 40])
        and not _PLACE_OF.search(before)  # "at Riyadh's Diriyah Palace" is a place
    ):
        return False
    cut = max(before.rfind(ch) for ch in ",;:.!?()«»\"“”\n")
    if cut >= 0:
        before = before[cut + 1 :]
    for word in reversed(_WORD.findall(before.lower())[-4:]):
        if word in words:
            return True
        if word in _STOPS:
            return False
    return False


def is_trip_place(text: str, position: int, lang: str) -> bool:
    """Whether the place name at `position` is where someone goes or is: not a dateline, not
    a time reference, and standing where a destination stands in `lang`."""
    return not (is_dateline(text, position) or is_time_reference(text, position)) and (
        is_destination(text, position, lang)
    )

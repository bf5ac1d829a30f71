"""The pairing of a traveller with a place: which actor of one gazetteer goes to which place
of another in a unit of text, how far a venue carries to actors named without one, and how
places within places (`within`) make one trip."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bot.language import is_trip_place
from bot.rules._article import ArticleText
from bot.rules._nodes import EntityNode

if TYPE_CHECKING:
    from bot.rules._compile import _Group

__all__ = ["find_pairs", "place_levels"]


# A relative clause between an actor and a place says something of another subject:
# "hosted Dmitriev … to help launch the plan that opened talks in Geneva".
_CLAUSE_BREAK = re.compile(
    r"\b(?:that|which|who|whom|whose|где|который|которая|которые|которого|яка|який|які|якого|"
    r"der|die|das|qui|que|dont|quien|quienes|cui|który|która|którzy|które)\b",
    re.IGNORECASE,
)
_MAX_LEVELS = 5  # places within places: a loop in `within` stops here

# A line this short that names an actor is an item of a list ("Rustem Umerov;"), not a sentence.
_LIST_ITEM = 60
def _list_item(view: ArticleText, unit: int) -> bool:
    """Whether `unit` is an item of a list of names: a short line after a line ending in a
    colon, or ending itself in a semicolon or comma ("Рустема Умєрова;")."""
    text = view.sentences[unit].rstrip()
    if len(text) > _LIST_ITEM or unit == 0:
        return False
    if text.endswith((";", ",")):
        return True
    previous = view.sentences[unit - 1].rstrip()
    return previous.endswith((":", ";"))


# How many units back a venue carries to an actor named without a place of his own: the next
# sentences of the report, or further down a list of names.
_VENUE_REACH = 2
_VENUE_REACH_LIST = 12

# How far apart (in characters) an actor and a place of one trip may stand: a traveller named
# before his destination, in the same stretch of the sentence; one named after it, close by.
_REACH_BEFORE = 160
_REACH_AFTER = 60
# An actor in the possessive ("Trump's demands", "Putin's envoy") is not the one travelling.
_OWNER = re.compile(r"[^\W\d_]+(?:[ -][^\W\d_]+)?['’]s?\b")

# A clause set off by commas or dashes that closes again: it does not break the pair.
_CLOSED_CLAUSE = re.compile(r"\s*[,—–]\s[^,—–]*[,—–]\s")


def _breaks(between: str) -> bool:
    """Whether a relative clause left open between an actor and a place separates them."""
    return _CLAUSE_BREAK.search(_CLOSED_CLAUSE.sub(" ", between)) is not None


# The first word of the stretch from one actor to the next (the actor's name), without the
# comma that may close it: "Witkoff, " leaves ", ".
_FIRST_WORD = re.compile(r"\s*[^\s,;]+\s*")

# What may stand between two actors named together: "Witkoff and Jared Kushner", "A, B and C",
# "Умеров, Буданов и Кислица", "Witkoff i Kushner", "Witkoff ve Kushner".
_LISTED = re.compile(
    r"^(?:[\w.'’()-]+\s+){0,4}?(?:[,;]\s*|,?\s*(?:and|as well as|&|und|sowie|et|y|e|i|и|і|й|та|"
    r"a|ve|ile|och|og|en|ja|și|si|a také|oraz|а также|також|kao i)\s+)(?:[\w.'’()-]+\s+){0,4}$",
    re.IGNORECASE,
)


def place_levels(within: Mapping[str, str], groups: dict[tuple[str, ...], _Group]) -> None:
    """`within`: each pair's values name the larger places its place lies in ("Miami" →
    "Florida"), and a pair at a larger place gives way to the same actor's pair at a place
    inside it: "in Miami" and "in Florida" in one report are one trip."""
    chains: dict[str, list[str]] = {}
    for _, place in list(groups):
        chain: list[str] = []
        at = within.get(place)
        while at is not None and at not in chain and len(chain) < _MAX_LEVELS:
            chain.append(at)
            at = within.get(at)
        chains[place] = chain
    for key in list(groups):
        actor, place = key
        if any(place in chains[other] for a, other in groups if a == actor and other != place):
            del groups[key]  # the same trip, named more closely elsewhere in the article
        elif chains[place]:
            groups[key].values["within"] = ", ".join(chains[place])


def find_pairs(
    view: ArticleText,
    unit: int,
    people: EntityNode,
    places: EntityNode,
    home: Mapping[str, Sequence[str]],
) -> list[tuple[str, ...]]:
    """Pairs of two gazetteers' names in one unit, each second name (a place) with the
    first name (an actor) mentioned nearest before it — or after it, when none comes
    before — and with the actors listed together with that one ("Witkoff and Kushner").

    A place that opens a dateline or names a time ("after Geneva") pairs with nobody; an
    actor at home in the place (`home`, the rule's) is passed over for the one before; a
    relative clause between actor and place breaks the pair unless it closes before the
    place ("Witkoff, who met Putin last week, flew to Berlin").
    """
    actors = people.mentions(view, unit)
    anchors = places.mentions(view, unit)
    text = view.title if unit == 0 and view.title else view.text
    pairs: list[tuple[str, ...]] = []
    for position, anchor in anchors:
        if not is_trip_place(text, position, view.lang):
            continue
        away = [
            a
            for a in actors
            if anchor not in home.get(a[1], ())
            and abs(position - a[0]) <= (_REACH_BEFORE if a[0] < position else _REACH_AFTER)
            and not (view.lang == "en" and _OWNER.match(text, a[0]))
        ]
        before = [a for a in away if a[0] < position]
        chosen: list[tuple[int, str]] = []
        if before:
            chosen = [before[-1]]
            for earlier in reversed(before[:-1]):
                gap = text[earlier[0] : chosen[-1][0]]
                if not _LISTED.match(_FIRST_WORD.sub("", gap, count=1)):
                    break
                chosen.append(earlier)
        else:
            chosen = [a for a in away if a[0] > position][:1]
        chosen = [
            a
            for a in chosen
            if not _breaks(text[min(a[0], position) : max(a[0], position)])
        ]
        for _, actor in chosen:
            if (actor, anchor) not in pairs:
                pairs.append((actor, anchor))
    return pairs

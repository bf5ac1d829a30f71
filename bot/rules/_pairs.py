"""The pairing of a traveller with a place: which actor of one gazetteer goes to which place
of another in a unit of text, how far a venue carries to actors named without one, and how
places within places (`within`) make one trip."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.language import is_spaceless, is_trip_place, strip_marks
from bot.rules._article import ArticleText
from bot.rules._nodes import EntityNode

if TYPE_CHECKING:
    from bot.rules._compile import _Group

__all__ = ["Principals", "find_pairs", "place_levels", "related_places"]


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


def _chain(within: Mapping[str, str], place: str) -> list[str]:
    """The larger places `place` lies in, nearest first ("Miami" → Florida, United States)."""
    chain: list[str] = []
    at = within.get(place)
    while at is not None and at not in chain and len(chain) < _MAX_LEVELS:
        chain.append(at)
        at = within.get(at)
    return chain


def related_places(within: Mapping[str, str], place: str) -> list[str]:
    """The places inside `place` ("Geneva" and "Davos" for "Switzerland"): a trip alerted at
    one of them makes a report of the trip at `place` say nothing new. (The other way round,
    a report at a place inside one alerted says where, more closely: it is news.)"""
    return sorted(p for p in within if place in _chain(within, p))


# A long list of people with their titles ("Steve Witkoff, Secretary of State Marco Rubio,
# National Security Adviser Mike Waltz, Saudi Arabia's Foreign Minister …, and Sergei Lavrov
# attend"): items set off by commas, each a short stretch of words, nothing that says, and no
# place between (that is a place of the earlier one: "Witkoff flew to Moscow, and Kushner").
_ITEM = re.compile(r"[^,;.!?:\n]{1,70}")
_SAYS = re.compile(r"\b(?:said|says|told|that|who|which|whose|while|when|after|before)\b")
_LIST_LENGTH = 320


def _long_list(gap: str) -> bool:
    """Whether `gap`, the stretch from one actor's name to the next, is the rest of a list
    of people with long titles."""
    if len(gap) > _LIST_LENGTH or "," not in gap or _SAYS.search(gap):
        return False
    items = [item.strip() for item in gap.split(",")]
    return all(not item or _ITEM.fullmatch(item) for item in items)


def place_levels(
    within: Mapping[str, str],
    groups: dict[tuple[str, ...], _Group],
    place_name: str,
    named: Iterable[str] = (),
) -> None:
    """`within`: each pair's values name the larger places its place lies in ("Miami" →
    "Florida"), and a pair at a larger place is the same trip as the same actor's pair at a
    place inside it: "in Miami" and "in Florida" in one report are one trip, to Miami. A pair
    at a larger place with no such pair goes to the one place inside it that the report names
    as a place of travel or talks (`named`), when it names exactly one: the delegation "met
    in Florida" in a report of talks "in Miami" met in Miami."""
    chains = {place: _chain(within, place) for place in {p for _, p in groups} | set(named)}
    for key in list(groups):
        actor, place = key
        if any(place in chains[other] for a, other in groups if a == actor and other != place):
            del groups[key]  # the same trip, named more closely elsewhere in the article
            continue
        inside = {p for p in named if place in chains[p]}
        if len(inside) == 1:
            closer = inside.pop()
            group = groups.pop(key)
            group.values[place_name] = closer
            groups[(actor, closer)] = group
            place = closer
        if chains[place]:
            groups[(actor, place)].values["within"] = ", ".join(chains[place])


@dataclass(frozen=True)
class Principals:
    """The rule's `principals` and how each is written (folded, without marks): a name that
    pairs with a place only as the sentence's own traveller."""

    spellings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.spellings)

    def __contains__(self, name: object) -> bool:
        return name in self.spellings

    def travels(self, text: str, position: int, name: str, lang: str) -> bool:
        """Whether the mention of principal `name` at `position` can be a traveller: written
        uninflected (a case ending makes him an owner or an object: "Trumpa", "Путину"), not
        after a word that makes him the owner of what follows ("de Trump", "lui Putin", "of
        President Trump"), and not naming what is his ("the Trump administration")."""
        if _TRIP_OF.search(text[max(0, position - 40) : position]):
            return True  # "the visit of Zelensky", "визита Зеленского", "visite de Zelensky"
        ahead = strip_marks(text[position : position + 40].casefold())
        written = next((f for f in self.spellings[name] if ahead.startswith(f)), None)
        if written is None:
            return False
        after = ahead[len(written) : len(written) + 1]
        if after.isalpha() and not is_spaceless(written[-1]):
            return False  # inflected
        if _OWNED_BEFORE.search(text[max(0, position - 90) : position]):
            return False
        if lang == "en" and _OWNER.match(text, position):
            return False
        end = position + len(written)
        return not (_ATTRIBUTE_AFTER.match(text, end) or _SPEECH_TAG.match(text, end))


# Words after which a name is an owner: "the envoy of President Trump", "l'émissaire de
# Poutine", "inviato di Trump", "ginerele lui Trump", "Gesandter von Trump", "特朗普的".
# After which he is the source or the agent, not the traveller: "permission from Zelensky",
# "appointed by Zelensky", and Romanian genitives ("ginerele președintelui Donald Trump").
_OWNED_BEFORE = re.compile(
    r"(?:\b(?:of|de|du|des|di|del|della|da|do|dos|das|lui|von|van|av|af|from|by|par|por|przez|"
    r"от|від|со стороны|representing|représentant|representando|rappresentando|"
    r"reprezentujący)|\w\w+lui)\s+"
    # up to three words (a title, a first name), and the names listed before his
    r"(?:(?:[^\W\d_][\w.'’-]*,?\s+){1,4}(?:and|&|и|і|та|und|et|y|e|i|și)\s+)?"
    r"(?:[^\W\d_][\w.'’-]*\s+){0,3}$",
    re.IGNORECASE,
)
# A noun of travel right before a name (with a particle, a title or a first name between):
# the name is the traveller, in whatever case ("визита Владимира Зеленского в Вашингтон").
_TRIP_OF = re.compile(
    r"\b(?:visit|trip|journey|arrival|визит\w*|поездк\w*|приезд\w*|прибыти\w*|візит\w*|"
    r"поїздк\w*|приїзд\w*|прибутт\w*|Besuch\w*|Reise|visite|voyage|viaje|visita|viaggio|"
    r"viagem|wizyt\w*|podróż\w*|návštěv\w*|posjet\w*|poset\w*|vizit\w*|ziyaret\w*|bezoek)"
    r"\s+(?:(?:of|by|de|du|di|del|da|do|von|des)\s+)?(?:[^\W\d_][\w.'’-]*\s+){0,2}$",
    re.IGNORECASE,
)
# What a name followed by these words names is his, not him: "Trump administration",
# "Putin aide", "Trump's".
_ATTRIBUTE_AFTER = re.compile(
    r"(?:['’]s?\b|\s+(?:administration|envoys?|advis[eo]rs?|aides?|team|officials?|camp|"
    r"government|son-in-law|family|allies)\b|的)",
    re.IGNORECASE,
)
# "Zelensky said, referring to the talks in Abu Dhabi": the speaker of what follows.
_SPEECH_TAG = re.compile(
    r"\s+(?:said|says|told reporters|wrote|added|stated|noted|sagte|erklärte|a déclaré|dijo|"
    r"ha detto|powiedział|заявил|сказал|заявив|сказав)\s*[,:]"
)
# A sentence that ends between a principal and a place (where the splitter let it run on).
_SENTENCE_END = re.compile(r"[.!?…]\s+[\"“«]?[^\W\d_]")
# How far before his place a principal may stand.
_REACH_PRINCIPAL = 100

# What ends the stretch from one actor to another he meets: "Witkoff met with Dmitriev",
# "Уиткофф ... после встречи с Дмитриевым", "Witkoff traf sich mit Dmitrijew".
_WITH = re.compile(
    r"\b(?:with|с|со|з|зі|із|mit|avec|con|com|z|ze|se|s|sa|med|met|cu|και)\s+"
    r"(?:[^\W\d_][\w.'’-]*\s+){0,3}$",
    re.IGNORECASE,
)
_MEETING_REACH = 100  # characters from the one who meets to the one he meets


def find_pairs(
    view: ArticleText,
    unit: int,
    people: EntityNode,
    places: EntityNode,
    home: Mapping[str, Sequence[str]],
    principals: Principals | None = None,
) -> list[tuple[str, ...]]:
    """Pairs of two gazetteers' names in one unit, each second name (a place) with the
    first name (an actor) mentioned nearest before it — or after it, when none comes
    before — and with the actors listed together with that one ("Witkoff and Kushner").

    A place that opens a dateline or names a time ("after Geneva") pairs with nobody; an
    actor at home in the place (`home`, the rule's) is passed over for the one before; a
    relative clause between actor and place breaks the pair unless it closes before the
    place ("Witkoff, who met Putin last week, flew to Berlin"). The one who meets the actor
    chosen goes too ("Witkoff met with Dmitriev in Miami"). A principal goes only where he
    is the sentence's own traveller (see `Principals`), to the place named next after him.
    """
    principals = principals or Principals()
    actors = people.mentions(view, unit)
    anchors = places.mentions(view, unit)
    text = view.title if unit == 0 and view.title else view.text
    pairs: list[tuple[str, ...]] = []
    trip_places = [at for at, _ in anchors if is_trip_place(text, at, view.lang)]
    for position, anchor in anchors:
        if position not in trip_places:
            continue
        # Who may go: not at home there, not an owner, a principal only as the traveller;
        # then within reach (a list that reaches back further is followed to its start).
        able = [
            a
            for a in actors
            if anchor not in home.get(a[1], ())
            and not (view.lang == "en" and _OWNER.match(text, a[0]))
            and (
                a[1] not in principals
                or _principal_goes(text, a, position, anchors, view.lang, principals)
            )
        ]
        away = [
            a
            for a in able
            if abs(position - a[0]) <= (_REACH_BEFORE if a[0] < position else _REACH_AFTER)
        ]
        before = [a for a in away if a[0] < position]
        chosen: list[tuple[int, str]] = []
        if before:
            chosen = [before[-1]]
            for earlier in reversed([a for a in able if a[0] < before[-1][0]]):
                gap = _FIRST_WORD.sub("", text[earlier[0] : chosen[-1][0]], count=1)
                if _LISTED.match(gap) or (
                    _long_list(gap)
                    and not any(earlier[0] < at < chosen[-1][0] for at, _ in anchors)
                ):
                    chosen.append(earlier)
                    continue
                if (
                    len(chosen) == 1
                    and len(gap) <= _MEETING_REACH
                    and _WITH.search(gap)
                    and not any(ch in gap for ch in ".!?;\n")
                ):
                    chosen.append(earlier)  # the one who meets him
                break
        else:
            chosen = [
                a
                for a in away
                if a[0] > position
                and a[1] not in principals
                and not _SPEAKER.search(text, position, a[0])
            ][:1]
        chosen = [
            a
            for a in chosen
            if not _breaks(text[min(a[0], position) : max(a[0], position)])
            and not _other_trip_between(a[0], position, trip_places)
        ]
        for _, actor in chosen:
            if (actor, anchor) not in pairs:
                pairs.append((actor, anchor))
    return pairs


def _principal_goes(
    text: str,
    actor: tuple[int, str],
    position: int,
    anchors: Sequence[tuple[int, str]],
    lang: str,
    principals: Principals,
) -> bool:
    """Whether principal `actor` can go to the place at `position`: he stands before it,
    close, as a traveller, with no other place named between them."""
    at, name = actor
    if not at < position <= at + _REACH_PRINCIPAL:
        return False
    if any(at < other < position for other, _ in anchors):
        return False
    if _SENTENCE_END.search(text, at, position):
        return False
    return principals.travels(text, at, name, lang)


# A name after the place, introduced as the speaker: "… will go to Abu Dhabi, said Witkoff",
# "rekao je Witkoff", "заявил Уиткофф", "sagte Witkoff".
_SPEAKER = re.compile(
    r"\b(?:said|says|told|added|according to|rekao je|rekla je|izjavio je|заявил|сказал|"
    r"сообщил|заявив|сказав|повідомив|sagte|erklärte|a déclaré|a dit|selon|dijo|según|"
    r"ha detto|secondo|powiedział|według)\b",
    re.IGNORECASE,
)
# How close a second place must follow another for one actor to go to both: an itinerary or
# a list ("to Geneva and Moscow", "from Miami to Moscow"), not a later clause.
_ITINERARY = 25


def _other_trip_between(actor: int, position: int, trip_places: Sequence[int]) -> bool:
    """Whether another place of travel stands between an actor named before a place and the
    place, further from it than a list or an itinerary would put it: "Witkoff arrived in
    Moscow on 13 March, two days after talks in Jeddah" is no trip of his to Jeddah."""
    if actor > position:
        return False
    between = [at for at in trip_places if actor < at < position]
    return bool(between) and position - max(between) > _ITINERARY

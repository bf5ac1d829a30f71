"""Rules compiled into condition trees over one phrase index, and a compiled rule run over an
article: the units where it holds, the keys and values it pulls out, the matches it makes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.config import Condition, EntityTerm, RegexTerm, RuleConfig, WithinScope
from bot.language import is_trip_place, strip_marks
from bot.models import Match, Trigger
from bot.rules._article import ArticleText
from bot.rules._nodes import (
    ConditionNode,
    EntityNode,
    Extractor,
    Node,
    PhraseNode,
    RegexNode,
    _bits,
)
from bot.rules._pairs import (
    _VENUE_REACH,
    _VENUE_REACH_LIST,
    Principals,
    _list_item,
    find_pairs,
    place_levels,
    related_places,
)
from bot.rules._phrases import PhraseIndex, _spellings

__all__ = ["CompiledRule", "compile_rules", "render_title"]

# A sentence naming this many actors right after one about a delegation names its members
# ("It also included Umerov, Budanov, Hnatov and Kyslytsya.").
_MEMBERS = 3

MAX_EVIDENCE = 3
TermConfig = str | RegexTerm | EntityTerm | Condition


@dataclass
class _Group:
    """What one rule found about one trigger key in one article."""

    units: list[int]
    values: dict[str, Any]
    current: str | None = None
    previous: str | None = None


class CompiledRule:
    """One rule ready to run: its configuration, condition trees and value extractors."""

    def __init__(
        self,
        config: RuleConfig,
        root: Node,
        *,
        topic: Node | None = None,
        entities: dict[str, EntityNode] | None = None,
        venue: Node | None = None,
    ) -> None:
        self.config = config
        self.id = config.id
        self.root = root
        # Phrases one of which must occur for the rule to hold: a quick test before the tree.
        self.needs = root.needs()
        self.topic = topic
        self.venue = venue
        self.entities = entities or {}
        self.extractors = [Extractor(name, spec) for name, spec in config.extract.items()]
        self.principals = Principals(
            {
                name: tuple(
                    sorted(
                        {strip_marks(s.casefold()) for s in (name, *aliases)},
                        key=len,
                        reverse=True,  # the longest spelling first: "Zelenskyy", not "Zelensky"
                    )
                )
                for entries in config.entities.values()
                for name, aliases in entries
                if name in config.principals
            }
        )
        scope = config.scope
        self.scope: str | int = scope.within if isinstance(scope, WithinScope) else scope
        t = config.trigger
        self.trigger = Trigger(
            kind=t.kind, value=t.value, window=t.window, count=t.count, cooldown=config.cooldown
        )

    def evaluate(self, article: ArticleText) -> tuple[str, ...] | None:
        """The evidence units (at most 3, in article order) if the rule holds, else None."""
        units = self.holding_units(article)
        return _distinct(article, units) or None

    def holding_units(self, article: ArticleText) -> list[int]:
        if self.scope == "article":
            if not self.root.holds(article, None):
                return []
            return sorted(set(self.root.evidence(article)))
        if self.root.phrases_only:
            return _bits(self.root.mask(article) & ((1 << len(article.sentences)) - 1))
        candidates = self.root.candidates(article)
        order: Iterable[int] = (
            range(len(article.sentences)) if candidates is None else _bits(candidates)
        )
        return [s for s in order if self.root.holds(article, s)]

    def matches(
        self, view: ArticleText, sentences: ArticleText, published: datetime
    ) -> list[Match]:
        """One Match per trigger key found: what the rule pulled out, with its evidence.

        `view` is the article in this rule's scope, `sentences` in sentence scope (for the
        topic). A unit whose key or tracked value cannot be extracted gives nothing.
        """
        if self.topic is not None and not self.topic.holds(sentences, None):
            return []
        units = self.holding_units(view)
        if not units:
            return []
        cfg = self.config
        key_names = cfg.trigger.key
        tracked = cfg.trigger.value
        groups: dict[tuple[str, ...], _Group] = {}
        article_scope = self.scope == "article"
        for unit in units:
            where = None if article_scope else unit
            text = view.text if article_scope else view.sentences[unit]
            values: dict[str, Any] = {}
            for name, node in self.entities.items():
                found = node.values(view, where)
                if found:
                    values[name] = found
            tense = "current"
            for extractor in self.extractors:
                got = extractor(text, published, view.lang)
                if got is not None:
                    values[extractor.name], got_tense = got
                    if extractor.name == tracked:
                        tense = got_tense
            if tracked is not None and tracked not in values:
                continue
            if any(name not in values for name in key_names):
                continue
            keys = (
                find_pairs(
                    view,
                    unit,
                    self.entities[key_names[0]],
                    self.entities[key_names[1]],
                    self.config.home,
                    self.principals,
                )
                if not article_scope
                and len(key_names) == 2
                and all(n in self.entities for n in key_names)
                else _keys(values, key_names)
            )
            for key in keys:
                group = groups.get(key)
                if group is None:
                    group = groups[key] = _Group([], {})
                group.units.append(unit)
                for name, value in values.items():
                    if name in key_names:
                        value = key[key_names.index(name)]
                    elif isinstance(value, list):
                        value = value[0] if len(value) == 1 else value
                    group.values.setdefault(name, value)
                if tracked is not None:
                    if tense == "previous":
                        group.previous = group.previous or values[tracked]
                    else:
                        group.current = values[tracked]
        paired = len(key_names) == 2 and key_names[1] in self.entities
        # The article's places of travel or talks, found once for venues and place levels.
        trips = list(self._trip_places(view, key_names[1])) if paired else []
        if self.venue is not None and paired and not article_scope:
            self._venue_keys(view, key_names, groups, trips)
        if cfg.within and paired:
            named = {place for _, place in trips} | {p for _, p in groups}
            place_levels(cfg.within, groups, key_names[1], named)
        out: list[Match] = []
        for key, group in groups.items():
            if tracked is not None:
                if group.current is None:
                    continue  # only superseded values: nothing is said of the present
                group.values[tracked] = group.current
            evidence = _distinct(view, sorted(set(group.units)))
            out.append(
                Match(
                    rule_id=cfg.id,
                    title=render_title(cfg.title, group.values),
                    evidence=evidence,
                    values=group.values,
                    severity=cfg.severity,
                    targets=cfg.notify,
                    key=key,
                    related=(
                        tuple((key[0], p) for p in related_places(cfg.within, key[1]))
                        if cfg.within and len(key) == 2
                        else ()
                    ),
                    template=cfg.title,
                    trigger=self.trigger,
                    previous=group.previous,
                )
            )
        return out

    def _venue_keys(
        self,
        view: ArticleText,
        names: Sequence[str],
        groups: dict[tuple[str, ...], _Group],
        trips: Sequence[tuple[int, str]],
    ) -> None:
        """`venue: article`: an actor the article names in a sentence about the trip (or in a
        list of names) with no place of his own goes to the venue of the pair found nearest
        before him (after him, when none comes before): the delegation listed after "the
        talks in Geneva" goes to Geneva."""
        venues = sorted(
            {(unit, key[1]) for key, group in groups.items() for unit in group.units}
            | set(trips)
        )
        if not venues:
            return
        paired = {key[0] for key in groups}
        home = self.config.home
        actors = self.entities[names[0]]
        assert self.venue is not None
        context = self.venue.mask(view) & self._none_mask(view)
        for unit in range(len(view.sentences)):
            listed = _list_item(view, unit)
            if (
                not (context >> unit) & 1
                and unit > 0
                and (context >> (unit - 1)) & 1
                and len({a for _, a in actors.mentions(view, unit)}) >= _MEMBERS
            ):
                context |= 1 << unit  # the delegation's members, named in the next sentence
            if not (context >> unit) & 1 and not listed:
                continue  # neither a sentence about the delegation nor an item of a list
            reach = _VENUE_REACH_LIST if listed else _VENUE_REACH
            before = [place for at, place in venues if unit - reach <= at < unit]
            after = [place for at, place in venues if unit < at <= unit + 1]
            if not before and not after:
                continue
            venue = before[-1] if before else after[0]
            for _, actor in actors.mentions(view, unit):
                if actor in paired or venue in home.get(actor, ()) or actor in self.principals:
                    continue
                paired.add(actor)
                groups[(actor, venue)] = _Group([unit], {names[0]: actor, names[1]: venue})
                venues.append((unit, venue))  # the list goes on: so does its venue

    def _trip_places(self, view: ArticleText, place_name: str) -> Iterator[tuple[int, str]]:
        """(unit, place) of each destination named in a unit where the rule's words of travel
        or talks stand, with or without an actor of the gazetteer ("Trump welcomed Zelensky at
        his Mar-a-Lago estate")."""
        root = self.root
        if not isinstance(root, ConditionNode):
            return
        words = -1
        for term in root.all_ or ():
            if not isinstance(term, EntityNode):
                words &= term.mask(view)
        words &= self._none_mask(view)
        places = self.entities[place_name]
        for unit in _bits(words & places.mask(view) & ((1 << len(view.sentences)) - 1)):
            text = view.title if unit == 0 and view.title else view.text
            for position, place in places.mentions(view, unit):
                if is_trip_place(text, position, view.lang):
                    yield unit, place

    def _none_mask(self, view: ArticleText) -> int:
        """The units where none of the rule's `none` words stand (a trip called off)."""
        out = -1
        if isinstance(self.root, ConditionNode):
            for term in self.root.none_ or ():
                out &= ~term.mask(view)
        return out

    def __repr__(self) -> str:
        return f"CompiledRule({self.id!r})"


def _keys(values: dict[str, Any], names: Sequence[str]) -> list[tuple[str, ...]]:
    """Every combination of the key's values (two envoys in one sentence: two keys)."""
    keys: list[tuple[str, ...]] = [()]
    for name in names:
        value = values[name]
        options = value if isinstance(value, list) else [value]
        keys = [(*k, str(option)) for k in keys for option in options]
    return keys


_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_-]*)\}")


def render_title(template: str, values: Mapping[str, Any]) -> str:
    """`{name}` becomes the value `name`; `{{` and `}}` are braces. Values are inserted as
    text in one pass: a value that looks like a template is never expanded, and nothing but
    plain names can be referenced."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        value = values.get(m.group(1))
        if value is None:
            return "none" if m.group(1) in values else m.group(0)
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return str(value)

    return _FIELD.sub(sub, template)


def _distinct(article: ArticleText, sentences: Iterable[int]) -> tuple[str, ...]:
    out: list[str] = []
    for s in sentences:
        text = article.evidence(s)
        if text not in out:
            out.append(text)
            if len(out) == MAX_EVIDENCE:
                break
    return tuple(out)


class _Compiler:
    def __init__(self, phrases: PhraseIndex) -> None:
        self.phrases = phrases
        self.phrase_nodes: dict[int, PhraseNode] = {}
        self.regex_nodes: dict[str, RegexNode] = {}
        self.entities: dict[str, EntityNode] = {}

    def rule(self, rule: RuleConfig) -> CompiledRule:
        self.entities = {}
        for name, entries in rule.entities.items():
            canonical: dict[int, str] = {}
            for entry_name, aliases in entries:
                for phrase in _spellings(entry_name, aliases):
                    canonical.setdefault(self.phrases.add(phrase, inflects=True), entry_name)
            self.entities[name] = EntityNode(name, canonical)
        root = self.condition(rule.when)
        topic = self.condition(rule.topic) if rule.topic is not None else None
        venue = self.condition(rule.venue) if rule.venue is not None else None
        return CompiledRule(rule, root, topic=topic, entities=self.entities, venue=venue)

    def condition(self, cond: Condition) -> ConditionNode:
        return ConditionNode(self.terms(cond.any), self.terms(cond.all), self.terms(cond.none))

    def terms(self, terms: Sequence[TermConfig] | None) -> list[Node] | None:
        return None if terms is None else [self.term(t) for t in terms]

    def term(self, term: TermConfig) -> Node:
        if isinstance(term, str):
            phrase_id = self.phrases.add(term)
            node = self.phrase_nodes.get(phrase_id)
            if node is None:
                node = self.phrase_nodes[phrase_id] = PhraseNode(phrase_id, term)
            return node
        if isinstance(term, RegexTerm):
            regex = self.regex_nodes.get(term.regex)
            if regex is None:
                pattern = re.compile(term.regex, re.IGNORECASE)
                regex = self.regex_nodes[term.regex] = RegexNode(len(self.regex_nodes), pattern)
            return regex
        if isinstance(term, EntityTerm):
            entity = self.entities.get(term.entity)
            if entity is None:
                raise ValueError(f"no entity list {term.entity!r}")
            return entity
        return self.condition(term)


def compile_rules(rules: Sequence[RuleConfig]) -> tuple[PhraseIndex, tuple[CompiledRule, ...]]:
    """Compile every rule; all their phrases go into one automaton, built once here."""
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise ValueError(f"duplicate rule id {rule.id!r}")
        seen.add(rule.id)
    phrases = PhraseIndex()
    compiler = _Compiler(phrases)
    compiled = tuple(compiler.rule(rule) for rule in rules)
    phrases.build()
    return phrases, compiled

"""A compiled rule set: match an article's title and text against every rule, each isolated."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.config import RuleConfig
from bot.language import identify
from bot.models import Match, TriggerState
from bot.rules._compile import ArticleText, CompiledRule, PhraseIndex, Scan, compile_rules
from bot.rules._triggers import Decision, decide

__all__ = ["RuleSet"]

log = logging.getLogger("bot.rules")


class RuleSet:
    """Every rule of the configuration, compiled once; `match` is pure apart from `errors`.

    A rule that raises on an article is skipped for that article, logged and counted in
    `errors` (by rule id); the other rules still run.
    """

    def __init__(self, phrases: PhraseIndex, rules: Sequence[CompiledRule]) -> None:
        self._phrases = phrases
        self.rules: tuple[CompiledRule, ...] = tuple(rules)
        self.errors: Counter[str] = Counter()
        # Every gazetteer's phrases with the canonical name each stands for (see `entities`).
        self._canonical: dict[int, str] = {}
        for rule in self.rules:
            for node in rule.entities.values():
                for phrase_id, name in node.canonical.items():
                    self._canonical.setdefault(phrase_id, name)
        # The last article's scan: `entities` right after `match` reads it instead of scanning
        # the article again.
        self._last: tuple[str, str, str, Scan] | None = None

    @classmethod
    def compile(cls, rules: Sequence[RuleConfig]) -> RuleSet:
        phrases, compiled = compile_rules(rules)
        return cls(phrases, compiled)

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rules)

    def match(
        self,
        title: str,
        text: str,
        published: datetime | None = None,
        lang: str | None = None,
    ) -> list[Match]:
        """What each rule finds in the article, in rule order: one Match per trigger key.

        Dates are resolved against `published` (now when unknown); `lang` is the article's
        language, identified from its text when not given.
        """
        when = published or datetime.now(UTC)
        if lang is None:
            lang = identify(f"{title}\n{text}")
        scan = self._scan(title, text, lang)
        views: dict[str | int, ArticleText] = {}

        def view(scope: str | int) -> ArticleText:
            if scope == "article":
                scope = "sentence"
            found = views.get(scope)
            if found is None:
                found = views[scope] = ArticleText(
                    title, text, self._phrases, scope=scope, scan=scan
                )
            return found

        present = {phrase_id for phrase_id, _ in scan.title}
        present.update(phrase_id for phrase_id, _ in scan.text)
        matches: list[Match] = []
        for rule in self.rules:
            if rule.needs is not None and rule.needs.isdisjoint(present):
                continue
            try:
                matches.extend(rule.matches(view(rule.scope), view("sentence"), when))
            except Exception:
                self.errors[rule.id] += 1
                log.exception("rule.failed", extra={"rule": rule.id, "title": title[:200]})
        return matches

    def entities(self, title: str, text: str, lang: str | None = None) -> dict[str, int]:
        """The canonical names of the rule set's gazetteers that the article mentions, in any
        of their spellings, scripts and inflected forms ("Уиткоффа" → "Witkoff"), each with its
        number of mentions: what reads the same in every language, for grouping stories."""
        if not self._canonical:
            return {}
        if lang is None:
            lang = identify(f"{title}\n{text}")
        scan = self._scan(title, text, lang)
        canonical = self._canonical
        # One mention, one count, however many of the name's spellings hit at its position.
        mentions = {
            (part, canonical[phrase_id], at)
            for part, hits in ((0, scan.title), (1, scan.text))
            for phrase_id, at in hits
            if phrase_id in canonical
        }
        return dict(Counter(name for _, name, _ in mentions))

    def _scan(self, title: str, text: str, lang: str) -> Scan:
        last = self._last
        if last is not None and last[0] is title and last[1] is text and last[2] == lang:
            return last[3]
        scan = Scan.of(title, text, self._phrases, lang)
        self._last = (title, text, lang, scan)
        return scan

    @staticmethod
    def decide(
        match: Match, state: TriggerState | None, now: datetime, reported: datetime | None = None
    ) -> Decision:
        """Whether `match` is news given its key's stored state (see `bot.rules.decide`)."""
        return decide(match, state, now, reported)

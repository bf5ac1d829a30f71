"""A compiled rule set: match an article's title and text against every rule, each isolated."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

from bot.config import RuleConfig
from bot.models import Match
from bot.rules._compile import ArticleText, CompiledRule, PhraseIndex, compile_rules

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

    @classmethod
    def compile(cls, rules: Sequence[RuleConfig]) -> RuleSet:
        phrases, compiled = compile_rules(rules)
        return cls(phrases, compiled)

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rules)

    def match(self, title: str, text: str) -> list[Match]:
        """The rules that hold on the article, in rule order, with their evidence sentences."""
        article = ArticleText(title, text, self._phrases)
        matches: list[Match] = []
        for rule in self.rules:
            try:
                evidence = rule.evaluate(article)
            except Exception:
                self.errors[rule.id] += 1
                log.exception("rule.failed", extra={"rule": rule.id, "title": title[:200]})
                continue
            if evidence is None:
                continue
            cfg = rule.config
            matches.append(
                Match(
                    rule_id=cfg.id,
                    title=cfg.title,
                    evidence=evidence,
                    values={},
                    severity=cfg.severity,
                    targets=cfg.notify,
                )
            )
        return matches

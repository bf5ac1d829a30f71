"""Trying rules without sending: test cases beside the rules, and replays of stored articles."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.config import RuleConfig, RuleTestCase
from bot.models import Match, TriggerState
from bot.rules._ruleset import RuleSet
from bot.rules._triggers import decide

__all__ = ["CaseResult", "Fired", "replay_articles", "run_cases"]


@dataclass(frozen=True, slots=True)
class CaseResult:
    case: RuleTestCase
    passed: bool
    found: list[dict[str, Any]]
    message: str = ""


def _same(found: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(
        name in found and str(found[name]).casefold() == str(value).casefold()
        for name, value in expected.items()
    )


def _alert_values(match: Match, published: datetime) -> dict[str, Any]:
    """What a first sighting of `match` would send: its values, with `from`/`to` of a changed
    trigger, and its rendered `title`."""
    alert = decide(match, None, published).alert or match
    return {**alert.values, "title": alert.title}


def run_cases(rules: Sequence[RuleConfig], cases: Iterable[RuleTestCase]) -> list[CaseResult]:
    """Run each case against its rule alone (no trigger state): the values found must be the
    ones expected, one match each, in any order. An expectation may name `title` (the alert's
    title as rendered) and, for a changed trigger, `from` and `to`: what a first sighting of
    the match would send."""
    by_id = {r.id: r for r in rules}
    compiled: dict[str, RuleSet] = {}
    results: list[CaseResult] = []
    for case in cases:
        rule_id = case.rule or ""
        rule = by_id.get(rule_id)
        if rule is None:
            results.append(CaseResult(case, False, [], f"no rule {rule_id!r}"))
            continue
        ruleset = compiled.get(rule_id) or compiled.setdefault(rule_id, RuleSet.compile([rule]))
        found = [
            _alert_values(m, case.published)
            for m in ruleset.match(case.title, case.text, case.published)
        ]
        left = list(found)
        missing = []
        for expected in case.expect:
            hit = next((f for f in left if _same(f, dict(expected))), None)
            if hit is None:
                missing.append(dict(expected))
            else:
                left.remove(hit)
        passed = not missing and not left
        message = ""
        if not passed:
            message = f"expected {list(map(dict, case.expect))}, found {found}"
        results.append(CaseResult(case, passed, found, message))
    return results


@dataclass(frozen=True, slots=True)
class Fired:
    """An alert a replay would send."""

    article_id: int
    rule_id: str
    key: tuple[str, ...]
    title: str
    values: dict[str, Any]
    evidence: tuple[str, ...]


def replay_articles(
    ruleset: RuleSet,
    articles: Iterable[dict[str, Any]],
    *,
    progress: Callable[[int], None] | None = None,
) -> list[Fired]:
    """Run stored articles (oldest first) through the rules with fresh, in-memory trigger state.

    Each article is a row of the store's `articles` table; duplicates are skipped, as the
    pipeline skips them.
    """
    state: dict[tuple[str, tuple[str, ...]], TriggerState] = {}
    fired: list[Fired] = []
    for i, row in enumerate(articles, 1):
        if row.get("duplicate_of") is not None:
            continue
        when: datetime = row.get("published_at") or row["fetched_at"]
        for match in ruleset.match(row["title"], row["text"], when):
            key = (match.rule_id, match.key)
            decision = decide(match, state.get(key), when, row.get("published_at"))
            state[key] = decision.state
            sent: Match | None = decision.alert
            if sent is not None:
                fired.append(
                    Fired(row["id"], sent.rule_id, sent.key, sent.title, sent.values, sent.evidence)
                )
        if progress is not None:
            progress(i)
    return fired

"""A compiled rule set: match an article's title and text against every rule, each isolated."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bot.config import RuleConfig
from bot.language import UNKNOWN, identify
from bot.models import Match, TriggerState
from bot.rules._article import ArticleText, Scan
from bot.rules._compile import CompiledRule, compile_rules
from bot.rules._phrases import PhraseIndex
from bot.rules._triggers import Decision, decide

__all__ = ["MAX_TEXT", "MAX_TITLE", "RuleSet"]

log = logging.getLogger("bot.rules")

LANGUAGE_ERRORS = "(language)"  # the key of `errors` for failures of the language layer

# The most of an article the rules read: the first MAX_TEXT characters of its text (about
# 15,000 words, far past any news article) and of its title MAX_TITLE. The rest is skipped.
MAX_TEXT = 100_000
MAX_TITLE = 1_000


def _cut(text: str, limit: int) -> str:
    """`text`'s first `limit` characters, ending at a space in the last tenth where there is
    one, so that no word is cut in two."""
    if len(text) <= limit:
        return text
    space = max(
        text.rfind(" ", limit - limit // 10, limit), text.rfind("\n", limit - limit // 10, limit)
    )
    return text[: space if space > 0 else limit]


class RuleSet:
    """Every rule of the configuration, compiled once; `match` is pure apart from `errors`.

    A rule that raises on an article is skipped for that article, logged and counted in
    `errors` (by rule id); the other rules still run.
    """

    def __init__(self, phrases: PhraseIndex, rules: Sequence[CompiledRule]) -> None:
        self._phrases = phrases
        self.rules: tuple[CompiledRule, ...] = tuple(rules)
        self.errors: Counter[str] = Counter()
        # Articles the rules did not read whole, by reason: "text_cut" (title or text past
        # MAX_TITLE/MAX_TEXT), "sentence_cut" (a unit past MAX_SENTENCE cut into windows).
        self.skipped: Counter[str] = Counter()
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
        skipped: Callable[[str], None] | None = None,
    ) -> list[Match]:
        """What each rule finds in the article, in rule order: one Match per trigger key.

        Dates are resolved against `published` (now when unknown); `lang` is the article's
        language, identified from its text when not given. Only the first MAX_TITLE and
        MAX_TEXT characters are read, and a sentence longer than MAX_SENTENCE is read in
        windows; each reason an article was not read whole is counted in `skipped` and passed
        to the `skipped` callback once per article.
        """
        reasons: list[str] = []
        original = (title, text)
        if len(title) > MAX_TITLE or len(text) > MAX_TEXT:
            title, text = _cut(title, MAX_TITLE), _cut(text, MAX_TEXT)
            reasons.append("text_cut")
        when = published or datetime.now(UTC)
        scan = self._contained_scan(title, text, lang, original)
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
        if any(v.cut for v in views.values()):
            reasons.append("sentence_cut")
        for reason in reasons:
            self.skipped[reason] += 1
            if skipped is not None:
                skipped(reason)
        return matches

    def entities(self, title: str, text: str, lang: str | None = None) -> dict[str, int]:
        """The canonical names of the rule set's gazetteers that the article mentions, in any
        of their spellings, scripts and inflected forms ("Уиткоффа" → "Witkoff"), each with its
        number of mentions: what reads the same in every language, for grouping stories."""
        if not self._canonical:
            return {}
        original = (title, text)
        title, text = _cut(title, MAX_TITLE), _cut(text, MAX_TEXT)  # what `match` reads
        scan = self._contained_scan(title, text, lang, original)
        canonical = self._canonical
        # One mention, one count, however many of the name's spellings hit at its position.
        mentions = {
            (part, canonical[phrase_id], at)
            for part, hits in ((0, scan.title), (1, scan.text))
            for phrase_id, at in hits
            if phrase_id in canonical
        }
        return dict(Counter(name for _, name, _ in mentions))

    def _contained_scan(
        self, title: str, text: str, lang: str | None, original: tuple[str, str]
    ) -> Scan:
        """The article's scan in its language; where identifying it or reading its lemmas
        fails, the scan of the text as written (counted in `errors` as "language", logged),
        so that no article is lost to the language layer."""
        try:
            if lang is None:
                lang = identify(f"{title}\n{text}")
            return self._scan(title, text, lang, original)
        except Exception:
            self.errors[LANGUAGE_ERRORS] += 1
            log.exception("rules.language_failed", extra={"lang": lang, "title": title[:200]})
            return self._scan(title, text, UNKNOWN, original)

    def _scan(self, title: str, text: str, lang: str, original: tuple[str, str]) -> Scan:
        """The scan of the article `original` (as `title` and `text` read it), made once for
        `match` and `entities` of the same article one after the other."""
        last = self._last
        if (
            last is not None
            and last[0] is original[0]
            and last[1] is original[1]
            and last[2] == lang
        ):
            return last[3]
        scan = Scan.of(title, text, self._phrases, lang)
        self._last = (*original, lang, scan)
        return scan

    @staticmethod
    def decide(
        match: Match, state: TriggerState | None, now: datetime, reported: datetime | None = None
    ) -> Decision:
        """Whether `match` is news given its key's stored state (see `bot.rules.decide`)."""
        return decide(match, state, now, reported)

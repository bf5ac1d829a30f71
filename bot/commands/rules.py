"""`bot rules test --text`: the rules tried on a text typed in, without a corpus or a database.

Shows what the rules see of the text (its language, detected or given, and its words as
lemmas) and what each rule finds in it, with the values and the evidence.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import click

from bot.config import RuleConfig

UNKNOWN = "und"  # bot.language.UNKNOWN; the language layer is imported only when it is used

__all__ = ["TextReport", "report_text", "show_text_report", "text_options", "try_text"]

LEMMAS_SHOWN = 60  # words of the lemma stream shown; the rest is elided
_LANG = re.compile(r"[a-z]{2,3}")


def text_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options of `bot rules test` that try the rules on a text."""
    for option in reversed(
        (
            click.option(
                "--text",
                help="Try the rules on this text instead (- reads standard input): shows the "
                "language, the lemmas and what matched; no test cases, no database.",
            ),
            click.option("--title", default="", help="With --text: the article's title."),
            click.option(
                "--lang", help="With --text: the language (en, ru, de, …) instead of detecting it."
            ),
            click.option(
                "--published",
                help="With --text: publication time, ISO 8601 (default: now), for dates.",
            ),
            click.option("--json", "as_json", is_flag=True, help="With --text: print JSON."),
        )
    ):
        command = option(command)
    return command


def try_text(
    rules: list[RuleConfig],
    text: str,
    *,
    title: str,
    lang: str | None,
    published: str | None,
    as_json: bool,
) -> None:
    """`bot rules test --text`: report, then exit 1 if a rule failed on the text."""
    report = report_text(
        rules,
        read_text(text),
        title=title,
        lang=check_lang(lang),
        published=parse_published(published),
    )
    show_text_report(report, as_json=as_json)
    if report.failed_rules:
        sys.exit(1)


def parse_published(value: str | None) -> datetime:
    """`--published`: an ISO 8601 date or time (UTC when no offset is given); now if absent."""
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date or time (e.g. 2025-11-26 or 2025-11-26T12:00:00Z)",
            param_hint="--published",
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def check_lang(value: str | None) -> str | None:
    """`--lang`: an ISO 639 code in lower case (en, ru, uk, de, …), or None to detect it."""
    if value is None:
        return None
    code = value.strip().lower()
    if not _LANG.fullmatch(code):
        raise click.BadParameter(
            f"{value!r} is not a language code (use an ISO 639 code such as en, ru, uk, de)",
            param_hint="--lang",
        )
    return code


def read_text(value: str) -> str:
    """`--text`: the text itself, or `-` for standard input."""
    return sys.stdin.read() if value == "-" else value


@dataclass
class TextReport:
    """What the rules made of one text."""

    language: str
    language_given: bool
    lemmas: str | None  # None: no dictionary for the language; phrases match as written
    lemma_words: int
    matches: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed_rules: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "language_source": "given" if self.language_given else "detected",
            "lemmas": self.lemmas,
            "lemma_words": self.lemma_words,
            "matches": self.matches,
            "skipped": self.skipped,
            "failed_rules": self.failed_rules,
        }


def _shortened(lemmas: str, words: int) -> str:
    parts = lemmas.split(" ")
    if len(parts) <= words:
        return lemmas
    return " ".join(parts[:words]) + " …"


def report_text(
    rules: list[RuleConfig],
    text: str,
    *,
    title: str = "",
    lang: str | None = None,
    published: datetime | None = None,
) -> TextReport:
    """Run `rules` over one article made of `title` and `text`, as the pipeline would."""
    from bot.language import identify, lemma_stream
    from bot.rules import RuleSet, decide, normalize

    when = published or datetime.now(UTC)
    given = lang is not None
    language = lang if lang is not None else identify(f"{title}\n{text}")
    ruleset = RuleSet.compile(rules)
    skipped: list[str] = []
    found = ruleset.match(title, text, when, lang=language, skipped=skipped.append)
    # The title and the text are read apart, as the rules read them: " | " between them.
    streams = [
        lemma_stream(normalize(part).text, language)
        for part in (title.strip(), text)
        if part and language != UNKNOWN
    ]
    lemmas = (
        None
        if not streams or any(s is None for s in streams)
        else " | ".join(s.text for s in streams if s is not None and s.text)
    )
    report = TextReport(
        language=language,
        language_given=given,
        lemmas=lemmas,
        lemma_words=sum(len(s.starts) for s in streams if s is not None),
        skipped=skipped,
        failed_rules=sorted(ruleset.errors),
    )
    for m in found:
        # As a first sighting would alert it: a changed trigger's title gets its from and to.
        alert = decide(m, None, when).alert or m
        report.matches.append(
            {
                "rule": m.rule_id,
                "title": alert.title,
                "key": list(m.key),
                "values": alert.values,
                "evidence": list(m.evidence),
                "severity": m.severity,
            }
        )
    return report


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def show_text_report(report: TextReport, *, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2, default=str))
        return
    source = "given" if report.language_given else "detected"
    language = "unknown" if report.language == UNKNOWN else report.language
    click.echo(f"language: {language} ({source})")
    if report.lemmas is None:
        click.echo(f"lemmas: none (no dictionary for {language}: phrases match as written)")
    else:
        click.echo(f"lemmas: {_shortened(report.lemmas, LEMMAS_SHOWN)}")
    for reason in report.skipped:
        click.echo(f"note: not read whole ({reason}; see README, Rule limits)")
    for rule_id in report.failed_rules:
        click.echo(f"error: rule {rule_id} failed on this text (see the log above)")
    for m in report.matches:
        click.echo(f"{m['rule']}: {m['title']}")
        if m["key"]:
            click.echo(f"  key: {', '.join(m['key'])}")
        for name, value in m["values"].items():
            click.echo(f"  {name}: {_value(value)}")
        for sentence in m["evidence"]:
            click.echo(f"  evidence: {sentence}")
    count = len(report.matches)
    click.echo(f"{count} match" if count == 1 else f"{count} matches")

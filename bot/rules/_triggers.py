"""Stateful triggers: decide whether a match is news, given what was stored before."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.models import Match, TriggerState
from bot.rules._compile import render_title

__all__ = ["Decision", "changed_title", "decide"]

# A `changed` title's "{from} → {to}" (or "->", "=>", "to"), and what may end the subject before it.
_TEMPLATE_TOKEN = re.compile(r"\{\{|\}\}|\{from\}")
_JOINED_TO = re.compile(r"\s*(?:→|->|=>|⇒|⟶|\bto\b)\s*\{to\}")
_SUBJECT_END = re.compile(r"(?:[\s:;,–—-]|\bfrom\b)+$", re.IGNORECASE)
NO_VALUE = "none"  # what a date extractor gives for a withdrawn deadline


@dataclass(frozen=True, slots=True)
class Decision:
    """The match to send (values and title completed), or None and why not; the new state."""

    alert: Match | None
    state: TriggerState
    reason: str = ""


def decide(
    match: Match, state: TriggerState | None, now: datetime, reported: datetime | None = None
) -> Decision:
    """Apply the match's trigger to the stored state of its (rule, key).

    any: every match. new: a key not seen within the window (or never). changed: the tracked
    value differs from the last one stored (or, the first time, from the earlier value the
    article itself reports); the alert carries `from` (None for a first value) and `to`.
    `changed` weighs reports in publication order (`reported`, the article's publication time;
    now when in the future): a report older than the newest one of the current value is
    history and never replaces it. A report of unknown time (None) is compared with the
    current value but leaves the value's time as it was. count: the match that makes `count`
    matches within the window. A cooldown holds back any alert that comes sooner than
    `cooldown` after the previous alert of the same key; the state is updated all the same.
    """
    trigger = match.trigger
    before = state or TriggerState()
    after = replace(before, last_seen=now)
    alert: Match | None = match
    reason = ""
    if trigger.kind == "new":
        seen = before.last_seen
        if seen is not None and (trigger.window is None or now - seen <= trigger.window):
            alert, reason = None, "seen"
    elif trigger.kind == "changed":
        assert trigger.value is not None
        current = str(match.values[trigger.value])
        at = before.value_at if reported is None else min(reported, now)
        known = before.last_seen is not None
        if known and before.value_at is not None and at is not None and at < before.value_at:
            return Decision(None, after, "older")
        previous = before.value if known else match.previous
        after = replace(after, value=current, value_at=at)
        if previous == current:
            alert, reason = None, "unchanged"
        else:
            values = {**match.values, "from": previous, "to": current}
            alert = replace(match, values=values, title=changed_title(match.template, values))
    elif trigger.kind == "count":
        assert trigger.window is not None and trigger.count is not None
        window = trigger.window
        events = (*(t for t in before.events if now - t <= window), now)
        after = replace(after, events=events)
        if len(events) < trigger.count:
            alert, reason = None, "below count"
        else:
            after = replace(after, events=())  # the next alert needs `count` new matches
            values = {**match.values, "count": len(events)}
            alert = replace(match, values=values, title=render_title(match.template, values))
    if (
        alert is not None
        and trigger.cooldown is not None
        and before.last_alert is not None
        and now - before.last_alert < trigger.cooldown
    ):
        alert, reason = None, "cooldown"
    if alert is not None:
        after = replace(after, last_alert=now)
    return Decision(alert, after, reason)


def changed_title(template: str, values: Mapping[str, Any]) -> str:
    """The title of a `changed` alert: the rule's template, except for a first value.

    A first value (`from` is None) is set, not changed from "none": in a template of the form
    "<subject>: {from} → {to}<rest>" (or "->", "=>", "to"), "{from} → {to}" gives way, and the
    title reads "<subject> set: <to><rest>", or "<subject> dropped<rest>" when the value is
    "none". Any other template that names `{from}` shows it as "not set".
    """
    if values.get("from") is not None:
        return render_title(template, values)
    at = next((m for m in _TEMPLATE_TOKEN.finditer(template) if m.group() == "{from}"), None)
    if at is None:
        return render_title(template, values)
    joined = _JOINED_TO.match(template, at.end())
    if joined is None:
        return render_title(template, {**values, "from": "not set"})
    subject = _SUBJECT_END.sub("", render_title(template[: at.start()], values))
    rest = render_title(template[joined.end() :], values)
    to = values.get("to")
    change = "dropped" if to is None or str(to) == NO_VALUE else f"set: {to}"
    if not subject:
        return change[0].upper() + change[1:] + rest
    if subject.endswith(("(", "[")):
        return f"{subject}{change}{rest}"
    return f"{subject} {change}{rest}"

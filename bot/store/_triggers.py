"""Trigger state (a mixin of `Store`): what each rule remembers of each key it matched."""

from __future__ import annotations

import hashlib
import json
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select, update

from bot.models import Match, TriggerState
from bot.store._tables import trigger_state

# How close in time to the alert of a trip a report at another level of its place (Switzerland
# for Geneva) must come to be the same trip; later, it may be the next round of talks (Florida
# one week, Miami the next), which the key's own window would hide.
RELATED_SPAN = timedelta(days=2)


def key_text(key: tuple[str, ...]) -> str:
    """A match key as stored: a JSON list of its parts ("" for no key)."""
    return json.dumps(list(key), ensure_ascii=False) if key else ""


def _key_hash(rule_id: str, key: tuple[str, ...]) -> str:
    return hashlib.sha256(f"{rule_id}\n{key_text(key)}".encode()).hexdigest()


class TriggerQueries:
    """Reads and writes of `trigger_state`, inside the transaction that stores an article;
    mixed into `Store`."""

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Connection]: ...

        @property
        def dialect(self) -> str: ...

        def _insert(self, table: Any) -> Any: ...

    def _lock_state(self, conn: Connection, match: Match) -> TriggerState | None:
        text = key_text(match.key)
        key_hash = _key_hash(match.rule_id, match.key)
        # Make sure the row exists, then lock it: two transactions deciding the same key queue
        # on this row instead of both seeing "never seen".
        conn.execute(
            self._insert(trigger_state)
            .values(rule_id=match.rule_id, key_hash=key_hash, key=text, events=[])
            .on_conflict_do_nothing(index_elements=["rule_id", "key_hash"])
        )
        query = select(trigger_state).where(
            trigger_state.c.rule_id == match.rule_id, trigger_state.c.key_hash == key_hash
        )
        if self.dialect == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).one()
        if row.last_seen is None:
            return None
        return TriggerState(
            value=row.value,
            last_seen=row.last_seen,
            last_alert=row.last_alert,
            events=tuple(datetime.fromisoformat(t) for t in row.events),
            value_at=row.value_at,
        )

    def _seen_related(
        self, conn: Connection, match: Match, state: TriggerState | None, now: datetime
    ) -> TriggerState | None:
        """The key's state as a `new` trigger must weigh it: seen when a key of the same event
        (`match.related`) alerted within RELATED_SPAN. Reports of that key held since do not
        stretch the span: they may be of the trip before. The key's own row keeps its own
        record."""
        hashes = [_key_hash(match.rule_id, k) for k in match.related]
        alerted = conn.execute(
            select(func.max(trigger_state.c.last_alert)).where(
                trigger_state.c.rule_id == match.rule_id,
                trigger_state.c.key_hash.in_(hashes),
                trigger_state.c.last_alert >= now - RELATED_SPAN,
            )
        ).scalar()
        if alerted is None:
            return state
        merged = state or TriggerState()
        seen = max(t for t in (alerted, merged.last_seen) if t is not None)
        last = max(t for t in (alerted, merged.last_alert) if t is not None)
        return replace(merged, last_seen=seen, last_alert=last)

    def _save_state(self, conn: Connection, match: Match, state: TriggerState) -> None:
        key_hash = _key_hash(match.rule_id, match.key)
        conn.execute(
            update(trigger_state)
            .where(trigger_state.c.rule_id == match.rule_id, trigger_state.c.key_hash == key_hash)
            .values(
                value=state.value,
                last_seen=state.last_seen,
                last_alert=state.last_alert,
                events=[t.isoformat() for t in state.events],
                value_at=state.value_at,
            )
        )

    def trigger_states(self, rule_id: str | None = None) -> list[dict[str, Any]]:
        stmt = select(trigger_state)
        if rule_id is not None:
            stmt = stmt.where(trigger_state.c.rule_id == rule_id)
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]


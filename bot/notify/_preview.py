"""`bot run --debug`: show what the outbox would send, without sending or recording anything."""

from __future__ import annotations

import logging

from bot.notify._outbox import Deliverer, DeliveryReport

log = logging.getLogger("bot.notify")


class PreviewDeliverer(Deliverer):
    """Prints each pending alert once, through its target's stand-in (the console), and
    leaves the outbox as it was: no lease, no attempt, nothing marked sent. A normal run, or
    a replica running alongside, still delivers every alert shown here."""

    _shown_up_to = 0

    async def announce(self) -> None:
        """Say, once at start, that nothing will be sent and how much is waiting."""
        queued = await self.store.call(self.store.pending_count)
        log.warning(
            "debug.outbox_untouched",
            extra={
                "queued": queued,
                "detail": "alerts are printed, not sent; the outbox is not changed, "
                "so a normal run still delivers them",
            },
        )

    async def deliver_due(self, *, wait: bool = True) -> DeliveryReport:
        shown = 0
        while True:
            rows = await self.store.call(self.store.pending_after, self._shown_up_to)
            if not rows:
                return DeliveryReport(held=shown)
            for row in rows:
                self._shown_up_to = row.id
                target = self.targets.get(row.target)
                if target is None:
                    continue
                try:
                    await target.send(row.payload, delivery_id=row.delivery_id, now=self.now())
                except Exception:  # a preview that fails to print must not stop the bot
                    log.exception("debug.preview_failed", extra={"target": row.target})
                    continue
                log.info(
                    "debug.previewed",
                    extra={"target": row.target, "delivery_id": row.delivery_id},
                )
                shown += 1

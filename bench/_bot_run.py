"""`bot run` on a chosen HTTP transport, for bench/bench_replicas.py.

    python -m bench._bot_run default    → plain `bot run` (its default transport, aiohttp)
    python -m bench._bot_run httpx      → `bot run` with BOT_NET_TRANSPORT=httpx

The transport is the bot's own setting; this wrapper only sets it, so that the benchmark's
command lines name what they measure.
"""

from __future__ import annotations

import os
import sys

from bot.net import TRANSPORTS


def main() -> None:
    transport = sys.argv[1] if len(sys.argv) > 1 else "default"
    if transport != "default":
        if transport not in TRANSPORTS:
            raise SystemExit(f"unknown transport {transport!r}; one of default, {TRANSPORTS}")
        os.environ["BOT_NET_TRANSPORT"] = transport
    from bot.cli import main as bot_main

    sys.argv = ["bot", "run"]
    bot_main()


if __name__ == "__main__":
    main()

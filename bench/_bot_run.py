"""`bot run` with another httpx transport under the bot's `Http`, for bench/bench_replicas.py.

    python -m bench._bot_run aiohttp    → `bot run`, every Http built on the httpx-aiohttp transport
    python -m bench._bot_run default    → plain `bot run`

The bot itself is not changed: `bot.app.Http` is replaced by a subclass that hands
`httpx_aiohttp.AiohttpTransport()` to `Http(transport=...)`, a parameter the bot already has.
"""

from __future__ import annotations

import sys
from typing import Any


def main() -> None:
    transport = sys.argv[1] if len(sys.argv) > 1 else "default"
    if transport == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        import bot.app
        from bot.net import Http

        class AiohttpHttp(Http):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                kwargs.setdefault("transport", AiohttpTransport())
                super().__init__(*args, **kwargs)

        bot.app.Http = AiohttpHttp  # type: ignore[misc]
    elif transport != "default":
        raise SystemExit(f"unknown transport {transport!r}")
    from bot.cli import main as bot_main

    sys.argv = ["bot", "run"]
    bot_main()


if __name__ == "__main__":
    main()

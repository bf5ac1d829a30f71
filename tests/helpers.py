"""Test helpers: write a rules directory, build a bot against loopback servers."""

from __future__ import annotations

import socket
import textwrap
from pathlib import Path

KEYWORD_RULE = """\
id: witkoff-mention
title: "Witkoff mentioned"
scope: article
when:
  any: [Witkoff]
"""


def write_rules(
    root: Path,
    feeds: list[tuple[str, str]],
    *,
    interval: str = "15m",
    webhook_url: str | None = None,
    rules: dict[str, str] | None = None,
) -> Path:
    """A rules directory with these feeds, a webhook target (if given) and these rule files."""
    root.mkdir(parents=True, exist_ok=True)
    lines = [f"defaults: {{interval: {interval}}}", "feeds:" if feeds else "feeds: []"]
    lines += [f"  - name: {name}\n    url: {url}" for name, url in feeds]
    (root / "feeds.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if webhook_url is None:
        targets = "targets:\n  - name: console\n    type: console\n"
    else:
        targets = f"targets:\n  - name: hook\n    type: webhook\n    url: {webhook_url}\n"
    (root / "targets.yaml").write_text(targets, encoding="utf-8")
    for name, body in (rules if rules is not None else {"witkoff": KEYWORD_RULE}).items():
        (root / f"{name}.yaml").write_text(textwrap.dedent(body), encoding="utf-8")
    return root


def free_port() -> int:
    """A loopback port nothing listens on (bound a moment ago, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

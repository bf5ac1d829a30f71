"""Evaluate the `Expect:` lines of feedparser's own test documents, safely, in this process.

Run as `python -m tests.hostile.feedparser_expect` with a JSON list of cases on stdin:
`{"path", "url", "headers", "bot"?}`. Each document is parsed by plain feedparser with the
headers it would be served with; its `Expect:` expression is evaluated against feedparser's
result dict only, with a few harmless builtins, no names or attributes starting with `_`, and
a time limit. With `bot` (per entry: the title and link the bot stored, or null), the entries'
`title` and `link` are replaced by the bot's before the expression is evaluated again.
Prints one JSON object per case.

The documents and their expressions come from feedparser's BSD-licensed test suite.
"""

from __future__ import annotations

import ast
import io
import json
import re
import signal
import sys
from pathlib import Path
from typing import Any

import feedparser

_EXPECT = re.compile(rb"Description:\s*(.*?)\s*Expect:\s*(.*)\s*-->")
_SAFE_BUILTINS: dict[str, Any] = {
    "len": len,
    "int": int,
    "str": str,
    "float": float,
    "bool": bool,
    "tuple": tuple,
    "list": list,
    "dict": dict,
    "set": set,
    "sorted": sorted,
    "any": any,
    "all": all,
    "min": min,
    "max": max,
    "True": True,
    "False": False,
    "None": None,
}
ENTRY_FIELD = re.compile(r"entries\[\d+\](?:\.|\[['\"])(?:title|link)\b(?!_)")


class _Unsafe(Exception):
    pass


class _Timeout(Exception):
    pass


def expectation(body: bytes) -> str | None:
    head = body[:4096].replace(b"\x00", b"")  # UTF-16/32 documents: the comment is ASCII
    found = _EXPECT.search(head)
    return found.group(2).decode("utf-8", "replace").strip() if found else None


def _check(expression: str) -> Any:
    tree = ast.parse(expression, mode="eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise _Unsafe(f"attribute {node.attr}")
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise _Unsafe(f"name {node.id}")
        if isinstance(node, ast.Lambda | ast.NamedExpr):
            raise _Unsafe(type(node).__name__)
    return compile(tree, "<expect>", "eval")


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def holds(expression: str, result: Any) -> tuple[bool, str]:
    """Whether `expression` is true of feedparser's `result`; the reason when it is not."""
    try:
        code = _check(expression)
    except (SyntaxError, _Unsafe) as exc:
        return False, f"refused: {exc}"
    namespace = dict(result)
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(2)
    try:
        return bool(eval(code, {"__builtins__": _SAFE_BUILTINS}, namespace)), ""
    except _Timeout:
        return False, "timed out"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"
    finally:
        signal.alarm(0)


def run(case: dict[str, Any]) -> dict[str, Any]:
    body = Path(case["path"]).read_bytes()
    expression = expectation(body)
    out: dict[str, Any] = {"path": case["path"], "expect": expression}
    if expression is None:
        return {**out, "holds": False, "why": "no Expect line"}
    headers = {k.lower(): v for k, v in case["headers"].items()}
    headers["content-location"] = case["url"]
    result = feedparser.parse(io.BytesIO(body), response_headers=headers)
    ok, why = holds(expression, result)
    out.update(holds=ok, why=why)
    out["entries"] = [
        {"title": e.get("title"), "link": e.get("link"), "title_type": _title_type(e)}
        for e in result.get("entries", [])
    ]
    bot = case.get("bot")
    if bot is not None:
        for entry, stored in zip(result["entries"], bot, strict=True):
            entry["title"] = stored["title"] if stored else None
            entry["link"] = stored["link"] if stored else None
        out["holds_with_bot"], out["why_with_bot"] = holds(expression, result)
    return out


def _title_type(entry: Any) -> str | None:
    detail = entry.get("title_detail")
    return str(detail.get("type")) if detail is not None else None


def main() -> None:
    cases = json.load(sys.stdin)
    for case in cases:
        print(json.dumps(run(case), default=str), flush=True)


if __name__ == "__main__":
    main()

"""Untrusted text stays data: per-format escaping, so article text never pings or spoofs a link.

Each `*_text` function takes raw text (a headline, an evidence sentence, an outlet name) and returns
it ready to be placed inside that service's markup, where it can no longer mention anyone, open a
link whose text and target the article chose, or break the markup the bot puts around it. Links
the bot adds itself (the article's URL) are built by the targets from `safe_url`, never taken
from article text as markup.

`truncate` cuts raw text to a length measured *after* escaping, so a cut never splits an escape.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

__all__ = [
    "ELLIPSIS",
    "WORD_JOINER",
    "ZWSP",
    "clean",
    "discord_text",
    "markdown_text",
    "one_line",
    "safe_url",
    "slack_text",
    "teams_text",
    "text_length",
    "truncate",
]

ZWSP = "\u200b"  # zero-width space: breaks a token without showing anything
WORD_JOINER = "\u2060"  # like ZWSP, but never a line-break opportunity
ELLIPSIS = "…"
MAX_URL = 2000

# C0 controls (except tab and newline), DEL, and the bidirectional controls that can make
# text display in another order than it is stored ("moc.knab" shown as "bank.com").
_HIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_BROADCAST = re.compile(r"@(?=(?:everyone|here|channel)\b)", re.IGNORECASE)
# Bare URLs are left as they are (a service shows them as what they are, not as other text);
# they end at characters that would otherwise start markup.
_URL = r"https?://[^\s<>\[\]()`|\\\"]+"
_URL_ESCAPES = str.maketrans({c: f"%{ord(c):02X}" for c in '<>|()"`\\{}^'})


def clean(text: str) -> str:
    """Newlines normalized; control and bidirectional-override characters removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _HIDDEN.sub("", text)


def one_line(text: str) -> str:
    """`clean` text with every run of whitespace, newlines included, made one space."""
    return " ".join(clean(text).split())


def text_length(text: str) -> int:
    """Length in UTF-16 code units: what JavaScript-based limits count, never less than len()."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


# --- Slack mrkdwn ------------------------------------------------------------------------------


_LINK_CLOSE = re.compile(r"\](?=[(\[:])")  # `](url)`, `][ref]`, `]: url`: markdown link syntax


def slack_text(text: str) -> str:
    """Text for Slack `mrkdwn` and `plain_text` objects.

    Slack parses `<…>` for mentions (`<!channel>`, `<!here>`, `<@U123>`, `<!subteam^…>`) and
    links (`<http://x|spoof>`); escaping `&`, `<` and `>` as Slack documents leaves none of them.
    `@channel`, `@here` and `@everyone` get a word joiner after the `@`, in case a workspace
    links names in webhook messages. Slack does not render `[text](url)` in mrkdwn, but
    bridges and markdown blocks do, so that syntax is broken too (a zero-width space after `]`).
    """
    escaped = clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = _LINK_CLOSE.sub("]" + ZWSP, escaped)
    return _BROADCAST.sub("@" + WORD_JOINER, escaped)


# --- Discord markdown --------------------------------------------------------------------------

_DISCORD = re.compile(
    rf"(?P<url>{_URL})"
    r"|(?P<start>^[ \t]*[#>+-])"  # a heading, quote, list or subtext at the start of a line
    r"|(?P<char>[\\*_~`|\[\]()])"
    r"|(?P<lt><)"
    r"|(?P<at>@(?=(?:everyone|here)\b))",
    re.IGNORECASE | re.MULTILINE,
)


def _discord_token(m: re.Match[str]) -> str:
    token = m.group(0)
    if m.group("url") is not None:
        return token
    if m.group("start") is not None:
        return token[:-1] + "\\" + token[-1]
    if m.group("char") is not None:
        return "\\" + token
    return token + ZWSP  # `<` (mentions, channels, emoji, timestamps) or a broadcast `@`


def discord_text(text: str) -> str:
    """Text for Discord message content, embed descriptions, titles and field values.

    Markdown is backslash-escaped, so `[bank.com](https://evil)` shows as typed and is no
    masked link; `<@id>`, `<@&id>`, `<#id>` and `@everyone`/`@here` get a zero-width space, so
    they show as text and mention no one (the targets also send `allowed_mentions: {parse: []}`).
    """
    return _DISCORD.sub(_discord_token, clean(text))


# --- Adaptive Card TextBlock markdown (Teams) --------------------------------------------------

_TEAMS = re.compile(
    r"(?P<close>\](?=[(\[:]))"  # `](url)`, `][ref]`, `]: url`: link syntax
    r"|(?P<lt><)"  # <at>Name</at> mentions (and any other tag a renderer might read)
    r"|(?P<template>\{(?=\{))"  # {{DATE(…)}} / {{TIME(…)}} functions
    r"|(?P<at_all>@(?=(?:everyone|here|channel)\b))",
    re.IGNORECASE,
)


def _teams_token(m: re.Match[str]) -> str:
    if m.group("at_all") is not None:
        return "@" + WORD_JOINER
    return m.group(0) + ZWSP


def teams_text(text: str) -> str:
    """Text for an Adaptive Card TextBlock as Teams renders it.

    Teams clients do not agree on backslash escapes (some show the backslash), so link syntax
    is broken instead with a zero-width space after the `]` that would close a link's text:
    `[bank.com](https://evil)` stays visible as typed, with no link behind "bank.com".
    `<at>` mentions (every `<`, in fact) and `{{…}}` date functions are broken the same way.
    """
    return _TEAMS.sub(_teams_token, clean(text))


# --- Generic markdown (Apprise and other markdown renderers) -----------------------------------

_MARKDOWN = re.compile(
    rf"(?P<url>{_URL})"
    r"|(?P<start>^[ \t]*[#>+-])"
    r"|(?P<char>[\\`*_~|\[\]()<>!{}])"
    r"|(?P<at>@(?=[\w&]))",
    re.MULTILINE,
)


def _markdown_token(m: re.Match[str]) -> str:
    token = m.group(0)
    if m.group("url") is not None:
        return token
    if m.group("start") is not None:
        return token[:-1] + "\\" + token[-1]
    if m.group("char") is not None:
        return "\\" + token
    return "@" + WORD_JOINER


def markdown_text(text: str) -> str:
    """Text for CommonMark-like renderers whose exact flavour is unknown (Apprise services).

    Markdown punctuation is backslash-escaped, and every `@` that starts a word gets a word
    joiner: some services turn `@name`, `@123` or `@everyone` in a message body into a mention.
    """
    return _MARKDOWN.sub(_markdown_token, clean(text))


# --- Links and length -------------------------------------------------------------------------


def safe_url(value: object) -> str | None:
    """`value` if it is an absolute http(s) URL fit to be a link target, else None.

    Characters that could end the surrounding markup (`<`, `>`, `|`, `(`, `)`, quotes, spaces)
    are percent-encoded, which leaves the URL's meaning unchanged.
    """
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or len(url) > MAX_URL or _HIDDEN.search(url) or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.translate(_URL_ESCAPES)


def _identity(text: str) -> str:
    return text


def truncate(
    text: str,
    limit: int,
    escape: Callable[[str], str] = _identity,
    *,
    measure: Callable[[str], int] = text_length,
) -> str:
    """`escape(text)`, or the escape of its longest prefix that fits `limit` followed by "…".

    The prefix ends on a word boundary when there is one in its last 40%; only a single
    overlong word is cut inside. Escaping happens after the cut, so no escape is ever split.
    """
    escaped = escape(text)
    if measure(escaped) <= limit:
        return escaped
    room = limit - measure(ELLIPSIS)
    if room <= 0:
        return ""
    # Escaping only adds characters (bar removed control characters), so a prefix much longer
    # than `limit` cannot fit: searching only the start keeps a 20,000-character text cheap.
    text = text[: 2 * limit + 256]

    def fits(n: int) -> bool:
        return measure(escape(text[:n])) <= room

    lo, hi = 0, len(text)
    while lo < hi:  # the longest fitting prefix: escaped length grows with the prefix
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    head = text[:lo]
    if lo < len(text) and not text[lo].isspace():
        space = max(head.rfind(" "), head.rfind("\n"))
        if space >= len(head) * 0.6:
            head = head[:space]
    head = head.rstrip().rstrip(",;:-–—").rstrip()
    while head and not fits(len(head)):  # only if an escape depends on what follows it
        head = head[:-1]
    return escape(head) + ELLIPSIS

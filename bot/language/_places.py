"""Place names in the languages of the pack from CLDR (through Babel): a country named once by
its code is found as every outlet writes it ("DE": Germany, Deutschland, Германия, Niemcy, 德国)."""

from __future__ import annotations

from functools import cache

from babel import Locale, UnknownLocaleError

__all__ = ["PACK_LANGUAGES", "country_names", "is_country_code"]

# The languages the default pack reads (and their neighbours with their own spellings).
PACK_LANGUAGES = [
    "en",
    "ru",
    "uk",
    "be",
    "de",
    "fr",
    "es",
    "it",
    "pt",
    "pl",
    "cs",
    "sk",
    "sl",
    "hr",
    "sr",
    "bs",
    "bg",
    "mk",
    "ro",
    "hu",
    "el",
    "tr",
    "nl",
    "sv",
    "no",
    "nb",
    "da",
    "fi",
    "et",
    "lv",
    "lt",
    "is",
    "ar",
    "he",
    "fa",
    "zh",
    "ja",
    "ko",
    "hi",
]


@cache
def _locale(language: str) -> Locale | None:
    try:
        return Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return None


def is_country_code(code: str) -> bool:
    """Whether CLDR knows `code` (ISO 3166-1 alpha-2, upper case) as a territory."""
    english = _locale("en")
    return english is not None and code in english.territories and code.isalpha()


@cache
def country_names(code: str) -> tuple[str, ...]:
    """The name of country `code` in each language of the pack, once each, in that order;
    short forms ("US", "UAE") and variants are left out: they are words in other texts."""
    out: list[str] = []
    for language in PACK_LANGUAGES:
        locale = _locale(language)
        if locale is None:
            continue
        name = locale.territories.get(code)
        if name and name not in out:
            out.append(name)
    return tuple(out)

"""Scripts: which characters stand in text without spaces, and Latin forms of other scripts."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from anyascii import anyascii

__all__ = ["is_spaceless", "needs_boundary", "strip_marks", "transliterate"]

# Scripts written without spaces between words: a phrase in them is found wherever it stands.
_SPACELESS = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x31F0, 0x31FF),  # Katakana extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0xAC00, 0xD7AF),  # Hangul syllables (spaced, but particles attach to nouns)
)


def is_spaceless(ch: str) -> bool:
    """Whether `ch` belongs to a script written without spaces between words."""
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _SPACELESS)


def needs_boundary(ch: str) -> bool:
    """Whether a phrase starting or ending with `ch` must stand at a word boundary there."""
    return (ch.isalnum() or ch == "_") and not is_spaceless(ch)


@lru_cache(maxsize=4096)
def transliterate(text: str) -> str:
    """`text` in Latin letters (Уиткофф → Uitkoff, Кислиця → Kislitsia), accents kept off."""
    return anyascii(text)


class _MarkTable(dict[int, int]):
    """A `str.translate` table taking each accented letter to its base letter (ú → u, ž → z,
    й → и), one character for one, filled as letters are met."""

    def __missing__(self, code: int) -> int:
        base = unicodedata.normalize("NFD", chr(code))[0]
        out = ord(base) if base.isalpha() and len(base) == 1 else code
        self[code] = out
        return out


_MARKS = _MarkTable()


def strip_marks(text: str) -> str:
    """`text` without accents and other combining marks on its letters, each character kept
    in its place ("Kostiúkov" → "Kostiukov", "Ženevi" → "Zenevi"). Text in plain ASCII is
    returned as it is."""
    if text.isascii():
        return text
    return text.translate(_MARKS)

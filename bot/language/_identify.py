"""Which language a text is written in (py3langid, whose model ships in the package)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["UNKNOWN", "identify"]

UNKNOWN = "und"  # ISO 639 "undetermined": too little text, or no letters at all
_SAMPLE = 1500  # characters read: enough for a confident answer, cheap on long articles
_MIN_LETTERS = 12
# The model's codes for varieties the rest of the layer knows by their ISO 639-1 language:
# Wu and Cantonese Chinese (a short Simplified Chinese headline can come back as "wuu"),
# Egyptian and Moroccan Arabic; "zxx" is the model's "no linguistic content".
_VARIETIES = {"wuu": "zh", "yue": "zh", "arz": "ar", "ary": "ar", "zxx": UNKNOWN}


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid import langid

    return langid._get_identifier()  # the package's own model, loaded once


def identify(text: str) -> str:
    """The ISO 639-1 code of `text`'s language, or `UNKNOWN` when it cannot be told.

    Only the first characters are read. Serbian, Croatian and Bosnian come back as the
    identifier tells them apart (often as "hr" or "sr"); callers that lemmatize map them
    to one language themselves.
    """
    sample = text[:_SAMPLE]
    if sum(ch.isalpha() for ch in sample) < _MIN_LETTERS:
        return UNKNOWN
    identifier = _identifier()
    lang, _prob = identifier.classify(sample)
    return _VARIETIES.get(str(lang), str(lang))

"""The language layer: what rules, dates and stories know of a text's language and script.

Language identification, tokens and their lemmas per language, transliteration between
scripts and the marks of scripts written without spaces. Plain functions over text, built on
libraries that ship their models in the package (py3langid, simplemma, anyascii): nothing is
downloaded at run time.
"""

from bot.language._context import is_dateline, is_destination, is_time_reference, is_trip_place
from bot.language._identify import UNKNOWN, identify
from bot.language._lemmas import LemmaStream, LemmaTable, lemma, lemma_language, lemma_stream
from bot.language._places import PACK_LANGUAGES, country_names, is_country_code
from bot.language._scripts import is_spaceless, needs_boundary, strip_marks, transliterate

__all__ = [
    "PACK_LANGUAGES",
    "UNKNOWN",
    "LemmaStream",
    "LemmaTable",
    "country_names",
    "identify",
    "is_country_code",
    "is_dateline",
    "is_destination",
    "is_spaceless",
    "is_time_reference",
    "is_trip_place",
    "lemma",
    "lemma_language",
    "lemma_stream",
    "needs_boundary",
    "strip_marks",
    "transliterate",
]

"""Text for matching: position-keeping case folding, whitespace normalization, sentence spans."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

__all__ = [
    "MAX_SENTENCE",
    "Normalized",
    "cut_long",
    "fold",
    "is_word_char",
    "normalize",
    "split_sentences",
    "trimmed",
]


class _FoldTable(dict[int, int]):
    """A `str.translate` table lowering one character to exactly one character, filled lazily.

    `'İ'.lower()` is two characters; keeping only the first (`i`) keeps every position in place.
    A final sigma folds like any other sigma so that phrases and text agree.
    """

    def __missing__(self, code: int) -> int:
        lowered = chr(code).lower()
        folded = ord(lowered[0]) if lowered else code
        if folded == 0x3C2:  # ς → σ
            folded = 0x3C3
        self[code] = folded
        return folded


_FOLD = _FoldTable()


def fold(text: str) -> str:
    """Lower-case `text` character by character; the result has the same length."""
    lowered = text.lower()
    if len(lowered) == len(text):  # no character grew: the fast path, true of most text
        return lowered.replace("ς", "σ")
    return text.translate(_FOLD)


def is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


# Whitespace other than a plain space (a tab, a line break, a no-break space). A run to make one
# space holds one of these or two spaces in a row; single spaces, by far the most common, stay.
_ODD_SPACE = re.compile(r"[^\S ]")


@dataclass(frozen=True, slots=True)
class Normalized:
    """Folded text with every whitespace run made one space, and the way back to the original.

    `starts[i]` is a position in `text` from which positions shift by `shifts[i]` more than
    before it: original = position + shift.
    """

    text: str
    starts: tuple[int, ...]
    shifts: tuple[int, ...]

    def original(self, position: int) -> int:
        """The position in the original text of the character at `position` in `text`."""
        i = bisect_right(self.starts, position)
        return position + (self.shifts[i - 1] if i else 0)


def _whitespace_runs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each whole run of whitespace that is not a single plain space, in order.

    Found from the runs' rare marks (an odd space character, two spaces in a row), so that the
    text is searched at C speed rather than tried at every space.
    """
    # isprintable() is False for every whitespace character but the plain space (and for a
    # few other rare ones): where it holds, there is no odd space to look for.
    marks = [] if text.isprintable() else [m.start() for m in _ODD_SPACE.finditer(text)]
    i = text.find("  ")
    while i >= 0:
        marks.append(i)
        i = text.find("  ", i + 2)
    marks.sort()
    runs: list[tuple[int, int]] = []
    n = len(text)
    end = 0
    for mark in marks:
        if mark < end:
            continue  # inside the run found last
        start = mark
        while start > end and text[start - 1].isspace():
            start -= 1
        end = mark + 1
        while end < n and text[end].isspace():
            end += 1
        runs.append((start, end))
    return runs


def normalize(text: str) -> Normalized:
    folded = fold(text)
    pieces: list[str] = []
    starts: list[int] = []
    shifts: list[int] = []
    last = 0  # end of the previous whitespace run, in the original
    shift = 0
    for start, end in _whitespace_runs(folded):
        pieces.append(folded[last:start])
        pieces.append(" ")
        last = end
        shift += end - start - 1
        starts.append(end - shift)
        shifts.append(shift)
    pieces.append(folded[last:])
    return Normalized("".join(pieces), tuple(starts), tuple(shifts))


# Sentence splitting --------------------------------------------------------------------------

# Words that end with a period without ending a sentence (case-sensitive: "no." ends one).
ABBREVIATIONS = frozenset(
    {
        "Mr",
        "Mrs",
        "Ms",
        "Mx",
        "Dr",
        "Prof",
        "St",
        "Mt",
        "Ft",
        "Gen",
        "Sen",
        "Rep",
        "Gov",
        "Lt",
        "Col",
        "Capt",
        "Cmdr",
        "Maj",
        "Sgt",
        "Adm",
        "Brig",
        "Pres",
        "Amb",
        "Rev",
        "Hon",
        "Jr",
        "Sr",
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Sept",
        "Oct",
        "Nov",
        "Dec",
        "vs",
        "approx",
        "Ave",
        "Blvd",
    }
)
# These only before a number: "No. 10" goes on, "said No. Then" ends.
NUMBER_ABBREVIATIONS = frozenset({"No", "Nos", "Vol", "Art", "Fig", "Para"})

# The closing punctuation, any closing quotes or brackets, and the spaces after them. Spelled
# `[…][…]*` rather than `[…]+`: a pattern that opens on a plain character set lets the regex
# engine skip ahead to the next candidate character, more than twice as fast here.
_TERMINAL = re.compile(r"([.!?…。！？][.!?…。！？]*)[\"'”’»)\]」』）]*(\s*)")
# Full stops of scripts written without spaces: they end a sentence whatever follows.
_WIDE_ENDS = frozenset("。！？")
# An ordinal day before a capitalized month is no sentence end: "am 27. November".
_ORDINAL_DAY = re.compile(r"(?<!\d)\d{1,2}$")
_MONTH_AFTER = re.compile(
    r"(?:Januar|Jänner|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|"
    r"Dezember)\b"
)
_OPENERS = "\"'“‘«([¿¡"
_INITIALISM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # U.S, e.g (without the final period)
_NEWLINE_RUN = re.compile(r"\n\s*")  # searched for by its line break, not tried at every space


def _ends_in_abbreviation(text: str, period: int, following: str) -> bool:
    """Whether the `.` at `period` closes an abbreviation or an initial rather than a sentence.

    `following` is the first character after the spaces that follow the period.
    """
    # The run of word characters and periods before it (at most 40), walked back by hand: a
    # regex search tried from every position of that stretch costs several times more.
    floor = max(0, period - 40)
    start = period
    while start > floor and (text[start - 1].isalnum() or text[start - 1] in "._"):
        start -= 1
    word = text[start:period].lstrip(".")
    if not word:
        return False
    if word in ABBREVIATIONS or _INITIALISM.fullmatch(word):
        return True
    if word in NUMBER_ABBREVIATIONS:
        return following.isdigit()
    return len(word) == 1 and word.isupper()  # an initial: "J. Smith"


def _starts_sentence(ch: str) -> bool:
    return ch.isupper() or ch.istitle() or ch.isdigit() or ch in _OPENERS


def _terminal_ends(text: str) -> list[int]:
    """Ends of sentences closed by . ! ? (with any closing quotes or brackets after them)."""
    ends: list[int] = []
    n = len(text)
    for m in _TERMINAL.finditer(text):
        end, rest = m.span(2)  # the sentence's end, and where the next one would start
        punct = m.group(1)
        if punct[-1] in _WIDE_ENDS:
            ends.append(end)
            continue
        if rest < n and (rest == end or not _starts_sentence(text[rest])):
            continue
        if (
            punct == "."
            and _ORDINAL_DAY.search(text, max(0, m.start() - 3), m.start())
            and _MONTH_AFTER.match(text, rest)
        ):
            continue
        if punct == ".":
            if _ends_in_abbreviation(text, m.start(), text[rest] if rest < n else ""):
                continue
        elif "!" not in punct and "?" not in punct:
            continue  # an ellipsis: a pause, not an end (unless a line or the text ends)
        ends.append(end)
    return ends


def _line_ends(text: str) -> list[int]:
    """Ends of sentences closed by a line break.

    A blank line always ends one. A single line break does too, unless the next line goes on in
    lower case (hard-wrapped text) or the line ends with an abbreviation ("Mr.").
    """
    ends: list[int] = []
    n = len(text)
    for m in _NEWLINE_RUN.finditer(text):
        start, end = m.span()
        while start > 0 and text[start - 1] != "\n" and text[start - 1].isspace():
            start -= 1  # the spaces before the line break belong to the run
        if end >= n or start == 0:
            continue
        if m.group().count("\n") == 1:
            if text[end].islower():
                continue
            if text[start - 1] == "." and _ends_in_abbreviation(text, start - 1, text[end]):
                continue
        ends.append(start)
    return ends


def split_sentences(text: str) -> list[tuple[int, int]]:
    """The (start, end) span of each sentence of `text`, in order, without surrounding spaces.

    A sentence ends at . ! ? followed by a space and a capital, a quote or a digit (or by the end
    of the text), and at line breaks (see `_line_ends`). A period does not end one after common
    abbreviations (Mr., U.S., Nov., e.g.), single initials or inside numbers (3.5); an ellipsis
    does not end one either unless a line or the text ends there.
    """
    bounds = sorted({*_terminal_ends(text), *_line_ends(text), len(text)})
    spans: list[tuple[int, int]] = []
    start = 0
    for end in bounds:
        span = trimmed(text, start, end)
        if span is not None:
            spans.append(span)
        start = end
    return spans


def trimmed(text: str, a: int, b: int) -> tuple[int, int] | None:
    """`text[a:b]` without the whitespace at its ends, as (start, end); None when nothing is
    left."""
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return (a, b) if a < b else None


# The longest unit (sentence or paragraph) the rules read whole. A longer one (a table, a list
# or a page with no sentence ends) is cut into consecutive windows of at most this many
# characters, at a space where there is one: the rules' work per unit stays bounded.
MAX_SENTENCE = 1_000


def cut_long(
    text: str, spans: list[tuple[int, int]], limit: int = MAX_SENTENCE
) -> tuple[list[tuple[int, int]], int]:
    """`spans` with each span longer than `limit` characters cut into windows of at most
    `limit`, each ending at the last whitespace of its second half (or at `limit` itself, in
    text without spaces); and how many spans were cut."""
    if all(b - a <= limit for a, b in spans):
        return spans, 0
    out: list[tuple[int, int]] = []
    cut = 0
    for a, b in spans:
        if b - a <= limit:
            out.append((a, b))
            continue
        cut += 1
        while b - a > limit:
            end = a + limit
            space = end
            while space > a + limit // 2 and not text[space].isspace():
                space -= 1
            if text[space].isspace():
                end = space
            stop = end
            while stop > a and text[stop - 1].isspace():
                stop -= 1
            out.append((a, stop))
            a = end
            while a < b and text[a].isspace():
                a += 1
        if a < b:
            out.append((a, b))
    return out, cut

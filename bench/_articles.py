"""Generated news articles in English, Russian and German, for the rules benchmark.

Sentences of everyday news words in each language (written here, not taken from any corpus),
with the default pack's own names, places and words of travel and talks mixed in at about the
rate a story about the talks has them: most sentences are background, some name a traveller,
a place and a meeting. Deterministic for a given seed.
"""

from __future__ import annotations

import random
import re

from bot.config import RuleConfig

__all__ = ["LANGUAGES", "article"]

LANGUAGES = ("en", "ru", "de")


def _w(words: str) -> list[str]:
    return words.split()


# Words of background sentences, by kind: function words, nouns, verbs, adjectives.
_WORDS: dict[str, dict[str, list[str]]] = {
    "en": {
        "function": _w(
            "the a of to in on for with and that by from at as but about after this "
            "their his its more than over"
        ),
        "noun": _w(
            "officials government talks ministry week statement security energy border "
            "troops region reporters sanctions agreement proposal ceasefire aid parliament "
            "election economy prices winter grid drones defence army city residents"
        ),
        "verb": _w(
            "said told added warned expected announced discussed signed rejected "
            "called confirmed denied reported planned agreed"
        ),
        "adj": _w(
            "new last senior foreign military economic European American Ukrainian "
            "Russian possible final"
        ),
    },
    "ru": {
        "function": _w("в на и с по к о что не для из от за до это его их как но также после при"),
        "noun": _w(
            "переговоры правительства министерство неделе заявлении безопасности "
            "энергетики границе войска региона журналистам санкций соглашения предложение "
            "перемирия помощи парламент выборов экономики цены зимой сети армии города "
            "жители"
        ),
        "verb": _w(
            "заявил сообщил добавил предупредил ожидается объявил обсудили подписали "
            "отклонил призвал подтвердил опроверг сообщили планирует согласились"
        ),
        "adj": _w(
            "новый прошлой высокопоставленный иностранных военной экономической "
            "европейские американский украинской российской возможного окончательного"
        ),
    },
    "de": {
        "function": _w(
            "der die das und in zu den von mit sich des auf für ist im dem nicht "
            "ein eine als auch nach"
        ),
        "noun": _w(
            "Regierung Gespräche Ministerium Woche Erklärung Sicherheit Energie Grenze "
            "Truppen Region Journalisten Sanktionen Abkommen Vorschlag Waffenruhe Hilfe "
            "Parlament Wahlen Wirtschaft Preise Winter Netz Armee Stadt Bewohner"
        ),
        "verb": _w(
            "sagte erklärte fügte warnte erwartet kündigte diskutierten unterzeichneten "
            "lehnte forderte bestätigte dementierte berichtete plant einigten"
        ),
        "adj": _w(
            "neue letzten hochrangige ausländische militärische wirtschaftliche "
            "europäischen amerikanische ukrainische russische mögliche endgültige"
        ),
    },
}
# Sentences of a trip or a meeting: {who}, {where}, {with} from the pack's gazetteers.
_FRAMES: dict[str, list[str]] = {
    "en": [
        "{who} flew to {where} on Tuesday for talks with {with} on the peace plan.",
        "{who} arrived in {where} for a meeting with {with}, officials said.",
        "{who} is expected in {where} later this week, the ministry said.",
        "After the meeting in {where}, {who} said the talks had been useful.",
    ],
    "ru": [
        "{who} прилетел в {where} на переговоры с {with} о мирном плане.",
        "{who} прибыл в {where} для встречи с {with}, сообщили официальные лица.",
        "Ожидается, что {who} посетит {where} на этой неделе, заявили в министерстве.",
        "После встречи в {where} {who} заявил, что переговоры были полезными.",
    ],
    "de": [
        "{who} ist am Dienstag zu Gesprächen mit {with} über den Friedensplan nach {where} "
        "geflogen.",
        "{who} traf in {where} zu einem Treffen mit {with} ein, sagten Beamte.",
        "{who} wird noch in dieser Woche in {where} erwartet, teilte das Ministerium mit.",
        "Nach dem Treffen in {where} sagte {who}, die Gespräche seien nützlich gewesen.",
    ],
}
_FRAME_SHARE = 0.12  # of sentences: a story about the talks, not a list of trips
_UKRAINIAN = re.compile("[іїєґІЇЄҐ]")
_CYRILLIC = re.compile("[а-яА-ЯёЁ]")


def _names(pack: list[RuleConfig], lang: str, entity: str) -> list[str]:
    """The pack's spellings of `entity` (envoy, place) an outlet in `lang` would write: the
    canonical (English) names, or for Russian the Cyrillic aliases that are not Ukrainian."""
    out: set[str] = set()
    for rule in pack:
        for name, aliases in rule.entities.get(entity, ()):
            if lang != "ru":
                out.add(name)
                continue
            out.update(a for a in aliases if _CYRILLIC.search(a) and not _UKRAINIAN.search(a))
    return sorted(out)


# Words that put an article on the topic, by language.
_TOPIC = {
    "en": ["Ukraine", "Russia", "Kyiv", "the Kremlin", "Zelensky", "Putin"],
    "ru": ["Украины", "России", "Киева", "Кремля", "Зеленского", "Путина"],
    "de": ["der Ukraine", "Russland", "Kiew", "des Kreml", "Selenskyj", "Putin"],
}


def _sentence(rng: random.Random, words: dict[str, list[str]]) -> str:
    kinds = rng.choices(("function", "noun", "verb", "adj"), (40, 32, 16, 12), k=rng.randint(9, 24))
    out = [rng.choice(words[kind]) for kind in kinds]
    if rng.random() < 0.3:
        out.insert(rng.randrange(len(out)), f"{rng.randint(2, 2026)}")
    if rng.random() < 0.3:
        out.insert(rng.randrange(1, len(out)), ",")
    text = " ".join(out).replace(" ,", ",")
    return text[0].upper() + text[1:] + "."


def article(pack: list[RuleConfig], lang: str, words: int, rng: random.Random) -> str:
    """An article of about `words` words in `lang`, paragraphs of three to six sentences."""
    vocab = _WORDS[lang]
    who = _names(pack, lang, "envoy")
    where = _names(pack, lang, "place")
    topic = _TOPIC[lang]
    sentences: list[str] = []
    count = 0
    while count < words:
        if rng.random() < _FRAME_SHARE and who and where:
            slots = {"who": rng.choice(who), "where": rng.choice(where), "with": rng.choice(who)}
            s = rng.choice(_FRAMES[lang]).format(**slots)
        else:
            s = _sentence(rng, vocab)
            if topic and rng.random() < 0.1:
                s = s[:-1] + f" {rng.choice(topic)}."
        sentences.append(s)
        count += len(s.split())
    paragraphs: list[str] = []
    i = 0
    while i < len(sentences):
        n = rng.randint(3, 6)
        paragraphs.append(" ".join(sentences[i : i + n]))
        i += n
    return "\n\n".join(paragraphs)

"""Withdrawn deadlines ("no longer a deadline", "больше нет дедлайна") in the pack's languages."""

from __future__ import annotations

import re

from bot.rules._dates._sentence import _Sentence
from bot.rules._dates._vocabulary import _NA, _NB

# -- withdrawal ----------------------------------------------------------------------------------

_DL = r"(?:deadlines?|ultimatums?|cut-?offs?|time\s+limits?|due\s+date)"
_DL_END = (
    rf"{_NA}(?!-)(?!\s+(?:extensions?|issues?|problems?|changes?|shifts?|pressure|diplomacy"
    r"|for\s+(?:an?\s+)?extension))"
)
_ADJ = (
    r"(?:(?:hard|firm|fixed|set|specific|strict|formal|real|self-imposed|particular|definite"
    r"|concrete|official|such|clear|hard-and-fast|artificial|final|deadline)\s+)*"
)
_DET = r"(?:(?:the|a|an|his|her|its|their|that|this|any|[\w.-]+'s)\s+)?"
_GAP = r"(?:[\w'.-]+\s+){0,4}?"
# A day named in front of the word: "has not set a New Year's Day deadline".
_NAMED_DAY = r"(?:(?-i:[A-Z])[\w'.]*\s+){0,3}?"
_NEG_VERBS = (
    r"have|has|had|set|setting|give|giving|impose|imposing|name|naming|put|putting|announce"
    r"|want|need|see|fix|attach|place|offer|issue|believe\s+in"
)
_WITHDRAWN_EN = [
    rf"no\s+longer\s+(?:(?:has|have|had|is|was|are|were|faces?|sets?|imposes?|bound\s+by"
    rf"|subject\s+to|under)\s+)?(?:(?:a|an|any|the|his|its|their)\s+)?{_ADJ}{_DL}{_DL_END}",
    rf"{_DL}(?:\s+[\w'.-]+){{0,4}}?\s+(?:no\s+longer|not\s+anymore)\s+(?:applies|apply|stands"
    r"|holds|exists|matters|in\s+(?:place|effect|force)|valid|relevant|binding|a\s+factor)",
    rf"{_NB}no\s+{_ADJ}{_DL}{_DL_END}",
    rf"(?:n't|{_NB}not|{_NB}never|{_NB}refused\s+to|{_NB}declined\s+to|{_NB}no\s+plans?\s+to"
    r"|{_NB}no\s+intention\s+(?:of|to))\s+(?:(?:going|want|wanting|planning|plan|intend"
    r"|intending|about|likely|ready|willing)\s+to\s+)?(?:\w+ly\s+)?"
    rf"(?:{_NEG_VERBS})\s+(?:(?:a|an|any|the)\s+)?{_ADJ}{_NAMED_DAY}{_DL}{_DL_END}",
    rf"(?:{_NB}is\s+not|{_NB}isn't|{_NB}was\s+not|{_NB}wasn't|'s\s+not|{_NB}are\s+not"
    rf"|{_NB}aren't)\s+(?:really\s+|actually\s+)?(?:a|an)\s+{_ADJ}{_DL}{_DL_END}",
    rf"{_NB}without\s+(?:a|an|any)\s+{_ADJ}{_DL}{_DL_END}",
    rf"{_NB}eas(?:ed|es|ing|e)\s+(?:off|up)(?:\s+on)?\s+{_DET}{_GAP}{_DL}{_DL_END}",
    rf"{_NB}(?:back(?:ed|s|ing)?|step(?:ped|s|ping)?|pull(?:ed|s|ing)?|walk(?:ed|s|ing)?"
    r"|mov(?:ed|es|ing|e)|shift(?:ed|s|ing)?)\s+(?:away|back|off|down)\s+(?:from\s+|on\s+)?"
    rf"{_DET}{_GAP}{_DL}{_DL_END}",
    rf"{_NB}retreat(?:ed|s|ing)?\s+from\s+{_DET}{_GAP}{_DL}{_DL_END}",
    rf"{_NB}(?:drop(?:ped|s|ping)?|scrap(?:ped|s|ping)?|abandon(?:ed|s|ing)?|lift(?:ed|s|ing)?"
    r"|remov(?:ed|es|ing|e)|ditch(?:ed|es|ing)?|waiv(?:ed|es|ing|e)|rescind(?:ed|s|ing)?"
    r"|withdr(?:ew|aws|awn|awing|aw)|cancell?(?:ed|s|ing)?|shelv(?:ed|es|ing|e)"
    r"|ax(?:ed|es|ing|e)?|junk(?:ed|s|ing)?|discard(?:ed|s|ing)?|(?:gave|give|gives|giving)"
    r"\s+up(?:\s+on)?|let\s+go\s+of|(?:did|do|does|doing|done)\s+away\s+with)\s+"
    rf"{_DET}{_GAP}{_DL}{_DL_END}",
    rf"{_DL},?(?:\s+[\w'.,-]+){{0,6}}?\s+(?:was|were|is|are|has\s+been|have\s+been|had\s+been"
    r"|been|got|gets|get|now|'s)\s+(?:now\s+|effectively\s+|quietly\s+|officially\s+"
    r"|since\s+been\s+|also\s+)?(?:dropped|scrapped|abandoned|lifted|removed|ditched|waived"
    rf"|rescinded|withdrawn|cancell?ed|shelved|axed|junked|discarded|dead|off){_NA}",
    rf"{_DL}(?:\s+[\w'.-]+){{0,4}}?\s+(?:is|was|are|were|'s)\s*(?:not|n't)\s+(?:set\s+in\s+stone"
    rf"|fixed|firm|binding|hard|real){_NA}",
]
_WITHDRAWN_OTHER = [
    # German
    r"kein(?:e|en|er)?\s+(?:(?:feste|festen|fester|harte|harten|konkrete|konkreten)\s+)?"
    rf"(?:frist|deadline|ultimatum|stichtag){_NA}(?!-)",
    rf"ohne\s+(?:eine\s+|jede\s+)?(?:feste\s+)?(?:frist|deadline|ultimatum){_NA}(?!-)",
    r"(?:frist|deadline|ultimatum)(?:\s+[\w.-]+){0,5}?\s+(?:aufgehoben|gestrichen"
    r"|fallen\s*gelassen|zurückgenommen|aufgegeben|abgeschafft|hinfällig|vom\s+tisch)",
    r"verzicht\w*\s+auf\s+(?:die|eine|seine|ihre|das|sein)\s+(?:\w+\s+)?"
    rf"(?:frist|deadline|ultimatum){_NA}",
    # French
    r"(?:plus|pas|aucune?)\s+(?:de\s+|d')?(?:(?:vraie|réelle|ferme|fixe)\s+)?"
    rf"(?:date[- ]limite|échéance|ultimatum|deadline){_NA}",
    rf"sans\s+(?:aucune?\s+|de\s+)?(?:date[- ]limite|échéance|ultimatum|deadline){_NA}",
    r"(?:abandonn|renon[cç]|supprim|retir|annul|lev)\w*\s+(?:à\s+)?(?:l'|la\s+|le\s+|son\s+"
    rf"|sa\s+|cette\s+|cet\s+)(?:date[- ]limite|échéance|ultimatum|deadline){_NA}",
    r"(?:date[- ]limite|échéance|ultimatum)(?:\s+[\w'.-]+){0,4}?\s+(?:a\s+été|est|sont|ont\s+été)"
    rf"\s+(?:levée?s?|abandonnée?s?|supprimée?s?|annulée?s?|retirée?s?){_NA}",
    # Spanish
    r"(?:ya\s+no\s+hay|no\s+hay|no\s+existe|ya\s+no\s+existe|no\s+tengo|no\s+tiene|no\s+tenemos"
    r"|ningún|ninguna|sin)\s+(?:(?:un|una|ningún|ninguna)\s+)?(?:plazo|fecha\s+límite"
    rf"|ultimátum|deadline){_NA}(?!\s+(?:de\s+)?(?:ampliación|prórroga))",
    r"(?:abandon|retir|elimin|suprim|anul|levant|descart)\w*\s+(?:el|la|su|ese|este)\s+"
    rf"(?:plazo|fecha\s+límite|ultimátum){_NA}",
    rf"renunci\w*\s+(?:al|a\s+su)\s+(?:plazo|ultimátum){_NA}",
    r"(?:plazo|fecha\s+límite|ultimátum)(?:\s+[\w.-]+){0,4}?\s+(?:fue|ha\s+sido|está|quedó)\s+"
    rf"(?:eliminad[oa]|retirad[oa]|suprimid[oa]|anulad[oa]|levantad[oa]|abandonad[oa]){_NA}",
    # Russian
    r"(?:больше\s+нет|нет\s+больше|уже\s+нет|нет)\s+(?:(?:никакого|никаких|конкретного"
    r"|конкретных|жёсткого|жесткого|чёткого|четкого|четких|чётких)\s+)?(?:дедлайна|дедлайнов"
    rf"|срока|сроков|крайнего\s+срока|ультиматума){_NA}(?!\s+давности)",
    r"без\s+(?:(?:каких-либо|какого-либо|конкретного|конкретных|жёсткого|жесткого|чётких"
    rf"|четких)\s+)?(?:дедлайна|дедлайнов|сроков|ультиматума){_NA}",
    r"отказ\w*\s+от\s+(?:\w+\s+)?(?:дедлайна|срока|сроков|ультиматума)" + _NA,
    r"(?:отменил\w*|снял\w*|отозвал\w*)\s+(?:\w+\s+)?(?:дедлайн|срок|сроки|ультиматум)" + _NA,
    r"(?:дедлайн|срок|ультиматум)(?:\s+\w+){0,3}?\s+(?:был\w?\s+)?(?:отмен[её]н\w*|снят\w*"
    r"|больше\s+не\s+действу\w+)",
    r"не\s+(?:\w+\s+)?(?:ставит|ставил\w*|ставлю|ставим|устанавлива\w+|установил\w*|назыв\w+"
    r"|назвал\w*)\s+(?:никаких\s+|никакого\s+|конкретн\w+\s+)?(?:дедлайн\w*|срок\w*"
    rf"|ультиматум\w*){_NA}",
    # Ukrainian
    r"(?:більше\s+немає|немає\s+більше|вже\s+немає|більше\s+нема|немає|нема)\s+"
    r"(?:(?:жодного|жодних|конкретного|конкретних|чіткого|чітких)\s+)?(?:дедлайну|дедлайнів"
    rf"|терміну|термінів|кінцевого\s+терміну|ультиматуму){_NA}",
    rf"без\s+(?:жодного\s+|жодних\s+)?(?:дедлайну|дедлайнів|термінів|ультиматуму){_NA}",
    r"відмов\w*\s+від\s+(?:\w+\s+)?(?:дедлайну|терміну|термінів|ультиматуму)" + _NA,
    r"(?:скасува\w*|зняв|зняла|зняли|відкликав\w*)\s+(?:\w+\s+)?(?:дедлайн|термін|терміни"
    r"|ультиматум)" + _NA,
    r"не\s+(?:\w+\s+)?(?:встановлю\w*|встановив\w*|ставить|ставив\w*|назива\w+|назвав\w*)\s+"
    rf"(?:жодних\s+|жодного\s+|конкретн\w+\s+)?(?:дедлайн\w*|термін\w*|ультиматум\w*){_NA}",
    # Italian
    r"non\s+(?:c'è|ci\s+sono|esiste|esistono)\s+(?:più\s+)?(?:(?:una|alcuna|nessuna|la)\s+)?"
    rf"(?:\w+\s+)?(?:scadenz[ae]|ultimatum){_NA}",
    rf"(?:nessuna|senza)\s+(?:\w+\s+)?(?:scadenz[ae]|ultimatum){_NA}",
    r"non\s+(?:[\w']+\s+){0,3}?più\s+(?:[\w']+\s+){0,3}?(?:(?:una|la|alcuna)\s+)?"
    rf"(?:scadenz[ae]|ultimatum){_NA}",
    r"(?:abbandon|ritir|cancell|elimin|revoc|rinunci)\w*\s+(?:\w+\s+){0,2}?"
    rf"(?:la\s+|una\s+|l'|all[a']\s*)?(?:scadenz[ae]|ultimatum){_NA}",
    # Portuguese
    r"(?:não\s+há\s+mais|não\s+há|já\s+não\s+há|não\s+existe|sem|nenhum)\s+"
    rf"(?:(?:um|qualquer|mais)\s+)?(?:prazo|data[- ]limite|ultimato){_NA}",
    r"(?:abandon|retir|elimin|cancel|suspend|desist)\w*\s+(?:d[oa]\s+|o\s+|a\s+|seu\s+)?"
    rf"(?:prazo|data[- ]limite|ultimato){_NA}",
    # Polish
    r"(?:nie\s+ma\s+(?:już\s+)?|bez\s+|żadnego\s+|nie\s+(?:\w+\s+)?(?:wyznacza|stawia)\w*\s+)"
    rf"(?:\w+\s+)?(?:terminu|terminów|ultimatum|deadline\w*){_NA}",
    r"(?:wycof|porzuci|odwoła|znió|znies|odstąpi)\w*\s+(?:\w+\s+){0,2}?(?:termin|ultimatum)\w*",
    # Czech and Slovak
    r"(?:už\s+)?(?:není|neexistuje|nejsou|žádná|žádný|žádnou|bez|nie\s+je)\s+(?:\w+\s+)?"
    rf"(?:lhůt\w*|termín\w*|ultimát\w*|lehot\w*){_NA}",
    # Croatian, Serbian, Slovenian
    r"(?:više\s+)?(?:nema|bez|nikakv\w+|ni\s+več)\s+(?:\w+\s+)?(?:rok\w*|ultimatum\w*"
    rf"|рок\w*|ултиматум\w*){_NA}",
    r"(?:odusta\w+|одуста\w+)\s+od\s+(?:\w+\s+)?(?:rok\w*|ultimatum\w*|рок\w*"
    rf"|ултиматум\w*){_NA}",
    # Romanian
    r"(?:nu\s+mai\s+(?:există|exista|este|e|are)|fără)\s+(?:(?:un|niciun|vreun)\s+)?"
    rf"(?:termen\w*|ultimatum\w*){_NA}",
    rf"renun\w+\s+la\s+(?:\w+\s+)?(?:termen\w*|ultimatum\w*){_NA}",
    # Dutch
    rf"(?:geen|zonder)\s+(?:\w+\s+)?(?:deadline|termijn|ultimatum){_NA}",
    r"(?:laat|liet|lieten|laten)\s+(?:\w+\s+){0,2}?(?:deadline|termijn|ultimatum)\s+"
    rf"(?:los|varen|vallen){_NA}",
    # Turkish
    r"(?:süre|mühlet|son\s+tarih|ultimatom)\w*\s+(?:\w+\s+)?(?:yok|kalmadı|kaldırıldı"
    rf"|kaldırdı|geri\s+çekildi){_NA}",
    r"(?:süre|mühlet|son\s+tarih|ultimatom)\w*\s+(?:\w+\s+)?vazgeç\w*",
    # Swedish, Norwegian, Finnish
    r"(?:ingen|inte\s+längre\s+någon|ikke\s+lenger\s+noen|ingen\s+lenger)\s+(?:\w+\s+)?"
    r"(?:tidsfrist|deadline|frist)\w*",
    rf"ei\s+(?:enää\s+)?(?:ole\s+)?(?:\w+\s+)?(?:määräaikaa|takarajaa|aikarajaa){_NA}",
    # Bulgarian
    r"(?:вече\s+)?(?:няма|без)\s+(?:\w+\s+)?(?:краен\s+срок|срок|ултиматум)\w*",
]
_WITHDRAWN = re.compile(
    "|".join(f"(?:{p})" for p in [*_WITHDRAWN_EN, *(_NB + p for p in _WITHDRAWN_OTHER)]),
    re.IGNORECASE,
)


def _withdrawals(s: _Sentence) -> list[tuple[int, int]]:
    spans = []
    for m in _WITHDRAWN.finditer(s.plain):
        start = m.start()
        while start > 0 and (s.plain[start - 1].isalpha() or s.plain[start - 1] == "'"):
            start -= 1  # "n't have a deadline" → "don't have a deadline"
        spans.append((start, m.end()))
    return spans

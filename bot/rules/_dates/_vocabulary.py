"""Words for dates in the pack's languages: months, weekdays, holidays, seasons, periods."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from bot.rules._dates._calendar import Direction, easter, orthodox_easter, thanksgiving

# -- vocabulary ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _MonthForm:
    month: int
    langs: frozenset[str]
    alone: bool  # may stand without a day or a year (after a preposition of its language)
    abbreviation: bool  # may take a period: "Nov."


_OTHER_MONTHS: dict[str, str] = {
    "it": "gennaio|febbraio|marzo|aprile|maggio|giugno|luglio|agosto|settembre|ottobre|novembre"
    "|dicembre",
    "pt": "janeiro|fevereiro|março marco|abril|maio|junho|julho|agosto|setembro|outubro|novembro"
    "|dezembro",
    "pl": "styczeń stycznia styczniu|luty lutego lutym|marzec marca marcu|kwiecień kwietnia"
    " kwietniu|maj maja maju|czerwiec czerwca czerwcu|lipiec lipca lipcu|sierpień sierpnia"
    " sierpniu|wrzesień września wrześniu|październik października październiku|listopad"
    " listopada listopadzie|grudzień grudnia grudniu",
    "cs": "leden ledna lednu|únor února únoru|březen března březnu|duben dubna dubnu|květen"
    " května květnu|červen června červnu|červenec července červenci|srpen srpna srpnu|září"
    "|říjen října říjnu|listopad listopadu|prosinec prosince prosinci",
    "sk": "január januára januári|február februára februári|marec marca marci|apríl apríla"
    " apríli|máj mája máji|jún júna júni|júl júla júli|august augusta auguste|september"
    " septembra septembri|október októbra októbri|november novembra novembri|december"
    " decembra decembri",
    "hr": "siječanj siječnja siječnju|veljača veljače veljači|ožujak ožujka ožujku|travanj"
    " travnja travnju|svibanj svibnja svibnju|lipanj lipnja lipnju|srpanj srpnja srpnju"
    "|kolovoz kolovoza kolovozu|rujan rujna rujnu|listopad listopada listopadu|studeni"
    " studenoga studenog studenom|prosinac prosinca prosincu",
    "sr": "januar januara januaru јануар јануара|februar februara februaru фебруар фебруара"
    "|mart marta martu март марта|april aprila aprilu април априла|maj maja maju мај маја"
    "|jun juna junu јун јуна|jul jula julu јул јула|avgust avgusta avgustu август августа"
    "|septembar septembra septembru септембар септембра|oktobar oktobra oktobru октобар"
    " октобра|novembar novembra novembru новембар новембра|decembar decembra decembru"
    " децембар децембра",
    "sl": "januar januarja|februar februarja|marec marca|april aprila|maj maja|junij junija"
    "|julij julija|avgust avgusta|september septembra|oktober oktobra|november novembra"
    "|december decembra",
    "ro": "ianuarie|februarie|martie|aprilie|mai|iunie|iulie|august|septembrie|octombrie"
    "|noiembrie|decembrie",
    "nl": "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december",
    "tr": "ocak|şubat|mart|nisan|mayıs|haziran|temmuz|ağustos|eylül|ekim|kasım|aralık",
    "sv": "januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november|december",
    "no": "januar|februar|mars|april|mai|juni|juli|august|september|oktober|november|desember",
    "fi": "tammikuu tammikuuta tammikuussa|helmikuu helmikuuta helmikuussa|maaliskuu"
    " maaliskuuta maaliskuussa|huhtikuu huhtikuuta huhtikuussa|toukokuu toukokuuta toukokuussa"
    "|kesäkuu kesäkuuta kesäkuussa|heinäkuu heinäkuuta heinäkuussa|elokuu elokuuta elokuussa"
    "|syyskuu syyskuuta syyskuussa|lokakuu lokakuuta lokakuussa|marraskuu marraskuuta"
    " marraskuussa|joulukuu joulukuuta joulukuussa",
    "bg": "януари|февруари|март|април|май|юни|юли|август|септември|октомври|ноември|декември",
    "ar": "يناير كانون_الثاني|فبراير شباط|مارس آذار|أبريل نيسان|مايو أيار|يونيو حزيران"
    "|يوليو تموز|أغسطس آب|سبتمبر أيلول|أكتوبر تشرين_الأول|نوفمبر تشرين_الثاني"
    "|ديسمبر كانون_الأول",
    "hi": "जनवरी|फ़रवरी फरवरी|मार्च|अप्रैल|मई|जून|जुलाई|अगस्त|सितंबर सितम्बर|अक्टूबर|नवंबर नवम्बर|दिसंबर दिसम्बर",
}
# Spellings that mean another month in one language than in the one that keeps them.
_MONTH_IN: dict[str, dict[str, int]] = {}


def _month_forms() -> dict[str, _MonthForm]:
    table: list[tuple[int, str, bool, str]] = []  # (month, language, alone?, form)
    abbreviated: set[str] = set()
    en = "january february march april may june july august september october november december"
    de = "januar februar märz april mai juni juli august september oktober november dezember"
    fr = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
    es = "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"
    for lang, names in (("en", en), ("de", de), ("fr", fr), ("es", es)):
        for month, name in enumerate(names.split(), 1):
            table.append((month, lang, True, name))
    extra = [
        (1, "de", True, "jänner"),
        (3, "de", True, "maerz"),
        (2, "fr", True, "fevrier"),
        (8, "fr", True, "aout"),
        (12, "fr", True, "decembre"),
        (9, "es", True, "setiembre"),
    ]
    table.extend(extra)
    abbreviations = {
        "en": "jan feb mar apr - jun jul aug sep oct nov dec",
        "de": "- - - - - - - - - okt - dez",
        "fr": "janv févr - avr - - juil - sept - - déc",
        "es": "ene - - abr - - - - - - - dic",
    }
    for lang, names in abbreviations.items():
        for month, name in enumerate(names.split(), 1):
            if name != "-":
                table.append((month, lang, False, name))
                abbreviated.add(name)
    table += [(9, "en", False, "sept"), (2, "fr", False, "fév")]
    abbreviated |= {"sept", "fév"}
    # Russian and Ukrainian: nominative (with a day or year only), genitive, locative, dative.
    ru = (
        "январь января январе январю|февраль февраля феврале февралю|март марта марте марту|"
        "апрель апреля апреле апрелю|май мая мае маю|июнь июня июне июню|июль июля июле июлю|"
        "август августа августе августу|сентябрь сентября сентябре сентябрю|"
        "октябрь октября октябре октябрю|ноябрь ноября ноябре ноябрю|"
        "декабрь декабря декабре декабрю"
    )
    uk = (
        "січень січня січні січню|лютий лютого лютому лютому|березень березня березні березню|"
        "квітень квітня квітні квітню|травень травня травні травню|червень червня червні червню|"
        "липень липня липні липню|серпень серпня серпні серпню|вересень вересня вересні вересню|"
        "жовтень жовтня жовтні жовтню|листопад листопада листопаді листопаду|"
        "грудень грудня грудні грудню"
    )
    for lang, months in (("ru", ru), ("uk", uk)):
        for month, forms in enumerate(months.split("|"), 1):
            nominative, *others = forms.split()
            table.append((month, lang, False, nominative))
            table.extend((month, lang, True, form) for form in others)
    # The other languages of the pack, every form a month takes after a day or a preposition
    # (nominative, genitive, locative...), each month's forms separated by "|".
    for lang, months in _OTHER_MONTHS.items():
        for month, forms in enumerate(months.split("|"), 1):
            table.extend((month, lang, True, form.replace("_", " ")) for form in forms.split())
    result: dict[str, _MonthForm] = {}
    for month, lang, alone, name in table:
        known = result.get(name)
        if known is not None and known.month != month:
            # one spelling, two months ("listopad": October in Croatian, November in Polish
            # and Czech): the first language keeps it, the other reads it through its override
            _MONTH_IN.setdefault(lang, {})[name] = month
            continue
        if known is not None:
            langs = known.langs | {lang}
            result[name] = _MonthForm(month, langs, known.alone or alone, name in abbreviated)
        else:
            result[name] = _MonthForm(month, frozenset({lang}), alone, name in abbreviated)
    return result


_MONTHS = _month_forms()
# English month names that are also common words: a month only when capitalized.
_AMBIGUOUS_MONTHS = frozenset({"may", "march"})


def _alternation(words: Iterable[str]) -> str:
    """One regex alternation of `words`, the longest first."""
    return "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_L = r"[^\W\d_]"  # a letter
_NB = rf"(?<!{_L})"  # no letter before
_NA = rf"(?!{_L})"  # no letter after
_YEAR = r"(?P<year>(?:19|20)\d{2})(?!\d)"
_YEAR_WORD = r"(?:\s*(?:года|г\.|року|р\.))?"
_MONTH = rf"{_NB}(?P<month>{_alternation(_MONTHS)}){_NA}\.?"

_EN_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_PREFIX = rf"(?:(?:{'|'.join(_EN_WEEKDAYS)}),?\s+(?:the\s+)?)?"

_MONTH_DAY = re.compile(
    rf"{_NB}{_WEEKDAY_PREFIX}{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?![\d%:]|[.,]\d)"
    rf"(?:,?\s+{_YEAR})?",
    re.IGNORECASE,
)
_DAY_MONTH = re.compile(
    rf"{_NB}{_WEEKDAY_PREFIX}(?<![\w.,:/-])(?P<day>\d{{1,2}})(?:st|nd|rd|th|er|-го|\.)?\s+"
    rf"(?:of\s+|de\s+)?{_MONTH}(?:,?\s+(?:de\s+)?{_YEAR}{_YEAR_WORD})?",
    re.IGNORECASE,
)
_MONTH_YEAR = re.compile(rf"{_MONTH}\s+(?:of\s+|de\s+)?{_YEAR}{_YEAR_WORD}", re.IGNORECASE)
_MONTH_ALONE = re.compile(_MONTH, re.IGNORECASE)

_ISO = re.compile(r"(?<![\w./-])(?P<y>(?:19|20)\d{2})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?![\w/-]|\.\d)")
# A day of the current month: "the 27th of this month", "dia 27 deste mês", "27-го этого месяца".
_DAY_OF_THIS_MONTH = re.compile(
    rf"{_NB}(?:(?:the|dia|día|el\s+día|il\s+giorno|le|den|dne|dana)\s+)?(?P<day>\d{{1,2}})"
    r"(?:st|nd|rd|th|º|\.|-го|-ого)?\s+(?:of\s+this\s+month|(?:deste|de\s+este|del\s+mes"
    r"|di\s+questo|de\s+ce|dieses|этого|цього|tego|tohoto|ovog|acestei|van\s+deze)\s+"
    rf"(?:mês|mes|mese|mois|monats|месяца|місяця|miesiąca|měsíce|mjeseca|meseca|luni|maand)){_NA}",
    re.IGNORECASE,
)
_CJK_DATE = re.compile(
    r"(?:(?P<y>(?:19|20)\d{2})\s*年\s*)?(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号號]"
)
_NUMERIC = re.compile(
    r"(?<![\w./-])(?P<a>\d{1,2})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)(?P<y>(?:19|20)\d{2})"
    r"(?![\w/-]|\.\d)"
)

# Prepositions after which a month name stands alone, by language.
_MONTH_CUES: dict[str, frozenset[str]] = {
    "en": _words(
        "a an the in by until till before after since from through during early late mid of "
        "next last this"
    ),
    "de": _words("im in bis ab seit vor nach anfang mitte ende zum"),
    "fr": _words("en avant après depuis dès fin début mi d'ici jusqu'en courant"),
    "es": _words("en para hasta desde de"),
    "ru": _words("в во к ко до с со после начала середины конца начале середине конце"),
    "uk": _words("у в до з із після початку середини кінця кінці середині протягом"),
    "it": _words("a ad entro in di da fino dal dall'inizio metà fine prima dopo"),
    "pt": _words("em até de desde a ao antes depois início meados fim final"),
    "pl": _words("w we do od po przed początku połowie końca końcu"),
    "cs": _words("v ve do od po před začátku polovině konce konci"),
    "sk": _words("v vo do od po pred začiatku polovici konca konci"),
    "hr": _words("u do od nakon prije početkom sredinom krajem"),
    "sr": _words("u do od nakon posle pre početkom sredinom krajem у до од након после пре"),
    "sl": _words("v do od po pred začetku sredi konca koncu"),
    "ro": _words("în pana până din la înainte după începutul mijlocul sfârșitul"),
    "nl": _words("in tot voor vóór sinds na begin half eind eind-"),
    "tr": frozenset(),
    "sv": _words("i till före sedan efter början mitten slutet"),
    "no": _words("i til før innen siden etter begynnelsen midten slutten"),
    "fi": _words("ennen jälkeen"),
    "bg": _words("до през в във от след преди началото средата края"),
    "ar": _words("في بحلول حتى قبل بعد منذ"),
    "hi": frozenset(),
}


def month_of(form: str, lang: str) -> int:
    """The month a spelling names in `lang` (the same spelling can name two). Bosnian writes
    the Croatian months too."""
    return _MONTH_IN.get("hr" if lang == "bs" else lang, {}).get(form, _MONTHS[form].month)


_WORD_BEFORE = re.compile(rf"({_L}+(?:'{_L}+)?)[\s-]+\Z")

_WEEKDAY_EN = re.compile(
    rf"{_NB}(?:(?P<mod>this\s+past|this\s+coming|last|past|next|coming|this)\s+)?"
    rf"(?P<wd>{'|'.join(_EN_WEEKDAYS)}){_NA}",
    re.IGNORECASE,
)


def _weekday_forms(*groups: str) -> dict[str, int]:
    forms: dict[str, int] = {}
    for group in groups:
        for weekday, words in enumerate(group.split("|")):
            for word in words.split():
                forms[word] = weekday
    return forms


_DE_WD = _weekday_forms("montag|dienstag|mittwoch|donnerstag|freitag|samstag sonnabend|sonntag")
_FR_WD = _weekday_forms("lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche")
_ES_WD = _weekday_forms("lunes|martes|miércoles miercoles|jueves|viernes|sábado sabado|domingo")
_RU_WD = _weekday_forms(
    "понедельник понедельника понедельнику|вторник вторника вторнику|среду среды среде|"
    "четверг четверга четвергу|пятницу пятницы пятнице|субботу субботы субботе|"
    "воскресенье воскресенья воскресенью"
)
_UK_WD = _weekday_forms(
    "понеділок понеділка|вівторок вівторка|середу середи|четвер четверга|п'ятницю п'ятниці|"
    "суботу суботи|неділю неділі"
)

_IT_WD = _weekday_forms(
    "lunedì lunedi|martedì martedi|mercoledì mercoledi|giovedì giovedi|venerdì"
    " venerdi|sabato|domenica"
)
_PT_WD = _weekday_forms(
    "segunda-feira segunda|terça-feira terça terca-feira|quarta-feira quarta"
    "|quinta-feira quinta|sexta-feira sexta|sábado sabado|domingo"
)
_PL_WD = _weekday_forms(
    "poniedziałek poniedziałku|wtorek wtorku|środa środy środę|czwartek"
    " czwartku|piątek piątku|sobota soboty sobotę|niedziela niedzieli niedzielę"
)
_CS_WD = _weekday_forms(
    "pondělí|úterý|středa středy středu|čtvrtek čtvrtka|pátek pátku"
    "|sobota soboty sobotu|neděle neděli"
)
_HR_WD = _weekday_forms(
    "ponedjeljak ponedjeljka ponedeljak ponedeljka понедељак понедељка"
    "|utorak utorka уторак уторка|srijeda srijede srijedu sreda srede sredu"
    " среда среде среду|četvrtak četvrtka четвртак четвртка|petak petka"
    " петак петка|subota subote subotu субота суботе суботу|nedjelja"
    " nedjelje nedjelju nedelja nedelje nedelju недеља недеље недељу"
)
_RO_WD = _weekday_forms("luni|marți marti|miercuri|joi|vineri|sâmbătă sambata|duminică duminica")
_NL_WD = _weekday_forms("maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag")
_TR_WD = _weekday_forms(
    "pazartesi pazartesiye|salı salıya|çarşamba çarşambaya|perşembe"
    " perşembeye|cuma cumaya|cumartesi cumartesiye|pazar pazara"
)
_BG_WD = _weekday_forms("понеделник|вторник|сряда|четвъртък|петък|събота|неделя")
_SV_WD = _weekday_forms(
    "måndag måndagen|tisdag tisdagen|onsdag onsdagen|torsdag torsdagen"
    "|fredag fredagen|lördag lördagen|söndag söndagen"
)
_NO_WD = _weekday_forms("mandag|tirsdag|onsdag|torsdag|fredag|lørdag|søndag")
_FI_WD = _weekday_forms(
    "maanantaihin|tiistaihin|keskiviikkoon|torstaihin|perjantaihin|lauantaihin|sunnuntaihin"
)


def _wd(forms: dict[str, int]) -> str:
    return rf"(?P<wd>{_alternation(forms)}){_NA}"


# (pattern, weekday forms, direction): foreign weekdays only where a word fixes the tense.
_WeekdayCue = tuple[str, dict[str, int], Direction]  # (words, weekday forms, direction)
_WEEKDAY_CUES_BEFORE: tuple[_WeekdayCue, ...] = (
    (
        r"bis(?:\s+(?:zum|spätestens))?|spätestens|(?:am\s+)?(?:kommenden|nächsten)",
        _DE_WD,
        "after",
    ),
    (r"(?:am\s+)?(?:vergangenen|letzten)", _DE_WD, "before"),
    (r"d'ici|jusqu'à|avant|au\s+plus\s+tard", _FR_WD, "after"),
    (
        r"hasta|para|antes\s+del?|(?:(?:hasta|para|antes\s+del?)\s+)?el\s+próximo",
        _ES_WD,
        "after",
    ),
    (r"(?:hasta|para)\s+el", _ES_WD, "after"),
    (r"(?:el\s+)?pasado", _ES_WD, "before"),
    (r"до|к|ко|(?:в|во)\s+(?:следующ|ближайш)\w+", _RU_WD, "after"),
    (r"(?:(?:в|во)\s+)?(?:прошл|минувш)\w+", _RU_WD, "before"),
    (r"до|(?:у|в)\s+наступн\w+|наступн\w+", _UK_WD, "after"),
    (r"(?:(?:у|в)\s+)?минул\w+", _UK_WD, "before"),
    (r"entro(?:\s+(?:il|la))?|fino\s+a(?:l)?|prima\s+di|(?:il\s+)?prossimo", _IT_WD, "after"),
    (r"(?:lo\s+)?scorso", _IT_WD, "before"),
    (r"até(?:\s+(?:à|a|ao|o))?|antes\s+d[eoa]|(?:na\s+)?próxim[ao]", _PT_WD, "after"),
    (r"do|przed|w\s+(?:przyszł|najbliższ)\w+|(?:w\s+)?(?:przyszł|najbliższ)\w+", _PL_WD, "after"),
    (r"(?:w\s+)?(?:ubiegł|zeszł|ostatni)\w+", _PL_WD, "before"),
    (r"do|před|(?:v|ve)\s+(?:příští|nejbližší)|příští", _CS_WD, "after"),
    (r"do|prije|pre|до|пре|(?:u\s+|у\s+)?(?:sljedeći|sledeći|следећи)", _HR_WD, "after"),
    (r"(?:u\s+)?(?:prošli|prošle|прошли|прошле)", _HR_WD, "before"),
    (r"până(?:\s+(?:la|pe))?|pana(?:\s+(?:la|pe))?|înainte\s+de", _RO_WD, "after"),
    (r"(?:tot|vóór|voor|uiterlijk|volgende|aanstaande|komende)", _NL_WD, "after"),
    (r"(?:vorige|afgelopen)", _NL_WD, "before"),
    (r"до|следващ\w*", _BG_WD, "after"),
    (r"till|senast|före|nästa|på", _SV_WD, "after"),
    (r"innen|til|før|neste|på", _NO_WD, "after"),
)
_WEEKDAY_CUES_AFTER: tuple[_WeekdayCue, ...] = (  # "vendredi prochain", "viernes pasado"
    ("prochain", _FR_WD, "after"),
    ("dernier", _FR_WD, "before"),
    (r"próximo|que\s+viene", _ES_WD, "after"),
    ("pasado", _ES_WD, "before"),
    ("prossimo", _IT_WD, "after"),
    ("scorso", _IT_WD, "before"),
    (r"kadar|(?:günü\s+)?kadar", _TR_WD, "after"),  # "perşembeye kadar": until Thursday
    (r"mennessä", _FI_WD, "after"),  # "torstaihin mennessä": by Thursday
)
_WEEKDAY_FOREIGN: list[tuple[re.Pattern[str], dict[str, int], Direction]] = [
    (re.compile(rf"{_NB}(?:{words})\s+{_wd(forms)}", re.I), forms, direction)
    for words, forms, direction in _WEEKDAY_CUES_BEFORE
] + [
    (re.compile(rf"{_NB}{_wd(forms)}\s+(?:{words}){_NA}", re.I), forms, direction)
    for words, forms, direction in _WEEKDAY_CUES_AFTER
]

# Thanksgiving in the pack's languages, written as the outlets of each write it: case does not
# matter here, since none of these is an everyday word.
_THANKSGIVING = (
    r"(?:el\s+)?d[ií]a\s+de\s+acci[oó]n\s+de\s+gracias|acci[oó]n\s+de\s+gracias"
    r"|dia\s+de\s+a[cç][aã]o\s+de\s+gra[cç]as|a[cç][aã]o\s+de\s+gra[cç]as"
    r"|(?:giorno|giornata|festa)\s+del\s+ringraziamento"
    r"|(?:święt\w+|dzie[ńn]|dnia|dniu)\s+dzi[eę]kczynienia"
    r"|şükran\s+günü\w*|sukran\s+gunu\w*|(?:den|dne|dni|svátek|svátku)\s+díkůvzdání|díkůvzdání"
    r"|dan\w*\s+zahvalnosti|дан\w*\s+захвалности|ziua\s+recuno[șşs]tin[țţt]ei"
    r"|д(?:ень|ня|ню|нём|нем)\s+благодарени[яе]|д(?:ень|ня|ню|нем)\s+подяки"
    r"|де(?:н|ня|нят)\s+на\s+благодарността|kiitospäiv\w*|thanksgiving\w*"
    r"|عيد\s+الشكر|थैंक्सगिविंग"
)
# Christmas (25 December) and New Year's Day in the other languages of the pack.
_CHRISTMAS = (
    r"natale|natal|bo[żz]e(?:go)?\s+narodzeni[ae]|[śs]wi[ąę]t\w*\s+bo[żz]ego\s+narodzenia"
    r"|vánoc\w*|vianoc\w*|božić\w*|bozic\w*|божић\w*|crăciun\w*|craciun\w*|kerstmis|kerst"
    r"|noel|коледа|joulu\w*"
)
_NEW_YEAR = (
    r"capodanno|ano\s+novo|nowy\s+rok|nowego\s+roku|nový\s+rok|nového\s+roku|nov[ae]\s+godin\w+"
    r"|anul\s+nou|nieuwjaar|yılbaşı\w*|yeni\s+yıl\w*|nyår\w*|nyttår\w*|uu(?:si|den)\s+vuo\w+"
    r"|нова(?:та)?\s+година"
)
# Scripts without spaces: no word boundary around the name.
_THANKSGIVING_CJK = re.compile(r"感恩[节節]|感謝祭")
_HOLIDAY = re.compile(
    rf"{_NB}(?:(?P<rite>orthodox|catholic|western)\s+)?(?P<name>"
    r"thanksgiving(?:\s+day)?|christmas(?:\s+(?:eve|day))?|easter(?:\s+(?:sunday|day))?"
    r"|new\s+year's\s+(?:eve|day)|new\s+year's|new\s+year|victory\s+day"
    r"|weihnachten|heiligabend|ostern|silvester|neujahr|noël|pâques|navidad|nochebuena"
    r"|nochevieja|pascua|рождеств[оауе]|пасх[аиуе]|нов(?:ый|ого|ому)\s+год[ау]?"
    r"|різдв[оауі]|великд(?:ень|ня|ню|ні)|нов(?:ий|ого|ому)\s+рок[уі]?|новорічн\w+"
    rf"|(?P<thanks>{_THANKSGIVING})|(?P<xmas>{_CHRISTMAS})|(?P<newyear>{_NEW_YEAR})"
    rf"){_NA}(?:\s+{_YEAR})?",
    re.IGNORECASE,
)


def _holiday(name: str, rite: str) -> Callable[[int], date]:
    key = re.sub(r"\s+", " ", name.lower())
    if key.startswith("thanksgiving"):
        return thanksgiving
    if key.startswith("easter") or key in {"ostern", "pâques", "pascua"}:
        return orthodox_easter if rite == "orthodox" else easter
    if key.startswith(("пасх", "великд")):
        return orthodox_easter
    if key in {"christmas eve", "heiligabend", "nochebuena"}:
        return lambda y: date(y, 12, 24)
    if key.startswith("рождеств") or (key.startswith("christmas") and rite == "orthodox"):
        return lambda y: date(y, 1, 7)  # the Russian Orthodox Christmas
    if key.startswith(("christmas", "weihnachten", "noël", "navidad", "різдв")):
        return lambda y: date(y, 12, 25)  # Ukraine has kept 25 December since 2023
    if key in {"new year's eve", "silvester", "nochevieja"}:
        return lambda y: date(y, 12, 31)
    if key == "victory day":
        return lambda y: date(y, 5, 9)
    return lambda y: date(y, 1, 1)  # New Year and its translations


_SEASON = re.compile(
    rf"{_NB}(?:(?P<cue>by|in|until|till|before|during|since|through|this|next|last|early|late"
    r"|mid|a|the|(?:the\s+)?(?:end|beginning|start|middle)\s+of)(?:\s+the)?[\s-]+)?"
    rf"(?P<season>spring|summer|autumn|fall|winter){_NA}(?:\s+(?P<of>of\s+)?{_YEAR})?",
    re.IGNORECASE,
)
_SEASON_START = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}

_END_OF = re.compile(
    rf"{_NB}(?:end\s+of\s+(?:the|this|next|last)\s+(?P<unit>month|year|week)"
    rf"|end\s+of\s+{_YEAR}|(?P<ye>year[-\s]end|end[-\s]of[-\s]year|year's\s+end)"
    r"|(?P<me>month's\s+end|end[-\s]of[-\s]month|(?:this|next|last)\s+month)"
    r"|ende\s+(?:des|dieses)\s+(?P<de>jahres|monats)|(?P<dec>jahresende|monatsende)"
    r"|fin\s+(?P<fr>de\s+l'année|d'année|de\s+cette\s+année|du\s+mois|de\s+ce\s+mois)"
    r"|(?:fin|finales|fines)\s+de(?:l|\s+este)?\s+(?P<es>año|mes)"
    r"|конц[ае]\s+(?:этого\s+|текущего\s+)?(?P<ru>года|месяца)"
    rf"|кін(?:ця|ці)\s+(?:цього\s+|поточного\s+)?(?P<uk>року|місяця)"
    r"|(?P<xm>fine\s+(?:del\s+|di\s+questo\s+)?mese|fim\s+(?:do|deste)\s+mês"
    r"|(?:końca|koniec|końcu)\s+(?:tego\s+|bieżącego\s+)?miesiąca|konce\s+(?:tohoto\s+)?měsíce"
    r"|kraja\s+(?:ovog\s+)?mjeseca|kraja\s+(?:ovog\s+)?meseca|sfâr[șs]itul\s+(?:acestei\s+)?lunii"
    r"|eind\s+(?:van\s+)?(?:de|deze)\s+maand|ay\s+sonu\w*|края\s+на\s+(?:този\s+)?месеца"
    r"|slutet\s+av\s+(?:den\s+här\s+)?månaden|slutten\s+av\s+måneden|kuun\s+loppuun)"
    r"|(?P<xy>fine\s+(?:dell'|di\s+quest'|d')anno|fim\s+do\s+ano|końca\s+roku|konce\s+roku"
    r"|kraja\s+godine|sfâr[șs]itul\s+anului|eind\s+van\s+het\s+jaar|yıl\s+sonu\w*"
    rf"|края\s+на\s+годината|slutet\s+av\s+året|vuoden\s+loppuun)){_NA}",
    re.IGNORECASE,
)

_RELATIVE_DAY = re.compile(
    rf"{_NB}(?P<w>the\s+day\s+after\s+tomorrow|the\s+day\s+before\s+yesterday|today|tonight"
    r"|tomorrow|yesterday|übermorgen|vorgestern|heute|morgen|gestern|aujourd'hui|après-demain"
    r"|avant-hier|demain|pasado\s+mañana|anteayer|hoy|mañana|ayer|послезавтра|позавчера"
    rf"|сегодня|завтра|вчера|післязавтра|позавчора|сьогодні|вчора|учора){_NA}",
    re.IGNORECASE,
)
_RELATIVE_DAYS = {
    "the day after tomorrow": 2,
    "the day before yesterday": -2,
    "today": 0,
    "tonight": 0,
    "tomorrow": 1,
    "yesterday": -1,
    "übermorgen": 2,
    "vorgestern": -2,
    "heute": 0,
    "morgen": 1,
    "gestern": -1,
    "aujourd'hui": 0,
    "après-demain": 2,
    "avant-hier": -2,
    "demain": 1,
    "pasado mañana": 2,
    "anteayer": -2,
    "hoy": 0,
    "mañana": 1,
    "ayer": -1,
    "послезавтра": 2,
    "позавчера": -2,
    "сегодня": 0,
    "завтра": 1,
    "вчера": -1,
    "післязавтра": 2,
    "позавчора": -2,
    "сьогодні": 0,
    "вчора": -1,
    "учора": -1,
}

_NUMBER_WORDS = {
    **dict.fromkeys(["a", "an", "one", "ein", "eine", "einer", "einem", "un", "une"], 1),
    **dict.fromkeys(["uno", "una", "один", "одну", "одного", "одной", "одна", "одного"], 1),
    **dict.fromkeys(["two", "zwei", "deux", "dos", "два", "две", "двух", "дві", "двох"], 2),
    **dict.fromkeys(["a couple of", "a couple"], 2),
    **dict.fromkeys(["three", "drei", "trois", "tres", "три", "трёх", "трех", "трьох"], 3),
    **dict.fromkeys(["four", "vier", "quatre", "cuatro", "четыре", "четырёх", "чотири"], 4),
    **dict.fromkeys(["five", "fünf", "cinq", "cinco", "пять", "пяти", "п'ять", "п'яти"], 5),
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    **dict.fromkeys(["ten", "zehn", "dix", "diez", "десять", "десяти"], 10),
    "eleven": 11,
    "twelve": 12,
    **dict.fromkeys(["fourteen", "quatorze", "catorce"], 14),
    **dict.fromkeys(["fifteen", "quinze", "quince"], 15),
    "thirty": 30,
}
_UNITS: dict[str, str] = {
    **dict.fromkeys(["hour", "hours", "stunde", "stunden", "heure", "heures"], "h"),
    **dict.fromkeys(["hora", "horas", "час", "часа", "часов", "годину", "години", "годин"], "h"),
    **dict.fromkeys(["day", "days", "tag", "tage", "tagen", "jour", "jours", "día", "días"], "d"),
    **dict.fromkeys(["дня", "дней", "сутки", "суток", "день", "дні", "днів"], "d"),
    **dict.fromkeys(["week", "weeks", "woche", "wochen", "semaine", "semaines"], "w"),
    **dict.fromkeys(["semana", "semanas", "неделю", "недели", "недель", "неделя"], "w"),
    **dict.fromkeys(["тиждень", "тижні", "тижнів", "тижня"], "w"),
    **dict.fromkeys(["month", "months", "monat", "monate", "monaten", "mois", "mes", "meses"], "m"),
    **dict.fromkeys(["месяц", "месяца", "месяцев", "місяць", "місяці", "місяців", "місяця"], "m"),
}
# Units that mean "one" without a number word: через неделю, через месяц.
_SINGLE_UNITS = frozenset({"неделю", "месяц", "день", "сутки", "тиждень", "місяць"})
_RELATIVE = re.compile(
    rf"{_NB}(?P<prep>within|in|innerhalb(?:\s+von)?|binnen|dans|d'ici|sous|en|dentro\s+de"
    r"|через|в\s+течение|протягом|впродовж)\s+"
    r"(?:(?:the\s+)?(?:next|coming)\s+|der\s+nächsten\s+|(?:los|las)\s+próxim[oa]s\s+"
    r"|les\s+|ближайш\w+\s+|найближч\w+\s+)?"
    rf"(?:(?P<n>\d{{1,3}}|{_alternation(_NUMBER_WORDS)})\s+)?(?P<unit>{_alternation(_UNITS)})"
    rf"{_NA}(?!\s+(?:ago|later|before|after|earlier))",
    re.IGNORECASE,
)
_N_DAY_DEADLINE = re.compile(
    rf"{_NB}(?P<n>\d{{1,3}}|{_alternation(_NUMBER_WORDS)})[-\s](?P<unit>hour|day|week|month)"
    rf"\s+(?:deadline|ultimatum|window|grace\s+period){_NA}",
    re.IGNORECASE,
)

"""What a letter's text says: the accounts, the meters and the values per zone, as people write
them ("Т1 12345, Т2 6789", "день: 12 345, ночь – 6 789", "day 12345 / night 6789", "л/с
1234567890", "показания 12345"), and whether it confirms ("да", "yes"). Plain Python, no Django.

Nothing is guessed: values without zones where a meter needs several, a zone given twice, values
that cannot be told apart between two accounts are reported as problems, and the letter is
answered with what was understood and an example. Which meter a value is for, and whether it is
right, is the core's to say (``core.readings``); this only reads the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# --- what is read -------------------------------------------------------------------------------

#: Problems with the text as a whole (the answer explains each).
NO_ACCOUNT = "no_account"  # values, but no account number
NO_VALUES = "no_values"  # an account, but no value
NOTHING = "nothing"  # neither
UNLABELLED = "unlabelled"  # several values without the zone of each
ZONE_TWICE = "zone_twice"  # the same zone given two values
LOOSE_VALUES = "loose_values"  # values before any account, in a letter with several accounts


@dataclass
class MeterPart:
    """The values given for one meter: by zone (1–3), or ``unlabelled`` in the order written."""

    serial: str | None = None
    zones: dict[int, str] = field(default_factory=dict)
    unlabelled: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.zones and not self.unlabelled

    def values(self) -> list[str | None] | None:
        """The values in zone order (a zone not given: None, for the core to name), or None
        when they cannot be placed without a guess (``problems`` says why)."""
        if self.problems:
            return None
        if self.zones and self.unlabelled:
            return None
        if self.zones:
            return [self.zones.get(zone) for zone in range(1, max(self.zones) + 1)]
        if len(self.unlabelled) == 1:
            return list(self.unlabelled)
        return None

    def words(self) -> str:
        """The values as understood, for the answer: ``T1 12345, T2 6789``."""
        parts = [f"T{zone} {value}" for zone, value in sorted(self.zones.items())]
        parts += self.unlabelled
        return ", ".join(parts)


@dataclass
class AccountPart:
    number: str
    meters: list[MeterPart] = field(default_factory=list)


@dataclass(frozen=True)
class Understanding:
    accounts: tuple[AccountPart, ...]
    #: the letter-wide problems (``NO_ACCOUNT`` …); a meter's own are in its ``problems``
    problems: tuple[str, ...]
    #: the letter says yes ("да", "подтверждаю", "yes", "confirm"): a reply confirming values
    affirmative: bool
    language: str  # "ru" or "en": the language the letter is written in


# --- the words ------------------------------------------------------------------------------------

_SEP = r"[\s:=\-–—.,;()№#]*"
_ACCOUNT_WORDS = (
    r"л\s*/\s*сч?|л\.\s*с\.?|лс|лиц(?:евой|евого|\.)?\s*сч(?:[её]т(?:а|у)?|\.)?|"
    r"номер\s+сч[её]та|сч[её]т(?:а|у|ом)?|account(?:\s+(?:number|no\.?|#))?|acc(?:t|ount)?\.?\s*(?:no\.?|#)?|a/c"
)
_SERIAL_WORDS = (
    r"(?:сч[её]тчик\w*|прибор\w*(?:\s+учета)?|пу|meter)\s*(?:№|#|no\.?|number|серийный\s+номер|зав\w*\.?\s*№?)|"
    r"номер\s+сч[её]тчика|зав(?:одской|\.)?\s*(?:номер|№)|серийный\s+номер|с/н|s/n|serial(?:\s+(?:number|no\.?))?|№"
)
#: The zones by name: "Т1", "день", "day", "ночь", "night", "полупик", "semi-peak" …
_ZONE_WORDS = (
    (3, r"(?:t|т)\s*-?\s*3|полупик\w*|semi-?\s*peak|shoulder|п/п"),
    (1, r"(?:t|т)\s*-?\s*1|дн[её]в\w*|день|дн[её]м|day(?:time)?|пик\w*|peak|d|д"),
    (2, r"(?:t|т)\s*-?\s*2|ноч\w*|night(?:time)?|n|н"),
)
_VALUE_WORDS = r"показани\w*|показател\w*|readings?|values?|meter\s+shows|передаю|передаем"
_AFFIRMATIVE = re.compile(
    r"^\W*(?:да|подтверждаю|подтверждаем|верно|вс[её]\s+верно|yes|confirm(?:ed)?|correct|i\s+confirm)\b",
    re.IGNORECASE,
)

#: Things that look like numbers but are not readings: dates, times, phone numbers, years,
#: addresses, amounts of money, months.
_NOISE = re.compile(
    r"\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b|"  # 20.11.2026
    r"\b\d{4}-\d{2}-\d{2}\b|"  # 2026-11-20
    r"\b\d{1,2}[./]\d{4}\b|"  # 11.2026
    r"\b\d{1,2}:\d{2}(?::\d{2})?\b|"  # 12:30
    r"(?:\+7|\b8)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}\b|"  # +7 (495) 123-45-67
    r"\b(?:ул|д|кв|корп|стр|эт)\.\s*№?\s*\d+\w*|"  # д. 5, кв. 12 (not "Д 12345": a day's value)
    r"\b(?:дом|квартира|корпус|строение|подъезд|этаж|офис|apt|flat|house)\s*№?\s*\d+\w*|"
    r"\b\d+[.,]?\d*\s*(?:руб\w*|р\.|₽|rub\w*|коп\w*)|"  # money
    r"\b(?:январ|феврал|март|апрел|ма[йя]|июн|июл|август|сентябр|октябр|ноябр|декабр|"
    r"january|february|march|april|may|june|july|august|september|october|november|december)\w*\s+\d{4}\b|"
    r"\b\d{4}\s*(?:г\.|года?\b|год\b)|"
    r"\b\d{1,2}\s*(?:месяц|month|числ|число|th\b|st\b|nd\b|rd\b)\w*",
    re.IGNORECASE,
)

# A value as written, letters and all ("12a4" is the core's to refuse, not ours to read as 12);
# "12 345" with a space between thousands.
_NUMBER = r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?(?!\d)|\d[\w.,]*\d|\d"
_SERIAL = r"[A-Za-zА-Яа-я]{0,4}-?\d[\d\-]{3,30}[A-Za-zА-Яа-я]?"

_TOKENS = re.compile(
    rf"(?P<account>(?<!\w)(?:{_ACCOUNT_WORDS}){_SEP}(?P<account_number>\d(?:[ \-]?\d){{9}})(?!\d))|"
    rf"(?P<serial>(?<!\w)(?:{_SERIAL_WORDS}){_SEP}(?P<serial_value>{_SERIAL}))|"
    rf"(?P<bare_account>(?<!\d)\d{{10}}(?!\d))|"
    + "|".join(rf"(?P<zone{zone}>(?<!\w)(?:{words})(?=[\s:=\-–—.,;()]*\d))" for zone, words in _ZONE_WORDS)
    + rf"|(?P<value_word>(?<!\w)(?:{_VALUE_WORDS})(?!\w))|"
    rf"(?P<number>(?<![\w.,])(?:{_NUMBER})(?![\d]))|"
    r"(?P<newline>\n)",
    re.IGNORECASE,
)
_LABEL_GAP = re.compile(r"[\s:=\-–—.,;()]*(?:\((?:[^()\d]{1,20})\))?[\s:=\-–—,;]*$")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _clean(text: str) -> str:
    text = text.replace("\u00a0", " ").replace("\u202f", " ").replace("ё", "е").replace("Ё", "Е")
    return _NOISE.sub(" ", text)


def language_of(text: str) -> str:
    """Russian if the letter has as many Cyrillic letters as Latin ones, else English."""
    cyrillic = len(re.findall(r"[а-яё]", text, re.IGNORECASE))
    latin = len(re.findall(r"[a-z]", text, re.IGNORECASE))
    return "ru" if cyrillic >= latin or not latin else "en"


def understand(text: str, subject: str = "") -> Understanding:
    """Read the accounts, meters and values of a letter: its ``subject`` and its own ``text``
    (quoted replies, forwards and signatures already taken out: ``letters.own_text``)."""
    whole = f"{subject}\n{text}"
    language = language_of(whole)
    affirmative = any(_AFFIRMATIVE.match(line) for line in [x for x in text.splitlines() if x.strip()][:3])
    accounts: list[AccountPart] = []
    loose = MeterPart()  # values before the first account
    meter: MeterPart = loose
    zone: int | None = None  # the zone just named, waiting for its value
    zone_end = -1
    in_values = False  # after "показания" on this line: unlabelled numbers are values
    line_start = True  # a number alone on its line is a value too
    cleaned = _clean(whole)
    for match in _TOKENS.finditer(cleaned):
        kind = match.lastgroup
        if kind == "newline":
            in_values, zone, line_start = False, None, True
            continue
        if kind in ("account", "bare_account"):
            number = _digits(match.group("account_number") or match.group("bare_account"))
            line_start = False
            if len(number) != 10:
                continue
            account = next((a for a in accounts if a.number == number), None)
            if account is None:
                account = AccountPart(number)
                accounts.append(account)
            meter = MeterPart()
            account.meters.append(meter)
            zone = None
        elif kind == "serial":
            serial = match.group("serial_value").strip("-")
            line_start = False
            owner = accounts[-1] if accounts else None
            if meter.serial is None and meter.empty:
                meter.serial = serial
            else:
                meter = MeterPart(serial=serial)
                if owner is not None:
                    owner.meters.append(meter)
                else:  # a second meter before any account: keep it with the loose values
                    loose.problems.append(LOOSE_VALUES)
            in_values = True  # "счетчик № 123: 4567": the number after a serial is its value
            zone = None
        elif kind and kind.startswith("zone"):
            zone, zone_end = int(kind[-1]), match.end()
            in_values, line_start = True, False
        elif kind == "value_word":
            in_values, line_start = True, False
        elif kind == "number":
            value = match.group("number").replace(" ", "").replace(".", ",")
            alone = line_start and _rest_of_line_empty(cleaned, match.end())
            line_start = False
            if zone is not None and _LABEL_GAP.match(cleaned[zone_end : match.start()]):
                if zone in meter.zones:
                    meter.problems.append(ZONE_TWICE)
                else:
                    meter.zones[zone] = value
                zone = None
            elif in_values or alone:
                meter.unlabelled.append(value)
    return _finish(accounts, loose, language, affirmative)


def _rest_of_line_empty(text: str, at: int) -> bool:
    end = text.find("\n", at)
    rest = text[at : None if end < 0 else end]
    return not re.search(r"[^\s.,;!]", re.sub(r"(?i)квт\W*ч?|kwh|квтч", "", rest))


def _finish(accounts: list[AccountPart], loose: MeterPart, language: str, affirmative: bool) -> Understanding:
    problems: list[str] = []
    if not loose.empty or loose.serial is not None:
        if len(accounts) == 1:
            # "Т1 12345, Т2 6789 — л/с 1234567890": the values go with the one account.
            first = accounts[0]
            empties = [m for m in first.meters if m.empty]
            serials = [m.serial for m in empties if m.serial is not None]
            if loose.serial is None and len(serials) == 1:  # "… л/с 1234567890, счётчик № 40000001"
                loose.serial = serials[0]
            for empty in empties:
                first.meters.remove(empty)
            first.meters.insert(0, loose)
        elif accounts:
            problems.append(LOOSE_VALUES)
        else:
            problems.append(NO_ACCOUNT)
    for account in accounts:
        filled = [m for m in account.meters if not m.empty or m.serial is not None]
        account.meters[:] = filled or [MeterPart()]
        for meter in account.meters:
            if len(meter.unlabelled) > 1 or (meter.unlabelled and meter.zones):
                meter.problems.append(UNLABELLED)
    if not accounts and not problems:
        problems.append(NOTHING)
    elif accounts and all(m.empty for a in accounts for m in a.meters) and not problems:
        problems.append(NO_VALUES)
    return Understanding(tuple(accounts), tuple(dict.fromkeys(problems)), affirmative, language)

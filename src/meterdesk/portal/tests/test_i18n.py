"""Languages: the portal speaks Russian by default and English on request, and the Russian
catalogues (locale/ru/LC_MESSAGES/django.po, and an app's own <app>/locale/ru/LC_MESSAGES/django.po,
with their compiled .mo) are complete, so that a new string that nobody translated fails here
rather than showing up in English on the Russian site."""

from __future__ import annotations

import gettext
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import translation

from meterdesk.domain import readings as rules
from meterdesk.domain.readings import Issue
from meterdesk.metering.messages import issue_message
from meterdesk.testing import ReadingFactory
from meterdesk.utility.selectors import utility_now

PACKAGE_DIR = Path(django_settings.BASE_DIR)
LC_MESSAGES = PACKAGE_DIR / "locale" / "ru" / "LC_MESSAGES"
PO_FILE = LC_MESSAGES / "django.po"
MO_FILE = LC_MESSAGES / "django.mo"
# An app may keep its own catalogue (<app>/locale/ru/LC_MESSAGES/django.po); makemessages run in
# the package puts the app's strings there. Every catalogue is held to the same rules.
APP_PO_FILES = sorted(PACKAGE_DIR.glob("*/locale/ru/LC_MESSAGES/django.po"))
PO_FILES = [PO_FILE, *APP_PO_FILES]
PLACEHOLDER_RE = re.compile(r"%\((\w+)\)[sdf]")
# Passed as a tuple so that makemessages does not list this file as a user of the string.
MONTHS = ("%(n)s month", "%(n)s months")
RU_PLURAL_FORMS = (
    "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);"
)


@pytest.fixture(autouse=True)
def _back_to_the_default_language():
    """LocaleMiddleware leaves the last request's language active in the thread: undo that."""
    yield
    translation.deactivate()


def _html(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def _set_language(client, code: str, next_url: str = "/") -> None:
    response = client.post("/i18n/setlang/", {"language": code, "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == next_url
    assert client.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == code


def _closed_window() -> tuple[str, int]:
    """A one-day window that does not include today (in Moscow), and its day: the 14th or the
    15th, whose English ordinals both end in "th" (the 1st, 2nd, 3rd, 21st… do not)."""
    day = 15 if utility_now().day == 14 else 14
    return f"{day}-{day}", day


# --- rendering ------------------------------------------------------------------------------


def test_the_default_language_is_russian():
    assert django_settings.LANGUAGE_CODE == "ru"


@pytest.mark.django_db
def test_login_page_is_in_russian_by_default(client):
    html = _html(client.get("/login/"))
    assert '<html lang="ru">' in html
    assert "<h1>Вход в личный кабинет</h1>" in html
    assert "Электронная почта" in html
    assert "Пароль" in html
    assert "Забыли пароль?" in html
    assert "Ещё не зарегистрированы?" in html
    assert "Зарегистрируйтесь по номеру лицевого счёта и заводскому номеру счётчика" in html
    assert "Перейти к содержанию" in html
    assert ">Войти</button>" in html
    # The switch offers the other language, named in that language.
    assert 'value="en" lang="en"' in html
    assert "Log in to your personal account" not in html
    assert "Forgot your password?" not in html


@pytest.mark.django_db
def test_dashboard_is_in_russian_by_default(client, customer, settings):
    settings.METERDESK_READING_WINDOW = "1-31"
    user, meter = customer
    ReadingFactory(meter=meter)
    client.force_login(user)
    html = _html(client.get("/cabinet/"))
    assert '<html lang="ru">' in html
    assert "<title>Мои лицевые счета — " in html
    assert "<h1>Мои лицевые счета</h1>" in html
    assert f"Лицевой счёт {meter.account.number}</h2>" in html
    assert "городское население, газовые плиты" in html  # the category, a model choice
    assert "История показаний и начислений" in html
    assert f"Счётчик № {meter.serial}" in html
    assert "срок поверки" in html
    assert "Показания за " in html
    assert "Принимаются до " in html
    assert "Последние показания, " in html
    assert "Т1 (день)" in html
    assert "Т2 (ночь)" in html
    assert "Тариф с 01.01.2024" in html
    assert "Цена, ₽/кВт·ч" in html
    assert "Передать показания" in html
    assert ">Выйти</button>" in html
    for english in ("My accounts", "Submit readings", "T1 (day)", "Log out", "Current tariff"):
        assert english not in html


@pytest.mark.django_db
def test_closed_window_is_explained_in_russian(client, customer, settings):
    settings.METERDESK_READING_WINDOW, day = _closed_window()
    user, _meter = customer
    client.force_login(user)
    html = _html(client.get("/cabinet/"))
    assert "не переданы" in html
    assert "Следующий приём показаний: с " in html
    assert f" {day} " in html
    assert "Передать показания" not in html  # no button while the window is closed


@pytest.mark.django_db
def test_login_page_switches_to_english_and_back(client):
    _set_language(client, "en", "/login/")
    html = _html(client.get("/login/"))
    assert '<html lang="en">' in html
    assert "<h1>Log in to your personal account</h1>" in html
    assert "E-mail" in html
    assert "Forgot your password?" in html
    assert "Register with your account number and meter serial number" in html
    assert 'value="ru" lang="ru"' in html
    assert "Вход в личный кабинет" not in html

    _set_language(client, "ru", "/login/")
    assert "<h1>Вход в личный кабинет</h1>" in _html(client.get("/login/"))


@pytest.mark.django_db
def test_dashboard_switches_to_english(client, customer, settings):
    settings.METERDESK_READING_WINDOW = "1-31"
    user, meter = customer
    ReadingFactory(meter=meter)
    client.force_login(user)
    _set_language(client, "en", "/cabinet/")
    html = _html(client.get("/cabinet/"))
    assert '<html lang="en">' in html
    assert "<h1>My accounts</h1>" in html
    assert f"Account {meter.account.number}</h2>" in html
    assert "urban, gas stoves" in html
    assert "Accepted until " in html
    assert "T1 (day)" in html
    assert "T2 (night)" in html
    assert "Price, ₽/kWh" in html
    assert "Submit readings" in html
    for russian in ("Мои лицевые счета", "Лицевой счёт", "Передать показания", "Т1 (день)"):
        assert russian not in html


@pytest.mark.django_db
def test_closed_window_is_explained_in_english(client, customer, settings):
    settings.METERDESK_READING_WINDOW, day = _closed_window()
    user, _meter = customer
    client.force_login(user)
    _set_language(client, "en", "/cabinet/")
    html = _html(client.get("/cabinet/"))
    assert "not given yet" in html
    assert f"Next accepted from {day} " in html


@pytest.mark.parametrize(
    ("n", "months"),
    [(1, "1 месяц"), (2, "2 месяца"), (4, "4 месяца"), (5, "5 месяцев"), (11, "11 месяцев"),
     (12, "12 месяцев"), (21, "21 месяц"), (22, "22 месяца"), (25, "25 месяцев"), (111, "111 месяцев")],
)  # fmt: skip
def test_russian_plural_forms(n, months):
    with translation.override("ru"):
        assert translation.ngettext(*MONTHS, n) % {"n": n} == months


@pytest.mark.parametrize(
    ("digits", "text"),
    [(1, "не более 1 цифры до запятой"), (5, "не более 5 цифр до запятой"), (6, "не более 6 цифр")],
)
def test_reading_messages_in_russian(digits, text):
    with translation.override("ru"):
        assert text in issue_message(Issue(1, rules.TOO_MANY_DIGITS, {"digits": digits}))
        assert issue_message(Issue(1, rules.NEGATIVE)) == "Показания не могут быть отрицательными."


# --- the catalogue --------------------------------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)


def _unquote(text: str) -> str:
    assert text.startswith('"') and text.endswith('"'), text
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), text[1:-1])


def parse_po(path: Path) -> list[Entry]:
    """The entries of a .po file as written by the gettext tools (one block of lines per entry,
    blocks separated by blank lines), the header first; obsolete (#~) entries are left out."""
    entries: list[Entry] = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry = Entry()
        current: tuple[str, int] | None = None  # the keyword that a continuation line extends
        for line in block.strip("\n").splitlines():
            line = line.strip()
            if line.startswith("#,"):
                entry.flags.update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#") or not line:
                continue
            elif line.startswith('"'):
                assert current is not None, f"{path}: a string outside an entry: {block}"
                keyword, slot = current
                if keyword == "msgstr":
                    entry.msgstr[slot] += _unquote(line)
                else:
                    setattr(entry, keyword, getattr(entry, keyword) + _unquote(line))
            else:
                match = re.fullmatch(r"(msgctxt|msgid_plural|msgid|msgstr)(?:\[(\d+)\])?\s+(\".*\")", line)
                assert match, f"{path}: cannot parse {line!r}"
                keyword, slot = match.group(1), int(match.group(2) or 0)
                if keyword == "msgstr":
                    entry.msgstr[slot] = _unquote(match.group(3))
                else:
                    setattr(entry, keyword, _unquote(match.group(3)))
                current = (keyword, slot)
        if entry.msgstr:  # blocks of comments only, or obsolete entries, have none
            entries.append(entry)
    return entries


def _name(path: Path) -> str:
    """The catalogue's owner: "meterdesk" for the shared one, else the app's name."""
    first = path.relative_to(PACKAGE_DIR).parts[0]
    return "meterdesk" if first == "locale" else first


@pytest.fixture(scope="module", params=PO_FILES, ids=_name)
def po_file(request) -> Path:
    return request.param


@pytest.fixture(scope="module")
def catalogue(po_file: Path) -> list[Entry]:
    assert po_file.is_file(), f"{po_file} is missing: run makemessages -l ru"
    return parse_po(po_file)


def _header(catalogue: list[Entry]) -> dict[str, str]:
    first = catalogue[0]
    assert first.msgid == "" and first.msgctxt is None, "the .po file must start with its header"
    return dict(line.split(": ", 1) for line in first.msgstr[0].splitlines() if ": " in line)


def test_po_header(catalogue):
    header = _header(catalogue)
    assert header["Language"] == "ru"
    assert header["Content-Type"] == "text/plain; charset=UTF-8"
    assert header["Plural-Forms"] == RU_PLURAL_FORMS
    assert "fuzzy" not in catalogue[0].flags, "remove the '#, fuzzy' flag from the header"


def test_every_message_is_translated(catalogue, po_file):
    messages = catalogue[1:]
    assert len(messages) > (200 if po_file == PO_FILE else 0)  # a sanity check of the parser
    fuzzy = [e.msgid for e in messages if "fuzzy" in e.flags]
    assert not fuzzy, f"fuzzy (unchecked) translations: {fuzzy}"
    untranslated = [e.msgid for e in messages if not all(e.msgstr.values())]
    assert not untranslated, f"untranslated messages: {untranslated}"
    wrong_forms = [e.msgid for e in messages if e.msgid_plural is not None and sorted(e.msgstr) != [0, 1, 2]]
    assert not wrong_forms, f"Russian needs three plural forms: {wrong_forms}"
    keys = [e.key for e in messages]
    assert len(keys) == len(set(keys)), "duplicate entries"


def test_translations_keep_the_placeholders(catalogue):
    broken = []
    for entry in catalogue[1:]:
        expected = set(PLACEHOLDER_RE.findall(entry.msgid)) | set(
            PLACEHOLDER_RE.findall(entry.msgid_plural or "")
        )
        for form, text in entry.msgstr.items():
            if set(PLACEHOLDER_RE.findall(text)) != expected:
                broken.append((entry.msgid, form, text))
    assert not broken, f"placeholders changed: {broken}"


def test_mo_file_matches_the_po_file(catalogue, po_file):
    """django.mo is what Django reads: it must be compiled from the current django.po."""
    mo_file = po_file.with_suffix(".mo")
    assert mo_file.is_file(), f"{mo_file} is missing: run compilemessages"
    with mo_file.open("rb") as fp:
        compiled = gettext.GNUTranslations(fp)
    stale = []
    for entry in catalogue[1:]:
        if entry.msgid_plural is None:
            found = [
                compiled.gettext(entry.msgid)
                if entry.msgctxt is None
                else compiled.pgettext(entry.msgctxt, entry.msgid)
            ]
        else:
            # 1, 2 and 5 pick the three Russian forms (test_po_header checks the formula).
            found = [
                compiled.ngettext(entry.msgid, entry.msgid_plural, n)
                if entry.msgctxt is None
                else compiled.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, n)
                for n in (1, 2, 5)
            ]
        if found != [entry.msgstr[form] for form in sorted(entry.msgstr)]:
            stale.append(entry.msgid)
    assert not stale, f"{mo_file} is out of date (run compilemessages): {stale}"
    if po_file == PO_FILE:
        assert compiled.ngettext(*MONTHS, 5) == "%(n)s месяцев"


@pytest.mark.parametrize("po_file", PO_FILES, ids=_name)
def test_msgfmt_accepts_the_catalogue(tmp_path, po_file):
    msgfmt = shutil.which("msgfmt")
    assert msgfmt is not None, "GNU gettext is needed (scripts/test.sh installs it)"
    result = subprocess.run(  # noqa: S603 - a fixed command line
        [msgfmt, "--check", "--statistics", "-o", str(tmp_path / "django.mo"), str(po_file)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C", "LANGUAGE": ""},
    )
    assert result.returncode == 0, result.stderr
    assert "fuzzy" not in result.stderr, result.stderr
    assert "untranslated" not in result.stderr, result.stderr
    assert re.fullmatch(r"\d+ translated messages?\.\n", result.stderr), result.stderr


def test_catalogue_covers_every_string_in_the_source(tmp_path, settings, monkeypatch):
    """Run makemessages on a copy of the package: a new or changed string would appear in the
    merged copy untranslated or fuzzy. The real locale directory is not touched."""
    assert shutil.which("xgettext") and shutil.which("msgmerge"), (
        "GNU gettext is needed (scripts/test.sh installs it)"
    )
    copy = tmp_path / "meterdesk"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    settings.LOCALE_PATHS = [str(copy / "locale")]
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["ru"], verbosity=0)
    missing = {}
    for po_file in PO_FILES:
        merged = parse_po(copy / po_file.relative_to(PACKAGE_DIR))[1:]
        untranslated = [e.msgid for e in merged if "fuzzy" in e.flags or not all(e.msgstr.values())]
        if untranslated:
            missing[_name(po_file)] = untranslated
    assert not missing, (
        f"strings in the source that the catalogues do not translate: {missing}. Run makemessages -l ru "
        "in src/meterdesk, translate them, then compilemessages."
    )

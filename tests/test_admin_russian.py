"""The back office speaks Russian: every model's and field's name, the columns, filters, actions
and fieldsets of every admin page (ours and the third-party apps') have a Russian translation,
the rendered pages show none of them in English, and the pages are headed meterdesk."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path, label_for_field
from django.db import models
from django.urls import reverse
from django.utils import translation

from meterdesk.testing import ReadingFactory, UserFactory
from meterdesk.utility.selectors import utility_get

#: Labels that are the same in both languages (the languages are each named in itself).
SAME_IN_RUSSIAN = {"ID", "API", "URL", "IP", "РУССКИЙ", "ENGLISH"}
#: Labels in code that this change could not touch (the API's, being rewritten elsewhere): the
#: token's login column. Remove once api/models.py names the field.
NOT_YET = {"api.ApiToken.user", "ApiTokenAdmin column user"}
NOT_YET_ON_PAGES = {("/admin/api/apitoken/", "user")}


def _admins() -> Iterator[tuple[type[models.Model], admin.ModelAdmin]]:
    yield from admin.site._registry.items()


def _field_labels(model: type[models.Model]) -> Iterator[tuple[str, object]]:
    meta = model._meta
    yield f"{meta.label} (model)", meta.verbose_name
    yield f"{meta.label} (model, plural)", meta.verbose_name_plural
    for field in meta.get_fields():
        if field.concrete or (field.many_to_many and not field.auto_created):
            yield f"{meta.label}.{field.name}", field.verbose_name
            for value, choice in getattr(field, "flatchoices", None) or ():
                yield f"{meta.label}.{field.name} = {value!r}", choice


def _labels() -> Iterator[tuple[str, object]]:
    """Every label an admin page can show, as (where, the label as written in the code)."""
    for model, model_admin in _admins():
        where = type(model_admin).__name__
        yield from _field_labels(model)
        for inline in model_admin.inlines:
            yield from _field_labels(inline.model)
        for name in model_admin.list_display:
            if name != "__str__":
                yield f"{where} column {name}", label_for_field(name, model, model_admin)
        for item in model_admin.list_filter:
            if isinstance(item, str):  # a field, or a path to one: the filter is titled by it
                yield f"{where} filter {item}", get_fields_from_path(model, item)[-1].verbose_name
            elif isinstance(item, type):
                yield f"{where} filter {item.__name__}", item.title
        for name in model_admin.actions or ():
            action = getattr(model_admin, name) if isinstance(name, str) else name
            yield f"{where} action {name}", action.short_description
        for title, _options in model_admin.fieldsets or ():
            if title is not None:
                yield f"{where} fieldset", title
        for name in model_admin.readonly_fields:
            if isinstance(name, str) and not hasattr(model, name) and hasattr(model_admin, name):
                yield f"{where} field {name}", label_for_field(name, model, model_admin)


def _in(language: str, label: object) -> str:
    with translation.override(language):
        return str(label)


def _untranslated() -> dict[str, str]:
    return {
        where: _in("en", label)
        for where, label in _labels()
        if _in("en", label) == _in("ru", label)
        and _in("en", label).upper() not in SAME_IN_RUSSIAN
        and where not in NOT_YET
    }


def test_every_admin_label_has_a_russian_translation():
    untranslated = _untranslated()
    assert not untranslated, f"admin labels without a Russian translation: {untranslated}"


def test_the_check_finds_an_untranslated_label(monkeypatch):
    """The check above can fail: a label Russian does not know is reported."""
    from meterdesk.metering.models import Meter

    before = _untranslated()
    monkeypatch.setattr(Meter._meta.get_field("serial"), "verbose_name", "serial number of the meter")
    assert _untranslated().items() - before.items() == {
        ("metering.Meter.serial", "serial number of the meter"),
        ("MeterAdmin column serial", "serial number of the meter"),
    }


class _Text(HTMLParser):
    """The visible text of a page, node by node (not the scripts', styles' or attributes')."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split()).rstrip(":")
        if text and not self._skip:
            self.nodes.append(text)


@pytest.fixture
def russian_staff(client, customer):
    _user, meter = customer
    ReadingFactory(meter=meter)
    utility_get()
    client.force_login(UserFactory(email="boss@example.com", is_staff=True, is_superuser=True))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    return client


def _pages() -> Iterator[str]:
    """The index; each model's list, its add page (refused where records are the system's) and
    the page of its first record, if any."""
    yield reverse("admin:index")
    for model, _model_admin in _admins():
        meta = model._meta
        yield reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        yield reverse(f"admin:{meta.app_label}_{meta.model_name}_add")
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            yield reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk])


@pytest.mark.django_db
def test_admin_pages_show_no_english_label(russian_staff):
    english = {_in("en", label).lower(): where for where, label in _labels() if where not in NOT_YET} | {
        "django administration": "site header",
        "site administration": "index title",
    }
    english = {text: where for text, where in english.items() if text.upper() not in SAME_IN_RUSSIAN}
    found = {}
    pages = list(_pages())
    assert len(pages) > 20
    for url in pages:
        response = russian_staff.get(url, HTTP_ACCEPT_LANGUAGE="ru")
        if response.status_code == 403 and url.endswith("/add/"):
            continue
        assert response.status_code == 200, url
        html = response.content.decode()
        assert '<html lang="ru"' in html, url
        assert re.search(r"<title>[^<]*meterdesk</title>", html), url
        parser = _Text()
        parser.feed(html)
        for node in parser.nodes:
            if node.lower() in english and not any(
                url.startswith(page) and node.lower() == text for page, text in NOT_YET_ON_PAGES
            ):
                found.setdefault(url, set()).add(node)
    assert not found, f"English on the Russian admin pages: {found}"


@pytest.mark.django_db
def test_the_admin_is_headed_meterdesk(russian_staff):
    html = russian_staff.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert '<a href="/admin/">meterdesk</a>' in html
    assert "<title>Администрирование meterdesk | meterdesk</title>" in html
    assert "Django" not in html

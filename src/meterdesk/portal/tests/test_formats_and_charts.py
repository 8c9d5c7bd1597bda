"""One way to write months, amounts and phone numbers on the pages; the favicon; chart labels
that do not overlap."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from django.template import Context, Template
from django.utils import translation

from meterdesk.domain.periods import add_months
from meterdesk.portal.charts import SLOT, label_boxes

pytestmark = pytest.mark.django_db


def _render(text: str, **context) -> str:
    return Template("{% load money formats %}" + text).render(Context(context))


def test_month_names_in_the_nominative_in_lower_case_in_russian():
    context = {"a": date(2026, 11, 1), "b": date(2025, 5, 1)}
    with translation.override("ru"):
        assert _render("{{ a|month }}; за {{ b|month }}", **context) == "ноябрь 2026; за май 2025"
    with translation.override("en"):
        assert _render("{{ a|month }}; for {{ b|month }}", **context) == "November 2026; for May 2025"


def test_month_filter_of_nothing_is_empty():
    assert _render("[{{ a|month }}]", a=None) == "[]"


def test_money_and_phone_filters():
    with translation.override("ru"):
        assert _render("{{ a|rub }}", a=-2384.13) == "\u22122\u202f384,13\u00a0₽"
    with translation.override("en"):
        assert _render("{{ a|rub }}", a=2384.13) == "2,384.13\u00a0₽"
    assert _render("{{ p|phone }} {{ p|tel }}", p="+74950123456") == "+7 (495) 012-34-56 tel:+74950123456"


@pytest.mark.parametrize("language", ["ru", "en"])
def test_chart_labels_never_overlap(language):
    """Histories of every length up to four years, starting in every month."""
    with translation.override(language):
        for start, count in itertools.product(range(1, 13), range(1, 49)):
            periods = [add_months(date(2024, start, 1), i) for i in range(count)]
            labels = label_boxes(periods)
            for row in {label.y for label in labels}:
                line = sorted((lb for lb in labels if lb.y == row), key=lambda lb: lb.x)
                for left, right in itertools.pairwise(line):
                    assert left.right + 2 <= right.left, (start, count, left, right)
            # Every month is named, in its slot.
            months = [lb for lb in labels if not lb.text.isdigit()]
            assert len(months) == count
            assert all(lb.right - lb.left < SLOT for lb in months)


def test_chart_labels_name_the_year_under_each_january_and_the_first_month():
    with translation.override("en"):
        labels = label_boxes([add_months(date(2025, 10, 1), i) for i in range(6)])
    assert [lb.text for lb in labels] == ["Oct", "2025", "Nov", "Dec", "Jan", "2026", "Feb", "Mar"]
    with translation.override("ru"):
        labels = label_boxes([date(2025, 12, 1), date(2026, 1, 1)])
    # A January right after the first month: its year alone, the two would touch.
    assert [lb.text for lb in labels] == ["дек", "янв", "2026"]


def test_every_page_links_the_favicon_and_writes_the_phone_number(client):
    from meterdesk.utility.selectors import utility_get

    utility = utility_get()
    utility.phone = "+74950123456"
    utility.save()
    html = client.get("/login/").content.decode()
    assert '<link rel="icon" href="/static/portal/favicon.svg" type="image/svg+xml">' in html
    assert '<a href="tel:+74950123456" class="nowrap">+7 (495) 012-34-56</a>' in html
    assert '<link rel="icon" href="/static/portal/favicon.png" type="image/png" sizes="32x32">' in html

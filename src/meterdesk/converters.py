"""URL converters of meterdesk's routes.

``<text:name>`` is Django's ``<str:name>`` without the NUL: PostgreSQL refuses a NUL in text, so
a path holding one (``/readings/%00/``) would fail when looked up instead of answering 404. Every
route of meterdesk takes text by it (tests/test_url_nul.py checks). ``<month:name>`` takes a month
(YYYY-MM). Registered on import."""

from __future__ import annotations

from django.urls import register_converter
from django.urls.converters import StringConverter

#: The same, for a route written as a regular expression.
TEXT = r"[^/\x00]+"


class TextConverter(StringConverter):
    regex = TEXT


class MonthConverter(StringConverter):
    """``<month:name>``: a month as YYYY-MM, passed to the view as that text."""

    regex = r"[0-9]{4}-[0-9]{2}"


register_converter(TextConverter, "text")
register_converter(MonthConverter, "month")

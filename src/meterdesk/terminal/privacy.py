"""What a shared screen shows of a household (docs/terminal.md): the payer's surname masked but
its first and last letters and the initials ("Иванова Мария Петровна" → "И***а М. П."), the
address without the flat. Enough for the person at the screen to see that it is their account,
too little for the next one in the queue to learn who lives where."""

from __future__ import annotations

import re

#: The flat (or room, or non-residential premises) and whatever follows it in an address.
_FLAT = re.compile(
    r"[,;]?\s*\b(кв|квартира|комн?|комната|пом|помещение|apt|apartment|flat|room)\b\.?\s*№?\s*\S.*$",
    re.IGNORECASE,
)


def name_masked(name: str) -> str:
    """The surname as its first letter, three stars and its last letter; the other names as
    initials. A one- or two-letter surname keeps its first letter only."""
    parts = name.replace(".", ". ").split()
    if not parts:
        return ""
    surname, others = parts[0], parts[1:]
    masked = surname[0] + "***" + (surname[-1] if len(surname) > 2 else "")
    initials = [f"{part[0]}." for part in others if part[0].isalpha()]
    return " ".join([masked, *initials])


def address_public(address: str) -> str:
    """The address without the flat: "г. Москва, ул. Вавилова, д. 12, кв. 5" → "г. Москва, ул.
    Вавилова, д. 12"."""
    return _FLAT.sub("", address).strip(" ,;")

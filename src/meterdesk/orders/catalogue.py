"""The demo catalogue of services (reference data; prices in roubles with VAT, illustrative)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from meterdesk.orders.models import Service

SINCE = date(2026, 1, 1)

#: code, name ru, name en, description ru, description en, price (0: free)
CATALOGUE = (
    (
        "meter-replacement",
        "Замена прибора учёта",
        "Meter replacement",
        "Демонтаж старого и установка нового однофазного счётчика, ввод в эксплуатацию.",
        "The old single-phase meter removed, a new one installed and commissioned.",
        "3500.00",
    ),
    (
        "meter-installation",
        "Установка прибора учёта",
        "Meter installation",
        "Установка однофазного счётчика там, где его не было.",
        "A single-phase meter installed where there was none.",
        "4200.00",
    ),
    (
        "verification",
        "Поверка прибора учёта на месте",
        "On-site meter verification",
        "Поверка счётчика без снятия, с записью в паспорт и ФГИС «Аршин».",
        "The meter verified without removing it, recorded in its passport and the federal register.",
        "1800.00",
    ),
    (
        "sealing",
        "Опломбирование прибора учёта",
        "Meter sealing",
        "Установка пломб после ремонта или замены (бесплатно, п. 81(11) Правил 354).",
        "Seals fitted after a repair or replacement (free, Decree 354 p. 81(11)).",
        "0.00",
    ),
    (
        "reconnection",
        "Возобновление подачи после ограничения",
        "Reconnection after a restriction",
        "Возобновление подачи электроэнергии после погашения долга.",
        "Supply restored after the debt is paid.",
        "2900.00",
    ),
)


def services_load(since: date = SINCE) -> int:
    """Add the catalogue's services valid from ``since`` (each once). Returns how many were added."""
    added = 0
    for code, name_ru, name_en, text_ru, text_en, price in CATALOGUE:
        _service, created = Service.objects.get_or_create(
            code=code,
            valid_from=since,
            defaults={
                "name_ru": name_ru,
                "name_en": name_en,
                "description_ru": text_ru,
                "description_en": text_en,
                "price": Decimal(price),
            },
        )
        added += created
    return added

import pytest

from meterdesk.terminal.privacy import address_public, name_masked


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Иванова Мария Петровна", "И***а М. П."),
        ("Иванова М. П.", "И***а М. П."),
        ("Иванова М.П.", "И***а М. П."),
        ("Ли Вэй", "Л*** В."),
        ("Smith John", "S***h J."),
        ("", ""),
    ],
)
def test_a_name_is_shown_masked(name, shown):
    assert name_masked(name) == shown


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("г. Москва, ул. Вавилова, д. 12, кв. 5", "г. Москва, ул. Вавилова, д. 12"),
        ("г. Москва, ул. Тестовая, д. 3, корп. 2, кв. 118", "г. Москва, ул. Тестовая, д. 3, корп. 2"),
        ("Москва, Профсоюзная 43 квартира 118", "Москва, Профсоюзная 43"),
        ("г. Москва, ул. Комсомольская, д. 3, пом. IV", "г. Москва, ул. Комсомольская, д. 3"),
        # a street whose name begins like "кв" keeps it
        ("г. Москва, ул. Кварцевая, д. 1", "г. Москва, ул. Кварцевая, д. 1"),
    ],
)
def test_an_address_is_shown_without_the_flat(address, shown):
    assert address_public(address) == shown

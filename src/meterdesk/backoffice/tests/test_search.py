"""Finding a customer from one box: number, serial, phone, e-mail, surname, a loose address."""

from __future__ import annotations

import pytest
from django.urls import reverse

from meterdesk.backoffice.search import customers_find, query_parse
from meterdesk.backoffice.tests.conftest import client_of, staff_of
from meterdesk.testing import AccountFactory, MeterFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def others(office_world):
    """Neighbours that a loose search must not mistake for the customer."""
    AccountFactory(
        number="1000000043", address="г. Москва, ул. Ленина, д. 15, кв. 12", holder_name="Петров Иван"
    )
    AccountFactory(
        number="1000000044", address="г. Москва, ул. Ленина, д. 5, кв. 120", holder_name="Сидоров Олег"
    )
    AccountFactory(
        number="1000000045", address="г. Москва, ул. Маленина, д. 5, кв. 12", holder_name="Иванов Пётр"
    )
    MeterFactory(serial="SN-99999")
    return office_world


@pytest.mark.parametrize(
    "text",
    [
        "1000000042",
        "1000 000 042",
        "SN-77123",
        "sn-77123",
        "+7 916 123-45-67",
        "89161234567",
        "8 (916) 123 45 67",
        "maria.ivanova@example.com",
        "MARIA.IVANOVA@example.com",
        "ленина 5 12",
        "Ленина, д. 5, кв. 12",
        "ул ленина д 5 кв 12",
        "ЛЕНИНА 5 12",
        "Иванова",
        "иванова мария",
    ],
)
def test_each_way_finds_the_customer_and_only_them(text, others):
    _user, meter = others
    assert [a.number for a in customers_find(text)] == [meter.account.number], text


def test_a_house_alone_finds_every_flat_of_it(others):
    found = [a.number for a in customers_find("ленина 5")]
    assert found == ["1000000042", "1000000044"]


def test_a_street_alone_finds_its_accounts_and_a_surname_its_namesakes(others):
    assert [a.number for a in customers_find("ленина")] == ["1000000042", "1000000043", "1000000044"]
    assert [a.number for a in customers_find("иванов")] == ["1000000042", "1000000045"]


def test_nothing_and_empty(others):
    assert customers_find("") == []
    assert customers_find("   ") == []
    assert customers_find("пушкина 1 1") == []
    assert customers_find("nobody@example.com") == []


def test_the_query_is_read_into_words_and_numbers():
    query = query_parse("ул. Ленина, д. 5к2, кв. 12")
    assert query.words == ("ленина",)
    assert query.numbers == ("5к2", "12")
    assert query_parse("+7 (916) 123-45-67").digits == "79161234567"


def test_the_results_page_lists_the_accounts_and_one_result_opens_the_account(others):
    client = client_of(staff_of("operator"))
    response = client.get(reverse("backoffice:home"), {"q": "ленина 5"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "1000000042" in html and "1000000044" in html and "1000000043" not in html
    response = client.get(reverse("backoffice:home"), {"q": "ленина 5 12"})
    assert response.status_code == 302
    assert response["Location"] == reverse("backoffice:account", args=["1000000042"])


def test_on_postgresql_the_search_has_its_trigram_indexes():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the trigram indexes are PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'backoffice_%%_trgm'")
        names = {row[0] for row in cursor.fetchall()}
    assert names == {
        "backoffice_account_address_trgm",
        "backoffice_account_holder_trgm",
        "backoffice_user_full_name_trgm",
    }


def test_on_postgresql_a_loose_address_is_looked_up_by_its_house_and_flat_index(office_world):
    from django.db import connection

    from meterdesk.backoffice.search import _address, _numbered, query_parse
    from meterdesk.customers.models import Account

    if connection.vendor != "postgresql":
        pytest.skip("the index is PostgreSQL's")
    query = query_parse("ленина 5 12")
    rows = _numbered(query).filter(_address(query))
    assert list(rows.values_list("number", flat=True)) == ["1000000042"]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = rows.values("pk").query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "backoffice_account_house_flat" in plan
    assert Account.objects.count() == 1


def test_a_street_named_by_an_address_word_is_found_loosely(office_world):
    from meterdesk.backoffice.search import customers_find

    MeterFactory(account__number="1000000077", account__address="г. Москва, ул. Набережная, д. 34, кв. 28")
    assert [a.number for a in customers_find("набережная 34 28")] == ["1000000077"]


def test_a_surname_finds_the_names_it_starts_and_the_names_it_is_inside(office_world):
    from meterdesk.backoffice.search import customers_find

    for number, name in (
        ("1000000081", "Петров Иван Ильич"),
        ("1000000082", "Петрова Анна Львовна"),
        ("1000000083", "Сидоров Пётр Петрович"),
        ("1000000084", "Непетров Илья"),
    ):
        AccountFactory(number=number, holder_name=name)
    expected = ["1000000042", "1000000081", "1000000082", "1000000083"]  # 42: Иванова Мария Петровна
    assert [a.number for a in customers_find("петров")] == expected
    assert len(customers_find("Петров", limit=2)) == 2

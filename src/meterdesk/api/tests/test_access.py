"""Access control: a login reads and writes only the accounts linked to it. Anyone else's account
or meter is 404 — exactly as one that does not exist — never 403, and nothing is stored."""

from __future__ import annotations

import pytest

from meterdesk.metering.models import Reading

pytestmark = pytest.mark.django_db


def _reads(number: str, meter_id: int) -> list[str]:
    return [
        f"/accounts/{number}",
        f"/accounts/{number}/meters",
        f"/accounts/{number}/charges",
        f"/accounts/{number}/statements",
        f"/accounts/{number}/statements/2024-03",
        f"/accounts/{number}/payments",
        f"/meters/{meter_id}/readings",
    ]


def test_somebody_elses_account_and_meter_are_not_found(api, stranger):
    for path in _reads(stranger.account.number, stranger.pk):
        response = api.get_api(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found", path
        assert "Секретная" not in response.content.decode()
        assert "777000111222" not in response.content.decode()


def test_an_account_that_does_not_exist_answers_the_same(api, stranger, meter):
    for theirs, missing in zip(
        _reads(stranger.account.number, stranger.pk), _reads("9999999999", 10**9), strict=True
    ):
        a, b = api.get_api(theirs), api.get_api(missing)
        assert (a.status_code, a.json()) == (b.status_code, b.json())


def test_nobody_writes_to_somebody_elses_meter(api, stranger):
    before = Reading.objects.count()
    for path in (f"/meters/{stranger.pk}/readings", f"/meters/{stranger.pk}/readings/preview"):
        response = api.post_json(path, {"values": ["1200"]})
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    response = api.post_json(
        f"/meters/{stranger.pk}/readings", {"values": ["1200"]}, HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert response.status_code == 404
    assert Reading.objects.count() == before


def test_a_shared_account_is_visible_to_each_of_its_logins(api, stranger, anna):
    from meterdesk.testing import link

    link(anna, stranger.account)
    assert api.get_api(f"/accounts/{stranger.account.number}").status_code == 200
    assert api.get_api(f"/meters/{stranger.pk}/readings").json()["total"] == 1


def test_staff_see_only_their_own_accounts_here(stranger, db):
    from meterdesk.api.auth import token_create
    from meterdesk.api.tests.conftest import ApiClient
    from meterdesk.testing import UserFactory

    staff = UserFactory(email="operator@example.com", is_staff=True, is_superuser=True)
    api = ApiClient(token_create(user=staff, name="ops")[1])
    assert api.get_api("/accounts").json()["total"] == 0
    assert api.get_api(f"/accounts/{stranger.account.number}").status_code == 404

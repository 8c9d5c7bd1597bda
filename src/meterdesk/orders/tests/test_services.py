"""Service requests: the order (price fixed then), scheduling with its notice, the outcomes, the
ledger entry of a paid service done (once, and none for a free, cancelled or failed one), and the
line it makes on the next bill after the close, with its words and in the balance."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.utils import translation

from meterdesk.billing.close import billing_close
from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.billing.selectors import account_balance, statement_get
from meterdesk.billing.tests.helpers import reading
from meterdesk.core.accounts import statement_view
from meterdesk.documents.render import bill_pdf
from meterdesk.documents.selectors import bill_data
from meterdesk.documents.tests.helpers import pdf_text
from meterdesk.domain.periods import add_months
from meterdesk.notify.models import Notice, Topic
from meterdesk.orders.models import Channel, Service, ServiceRequest, Status
from meterdesk.orders.selectors import service_catalogue
from meterdesk.orders.services import (
    MAX_OPEN,
    OrderError,
    request_close,
    request_done,
    request_order,
    request_schedule,
    service_price_set,
)
from meterdesk.orders.tests.conftest import past_month
from meterdesk.testing import UserFactory
from meterdesk.utility.selectors import utility_now

pytestmark = pytest.mark.django_db


def _plain(text: str) -> str:
    """Words with the non-breaking spaces of money as plain ones."""
    return text.replace("\xa0", " ").replace("\u202f", " ")


def _staff():
    return UserFactory(email="operator@office.example.com", is_staff=True)


def _order(account, code="meter-replacement", **kwargs):
    return request_order(account=account, service_code=code, channel=Channel.WEB, **kwargs)


def test_an_order_gets_a_number_and_keeps_its_price_when_the_price_changes(household):
    user, meter = household
    made = _order(meter.account, user=user, comment="  счётчик в подъезде  ")
    assert made.number == f"З-{made.pk:06d}"
    assert (made.status, made.price, made.comment) == (
        Status.ORDERED,
        Decimal("3500.00"),
        "счётчик в подъезде",
    )
    today = utility_now().date()
    service_price_set(code="meter-replacement", price=Decimal("3900.00"), valid_from=today)
    made.refresh_from_db()
    assert made.price == Decimal("3500.00")
    assert Service.objects.filter(code="meter-replacement").count() == 2  # the history is kept
    later = _order(meter.account, user=user)
    assert later.price == Decimal("3900.00")
    current = {s.code: s.price for s in service_catalogue(today)}
    assert current["meter-replacement"] == Decimal("3900.00")
    assert current["sealing"] == Decimal("0.00")


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"code": "no-such-service"}, "service_unknown"),
        ({"preferred_on": "past"}, "day_invalid"),
        ({"comment": "x" * 1001}, "comment_too_long"),
    ],
)
def test_a_bad_order_is_refused_and_stores_nothing(household, kwargs, code):
    _user, meter = household
    if kwargs.get("preferred_on") == "past":
        kwargs["preferred_on"] = utility_now().date() - timedelta(days=1)
    with pytest.raises(OrderError) as refused:
        _order(meter.account, **kwargs)
    assert refused.value.code == code
    assert ServiceRequest.objects.count() == 0


def test_a_withdrawn_service_cannot_be_ordered_and_open_requests_are_capped(household):
    _user, meter = household
    Service.objects.filter(code="verification").update(active=False)
    with pytest.raises(OrderError, match="service_unknown"):
        _order(meter.account, code="verification")
    for _n in range(MAX_OPEN):
        _order(meter.account, code="sealing")
    with pytest.raises(OrderError, match="too_many_open"):
        _order(meter.account, code="sealing")


def test_scheduling_sends_a_notice_and_is_audited(household):
    user, meter = household
    made = _order(meter.account, user=user)
    staff = _staff()
    on = utility_now().date() + timedelta(days=3)
    request_schedule(staff=staff, request=made, on=on, window="09:00–12:00")
    made.refresh_from_db()
    assert (made.status, made.scheduled_on, made.window, made.scheduled_by) == (
        Status.SCHEDULED,
        on,
        "09:00–12:00",
        staff,
    )
    notices = Notice.objects.filter(topic=Topic.SERVICE_SCHEDULED, user=user)
    assert notices.exists()
    assert any(made.number in n.body and "09:00–12:00" in n.body for n in notices)
    kind = ContentType.objects.get_for_model(ServiceRequest)
    audit = LogEntry.objects.get(content_type=kind, object_id=made.pk)
    assert audit.actor == staff and audit.additional_data["service_request"] == "schedule"
    with pytest.raises(OrderError, match="window_invalid"):
        request_schedule(staff=staff, request=made, on=on, window="00:00–03:00")


def test_a_paid_service_done_is_posted_once(household):
    user, meter = household
    made = _order(meter.account, user=user)
    staff = _staff()
    done = request_done(staff=staff, request=made, outcome="Счётчик заменён, пломбы установлены")
    entry = done.entry
    assert entry is not None
    assert (entry.kind, entry.amount, entry.external_id) == (
        EntryKind.SERVICE,
        Decimal("3500.00"),
        f"service:{made.number}",
    )
    assert entry.detail["request"] == made.number
    assert account_balance(meter.account) == Decimal("3500.00")
    # Again: refused (the request is closed), nothing more posted.
    with pytest.raises(OrderError, match="request_closed"):
        request_done(staff=staff, request=made, outcome="ещё раз")
    assert LedgerEntry.objects.filter(kind=EntryKind.SERVICE).count() == 1
    # The database holds it too: a second entry of the same request cannot be stored.
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            account=meter.account,
            period=entry.period,
            posted_on=entry.posted_on,
            kind=EntryKind.SERVICE,
            amount=Decimal("3500.00"),
            external_id=entry.external_id,
        )


def test_a_free_service_a_cancelled_and_a_failed_one_post_nothing(household):
    user, meter = household
    staff = _staff()
    free = request_done(staff=staff, request=_order(meter.account, code="sealing"), outcome="Опломбирован")
    assert free.status == Status.DONE and free.entry is None
    cancelled = request_close(
        staff=staff, request=_order(meter.account, user=user), status=Status.CANCELLED, reason="Передумал"
    )
    failed = request_close(
        staff=staff, request=_order(meter.account), status=Status.FAILED, reason="Не было доступа к щитку"
    )
    assert (cancelled.status, failed.status) == (Status.CANCELLED, Status.FAILED)
    with pytest.raises(OrderError, match="request_closed"):
        request_done(staff=staff, request=cancelled, outcome="сделано")
    with pytest.raises(OrderError, match="reason_missing"):
        request_close(staff=staff, request=_order(meter.account), status=Status.FAILED, reason=" ")
    assert not LedgerEntry.objects.filter(kind=EntryKind.SERVICE).exists()
    assert account_balance(meter.account) == Decimal("0.00")


def test_the_paid_service_is_a_line_of_the_next_bill(household, client):
    user, meter = household
    period = past_month()
    reading(meter, add_months(period, -1), 1100, 540)
    reading(meter, period, 1300, 610)
    made = _order(meter.account, user=user)
    done = request_done(staff=_staff(), request=made, outcome="Заменён", done_on=period.replace(day=12))
    assert done.entry is not None and done.entry.period == period
    billing_close(period)
    statement = statement_get(meter.account, period)
    assert statement is not None
    assert statement.close.charges == Decimal("1890.00") + Decimal("285.60") + Decimal("3500.00")
    assert statement.close.closing_balance == Decimal("5675.60")
    with translation.override("ru"):
        view = statement_view(statement)
    service = [line for line in view.lines if line.entry.kind == EntryKind.SERVICE]
    assert [(line.basis, line.amount) for line in service] == [("service", Decimal("3500.00"))]
    assert _plain(service[0].words) == f"Замена прибора учёта — 3 500,00 ₽ (заявка {made.number})"
    with translation.override("en"):
        words = statement_view(statement).lines[-1].words
    assert words.startswith("Meter replacement — ") and made.number in words
    assert view.lines_total == statement.close.charges
    # The same line in the PDF bill and in the API's statement.
    data = bill_data(meter.account, period)
    assert data is not None
    text = _plain(pdf_text(bill_pdf(data)))
    assert "Замена прибора учёта — 3 500,00 ₽" in text and made.number in text
    client.force_login(user)
    answer = client.get(
        f"/api/v1/accounts/{meter.account.number}/statements/{period:%Y-%m}", HTTP_ACCEPT_LANGUAGE="ru"
    )
    assert answer.status_code == 200
    lines = [line for line in answer.json()["lines"] if line["basis"] == "service"]
    assert len(lines) == 1 and lines[0]["amount"] == "3500.00"
    assert _plain(lines[0]["words"]).startswith("Замена прибора учёта — 3 500,00 ₽")


def test_a_service_done_in_a_closed_month_goes_to_the_first_open_month(household):
    _user, meter = household
    period = past_month(3)
    reading(meter, add_months(period, -1), 1100, 540)
    reading(meter, period, 1300, 610)
    billing_close(period)
    done = request_done(
        staff=_staff(), request=_order(meter.account), outcome="Заменён", done_on=period.replace(day=20)
    )
    assert done.entry is not None
    assert (done.entry.period, done.entry.posted_on) == (add_months(period, 1), period.replace(day=20))


def test_a_paid_service_is_not_a_debt_the_late_payment_penalty_counts(household):
    """The penalty (Housing Code art. 155 p. 14) is on housing and utilities: the debts it reads
    hold the month's charge, not a paid service posted in the same month."""
    from django.db import connection

    from meterdesk.billing.close_penalties import _debt_rows
    from meterdesk.domain.profiles import profile_load

    _user, meter = household
    account = meter.account
    month = past_month(3)
    LedgerEntry.objects.create(
        account=account, period=month, posted_on=month, kind=EntryKind.CHARGE, amount=Decimal("1200.00")
    )
    LedgerEntry.objects.create(
        account=account,
        period=month,
        posted_on=month,
        kind=EntryKind.SERVICE,
        amount=Decimal("3500.00"),
        external_id="service:test",
    )
    debts: dict = {acc: [] for acc in [account.pk]}
    with connection.cursor() as cur:
        _debt_rows(
            cur,
            "account_id = %s",
            account.pk,
            add_months(month, 2),
            profile_load("ru-354-current"),
            {},
            debts,
        )
    assert [amount for _p, _due, amount in debts[account.pk]] == [Decimal("1200.00")]

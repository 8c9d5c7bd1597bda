"""Autopayment: the consent recorded once, the card saved as the provider's id and a masked number
only; each bill scheduled after the close, a notice a day or more before, the charge on the due date
with its receipt after; declines reported and tried a set number of times; stopping it; and never
twice for one bill."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.serializers import serialize
from django.db import IntegrityError, transaction
from django.utils import timezone

from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.billing.selectors import account_balance
from meterdesk.customers.models import AccountLink
from meterdesk.documents.tests.helpers import pdf_text
from meterdesk.payments.autopay import (
    autopay_off,
    autopay_on,
    autopay_run,
    autopay_schedule,
    consent_words,
)
from meterdesk.payments.models import (
    Autopay,
    AutopayCharge,
    ChargeStatus,
    Payment,
    PaymentChannel,
    PaymentEvent,
    PaymentStatus,
    SandboxPayment,
    SavedCard,
    StopReason,
)
from meterdesk.payments.services import idempotence_key_for
from meterdesk.payments.tests.test_sandbox_flow import CARD
from meterdesk.utility.selectors import utility_now

pytestmark = pytest.mark.django_db

DUE = date(2026, 11, 10)


def close(
    account, amount: str = "1234.56", period: date = date(2026, 10, 1), due: date = DUE
) -> AccountClose:
    """The month's statement, as the close writes it."""
    value = Decimal(amount)
    return AccountClose.objects.create(
        account=account,
        period=period,
        basis="actual",
        opening_balance=Decimal(0),
        charges=value,
        recalculations=Decimal(0),
        payments=Decimal(0),
        penalty=Decimal(0),
        closing_balance=value,
        due_date=due,
        closed_at=timezone.now(),
    )


def save_card(web, account, number: str = "4242424242424242", amount: str = "10") -> Payment:
    """Pay ``amount`` by card with "save the card for autopayment" ticked."""
    response = web.post(
        f"/payments/accounts/{account.number}/pay/",
        {"amount": amount, "key": str(uuid.uuid4()), "autopay": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:400]
    path = _sandbox_path(response)
    web.post(path, {**CARD, "number": number, "action": "pay"})
    return Payment.objects.filter(save_card=True).latest("pk")


def _sandbox_path(response) -> str:
    found = re.search(r"/payments/sandbox/sbx-[0-9a-f]{24}/$", response["Location"])
    assert found, response["Location"]
    return found.group(0)


def autopayments() -> list[Payment]:
    return list(Payment.objects.filter(channel=PaymentChannel.AUTOPAY).order_by("pk"))


@pytest.fixture
def autopaid(web, debtor):
    """Anna's account with autopayment on (saved from a 10 ₽ payment) and its October bill."""
    user, account = debtor
    save_card(web, account)
    close(account)
    mail.outbox.clear()
    return user, account


def test_consent_is_recorded_with_its_time_and_words_and_the_card_only_masked(web, debtor):
    user, account = debtor
    before = timezone.now()
    payment = save_card(web, account)
    autopay = Autopay.objects.get()
    assert autopay.account == account and autopay.user == user and autopay.active
    assert before <= autopay.consent_at <= timezone.now()
    assert autopay.consent_at == payment.consent_at
    assert autopay.consent_text == payment.consent_text
    assert account.number in autopay.consent_text and "одним нажатием" in autopay.consent_text
    card = autopay.card
    assert (card.card_type, card.last4, card.masked) == ("Visa", "4242", "Visa *4242")
    assert card.method_id == SandboxPayment.objects.get().method_id != ""
    # Not a digit of the card beyond the last four is kept anywhere of ours.
    stored = serialize("json", [*Payment.objects.all(), *SavedCard.objects.all(), *Autopay.objects.all()])
    stored += serialize("json", [*PaymentEvent.objects.all(), *SandboxPayment.objects.all()])
    assert "424242424242" not in stored
    page = web.get(f"/payments/{payment.pk}/").content.decode()
    assert 'data-testid="autopay-saved"' in page


def test_without_the_box_ticked_no_card_is_saved(web, debtor):
    account = debtor[1]
    response = web.post(
        f"/payments/accounts/{account.number}/pay/", {"amount": "10", "key": str(uuid.uuid4())}
    )
    path = _sandbox_path(response)
    web.post(path, {**CARD, "action": "pay"})
    assert not SavedCard.objects.exists() and not Autopay.objects.exists()
    assert SandboxPayment.objects.get().request.get("save_payment_method") is None


def test_the_bill_is_noticed_then_paid_on_its_due_date_with_the_receipt(autopaid):
    user, account = autopaid
    assert autopay_schedule(today=date(2026, 11, 1)) == 1
    assert autopay_schedule(today=date(2026, 11, 1)) == 0  # once

    early = autopay_run(today=date(2026, 11, 5))
    assert early.notices == 0 and not mail.outbox  # too early for the notice
    noticed = autopay_run(today=DUE - timedelta(days=3))
    assert noticed.notices == 1 and noticed.tried == 0
    (notice,) = mail.outbox
    assert notice.to == [user.email]
    assert notice.subject == f"Лицевой счёт {account.number}: автоплатёж 10.11.2026"
    assert re.search(r"1\s224,56\s₽", str(notice.body)) and "Visa *4242" in notice.body

    assert autopay_run(today=DUE - timedelta(days=1)).tried == 0
    paid = autopay_run(today=DUE)
    assert (paid.tried, paid.paid) == (1, 1)
    (payment,) = autopayments()
    assert payment.amount == Decimal("1224.56")  # what is still owed: 10 ₽ was paid with the card
    assert payment.idempotence_key == idempotence_key_for(f"autopay:{account.pk}", "2026-10:1")
    assert payment.receipt["items"][0]["amount"]["value"] == "1224.56"
    sandbox = SandboxPayment.objects.get(pk=payment.provider_payment_id)
    assert sandbox.paid_with == Autopay.objects.get().card.method_id
    entry = LedgerEntry.objects.get(kind=EntryKind.PAYMENT, external_id=payment.external_id)
    assert entry.amount == Decimal("-1224.56") and entry.detail["autopay"] is True
    assert account_balance(account) == Decimal("0.00")
    charge = AutopayCharge.objects.get()
    assert charge.status == ChargeStatus.PAID and charge.receipt_sent_at is not None
    receipt = mail.outbox[-1]
    assert "оплачен автоматически" in receipt.subject
    (attachment,) = receipt.attachments
    assert attachment[2] == "application/pdf" and attachment[1].startswith(b"%PDF")
    assert "автоплатёж с сохранённой карты Visa *4242" in " ".join(pdf_text(attachment[1]).split())

    # Again, the same day and later: nothing more is charged or mailed.
    sent = len(mail.outbox)
    autopay_run(today=DUE)
    autopay_run(today=DUE + timedelta(days=1))
    assert len(autopayments()) == 1 and len(mail.outbox) == sent
    assert LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).count() == 2  # the 10 ₽ and the bill


def test_one_charge_per_account_and_month(autopaid):
    _user, account = autopaid
    autopay_schedule(today=date(2026, 11, 1))
    charge = AutopayCharge.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        AutopayCharge.objects.create(
            autopay=charge.autopay,
            account=account,
            period=charge.period,
            due_date=charge.due_date,
            bill_amount=charge.bill_amount,
            charge_on=charge.charge_on,
        )


def test_a_late_notice_moves_the_charge_a_day_after_it(autopaid):
    autopay_run(today=DUE)  # the first run is on the due date itself
    charge = AutopayCharge.objects.get()
    assert charge.notice_sent_at is not None and charge.charge_on == DUE + timedelta(days=1)
    assert not autopayments()
    assert autopay_run(today=DUE + timedelta(days=1)).paid == 1


def test_a_bill_paid_meanwhile_is_not_charged(web, autopaid):
    _user, account = autopaid
    autopay_run(today=DUE - timedelta(days=3))
    from meterdesk.billing.services import payment_post

    payment_post(
        account=account, amount=Decimal("1224.56"), paid_on=DUE, external_id="bank:1", source="registry"
    )
    summary = autopay_run(today=DUE)
    assert summary.skipped == 1 and not autopayments()
    assert AutopayCharge.objects.get().status == ChargeStatus.SKIPPED


def test_a_declined_card_is_reported_and_tried_at_most_the_set_number_of_times(web, debtor, settings):
    settings.METERDESK_AUTOPAY_ATTEMPTS = 3
    _user, account = debtor
    save_card(web, account, number="4000000000000341")  # succeeds now, declines every later charge
    close(account)
    mail.outbox.clear()
    autopay_run(today=DUE - timedelta(days=3))
    first = autopay_run(today=DUE)
    assert (first.tried, first.declined) == (1, 1)
    charge = AutopayCharge.objects.get()
    assert charge.status == ChargeStatus.RETRY and charge.charge_on == DUE + timedelta(days=1)
    assert "недостаточно средств" in mail.outbox[-1].body
    assert "завтра" in mail.outbox[-1].body
    autopay_run(today=DUE)  # the same day again: no second try
    assert len(autopayments()) == 1
    autopay_run(today=DUE + timedelta(days=1))
    last = autopay_run(today=DUE + timedelta(days=2))
    assert last.given_up == 1
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.FAILED and charge.attempts == 3
    assert "Больше не будем" in mail.outbox[-1].body
    autopay_run(today=DUE + timedelta(days=3))
    payments = autopayments()
    assert len(payments) == 3  # never a fourth
    assert len({p.idempotence_key for p in payments}) == 3
    assert all(p.status == PaymentStatus.CANCELED for p in payments)
    assert not LedgerEntry.objects.filter(kind=EntryKind.PAYMENT, detail__autopay=True).exists()
    declines = [m for m in mail.outbox if "не прошёл" in m.subject]
    assert len(declines) == 3  # each declined try told once
    assert Autopay.objects.get().active  # the next bill is tried again


def test_stopping_cancels_what_is_not_at_the_bank_yet(autopaid):
    user, account = autopaid
    autopay_run(today=DUE - timedelta(days=3))
    stopped = autopay_off(account=account, user=user)
    assert stopped is not None and stopped.stop_reason == StopReason.CUSTOMER and stopped.stopped_by == user
    assert AutopayCharge.objects.get().status == ChargeStatus.CANCELLED
    assert autopay_run(today=DUE).tried == 0 and not autopayments()
    assert autopay_off(account=account, user=user) is None  # stopping again: nothing to stop


def test_a_login_no_longer_linked_to_the_account_pays_nothing_more_of_it(autopaid):
    user, account = autopaid
    autopay_run(today=DUE - timedelta(days=3))
    AccountLink.objects.filter(user=user, account=account).delete()
    assert autopay_run(today=DUE).tried == 0 and not autopayments()
    assert AutopayCharge.objects.get().status == ChargeStatus.CANCELLED
    assert Autopay.objects.get().stop_reason == StopReason.UNLINKED


def test_one_click_on_the_dashboard_stops_it(web, autopaid):
    account = autopaid[1]
    page = web.get("/cabinet/").content.decode()
    assert 'data-testid="autopay-stop"' in page and "Visa *4242" in page
    response = web.post(
        f"/payments/accounts/{account.number}/autopay/", {"action": "off", "next": "/cabinet/"}
    )
    assert response.status_code == 302 and response["Location"] == "/cabinet/"
    assert not Autopay.objects.get().active
    assert 'data-testid="autopay-stop"' not in web.get("/cabinet/").content.decode()


def test_turning_it_on_again_with_the_saved_card_needs_the_consent(web, autopaid):
    user, account = autopaid
    autopay_off(account=account, user=user)
    url = f"/payments/accounts/{account.number}/autopay/"
    page = web.get(url)
    card = SavedCard.objects.get()
    assert page.context["cards"] == [card]
    refused = web.post(url, {"action": "on", "card": card.pk})
    assert refused.status_code == 422 and "consent" in refused.context["form"].errors
    assert Autopay.objects.filter(stopped_at__isnull=True).count() == 0
    web.post(url, {"action": "on", "card": card.pk, "consent": "on"})
    on = Autopay.objects.get(stopped_at__isnull=True)
    assert on.card == card and on.consent_text == consent_words([account.number])
    assert Autopay.objects.count() == 2  # the stopped one is kept


def test_another_logins_card_cannot_be_used(web, autopaid, client):
    from meterdesk.testing import MeterFactory, UserFactory, link

    boris = UserFactory(email="boris@example.com")
    other = MeterFactory(zones=1).account
    link(boris, other)
    client.force_login(boris)
    card = SavedCard.objects.get()
    response = client.post(
        f"/payments/accounts/{other.number}/autopay/", {"action": "on", "card": card.pk, "consent": "on"}
    )
    assert response.status_code == 422
    assert not Autopay.objects.filter(account=other).exists()
    assert client.get(f"/payments/accounts/{autopaid[1].number}/autopay/").status_code == 404


def test_a_new_card_replaces_the_one_in_force_and_takes_over_its_bill(web, autopaid):
    account = autopaid[1]
    autopay_run(today=DUE - timedelta(days=3))
    save_card(web, account, number="5555555555554444")
    assert Autopay.objects.count() == 2
    current = Autopay.objects.get(stopped_at__isnull=True)
    assert current.card.masked == "Mastercard *4444"
    assert Autopay.objects.get(stopped_at__isnull=False).stop_reason == StopReason.REPLACED
    charge = AutopayCharge.objects.get()
    assert charge.autopay == current and charge.status == ChargeStatus.SCHEDULED
    assert charge.notice_sent_at is not None
    autopay_run(today=DUE)
    assert autopayments()[0].card == "Mastercard *4444"


def test_turning_it_on_again_takes_back_a_bill_not_due_yet(autopaid):
    user, account = autopaid
    due = utility_now().date() + timedelta(days=5)
    AccountClose.objects.filter(account=account).update(due_date=due)
    autopay_run(today=due - timedelta(days=3))
    card = SavedCard.objects.get()
    autopay_off(account=account, user=user)
    assert AutopayCharge.objects.get().status == ChargeStatus.CANCELLED
    autopay_on(account=account, user=user, card=card, consent_text=consent_words([account.number]))
    charge = AutopayCharge.objects.get()
    assert charge.status == ChargeStatus.SCHEDULED and charge.notice_sent_at is None  # a new notice
    assert charge.autopay.active


def test_autopay_on_is_idempotent_for_the_same_card(autopaid):
    user, account = autopaid
    current = Autopay.objects.get()
    again = autopay_on(account=account, user=user, card=current.card, consent_text="yes")
    assert again.pk == current.pk


def test_yookassa_charges_the_saved_card_once_even_when_its_answer_is_lost(web, debtor, yookassa):
    user, account = debtor
    response = web.post(
        f"/payments/accounts/{account.number}/pay/",
        {"amount": "10", "key": str(uuid.uuid4()), "autopay": "on"},
    )
    assert response.status_code == 302
    (seen,) = yookassa.creates()
    assert seen.body["save_payment_method"] is True and seen.body["payment_method_data"] == {
        "type": "bank_card"
    }
    saving = Payment.objects.get()
    yookassa.succeed(saving.provider_payment_id)
    web.get(f"/payments/{saving.pk}/")
    card = SavedCard.objects.get()
    assert card.method_id == f"pm-{saving.provider_payment_id}" and card.last4 == "4444"
    close(account)
    autopay_run(today=DUE - timedelta(days=3))

    yookassa.failures.append("timeout")  # the charge is made, its answer comes too late
    lost = autopay_run(today=DUE)
    assert lost.errors == 1
    yookassa.wait_for_payments(2)
    (payment,) = autopayments()
    assert payment.provider_payment_id is None
    assert AutopayCharge.objects.get().status == ChargeStatus.CHARGING

    again = autopay_run(today=DUE)  # sent again with the same key: the same payment
    assert again.paid == 1
    charges = yookassa.creates()[1:]
    assert len(charges) == 2 and charges[0].idempotence_key == charges[1].idempotence_key
    assert charges[1].body["payment_method_id"] == card.method_id
    assert (
        "confirmation" not in charges[1].body
        and charges[1].body["receipt"]["customer"]["email"] == user.email
    )
    assert len(yookassa.payments) == 2
    assert LedgerEntry.objects.filter(kind=EntryKind.PAYMENT, detail__autopay=True).count() == 1
    assert autopay_run(today=DUE + timedelta(days=1)).tried == 0


def test_a_card_the_bank_no_longer_takes_stops_autopayment(web, debtor, yookassa):
    _user, account = debtor
    web.post(
        f"/payments/accounts/{account.number}/pay/",
        {"amount": "10", "key": str(uuid.uuid4()), "autopay": "on"},
    )
    saving = Payment.objects.get()
    yookassa.succeed(saving.provider_payment_id)
    web.get(f"/payments/{saving.pk}/")
    card = SavedCard.objects.get()
    yookassa.declining[card.method_id] = "permission_revoked"
    close(account)
    autopay_run(today=DUE - timedelta(days=3))
    summary = autopay_run(today=DUE)
    assert summary.given_up == 1
    assert AutopayCharge.objects.get().status == ChargeStatus.FAILED
    assert Autopay.objects.get().stop_reason == StopReason.CARD_UNUSABLE
    assert "Автоплатёж остановлен" in mail.outbox[-1].body


def test_the_command_runs_it_for_a_date(autopaid):
    from click.testing import CliRunner

    from meterdesk.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["payments", "autopay", "--date", "2026-11-07"])
    assert result.exit_code == 0, result.output
    assert "Bills scheduled now:        1" in result.output
    assert "Notices e-mailed:           1" in result.output
    result = runner.invoke(main, ["payments", "autopay", "--date", "2026-11-10"])
    assert result.exit_code == 0, result.output
    assert "  paid:                     1" in result.output


def test_removing_the_saved_card_stops_its_autopayment_and_it_is_never_charged(web, autopaid):
    account = autopaid[1]
    autopay_run(today=DUE - timedelta(days=3))
    card = SavedCard.objects.get()
    url = f"/payments/accounts/{account.number}/autopay/"
    page = web.get(url).content.decode()
    assert 'data-testid="card-forget"' in page and "Visa *4242" in page
    response = web.post(url, {"action": "forget", "card": card.pk}, follow=True)
    assert "Visa *4242" in response.content.decode() and 'data-testid="card-forget"' not in (
        response.content.decode()
    )
    card.refresh_from_db()
    assert card.forgotten_at is not None
    stopped = Autopay.objects.get()
    assert not stopped.active and stopped.stop_reason == StopReason.CUSTOMER
    assert AutopayCharge.objects.get().status == ChargeStatus.CANCELLED
    assert autopay_run(today=DUE).tried == 0 and not autopayments()
    with pytest.raises(ValueError, match="removed"):
        autopay_on(account=account, user=autopaid[0], card=card, consent_text="да")


def test_a_card_of_another_login_cannot_be_removed(web, autopaid, client):
    from meterdesk.testing import MeterFactory, UserFactory, link

    boris = UserFactory(email="boris@example.com")
    other = MeterFactory(zones=1).account
    link(boris, other)
    client.force_login(boris)
    card = SavedCard.objects.get()
    response = client.post(
        f"/payments/accounts/{other.number}/autopay/", {"action": "forget", "card": card.pk}, follow=True
    )
    assert "Такой карты нет среди ваших сохранённых карт." in response.content.decode()
    card.refresh_from_db()
    assert card.forgotten_at is None and Autopay.objects.get().active

"""Writes of the documents app: opting in to e-bills, and e-mailing the bills of a closed month."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from meterdesk.billing.models import BillingRun, RunStatus
from meterdesk.customers.models import Account, User
from meterdesk.documents.models import EbillDelivery, EbillSubscription
from meterdesk.documents.pdf import month_code
from meterdesk.documents.render import bill_filename, bill_pdf
from meterdesk.documents.selectors import bill_data, ebill_recipients
from meterdesk.utility.selectors import utility_get

log = logging.getLogger(__name__)


class DocumentError(Exception):
    code = "document_error"


class MonthNotClosed(DocumentError):
    code = "month_not_closed"

    def __init__(self, period: date) -> None:
        super().__init__(f"{period:%Y-%m} is not closed: bills exist only for closed months")
        self.period = period


def ebill_subscribe(*, user: User, account: Account, now: datetime | None = None) -> EbillSubscription:
    """Opt in: the account's bill goes to the login's e-mail instead of on paper (idempotent).
    The caller checks that the account is linked to the login."""
    subscription, _created = EbillSubscription.objects.get_or_create(
        user=user, account=account, defaults={"since": now or timezone.now()}
    )
    return subscription


def ebill_unsubscribe(*, user: User, account: Account) -> bool:
    """Opt out (bills on paper again). True when there was a subscription."""
    deleted, _ = EbillSubscription.objects.filter(user=user, account=account).delete()
    return deleted > 0


@dataclass
class EbillSummary:
    period: date
    sent: int = 0
    already_sent: int = 0
    failed: list[str] = field(default_factory=list)


def _message(subscription: EbillSubscription, period: date, pdf: bytes) -> EmailMessage:
    user, account = subscription.user, subscription.account
    utility = utility_get()
    language = user.language if user.language in ("ru", "en") else "ru"
    with translation.override(language):
        context = {"account": account, "period": period, "month": month_code(period), "utility": utility}
        subject = render_to_string("documents/email/ebill_subject.txt", context).strip()
        body = render_to_string("documents/email/ebill.txt", context)
    message = EmailMessage(subject, body, None, [user.email])
    message.attach(bill_filename(account.number, period), pdf, "application/pdf")
    return message


def ebill_send(*, period: date, now: datetime | None = None) -> EbillSummary:
    """E-mail the bill of a closed month to every opted-in login, once per (account, month, address).

    Each delivery is recorded in the same transaction that sends it: the row is inserted first
    (its unique constraint makes a second run, or a concurrent one, skip it), the mail is sent,
    and a failure to send rolls the row back, so that the next run tries again. A crash between
    the SMTP server's acceptance and the commit is the one case that can send a bill twice;
    nothing can send it zero times and record it as sent."""
    if not BillingRun.objects.filter(period=period, status=RunStatus.DONE).exists():
        raise MonthNotClosed(period)
    summary = EbillSummary(period)
    pdfs: dict[int, bytes] = {}
    for subscription in ebill_recipients(period):
        account = subscription.account
        email = subscription.user.email.strip().lower()
        if EbillDelivery.objects.filter(account=account, period=period, email=email).exists():
            summary.already_sent += 1
            continue
        if account.pk not in pdfs:
            data = bill_data(account, period)
            if data is None:  # pragma: no cover - the recipients have a close of the month
                continue
            pdfs[account.pk] = bill_pdf(data)
        message = _message(subscription, period, pdfs[account.pk])
        try:
            with transaction.atomic():
                EbillDelivery.objects.create(
                    account=account, period=period, email=email, sent_at=now or timezone.now()
                )
                message.send()
        except IntegrityError:
            summary.already_sent += 1  # sent meanwhile by another run
        except Exception:  # a mail failure is reported and retried on the next run
            log.exception("could not e-mail the bill of %s for %s to %s", account.number, period, email)
            summary.failed.append(f"{account.number} → {email}")
        else:
            summary.sent += 1
    return summary

"""Debt warnings and what follows them (Decree 354 pp. 117–119; the rules profile's ``debt_notice``).

After a month's close, an account whose debt — the balance the month opened with less the month's
payments — is over the charges of the last ``threshold_months`` months gets a **debt case** and a
warning by the channels its logins get (as every notice: stored once, sent by the sender; the bill
prints the same warning, docs/documents.md). The case then follows the rules, counted from the
warning's **delivery** (the first of its notices sent; one in the personal account is delivered
when stored): ``pay_within_days`` to pay, after which supply may be restricted, and
``suspend_after_days`` more before it may be suspended. Payments since the case opened that cover
the debt close it as paid. Staff work the open cases by stage (the admin's list, or
``meterdesk notify debts``); meterdesk itself restricts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Min, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from meterdesk.billing.models import AccountClose, EntryKind, LedgerEntry
from meterdesk.customers.models import AccountLink
from meterdesk.domain.periods import add_months
from meterdesk.domain.profiles import profile_load
from meterdesk.notify.models import DebtCase, DebtStage, Delivery, Notice, Topic
from meterdesk.notify.prepare import Event, notices_store
from meterdesk.utility.selectors import rules_profile_get, utility_now, utility_zone


@dataclass(frozen=True)
class DebtRun:
    delivered: int = 0
    restriction_due: int = 0
    suspension_due: int = 0
    paid: int = 0


def debt_over(close: AccountClose, months: int) -> tuple[Decimal, Decimal] | None:
    """(debt, threshold) when the close's debt is over ``months`` months' charges, else None.
    The threshold is the charges of the close's month and the months before it (as many as
    there are, the missing ones counted at the close's month's charge)."""
    debt = close.opening_balance + close.payments  # payments are negative in the ledger
    if debt <= 0:
        return None
    first = add_months(close.period, -(months - 1))
    charges = list(
        AccountClose.objects.filter(account_id=close.account_id, period__gte=first, period__lte=close.period)
        .order_by("period")
        .values_list("charges", flat=True)
    )
    threshold = sum(charges, Decimal(0)) + (months - len(charges)) * close.charges
    return (debt, threshold) if debt > threshold else None


def _warn(cases: list[DebtCase], pay_within: int) -> None:
    """Store the warnings of ``cases`` for their accounts' verified logins (one query of logins)."""
    by_account = {case.account_id: case for case in cases}
    logins = AccountLink.objects.filter(
        account_id__in=by_account, user__is_active=True, user__email_verified_at__isnull=False
    ).values_list("account_id", "user_id", "user__email", "user__language", "account__number")
    events = [
        Event(
            user_id,
            account_id,
            f"{by_account[account_id].pk}",
            email,
            language,
            {
                "number": number,
                "debt": by_account[account_id].debt,
                "threshold": by_account[account_id].threshold,
                "days": pay_within,
            },
        )
        for account_id, user_id, email, language, number in logins.order_by("account_id", "user_id")
    ]
    notices_store(Topic.DEBT_WARNING, events)


def debt_cases_open(period: date) -> int:
    """Open the cases of ``period``'s close and store their warnings; the number opened."""
    rules = profile_load(rules_profile_get()).debt_notice
    opened: list[DebtCase] = []
    open_accounts = set(DebtCase.objects.filter(closed_at__isnull=True).values_list("account_id", flat=True))
    for close in (
        AccountClose.objects.filter(period=period).exclude(account_id__in=open_accounts).iterator(2000)
    ):
        over = debt_over(close, rules.threshold_months)
        if over is None:
            continue
        try:
            with transaction.atomic():
                opened.append(
                    DebtCase.objects.create(
                        account_id=close.account_id, period=period, debt=over[0], threshold=over[1]
                    )
                )
        except IntegrityError:  # opened meanwhile by another run
            continue
    _warn(opened, rules.pay_within_days)
    return len(opened)


def _stage(pay_by: date | None, suspension: date | None, today: date) -> str:
    if pay_by is None:
        return DebtStage.WARNED
    if suspension is not None and today >= suspension:
        return DebtStage.SUSPENSION_DUE
    if today >= pay_by:
        return DebtStage.RESTRICTION_DUE
    return DebtStage.DELIVERED


class DebtCaseError(Exception):
    """What staff asked cannot be done to the case; the message says why."""


def _locked(case: DebtCase) -> DebtCase:
    locked = DebtCase.objects.select_for_update().get(pk=case.pk)
    if locked.closed_at is not None:
        raise DebtCaseError(_("The case is closed."))
    return locked


def _not_future(on: date, today: date) -> None:
    if on > today:
        raise DebtCaseError(_("The day cannot be in the future."))


def debt_delivery_record(case: DebtCase, on: date, how: str, today: date | None = None) -> dict[str, tuple]:
    """Staff handed the warning over ``how`` (by hand, by registered post) on ``on``: the rules
    count from that day. Refused when it was delivered already. Call in a transaction; returns the
    changes (field → before, after) for the audit."""
    if how not in (Delivery.HAND, Delivery.POST):
        raise DebtCaseError(_("Choose how the warning was handed over."))
    rules = profile_load(rules_profile_get()).debt_notice
    today = today or utility_now().date()
    _not_future(on, today)
    locked = _locked(case)
    if locked.delivered_at is not None:
        raise DebtCaseError(_("The warning was delivered already."))
    if on < utility_now(now=locked.opened_at).date():
        raise DebtCaseError(_("The warning cannot be delivered before the case was opened."))
    due = on + timedelta(days=rules.pay_within_days)
    suspension = due + timedelta(days=rules.suspend_after_days)
    values: dict[str, object] = {
        "delivered_at": datetime.combine(on, time(12), tzinfo=utility_zone()),
        "delivery": how,
        "pay_by": due,
        "suspension_from": suspension,
        "stage": _stage(due, suspension, today),
    }
    return _apply(locked, values)


def debt_restriction_record(case: DebtCase, on: date, today: date | None = None) -> dict[str, tuple]:
    """Staff restricted the supply on ``on``: only once the time to pay has run out."""
    today = today or utility_now().date()
    _not_future(on, today)
    locked = _locked(case)
    if locked.pay_by is None or on < locked.pay_by:
        raise DebtCaseError(_("The supply may be restricted only after the day to pay by."))
    if locked.restricted_on is not None:
        raise DebtCaseError(_("The restriction is recorded already."))
    return _apply(locked, {"restricted_on": on})


def debt_suspension_record(case: DebtCase, on: date, today: date | None = None) -> dict[str, tuple]:
    """Staff suspended the supply on ``on``: only from the day suspension is possible."""
    today = today or utility_now().date()
    _not_future(on, today)
    locked = _locked(case)
    if locked.suspension_from is None or on < locked.suspension_from:
        raise DebtCaseError(_("The supply may be suspended only from the day the rules allow."))
    if locked.suspended_on is not None:
        raise DebtCaseError(_("The suspension is recorded already."))
    return _apply(locked, {"suspended_on": on})


def _apply(case: DebtCase, values: dict[str, object]) -> dict[str, tuple]:
    changes = {
        name: (getattr(case, name), value) for name, value in values.items() if getattr(case, name) != value
    }
    for name, value in values.items():
        setattr(case, name, value)
    case.save(update_fields=list(values))
    return changes


def debt_cases_advance(today: date | None = None) -> DebtRun:
    """Move every open case on: delivered (from its first notice sent), its dates, its stage; or
    closed as paid."""
    rules = profile_load(rules_profile_get()).debt_notice
    today = today or utility_now().date()
    counts = {"delivered": 0, "restriction_due": 0, "suspension_due": 0, "paid": 0}
    for case in DebtCase.objects.filter(closed_at__isnull=True):
        paid = -(
            LedgerEntry.objects.filter(
                account_id=case.account_id, kind=EntryKind.PAYMENT, created_at__gt=case.opened_at
            ).aggregate(s=Sum("amount"))["s"]
            or Decimal(0)
        )
        changes: dict[str, object] = {}
        if paid >= case.debt:
            changes = {"stage": DebtStage.PAID, "closed_at": timezone.now()}
            counts["paid"] += 1
        else:
            if case.delivered_at is None:
                first = Notice.objects.filter(
                    topic=Topic.DEBT_WARNING, key__startswith=f"{Topic.DEBT_WARNING}:{case.pk}:"
                ).aggregate(at=Min("sent_at"))["at"]
                if first is not None:
                    delivered = utility_now(now=first).date()
                    due = delivered + timedelta(days=rules.pay_within_days)
                    changes.update(
                        delivered_at=first,
                        delivery=Delivery.NOTICE,
                        pay_by=due,
                        suspension_from=due + timedelta(days=rules.suspend_after_days),
                    )
            pay_by = changes.get("pay_by", case.pay_by)
            suspension = changes.get("suspension_from", case.suspension_from)
            stage = _stage(
                pay_by if isinstance(pay_by, date) else None,
                suspension if isinstance(suspension, date) else None,
                today,
            )
            changes["stage"] = stage
            if stage != DebtStage.WARNED:
                counts[str(stage)] += 1
        DebtCase.objects.filter(pk=case.pk).update(**changes)
    return DebtRun(**counts)

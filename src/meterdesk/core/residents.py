"""A change in the number of residents, reported by the household (the personal account, the API)
or by an operator: the rules' deadline decides the day it counts from, the residents' history
takes it, and a change that reaches back into a closed month rebills the account from that month
(``billing.rebill``, cause ``residents_changed``). The norm charge follows the count day by day
(``domain.billing.person_months``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction
from django.utils.translation import gettext as _

from meterdesk.billing.models import AccountClose, LedgerEntry
from meterdesk.billing.rebill import rebill
from meterdesk.customers.models import Account, ResidentsChange, User
from meterdesk.domain.periods import month_start
from meterdesk.domain.profiles import profile_load
from meterdesk.domain.workdays import residents_effective
from meterdesk.utility.selectors import rules_profile_get, utility_now

MAX_RESIDENTS = 20
#: How far back a change may be reported.
LOOKBACK = timedelta(days=3 * 365)


class ResidentsInvalid(ValueError):
    """A report refused; ``code`` says why and the message says it in words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ResidentsResult:
    change: ResidentsChange
    effective_from: date
    late: bool  # reported after the deadline: counts from the day it was reported
    rebilled: list[LedgerEntry] = field(default_factory=list)


def residents_report(
    *,
    account: Account,
    residents: int,
    changed_on: date,
    channel: str,
    user: User | None = None,
    reported_on: date | None = None,
) -> ResidentsResult:
    """Record that ``account`` has ``residents`` residents since ``changed_on``."""
    today = utility_now().date()
    reported_on = reported_on or today
    if not 0 <= residents <= MAX_RESIDENTS:
        raise ResidentsInvalid(
            "residents_invalid",
            _("Enter the number of residents, from 0 to %(max)d.") % {"max": MAX_RESIDENTS},
        )
    if changed_on > today:
        raise ResidentsInvalid("date_in_future", _("The date of the change cannot be in the future."))
    if reported_on < changed_on:
        raise ResidentsInvalid("reported_before_change", _("A change cannot be reported before it happened."))
    if reported_on > today:
        raise ResidentsInvalid("reported_in_future", _("The day of the report cannot be in the future."))
    if changed_on < account.opened_on or changed_on < today - LOOKBACK:
        raise ResidentsInvalid(
            "date_too_early",
            _("The date of the change cannot be before %(day)s.")
            % {"day": f"{max(account.opened_on, today - LOOKBACK):%d.%m.%Y}"},
        )
    rules = profile_load(rules_profile_get())
    effective = residents_effective(changed_on, reported_on, rules.residents_report_days)
    with transaction.atomic():
        change, _created = ResidentsChange.objects.update_or_create(
            account=account,
            effective_from=effective,
            defaults={"residents": residents, "reported_on": reported_on},
        )
        latest = ResidentsChange.objects.filter(account=account, effective_from__lte=today).order_by(
            "-effective_from"
        )
        current = latest.values_list("residents", flat=True).first()
        if current is not None and current != account.residents:
            Account.objects.filter(pk=account.pk).update(residents=current)
            account.residents = current
    rebilled: list[LedgerEntry] = []
    month = month_start(effective)
    if AccountClose.objects.filter(account=account, period=month).exists():
        rebilled = rebill(
            account=account,
            period=month,
            reason=f"residents: {residents} from {effective:%d.%m.%Y}, reported {reported_on:%d.%m.%Y} ({channel})",
            cause="residents_changed",
            user=user,
        )
    return ResidentsResult(change, effective, effective != changed_on, rebilled)


def residents_words(result: ResidentsResult) -> str:
    """What the household (or the operator) is told of an accepted report."""
    day = f"{result.effective_from:%d.%m.%Y}"
    text = (
        _("Reported after the deadline: the new number counts from %(day)s, the day of the report.")
        if result.late
        else _("The new number counts from %(day)s.")
    ) % {"day": day}
    if result.rebilled:
        text += " " + _("The months already billed since then are recalculated on the next bill.")
    return text

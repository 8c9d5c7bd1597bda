"""The ledger, the monthly close and what it remembers between months.

Everything here is append-only: a ledger entry is never edited or deleted; a correction is a new
entry that names what it corrects. The balance of an account is the sum of its entries (positive:
the customer owes; negative: credit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from django.db import models
from django.utils.translation import gettext_lazy as _

from meterdesk.customers.models import Account
from meterdesk.metering.models import Meter

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise

_M = TypeVar("_M", bound=models.Model)


@overload
def statement_checked(
    to: type[_M],
    label: _StrOrPromise,
    *,
    related_name: str,
    optional: Literal[False] = False,
    indexed: bool = False,
) -> models.ForeignKey[_M, _M]: ...


@overload
def statement_checked(
    to: type[_M], label: _StrOrPromise, *, related_name: str, optional: Literal[True], indexed: bool = False
) -> models.ForeignKey[_M | None, _M | None]: ...


def statement_checked(
    to: type[_M], label: _StrOrPromise, *, related_name: str, optional: bool = False, indexed: bool = False
) -> models.ForeignKey[Any, Any]:
    """A reference the close writes on every row, with no database constraint of its own: the
    per-row foreign-key trigger costs PostgreSQL too much there, so migration billing 0003 checks
    these references once per INSERT statement instead (on SQLite the native foreign keys stay).
    PROTECT still guards them in the ORM. Not indexed unless ``indexed``: each index costs on
    every row the close writes. See docs/billing.md, "Referential integrity without per-row
    checks"."""
    null: dict[str, Any] = {"null": True, "blank": True} if optional else {}
    return models.ForeignKey(
        to,
        on_delete=models.PROTECT,
        related_name=related_name,
        db_index=indexed,
        db_constraint=False,
        verbose_name=label,
        **null,
    )


class EntryKind(models.TextChoices):
    CHARGE = "charge", _("charge")
    RECALCULATION = "recalculation", _("recalculation")
    CORRECTION = "correction", _("correction of a past month")
    PENALTY = "penalty", _("late payment penalty")
    PAYMENT = "payment", _("payment")
    # A paid service done for the household (``orders``): a line of its own on the next bill.
    SERVICE = "service", _("paid service")


class RunStatus(models.TextChoices):
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class BillingRun(models.Model):
    """One monthly close (``meterdesk bill --period``). Run again, it resumes the same run."""

    period = models.DateField(_("billing month"), unique=True)
    rules_profile = models.CharField(_("rules profile"), max_length=40)
    status = models.CharField(
        _("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING
    )
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    chunk_size = models.PositiveIntegerField(_("accounts per chunk"))
    # A close forced past its guard (``meterdesk bill --force --reason``): which checks it
    # overrode, why, who and when. Empty when nothing was overridden.
    forced_checks = models.JSONField(_("checks overridden"), default=list, blank=True)
    forced_reason = models.TextField(_("reason for forcing"), blank=True, default="")
    forced_by = models.CharField(_("forced by"), max_length=150, blank=True, default="")
    forced_at = models.DateTimeField(_("forced at"), null=True, blank=True)

    class Meta:
        verbose_name = _("billing run")
        verbose_name_plural = _("billing runs")

    def __str__(self) -> str:
        return f"{self.period:%Y-%m} ({self.status})"


class BillingChunk(models.Model):
    """A range of account ids closed in one transaction by one task."""

    run = models.ForeignKey(
        BillingRun, on_delete=models.CASCADE, related_name="chunks", verbose_name=_("billing run")
    )
    first_account_id = models.BigIntegerField(_("first account id"))
    last_account_id = models.BigIntegerField(_("last account id"))
    status = models.CharField(_("status"), max_length=10, default="pending")  # pending | done
    accounts_closed = models.PositiveIntegerField(_("accounts closed"), default=0)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("chunk of a billing run")
        verbose_name_plural = _("chunks of billing runs")
        constraints = [
            models.UniqueConstraint(fields=["run", "first_account_id"], name="billing_chunk_unique_start")
        ]
        indexes = [models.Index(fields=["run", "status"])]

    def __str__(self) -> str:
        return f"accounts {self.first_account_id}..{self.last_account_id} ({self.status})"


class AccountClose(models.Model):
    """The monthly statement of one account: the close happened exactly once (unique)."""

    # No index of their own: the account's is the unique (account, period); the run's rows are
    # never looked up by run.
    account = statement_checked(Account, _("personal account"), related_name="closes")
    period = models.DateField(_("billing month"))
    run = statement_checked(BillingRun, _("billing run"), related_name="+", optional=True)
    basis = models.CharField(_("basis"), max_length=16)
    opening_balance = models.DecimalField(_("opening balance"), max_digits=14, decimal_places=2)
    charges = models.DecimalField(_("charges"), max_digits=14, decimal_places=2)
    recalculations = models.DecimalField(_("recalculations"), max_digits=14, decimal_places=2)
    payments = models.DecimalField(_("payments"), max_digits=14, decimal_places=2)
    penalty = models.DecimalField(_("penalty"), max_digits=14, decimal_places=2)
    closing_balance = models.DecimalField(_("closing balance"), max_digits=14, decimal_places=2)
    due_date = models.DateField(_("due date"))
    closed_at = models.DateTimeField(_("closed at"))

    class Meta:
        verbose_name = _("monthly statement")
        verbose_name_plural = _("monthly statements")
        constraints = [models.UniqueConstraint(fields=["account", "period"], name="account_close_once")]
        indexes = [models.Index(fields=["period", "basis"])]

    def __str__(self) -> str:
        return f"{self.account_id} {self.period:%Y-%m}: {self.closing_balance}"


class LedgerEntry(models.Model):
    # The account's index is (account, period); the run's lines are never looked up by run.
    # The close writes a statement, a meter state and a few ledger lines per account: none of
    # their references has a per-row database constraint (statement_checked).
    account = statement_checked(Account, _("personal account"), related_name="ledger")
    period = models.DateField(_("billing month"))
    posted_on = models.DateField(_("posted on"))
    kind = models.CharField(_("kind"), max_length=16, choices=EntryKind.choices)
    basis = models.CharField(_("basis"), max_length=16, blank=True, default="")
    # Indexed (unlike the account): the check of a meter's deletion looks its lines up by meter.
    meter = statement_checked(Meter, _("meter"), related_name="+", optional=True, indexed=True)
    zone = models.PositiveSmallIntegerField(_("zone"), default=0)
    band = models.PositiveSmallIntegerField(_("band"), default=1)
    volume = models.DecimalField(_("volume, kWh"), max_digits=14, decimal_places=3, null=True, blank=True)
    price = models.DecimalField(_("price, ₽/kWh"), max_digits=8, decimal_places=2, null=True, blank=True)
    amount = models.DecimalField(_("amount, ₽"), max_digits=14, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=40, blank=True, default="")
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    # The close's own bookkeeping row: created before any of its chunks, never deleted. A
    # database constraint would cost the close a lookup and a share lock of that one hot row for
    # every line, at commit.
    run = statement_checked(BillingRun, _("billing run"), related_name="+", optional=True)
    # NULL on every line of the close: indexed only where set (below). No database constraint
    # either (see statement_checked): billing 0003 checks it per statement, and locks the
    # corrected entries.
    corrects = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
        db_index=False,
        db_constraint=False,
        verbose_name=_("corrects"),
    )
    # NULL, not "": unique only when set (entries of the close have none).
    external_id = models.CharField(_("external id"), max_length=80, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        indexes = [
            models.Index(fields=["account", "period"]),
            models.Index(fields=["period", "kind"]),
            models.Index(
                fields=["corrects"], name="ledger_corrects_set", condition=models.Q(corrects__isnull=False)
            ),
            # The statistics' payments and true-ups of a period (stats.figures): only those lines, not
            # the close's million charge lines a month, so the close writes nothing more.
            models.Index(
                fields=["posted_on"],
                include=["kind", "reason", "amount"],
                name="ledger_money_posted",
                condition=models.Q(kind__in=["payment", "recalculation"]),
            ),
        ]
        constraints = [
            # A payment from an outside system is recorded once (NULLs never clash: the index holds
            # only the entries that have one, not the close's million lines a month).
            models.UniqueConstraint(
                fields=["external_id"],
                name="ledger_external_id_once",
                condition=models.Q(external_id__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.period:%Y-%m} {self.kind} {self.amount}"


class MeterBillingState(models.Model):
    """What the engine remembers about a meter after a closed month (domain.billing.MeterState)."""

    # Indexed by the unique (meter, period) and by (account, period), not on their own.
    meter = statement_checked(Meter, _("meter"), related_name="+")
    account = statement_checked(Account, _("personal account"), related_name="+")
    period = models.DateField(_("billing month"))
    data = models.JSONField(_("state"))

    class Meta:
        verbose_name = _("meter's billing state")
        verbose_name_plural = _("meters' billing states")
        constraints = [models.UniqueConstraint(fields=["meter", "period"], name="meter_state_once")]
        indexes = [models.Index(fields=["account", "period"])]

    def __str__(self) -> str:
        return f"meter {self.meter_id} after {self.period:%Y-%m}"

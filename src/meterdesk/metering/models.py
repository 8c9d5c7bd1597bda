"""Meters and their readings. Readings are append-only: a resubmission supersedes, never edits."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from meterdesk.customers.models import Account
from meterdesk.domain.readings import MeterShape


class MeterStatus(models.TextChoices):
    ACTIVE = "active", _("in service")
    FAILED = "failed", _("failed")
    LOST = "lost", _("lost")
    REMOVED = "removed", _("removed")


class Meter(models.Model):
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="meters", verbose_name=_("personal account")
    )
    serial = models.CharField(_("serial number"), max_length=40)
    model_name = models.CharField(_("model"), max_length=100, blank=True, default="")
    zones = models.PositiveSmallIntegerField(
        _("zones"), validators=[MinValueValidator(1), MaxValueValidator(3)]
    )
    digits = models.PositiveSmallIntegerField(
        _("integer digits"), default=6, validators=[MinValueValidator(5), MaxValueValidator(7)]
    )
    decimal_places = models.PositiveSmallIntegerField(
        _("decimal places accepted"), default=0, validators=[MaxValueValidator(3)]
    )
    manufactured_on = models.DateField(_("manufactured on"), null=True, blank=True)
    installed_on = models.DateField(_("installed on"))
    verification_due = models.DateField(_("verification due"))
    status = models.CharField(
        _("status"), max_length=10, choices=MeterStatus.choices, default=MeterStatus.ACTIVE
    )
    removed_on = models.DateField(_("removed on"), null=True, blank=True)
    failed_on = models.DateField(
        _("failed on"), null=True, blank=True, help_text=_("when found failed or lost")
    )
    initial_t1 = models.DecimalField(_("initial T1"), max_digits=12, decimal_places=3, default=Decimal(0))
    initial_t2 = models.DecimalField(_("initial T2"), max_digits=12, decimal_places=3, null=True, blank=True)
    initial_t3 = models.DecimalField(_("initial T3"), max_digits=12, decimal_places=3, null=True, blank=True)

    class Meta:
        verbose_name = _("meter")
        verbose_name_plural = _("meters")
        constraints = [
            models.UniqueConstraint(fields=["account", "serial"], name="meter_serial_unique_per_account"),
            models.CheckConstraint(condition=models.Q(zones__gte=1, zones__lte=3), name="meter_zones_1_3"),
            models.CheckConstraint(condition=models.Q(digits__gte=5, digits__lte=7), name="meter_digits_5_7"),
        ]
        indexes = [models.Index(fields=["serial"])]

    def __str__(self) -> str:
        return f"№{self.serial}"

    @property
    def shape(self) -> MeterShape:
        return MeterShape(zones=self.zones, digits=self.digits, decimal_places=self.decimal_places)

    @property
    def failed_from(self) -> date | None:
        """The first day the meter counts as failed: found failed or lost, or past verification."""
        from meterdesk.domain.billing import failed_from

        return failed_from(
            verification_due=self.verification_due,
            failed_on=self.failed_on,
            marked_failed=self.status in (MeterStatus.FAILED, MeterStatus.LOST),
            installed_on=self.installed_on,
        )

    @property
    def initial_values(self) -> tuple[Decimal, ...]:
        values = (self.initial_t1, self.initial_t2 or Decimal(0), self.initial_t3 or Decimal(0))
        return values[: self.zones]


class VerificationResult(models.TextChoices):
    PASSED = "passed", _("passed")
    FAILED = "failed", pgettext_lazy("verification result", "failed")


class MeterVerification(models.Model):
    """One verification (поверка) of a meter: its history, as a laboratory's certificates show it.
    The meter's ``verification_due`` follows the latest one (set where a verification is recorded)."""

    meter = models.ForeignKey(
        Meter, on_delete=models.PROTECT, related_name="verifications", db_index=False, verbose_name=_("meter")
    )
    verified_on = models.DateField(_("verified on"))
    result = models.CharField(_("result"), max_length=10, choices=VerificationResult.choices)
    next_due = models.DateField(
        _("next verification due"), null=True, blank=True, help_text=_("after a passed verification")
    )
    verified_by = models.CharField(_("verified by"), max_length=200, blank=True, default="")
    note = models.CharField(_("note"), max_length=500, blank=True, default="")
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("meter verification")
        verbose_name_plural = _("meter verifications")
        constraints = [
            models.UniqueConstraint(fields=["meter", "verified_on"], name="meter_verification_once_a_day"),
            models.CheckConstraint(
                condition=models.Q(result="passed", next_due__isnull=False)
                | models.Q(result="failed", next_due__isnull=True),
                name="meter_verification_due_if_passed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.meter} {self.verified_on}: {self.result}"


class Channel(models.TextChoices):
    WEB = "web", pgettext_lazy("reading channel", "personal account")
    API = "api", _("mobile app / API")
    EMAIL = "email", pgettext_lazy("reading channel", "e-mail")
    IVR = "ivr", _("phone line")
    TERMINAL = "terminal", _("office terminal")
    PAPER = "paper", _("paper slip")
    OPERATOR = "operator", _("operator")
    INSPECTOR = "inspector", _("inspector")
    SMART = "smart", _("smart meter")
    IMPORT = "import", _("data import")


class ReadingKind(models.TextChoices):
    CUSTOMER = "customer", _("customer's reading")
    CONTROL = "control", _("control reading")
    INITIAL = "initial", _("initial reading of a new meter")
    FINAL = "final", _("final reading of a removed meter")


class ReadingStatus(models.TextChoices):
    ACCEPTED = "accepted", _("accepted")
    SUPERSEDED = "superseded", _("replaced by a later submission")


class Reading(models.Model):
    """One submission of a meter's values (one per zone) for a billing month."""

    # Indexed by (meter, period) and (account, period) below, not on their own: every index is
    # written by each submission (and by the UPDATE that supersedes a month's reading).
    meter = models.ForeignKey(
        Meter, on_delete=models.PROTECT, related_name="readings", db_index=False, verbose_name=_("meter")
    )
    # Denormalised from the meter: the large tables are keyed by account (for sharding later).
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="readings",
        db_index=False,
        verbose_name=_("personal account"),
    )
    period = models.DateField(_("billing month"), help_text=_("the first day of the month"))
    t1 = models.DecimalField(_("T1"), max_digits=12, decimal_places=3)
    t2 = models.DecimalField(_("T2"), max_digits=12, decimal_places=3, null=True, blank=True)
    t3 = models.DecimalField(_("T3"), max_digits=12, decimal_places=3, null=True, blank=True)
    kind = models.CharField(
        _("kind"), max_length=10, choices=ReadingKind.choices, default=ReadingKind.CUSTOMER
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=ReadingStatus.choices, default=ReadingStatus.ACCEPTED
    )
    submitted_at = models.DateTimeField(_("submitted at"))
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("submitted by"),
    )
    replaces = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaced_by",
        verbose_name=_("replaces"),
    )
    # Unique by a constraint (below) rather than unique=True, which on PostgreSQL also builds a
    # second index for LIKE 'prefix%' that nothing uses.
    confirmation = models.CharField(_("confirmation number"), max_length=20)
    confirmed = models.CharField(
        _("warnings confirmed by the customer"), max_length=100, blank=True, default=""
    )
    rolled_over = models.BooleanField(_("meter rolled over"), default=False)

    class Meta:
        verbose_name = _("reading")
        verbose_name_plural = _("readings")
        constraints = [
            # At most one accepted reading of each kind per meter and month; the rest is history.
            models.UniqueConstraint(
                fields=["meter", "period", "kind"],
                condition=models.Q(status="accepted"),
                name="reading_one_accepted_per_month",
            ),
            models.CheckConstraint(condition=models.Q(t1__gte=0), name="reading_t1_not_negative"),
            models.UniqueConstraint(fields=["confirmation"], name="reading_confirmation_once"),
        ]
        indexes = [
            models.Index(fields=["account", "period"]),
            models.Index(fields=["meter", "period"]),
            # The statistics' readings by day and channel, read from this index alone (stats.figures);
            # one more entry written by each submission and supersession (docs/statistics.md).
            models.Index(
                fields=["submitted_at"],
                include=["channel", "kind", "period"],
                name="reading_submitted_covering",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.meter} {self.period:%Y-%m} {self.values}"

    @property
    def values(self) -> tuple[Decimal, ...]:
        return tuple(v for v in (self.t1, self.t2, self.t3) if v is not None)[: self.meter.zones]


class ConfirmationMail(models.Model):
    """The e-mailed confirmation of an accepted reading, waiting to be sent or sent: a transactional
    outbox (docs/adr/0010-confirmation-outbox.md). Stored in the submission's own transaction, so
    it exists if and only if the reading does; sent in batches by ``meterdesk
    send-confirmations`` (which ``meterdesk serve`` starts), retried with a growing delay when the
    mail server refuses or is down, and given up after ``core.confirmations.MAX_ATTEMPTS`` tries."""

    # No index of its own: the outbox is read by the pending index below, never by reading (a
    # reading is never deleted; were one, the cascade would scan this small, pruned table).
    reading = models.ForeignKey(
        Reading, on_delete=models.CASCADE, related_name="+", db_index=False, verbose_name=_("reading")
    )
    email = models.CharField(_("e-mail"), max_length=254)
    language = models.CharField(_("language"), max_length=10)
    # The month's charge as shown on submitting (``billing.preview.charge_dumps``): the e-mail
    # shows the same figures, whatever is billed later.
    charge = models.TextField(_("charge"))
    created_at = models.DateTimeField(_("created at"))
    # When the next try is due: the creation, then a retry's time, or the end of a sender's
    # claim on it (a sender that dies mid-batch leaves its mails to be claimed again then).
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("given up at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True, default="")

    class Meta:
        verbose_name = _("confirmation e-mail")
        verbose_name_plural = _("confirmation e-mails")
        indexes = [
            # The senders' queue: only the mails still to send are in it.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=models.Q(sent_at__isnull=True, failed_at__isnull=True),
                name="confirmation_mail_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.reading_id})"

"""Logins, personal accounts (one per premises) and the links between them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

account_number_validator = RegexValidator(r"^\d{10}$", _("An account number has exactly 10 digits."))

#: The languages of the pages and letters, each named in itself (as the pages' switch names them).
LANGUAGE_CHOICES = [("ru", "Русский"), ("en", "English")]


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("an e-mail is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A login: a customer (linked to one or more accounts) or a member of staff."""

    email = models.EmailField(_("e-mail"), unique=True)
    full_name = models.CharField(_("full name"), max_length=200, blank=True, default="")
    # The pages (portal.middleware.UserLanguageMiddleware) and every letter to the login speak it.
    language = models.CharField(_("language"), max_length=8, choices=LANGUAGE_CHOICES, default="ru")
    is_staff = models.BooleanField(_("staff"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)
    # A login made by staff, an import or the seed counts as verified; only self-registration
    # starts unverified (None) and sees no account until the e-mailed link is followed.
    email_verified_at = models.DateTimeField(
        _("e-mail verified at"), null=True, blank=True, default=timezone.now
    )
    signed_out_at = models.DateTimeField(
        _("signed out everywhere at"),
        null=True,
        blank=True,
        help_text=_("Every session and device token of this login made before this moment is void."),
    )

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        """Django's hash of the password, with ``signed_out_at`` mixed in: a session made before
        the login was signed out everywhere no longer matches (Django then ends it)."""
        value = self.password
        if self.signed_out_at is not None:
            value = f"{value}:{self.signed_out_at.timestamp():.6f}"
        key_salt = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"
        return salted_hmac(key_salt, value, secret=secret, algorithm="sha256").hexdigest()


class PremisesCategory(models.TextChoices):
    GAS_STOVE = "gas_stove", _("urban, gas stoves")
    ELECTRIC_STOVE = "electric_stove", _("electric stoves and/or electric heating")
    RURAL = "rural", _("rural settlement")
    HOUSEHOLD_LIKE = "household_like", _("treated as households")


class Account(models.Model):
    """A personal account (лицевой счёт): one premises, its payer and its meters."""

    number = models.CharField(
        _("account number"), max_length=10, unique=True, validators=[account_number_validator]
    )
    holder_name = models.CharField(_("payer"), max_length=200)
    address = models.CharField(_("address"), max_length=300)
    category = models.CharField(_("category"), max_length=20, choices=PremisesCategory.choices)
    rooms = models.PositiveSmallIntegerField(_("rooms"), default=1, validators=[MinValueValidator(1)])
    residents = models.PositiveSmallIntegerField(_("residents"), default=1)
    # Printed on the bill with the residents; not used in billing (the norm goes by rooms and
    # residents), so an account may go without it.
    area = models.DecimalField(
        _("total area, m²"),
        max_digits=7,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    opened_on = models.DateField(_("opened on"))
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    meter_required = models.BooleanField(
        _("a meter is required"),
        default=True,
        help_text=_("Without a meter, the norm is then charged with the increasing coefficient."),
    )

    class Meta:
        verbose_name = _("personal account")
        verbose_name_plural = _("personal accounts")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(number__regex=r"^[0-9]{10}$"), name="account_number_10_digits"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} — {self.address}"


class AccountLink(models.Model):
    """A login's access to an account. Several logins may share one account."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="account_links", verbose_name=_("user")
    )
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="links", verbose_name=_("personal account")
    )
    linked_at = models.DateTimeField(_("linked at"), default=timezone.now)

    class Meta:
        verbose_name = _("account link")
        verbose_name_plural = _("account links")
        constraints = [models.UniqueConstraint(fields=["user", "account"], name="account_link_unique")]

    def __str__(self) -> str:
        return f"{self.user} → {self.account.number}"


class ResidentsChange(models.Model):
    """The number of residents from a date (the norm charge follows it). Append-only history."""

    account = models.ForeignKey(
        Account,
        on_delete=models.CASCADE,
        related_name="residents_history",
        verbose_name=_("personal account"),
    )
    effective_from = models.DateField(_("effective from"))
    residents = models.PositiveSmallIntegerField(_("residents"))
    reported_on = models.DateField(_("reported on"), null=True, blank=True)

    class Meta:
        verbose_name = _("change in residents")
        verbose_name_plural = _("changes in residents")
        ordering = ["account", "effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["account", "effective_from"], name="residents_change_unique_date")
        ]

    def __str__(self) -> str:
        return f"{self.account.number}: {self.residents} from {self.effective_from}"


class PendingLink(models.Model):
    """The account a self-registered login asked for: linked once its e-mail is verified, so that
    nothing of the account is shown to an address nobody has proved."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, related_name="pending_link", verbose_name=_("user")
    )
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", verbose_name=_("personal account")
    )
    created_at = models.DateTimeField(_("asked at"), default=timezone.now)

    class Meta:
        verbose_name = _("account link waiting for e-mail verification")
        verbose_name_plural = _("account links waiting for e-mail verification")

    def __str__(self) -> str:
        return f"{self.user} → {self.account.number} (unverified)"


class LinkAction(models.TextChoices):
    LINKED = "linked", _("linked")
    UNDONE = "undone", _("undone from the e-mail")
    REMOVED = "removed", _("removed by another login")


class LinkEvent(models.Model):
    """Append-only record of a login gaining or losing access to an account, and who did it."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="link_events", verbose_name=_("personal account")
    )
    user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("user")
    )
    email = models.CharField(_("e-mail"), max_length=254)
    action = models.CharField(_("action"), max_length=10, choices=LinkAction.choices)
    by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by user")
    )
    by_email = models.CharField(_("by"), max_length=254, blank=True, default="")
    channel = models.CharField(_("channel"), max_length=20, blank=True, default="")
    address = models.CharField(_("client address"), max_length=64, blank=True, default="")
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("account access event")
        verbose_name_plural = _("account access events")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["account", "at"])]

    def __str__(self) -> str:
        return f"{self.account_id} {self.action} {self.email}"


class RegistrationCode(models.Model):
    """A one-time code printed on the bill that registration and linking also ask for when
    ``METERDESK_REGISTRATION_CODE`` is on. The code is not stored: it is derived from the site's
    secret key and ``salt`` (so the bill can print it), and only its hash is kept to check it."""

    account = models.OneToOneField(
        Account,
        on_delete=models.CASCADE,
        related_name="registration_code",
        verbose_name=_("personal account"),
    )
    salt = models.CharField(_("salt"), max_length=32)
    code_hash = models.CharField(_("code hash"), max_length=64)
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("registration code")
        verbose_name_plural = _("registration codes")

    def __str__(self) -> str:
        return f"{self.account_id} ({'used' if self.used_at else 'unused'})"


class PhoneLabel(models.TextChoices):
    MOBILE = "mobile", _("mobile")
    HOME = "home", _("home")
    WORK = "work", _("work")
    OTHER = "other", _("other")


class Phone(models.Model):
    """One of a login's phone numbers, in E.164 (``domain.phones.phone_parse``). The phone line
    finds the accounts of a calling number through it (``customers.selectors.phone_accounts``),
    hence the index on the number alone; a number is on a login once, but several logins (a
    family's home phone) may have it."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="phones", verbose_name=_("user"))
    number = models.CharField(_("number"), max_length=16)
    label = models.CharField(_("label"), max_length=10, choices=PhoneLabel.choices, default=PhoneLabel.MOBILE)
    added_at = models.DateTimeField(_("added at"), default=timezone.now)

    class Meta:
        verbose_name = _("phone number")
        verbose_name_plural = _("phone numbers")
        ordering = ["added_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "number"], name="phone_unique_per_login"),
            models.CheckConstraint(
                condition=models.Q(number__regex=r"^\+[1-9][0-9]{6,14}$"), name="phone_e164"
            ),
        ]
        indexes = [models.Index(fields=["number"], name="phone_number_idx")]

    def __str__(self) -> str:
        return self.number


class ConsentText(models.Model):
    """The exact text of a consent as it was shown, in one language: kept once, so that every
    consent given can be shown word for word years later. Append-only; a text that changes is a
    new row (and, when its meaning changes, a new ``version``)."""

    version = models.CharField(_("version"), max_length=20)
    language = models.CharField(_("language"), max_length=8, choices=LANGUAGE_CHOICES)
    text = models.TextField(_("text"))
    sha256 = models.CharField(_("SHA-256 of the text"), max_length=64, unique=True)
    first_shown_at = models.DateTimeField(_("first shown at"), default=timezone.now)

    class Meta:
        verbose_name = _("text of a consent")
        verbose_name_plural = _("texts of consents")
        ordering = ["-first_shown_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.version} ({self.language})"


class Consent(models.Model):
    """A login's consent to the processing of its personal data (152-ФЗ, art. 9): who, when,
    from which address, and the text agreed to. Append-only: kept for as long as the data is."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="consents", verbose_name=_("user"))
    email = models.CharField(_("e-mail at the time"), max_length=254)
    text = models.ForeignKey(
        ConsentText, on_delete=models.PROTECT, related_name="consents", verbose_name=_("text agreed to")
    )
    version = models.CharField(_("version"), max_length=20)
    given_at = models.DateTimeField(_("given at"), default=timezone.now)
    address = models.CharField(_("client address"), max_length=64, blank=True, default="")
    user_agent = models.CharField(_("browser"), max_length=300, blank=True, default="")
    channel = models.CharField(_("channel"), max_length=20, default="registration")

    class Meta:
        verbose_name = _("consent to personal data processing")
        verbose_name_plural = _("consents to personal data processing")
        ordering = ["-given_at", "-pk"]
        indexes = [models.Index(fields=["user", "given_at"], name="consent_user_given_idx")]

    def __str__(self) -> str:
        return f"{self.email} {self.version} {self.given_at:%Y-%m-%d}"

"""Device tokens of the public API and the records that make a submission idempotent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def live(self, user: Any) -> ApiTokenQuerySet:
        """The login's tokens that are not revoked: neither one by one, nor all at once by the
        login being signed out everywhere (``User.signed_out_at``: a password changed or reset,
        access to an account taken away). Expired ones are included."""
        tokens = self.filter(user=user, revoked_at__isnull=True)
        if user.signed_out_at is not None:
            tokens = tokens.filter(created_at__gt=user.signed_out_at)
        return tokens


class ApiToken(models.Model):
    """A named, revocable credential of one login for one device (a phone, a home-automation hub).

    Only the SHA-256 of the token is stored: the token itself is shown once, when it is created.
    A token is 32 random bytes, so a fast hash is enough (no password-style stretching is needed).
    Revoked one by one (``revoked_at``) or with every other token of its login when the login is
    signed out everywhere (``User.signed_out_at``, a password change or reset).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(
        _("prefix"), max_length=16, help_text=_("the first characters, to recognise it")
    )
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        indexes = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now: datetime | None = None) -> bool:
        moment = now or timezone.now()
        signed_out = self.user.signed_out_at
        return (
            self.revoked_at is None
            and (signed_out is None or self.created_at > signed_out)
            and (self.expires_at is None or self.expires_at > moment)
        )


class IdempotencyRecord(models.Model):
    """The first result of a request sent with an ``Idempotency-Key``: a retry with the same key and
    the same body gets this result again; another body with the same key is refused.

    ``scope`` is ``token:<id>`` for a token's requests and ``user:<id>`` for the site's session, so
    keys of different devices never collide. Written in the same transaction as the reading, and
    unique per (scope, key), so two concurrent duplicates cannot both store a reading.
    """

    scope = models.CharField(max_length=40)
    key = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="api_idempotency_key_once")]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"

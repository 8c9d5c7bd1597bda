"""The back office keeps no data of its own: its changes go to the audit log (django-auditlog's
``LogEntry``, see ``audit.py``). ``Office`` only holds the back office's permissions."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Office(models.Model):
    """No table: the content type the back office's permissions (``roles.ACTIONS``) belong to."""

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = _("back office")
        verbose_name_plural = _("back office")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)

"""The audit log in the admin: django-auditlog's own page, searchable by what our logins have
(an e-mail, no first and last names), in Russian (auditlog ships no Russian catalogue: its
labels are translated in ours, ``AUDITLOG_LABELS``)."""

from __future__ import annotations

from typing import Any

from auditlog.admin import LogEntryAdmin
from auditlog.models import LogEntry
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

#: auditlog's labels as it writes them, so that makemessages keeps them in our catalogue.
AUDITLOG_LABELS = (
    gettext_noop("object pk"),
    gettext_noop("object id"),
    gettext_noop("object representation"),
    gettext_noop("action"),
    gettext_noop("create"),
    gettext_noop("update"),
    gettext_noop("delete"),
    gettext_noop("access"),
    gettext_noop("change message"),
    gettext_noop("actor"),
    gettext_noop("Correlation ID"),
    gettext_noop("remote address"),
    gettext_noop("remote port"),
    gettext_noop("timestamp"),
    gettext_noop("additional data"),
    gettext_noop("actor email"),
    gettext_noop("content type"),
    gettext_noop("log entry"),
    gettext_noop("log entries"),
    gettext_noop("Created"),
    gettext_noop("Resource"),
    gettext_noop("Resource Type"),
    gettext_noop("User"),
    gettext_noop("Changes"),
    gettext_noop("Audit log"),
    gettext_noop("Click to filter by records with this correlation id"),
)


class AuditLogAdmin(LogEntryAdmin):
    search_fields = ["object_repr", "actor__email", "actor_email"]

    @admin.display(description=_("Correlation ID"))
    def cid_url(self, obj: LogEntry) -> Any:
        return super().cid_url(obj)  # auditlog titles the column in English only


# auditlog's one field without a translatable name (its name is made from the field's).
LogEntry._meta.get_field("serialized_data").verbose_name = _("serialized data")

admin.site.unregister(LogEntry)
admin.site.register(LogEntry, AuditLogAdmin)

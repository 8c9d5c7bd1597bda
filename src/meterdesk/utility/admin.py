"""The utility's settings in the admin, and the third-party apps' admin pages in Russian.

django-axes (login lockouts) and django-tasks' database backend (the close's chunk tasks) leave
some of their admin labels untranslated. Their models' labels are translated in the shared
catalogue (locale/, which Django reads before any app's), listed in ``THIRD_PARTY_LABELS`` so
that makemessages keeps them; their columns named after methods get our descriptions."""

from __future__ import annotations

from typing import Any

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

from meterdesk.utility.models import UtilitySettings

THIRD_PARTY_LABELS = (
    # django-axes
    _("User Agent"),
    _("HTTP Accept"),
    _("Session key hash (sha256)"),
    _("Locked Out"),
    _("Clean up expired attempts"),
    _("Not set"),
    # django-tasks
    _("Task Result"),
    _("Task Results"),
    _("enqueued at"),
    _("args kwargs"),
    _("priority"),
    _("task path"),
    _("worker id"),
    _("queue name"),
    _("backend name"),
    _("run after"),
    _("return value"),
    _("exception class path"),
    _("traceback"),
    pgettext_lazy("Task", "Ready"),
    pgettext_lazy("Task", "Running"),
    pgettext_lazy("Task", "Failed"),
    pgettext_lazy("Task", "Successful"),
)


@admin.register(UtilitySettings)
class UtilitySettingsAdmin(admin.ModelAdmin):
    list_display = ("name", "time_zone", "window_start_day", "window_end_day", "rules_profile")


admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class LoginAttemptAdmin(AccessAttemptAdmin):
    @admin.display(description=_("expires at"))
    def expiration(self, obj: AccessAttempt) -> Any:
        return super().expiration(obj)

    @admin.display(description=_("lockout"))
    def status(self, obj: AccessAttempt) -> str:
        """Counted in Russian's plural forms (django-axes appends one English phrase to a number)."""
        left = settings.AXES_FAILURE_LIMIT - obj.failures_since_start
        if left <= 0:
            return str(_("Locked Out"))
        return ngettext("%(n)d attempt left", "%(n)d attempts left", left) % {"n": left}


admin.site.unregister(DBTaskResult)


@admin.register(DBTaskResult)
class TaskResultAdmin(DBTaskResultAdmin):
    # django-tasks' own columns, the task named by a column with a translated header.
    list_display = (
        "id",
        "task",
        "status",
        "enqueued_at",
        "started_at",
        "finished_at",
        "priority",
        "queue_name",
    )

    @admin.display(description=_("task"))
    def task(self, obj: DBTaskResult) -> str:
        return obj.task_name

    @admin.display(description=_("traceback"))
    def formatted_traceback(self, obj: DBTaskResult) -> str:
        return super().formatted_traceback(obj)

    @admin.display(description=_("run after"))
    def display_run_after(self, obj: DBTaskResult) -> Any:
        return super().display_run_after(obj)

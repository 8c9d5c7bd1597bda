"""Staff register the office terminals here: a new terminal's enrolment link is shown once, on
saving it (or on asking for a new one); revoking one stops it at once. The list counts each
terminal's sessions and readings (the statistics will take them from the same tables)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from meterdesk.adminviews import ViewOnlyAdmin
from meterdesk.terminal.models import Terminal, TerminalSession
from meterdesk.terminal.services import enrolment_new, terminal_revoke


def _show_link(request: HttpRequest, terminal: Terminal, token: str) -> None:
    url = request.build_absolute_uri(reverse("terminal:enrol", args=[token]))
    messages.warning(
        request,
        _(
            "Open this link once on the terminal %(name)s within a day to enrol it; it is not shown again: %(url)s"
        )
        % {"name": terminal.name, "url": url},
    )


@admin.register(Terminal)
class TerminalAdmin(admin.ModelAdmin[Terminal]):
    list_display = ("name", "location", "enrolled_at", "revoked_at", "session_count", "reading_count")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "location")
    fields = ("name", "location", "created_at", "enrolled_at", "revoked_at")
    readonly_fields = ("created_at", "enrolled_at", "revoked_at")
    actions = ("new_link", "revoke")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Terminal]:
        # Counted apart: two joins in one query would multiply each other's rows.
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_sessions=Count("sessions", distinct=True),
                n_readings=Count("readings", distinct=True),
            )
        )

    @admin.display(description=_("sessions"), ordering="n_sessions")
    def session_count(self, terminal: Any) -> int:
        return int(terminal.n_sessions)

    @admin.display(description=_("readings"), ordering="n_readings")
    def reading_count(self, terminal: Any) -> int:
        return int(terminal.n_readings)

    def save_model(self, request: HttpRequest, obj: Terminal, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            _show_link(request, obj, enrolment_new(terminal=obj))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoked, not deleted: its sessions and readings stay counted

    @admin.action(description=_("New enrolment link"), permissions=["change"])
    def new_link(self, request: HttpRequest, queryset: QuerySet[Terminal]) -> None:
        for terminal in queryset.filter(revoked_at__isnull=True):
            _show_link(request, terminal, enrolment_new(terminal=terminal))

    @admin.action(description=_("Revoke: the terminal stops working"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Terminal]) -> None:
        for terminal in queryset.filter(revoked_at__isnull=True):
            terminal_revoke(terminal=terminal)


@admin.register(TerminalSession)
class TerminalSessionAdmin(ViewOnlyAdmin):
    list_display = ("started_at", "terminal", "account", "ended_at", "end", "reading_count")
    list_filter = ("terminal", "end")
    date_hierarchy = "started_at"
    raw_id_fields = ("account",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[TerminalSession]:
        return (
            super().get_queryset(request).select_related("terminal", "account").annotate(n=Count("readings"))
        )

    @admin.display(description=_("readings"))
    def reading_count(self, session: Any) -> int:
        return int(session.n)

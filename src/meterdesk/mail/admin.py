"""Staff's view of the letters (the admin, for now): every letter with its outcome, readings,
answers and raw source; the queue of letters not understood, which staff resolve by keying the
reading (``services.letter_resolve``, which answers the sender); the counts per day."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from meterdesk.adminviews import ViewOnlyAdmin
from meterdesk.core.readings import ACCEPTED
from meterdesk.mail.letters import decode
from meterdesk.mail.models import Answer, Item, Letter, Outcome, Unresolved
from meterdesk.metering.models import Meter


class _Items(admin.TabularInline):
    model = Item
    fields = ("account_number", "serial", "values", "code", "issues", "reading")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class _Answers(admin.StackedInline):
    model = Answer
    fields = ("to", "subject", "body", "message_id", "created_at", "sent_at", "attempts", "last_error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Letter)
class LetterAdmin(ViewOnlyAdmin):
    list_display = ("received_at", "sender", "subject", "outcome", "status", "verified", "unanswered", "via")
    list_filter = ("outcome", "status", "via", "verified", "received_at")
    search_fields = ("sender", "subject", "message_id", "mail_from", "items__account_number")
    date_hierarchy = "received_at"
    readonly_fields = ("source",)
    exclude = ("raw",)
    inlines = (_Items, _Answers)

    class Media:
        css = {"all": ("mail/admin.css",)}

    @admin.display(description=gettext_lazy("raw source"))
    def source(self, obj: Letter) -> str:
        return format_html('<pre class="mail-source">{}</pre>', decode(bytes(obj.raw), "utf-8"))

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [path("daily/", view(self.daily_view), name="mail_letter_daily"), *super().get_urls()]

    def daily_view(self, request: HttpRequest) -> HttpResponse:
        """Per day: letters (by outcome), readings accepted and refused (by reason)."""
        letters = (
            Letter.objects.annotate(day=TruncDate("received_at"))
            .values("day")
            .annotate(
                total=Count("id"),
                **{outcome: Count("id", filter=Q(outcome=outcome)) for outcome in Outcome.values},
            )
            .order_by("-day")[:60]
        )
        items = (
            Item.objects.annotate(day=TruncDate("letter__received_at"))
            .values("day", "code")
            .annotate(n=Count("id"))
            .order_by("-day", "code")
        )
        refused: dict[Any, list[tuple[str, int]]] = {}
        accepted: dict[Any, int] = {}
        for row in items:
            if row["code"] == ACCEPTED:
                accepted[row["day"]] = row["n"]
            else:
                refused.setdefault(row["day"], []).append((row["code"], row["n"]))
        days = [
            {
                **row,
                "outcomes": [(Outcome(o).label, row[o]) for o in Outcome.values if row[o]],
                "accepted": accepted.get(row["day"], 0),
                "refused": refused.get(row["day"], []),
                "refused_total": sum(n for _c, n in refused.get(row["day"], [])),
            }
            for row in letters
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Letters per day"),
            "days": days,
        }
        return TemplateResponse(request, "mail/admin/daily.html", context)


class ResolveForm(forms.Form):
    account = forms.RegexField(regex=r"^\d{10}$", label=gettext_lazy("account number"))
    serial = forms.CharField(max_length=40, label=gettext_lazy("meter serial"))
    t1 = forms.CharField(max_length=20, label=gettext_lazy("T1 (or the single value)"))
    t2 = forms.CharField(max_length=20, required=False, label=gettext_lazy("T2"))
    t3 = forms.CharField(max_length=20, required=False, label=gettext_lazy("T3"))
    confirm = forms.CharField(
        max_length=300,
        required=False,
        label=gettext_lazy("confirmations"),
        help_text=gettext_lazy("Filled in when the values need a confirmation that the letter gives."),
    )

    meter: Meter

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        meter = Meter.objects.filter(account__number=data["account"], serial=data["serial"].strip()).first()
        if meter is None:
            raise forms.ValidationError(_("The account has no meter with this serial number."))
        self.meter = meter
        return data

    def values(self) -> list[str]:
        data = self.cleaned_data
        return [v for v in (data["t1"], data["t2"], data["t3"]) if v][: self.meter.zones] or [data["t1"]]


@admin.register(Unresolved)
class UnresolvedAdmin(ViewOnlyAdmin):
    """The queue: letters not understood (or not processed) that no one has resolved yet."""

    list_display = ("received_at", "sender", "subject", "outcome", "resolve_link")
    search_fields = ("sender", "subject")
    readonly_fields = ("source", "resolve_link")
    exclude = ("raw",)
    inlines = (_Items, _Answers)
    source = LetterAdmin.source

    def get_queryset(self, request: HttpRequest) -> Any:
        return (
            super()
            .get_queryset(request)
            .filter(Q(outcome=Outcome.NOT_UNDERSTOOD) | Q(status="failed"), resolved_at__isnull=True)
        )

    @admin.display(description=gettext_lazy("resolve"))
    def resolve_link(self, obj: Letter) -> str:
        return format_html(
            '<a class="button" href="{}">{}</a>',
            reverse("admin:mail_unresolved_resolve", args=[obj.pk]),
            _("Key the reading"),
        )

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("<int:letter_id>/resolve/", view(self.resolve_view), name="mail_unresolved_resolve"),
            *super().get_urls(),
        ]

    def resolve_view(self, request: HttpRequest, letter_id: int) -> HttpResponse:
        from meterdesk.mail.services import letter_resolve

        letter = get_object_or_404(Letter, pk=letter_id)
        if not request.user.has_perm("metering.add_reading") and not request.user.is_superuser:
            raise PermissionDenied
        form = ResolveForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            confirmed = [t for t in form.cleaned_data["confirm"].split(",") if t.strip()]
            result = letter_resolve(
                letter=letter,
                meter=form.meter,
                values=form.values(),
                staff=request.user,  # type: ignore[arg-type]  # the admin's views need a login
                confirmed=confirmed,
            )
            item = result.item
            if item.code == ACCEPTED:
                self.message_user(
                    request, _("The reading was accepted and the sender answered."), messages.SUCCESS
                )
                return HttpResponseRedirect(reverse("admin:mail_unresolved_changelist"))
            self.message_user(
                request,
                _("The reading was not accepted (%(code)s %(confirm)s); the sender was told.")
                % {"code": item.code, "confirm": item.confirm},
                messages.WARNING,
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Key the reading of a letter"),
            "letter": letter,
            "text": decode(bytes(letter.raw), "utf-8"),
            "form": form,
        }
        return TemplateResponse(request, "mail/admin/resolve.html", context)

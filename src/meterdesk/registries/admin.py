"""The admin of bank registries: the files loaded, and the unmatched queue that staff work.

Registries and rows are records: nobody adds, edits or deletes them here. Staff resolve an
unmatched row by assigning an account (a form; the payment is posted once) or by rejecting it with
a reason (the money goes back to the bank), one row at a time or several with the list's actions.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from meterdesk.registries.forms import AssignForm, RejectForm
from meterdesk.registries.models import Registry, RegistryRow, RowStatus
from meterdesk.registries.services import RowResolveError, row_assign, row_reject, rows_rematch


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields] + list(self.readonly_fields)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        extra = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})


@admin.register(Registry)
class RegistryAdmin(_ReadOnly):
    list_display = (
        "id",
        "name",
        "layout",
        "loaded_at",
        "first_paid_on",
        "rows_total",
        "rows_matched",
        "rows_unmatched",
        "rows_duplicate",
        "amount_total",
        "commission_total",
        "rows_link",
    )
    list_filter = ("layout", "bank")
    search_fields = ("name", "sha256")
    date_hierarchy = "loaded_at"
    readonly_fields = ("rows_link",)

    @admin.display(description=gettext_lazy("rows"))
    def rows_link(self, obj: Registry) -> str:
        url = reverse("admin:registries_registryrow_changelist") + f"?registry__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("rows of this registry"))


@admin.register(RegistryRow)
class RegistryRowAdmin(_ReadOnly):
    list_display = (
        "id",
        "registry",
        "line",
        "paid_on",
        "account_number",
        "payer",
        "amount",
        "commission",
        "status",
        "reason",
        "account",
    )
    list_filter = ("status", "reason", "registry__layout", "paid_on", "registry")
    search_fields = ("account_number", "payer", "address", "operation_id", "row_key", "account__number")
    list_select_related = ("registry", "account")
    readonly_fields = ("resolve_links",)
    actions = ("assign_account", "reject_rows", "rematch_rows")

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("<int:row_id>/assign/", view(self.assign_view), name="registries_registryrow_assign"),
            path("<int:row_id>/reject/", view(self.reject_view), name="registries_registryrow_reject"),
            *super().get_urls(),
        ]

    @admin.display(description=gettext_lazy("resolve"))
    def resolve_links(self, obj: RegistryRow) -> str:
        if obj.status != RowStatus.UNMATCHED:
            return "—"
        return format_html(
            '<a class="button" href="{}">{}</a> <a class="button" href="{}">{}</a>',
            reverse("admin:registries_registryrow_assign", args=[obj.pk]),
            _("Assign an account"),
            reverse("admin:registries_registryrow_reject", args=[obj.pk]),
            _("Reject"),
        )

    # --- actions ---------------------------------------------------------------------------------

    @admin.action(description=gettext_lazy("Assign an account to the selected row"), permissions=["change"])
    def assign_account(self, request: HttpRequest, queryset: QuerySet[RegistryRow]) -> HttpResponse | None:
        rows = list(queryset[:2])
        if len(rows) != 1:
            self.message_user(request, _("Select exactly one row to assign an account to."), messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:registries_registryrow_assign", args=[rows[0].pk]))

    @admin.action(
        description=gettext_lazy("Reject the selected rows (return to the bank)"), permissions=["change"]
    )
    def reject_rows(self, request: HttpRequest, queryset: QuerySet[RegistryRow]) -> HttpResponse | None:
        rows = list(queryset.filter(status=RowStatus.UNMATCHED))
        if not rows:
            self.message_user(
                request, _("None of the selected rows is waiting for an account."), messages.WARNING
            )
            return None
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            done = 0
            for row in rows:
                try:
                    row_reject(row=row, reason=form.cleaned_data["reason"], user=request.user)  # type: ignore[arg-type]
                except RowResolveError as exc:
                    self.message_user(request, str(exc), messages.ERROR)
                else:
                    done += 1
            self.message_user(
                request,
                ngettext("%(count)d row rejected.", "%(count)d rows rejected.", done) % {"count": done},
                messages.SUCCESS,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Reject payments"),
            "rows": rows,
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "registries/admin/reject_rows.html", context)

    @admin.action(
        description=gettext_lazy("Match the selected rows again by their account number"),
        permissions=["change"],
    )
    def rematch_rows(self, request: HttpRequest, queryset: QuerySet[RegistryRow]) -> None:
        posted = rows_rematch(rows=queryset.filter(status=RowStatus.UNMATCHED), user=request.user)  # type: ignore[arg-type]
        self.message_user(
            request,
            ngettext("%(count)d row matched and posted.", "%(count)d rows matched and posted.", posted)
            % {"count": posted},
            messages.SUCCESS if posted else messages.WARNING,
        )

    # --- the forms of one row --------------------------------------------------------------------

    def _row_view(self, request: HttpRequest, row_id: int) -> RegistryRow:
        row = get_object_or_404(RegistryRow.objects.select_related("registry"), pk=row_id)
        if not self.has_change_permission(request, row):
            raise PermissionDenied
        return row

    def _back(self, row: RegistryRow) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:registries_registryrow_change", args=[row.pk]))

    def assign_view(self, request: HttpRequest, row_id: int) -> HttpResponse:
        row = self._row_view(request, row_id)
        form = AssignForm(request.POST if request.method == "POST" else None)
        if row.status == RowStatus.UNMATCHED and form.is_valid():
            try:
                entry = row_assign(
                    row=row,
                    account=form.account,
                    user=request.user,  # type: ignore[arg-type]
                    note=form.cleaned_data["note"],
                )
            except RowResolveError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(amount)s ₽ posted to account %(number)s.")
                    % {"amount": entry.amount.copy_negate(), "number": form.account.number},
                    messages.SUCCESS,
                )
            return self._back(row)
        return self._render_row_form(request, row, form, _("Assign an account"), "assign")

    def reject_view(self, request: HttpRequest, row_id: int) -> HttpResponse:
        row = self._row_view(request, row_id)
        form = RejectForm(request.POST if request.method == "POST" else None)
        if row.status == RowStatus.UNMATCHED and form.is_valid():
            try:
                row_reject(row=row, reason=form.cleaned_data["reason"], user=request.user)  # type: ignore[arg-type]
            except RowResolveError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, _("The row is rejected."), messages.SUCCESS)
            return self._back(row)
        return self._render_row_form(request, row, form, _("Reject the payment"), "reject")

    def _render_row_form(
        self, request: HttpRequest, row: RegistryRow, form: Any, title: str, kind: str
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "row": row,
            "form": form,
            "kind": kind,
            "resolved": row.status != RowStatus.UNMATCHED,
        }
        return TemplateResponse(request, "registries/admin/row_form.html", context)

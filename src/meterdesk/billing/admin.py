from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from meterdesk.adminviews import ViewOnlyAdmin
from meterdesk.billing.models import BillingRun


class _Forced(admin.SimpleListFilter):
    title = _("forced")
    parameter_name = "forced"

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return (("yes", _("forced past a check")), ("no", _("not forced")))

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        if self.value() == "yes":
            return queryset.exclude(forced_at=None)
        if self.value() == "no":
            return queryset.filter(forced_at=None)
        return queryset


@admin.register(BillingRun)
class BillingRunAdmin(ViewOnlyAdmin):
    """The monthly closes, as `meterdesk bill` ran them: staff can look, not edit. A close forced
    past its guard shows which checks it overrode, why, who and when."""

    list_display = ("period", "status", "rules_profile", "started_at", "finished_at", "forced")
    list_filter = ("status", _Forced)
    date_hierarchy = "period"
    ordering = ("-period",)
    fieldsets = (
        (None, {"fields": ("period", "status", "rules_profile", "started_at", "finished_at", "chunk_size")}),
        (_("Forced close"), {"fields": ("forced_checks", "forced_reason", "forced_by", "forced_at")}),
    )
    readonly_fields = tuple(f.name for f in BillingRun._meta.fields if f.name != "id")

    @admin.display(boolean=True, description=_("forced"))
    def forced(self, obj: BillingRun) -> bool:
        return obj.forced_at is not None

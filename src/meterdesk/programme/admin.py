from django.contrib import admin

from meterdesk.adminviews import ViewOnlyAdmin
from meterdesk.programme.models import Draw, Programme, Winner


@admin.register(Programme)
class ProgrammeAdmin(admin.ModelAdmin[Programme]):
    list_display = ("code", "name_ru", "months", "prizes", "prize_amount", "starts_on", "ends_on")


class WinnerInline(admin.TabularInline[Winner, Draw]):
    model = Winner
    extra = 0
    can_delete = False
    fields = ("place", "account", "ticket", "prize", "credit", "notified_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Draw)
class DrawAdmin(ViewOnlyAdmin):
    list_display = ("programme", "period", "announced_at", "held_at", "eligible")
    list_filter = ("programme",)
    inlines = [WinnerInline]

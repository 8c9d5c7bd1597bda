from django.contrib import admin

from meterdesk.adminviews import ViewOnlyAdmin
from meterdesk.support.models import CannedAnswer, Message, Thread


@admin.register(CannedAnswer)
class CannedAnswerAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("title", "topic", "active")
    list_filter = ("topic", "active")
    search_fields = ("title", "text_ru", "text_en")


class _Messages(admin.TabularInline):  # type: ignore[type-arg]
    model = Message
    fields = ("created_at", "kind", "author", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Thread)
class ThreadAdmin(ViewOnlyAdmin):
    """Staff work the queue in the back office (/office/support/); the admin only shows it."""

    list_display = ("__str__", "topic", "status", "source", "account", "assigned_to", "created_at", "due_at")
    list_filter = ("status", "topic", "source")
    search_fields = ("account__number", "user__email", "contact")
    inlines = (_Messages,)

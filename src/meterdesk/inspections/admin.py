from django.contrib import admin

from meterdesk.adminviews import ViewOnlyAdmin
from meterdesk.inspections.models import Inspection


@admin.register(Inspection)
class InspectionAdmin(ViewOnlyAdmin):
    """Planned by ``meterdesk inspections plan``, worked in the back office (/office/inspections/);
    the admin only shows them (the photo is seen on the office's pages, not here)."""

    list_display = ("__str__", "meter", "reason", "status", "inspector", "planned_on", "street")
    list_filter = ("status", "reason", "planned_on")
    search_fields = ("meter__serial", "meter__account__number", "street")
    raw_id_fields = ("meter", "inspector", "reading")
    exclude = ("photo", "photo_sha256")

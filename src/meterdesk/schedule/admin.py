from django.contrib import admin

from meterdesk.adminviews import ViewOnlyAdmin
from meterdesk.schedule.models import JobRun


@admin.register(JobRun)
class JobRunAdmin(ViewOnlyAdmin):
    list_display = ("job", "slot", "started_at", "finished_at", "exit_code")
    list_filter = ("job", "exit_code")

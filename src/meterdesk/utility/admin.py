from django.contrib import admin

from meterdesk.utility.models import UtilitySettings


@admin.register(UtilitySettings)
class UtilitySettingsAdmin(admin.ModelAdmin):
    list_display = ("name", "time_zone", "window_start_day", "window_end_day", "rules_profile")

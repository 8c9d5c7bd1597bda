"""Back-office pages of this part, included into the back office's URLs (namespace backoffice)."""

from django.urls import URLPattern, path

from meterdesk.backoffice import debt_views

urlpatterns: list[URLPattern] = [
    path("", debt_views.debts, name="debts"),
    path("<int:case_id>/", debt_views.debt_act, name="debt_act"),
]

"""Back-office pages of this part, included into the back office's URLs (namespace backoffice)."""

from django.urls import URLPattern, path

from meterdesk.backoffice import reference_views

urlpatterns: list[URLPattern] = [
    path("", reference_views.reference, name="reference"),
    path("edit/", reference_views.reference_edit, name="reference_edit"),
    path("edit/tariff/<slug:category>/<slug:kind>/", reference_views.tariff_edit, name="reference_tariff"),
    path("edit/norms/<slug:category>/", reference_views.norms_edit, name="reference_norms"),
    path("edit/window/", reference_views.window_edit, name="reference_window"),
    path("edit/bank/", reference_views.bank_edit, name="reference_bank"),
    path("edit/profile/", reference_views.profile_edit, name="reference_profile"),
    path("edit/office/<int:pk>/", reference_views.office_edit, name="reference_office"),
]

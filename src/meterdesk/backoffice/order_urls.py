"""Back-office pages of this part, included into the back office's URLs (namespace backoffice)."""

from django.urls import URLPattern, path

from meterdesk.backoffice import order_views

urlpatterns: list[URLPattern] = [
    path("", order_views.service_requests, name="service_requests"),
    path("<int:request_id>/", order_views.service_request, name="service_request"),
    path("<int:request_id>/schedule/", order_views.service_request_schedule, name="service_request_schedule"),
    path("<int:request_id>/done/", order_views.service_request_done, name="service_request_done"),
    path("<int:request_id>/close/", order_views.service_request_close, name="service_request_close"),
]

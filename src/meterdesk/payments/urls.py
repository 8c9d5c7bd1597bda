from django.urls import path, re_path

from meterdesk import converters  # noqa: F401 - registers <text:…>
from meterdesk.payments import views, views_autopay, views_link

app_name = "payments"

urlpatterns = [
    re_path(r"^accounts/(?P<number>[0-9]{10})/pay/$", views.pay, name="pay"),
    re_path(r"^accounts/(?P<number>[0-9]{10})/history/$", views.history, name="history"),
    re_path(r"^accounts/(?P<number>[0-9]{10})/autopay/$", views_autopay.autopay, name="autopay"),
    re_path(r"^link/(?P<code>[a-z2-9]{10})/$", views_link.link_pay, name="link"),
    re_path(
        r"^link/(?P<code>[a-z2-9]{10})/(?P<payment_id>[0-9]{1,12})/$",
        views_link.link_status,
        name="link_status",
    ),
    path("<int:payment_id>/", views.status, name="status"),
    path("<int:payment_id>/sbp/", views.sbp, name="sbp"),
    path("<int:payment_id>/state/", views.state, name="state"),
    path("notifications/<text:provider>/", views.notification, name="notification"),
    re_path(r"^sandbox/(?P<sandbox_id>sbx-[0-9a-f]{24})/$", views.sandbox_page, name="sandbox"),
    re_path(r"^sandbox/(?P<sandbox_id>sbx-[0-9a-f]{24})/sbp/$", views.sandbox_sbp, name="sandbox_sbp"),
]

from django.urls import path

from meterdesk import converters  # noqa: F401 - registers <text:…>
from meterdesk.terminal import views

app_name = "terminal"

urlpatterns = [
    path("", views.start, name="start"),
    path("language/", views.language, name="language"),
    path("finish/", views.finish, name="finish"),
    path("ping/", views.ping, name="ping"),
    path("enrol/<text:token>/", views.enrol, name="enrol"),
    path("account/", views.account, name="account"),
    path("meters/<int:meter_id>/", views.submit, name="submit"),
    path("meters/<int:meter_id>/preview/", views.preview, name="preview"),
    path("readings/<text:confirmation>/", views.reading, name="reading"),
    path("readings/<text:confirmation>/email/", views.email, name="email"),
]

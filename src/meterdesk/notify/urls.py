from django.urls import path

from meterdesk import converters  # noqa: F401 - registers <text:…>
from meterdesk.notify import views

app_name = "notify"

urlpatterns = [
    path("", views.notices, name="notices"),
    path("preferences/", views.preferences, name="preferences"),
    path("unsubscribe/<text:token>/", views.unsubscribe, name="unsubscribe"),
]

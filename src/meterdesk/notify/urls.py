from django.urls import path

from meterdesk.notify import views

app_name = "notify"

urlpatterns = [
    path("", views.notices, name="notices"),
    path("preferences/", views.preferences, name="preferences"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]

from django.urls import path

from meterdesk.programme import views

app_name = "programme"

urlpatterns = [
    path("", views.page, name="page"),
    path("draws/<int:draw_id>.json", views.draw_file, name="draw_file"),
]

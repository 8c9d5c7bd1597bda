from django.urls import path

from meterdesk.orders import views

app_name = "orders"

urlpatterns = [
    path("", views.services, name="services"),
    path("<slug:code>/order/", views.order, name="order"),
    path("requests/<int:request_id>/cancel/", views.cancel, name="cancel"),
]

from django.urls import path, re_path

from meterdesk.converters import TEXT
from meterdesk.documents import views

app_name = "documents"

urlpatterns = [
    re_path(
        rf"^accounts/(?P<number>{TEXT})/bills/(?P<period>[0-9]{{4}}-[0-9]{{2}})\.pdf$",
        views.bill,
        name="bill",
    ),
    path("receipts/<int:entry_id>.pdf", views.receipt, name="receipt"),
    path("readings/<text:confirmation>.pdf", views.reading_confirmation, name="reading_confirmation"),
    path("accounts/<text:number>/ebill/", views.ebill, name="ebill"),
]

from django.urls import path

from meterdesk import converters  # noqa: F401 - registers <text:…> and <month:…>
from meterdesk.documents import views

app_name = "documents"

urlpatterns = [
    path("accounts/<text:number>/bills/<month:period>.pdf", views.bill, name="bill"),
    path("receipts/<int:entry_id>.pdf", views.receipt, name="receipt"),
    path("readings/<text:confirmation>.pdf", views.reading_confirmation, name="reading_confirmation"),
    path("accounts/<text:number>/ebill/", views.ebill, name="ebill"),
]

from django.urls import path, re_path

from meterdesk.documents import views

app_name = "documents"

urlpatterns = [
    re_path(
        r"^accounts/(?P<number>[^/]+)/bills/(?P<period>[0-9]{4}-[0-9]{2})\.pdf$", views.bill, name="bill"
    ),
    path("receipts/<int:entry_id>.pdf", views.receipt, name="receipt"),
    path("readings/<str:confirmation>.pdf", views.reading_confirmation, name="reading_confirmation"),
    path("accounts/<str:number>/ebill/", views.ebill, name="ebill"),
]

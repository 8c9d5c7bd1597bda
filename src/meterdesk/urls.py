from django.contrib import admin
from django.urls import include, path

from meterdesk.api.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("payments/", include("meterdesk.payments.urls")),
    path("documents/", include("meterdesk.documents.urls")),
    path("", include("meterdesk.portal.urls")),
]

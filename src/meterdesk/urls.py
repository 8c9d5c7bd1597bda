from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from meterdesk.api.api import api

# The back office names the product, not Django ("Django administration" by default).
admin.site.site_header = admin.site.site_title = "meterdesk"
admin.site.index_title = _("meterdesk back office")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("payments/", include("meterdesk.payments.urls")),
    path("documents/", include("meterdesk.documents.urls")),
    path("programme/", include("meterdesk.programme.urls")),
    path("notify/", include("meterdesk.notify.urls")),
    path("support/", include("meterdesk.support.urls")),
    path("services/", include("meterdesk.orders.urls")),
    path("office/", include("meterdesk.backoffice.urls")),
    path("terminal/", include("meterdesk.terminal.urls")),
    path("", include("meterdesk.portal.urls")),
]

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistriesConfig(AppConfig):
    name = "meterdesk.registries"
    verbose_name = _("Bank registries")

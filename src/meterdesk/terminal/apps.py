from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TerminalConfig(AppConfig):
    name = "meterdesk.terminal"
    verbose_name = _("Office terminals")

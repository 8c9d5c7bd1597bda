from django.contrib import admin
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from meterdesk.adminviews import ViewOnlyAdmin
from meterdesk.metering.models import ConfirmationMail, Meter, MeterVerification, Reading


class _VerificationsInline(admin.TabularInline):
    """A meter's verification history, latest first (loaded by ``meterdesk import``)."""

    model = MeterVerification
    fields = ("verified_on", "result", "next_due", "verified_by", "note")
    readonly_fields = fields
    ordering = ("-verified_on",)
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Meter)
class MeterAdmin(admin.ModelAdmin):
    list_display = ("serial", "account", "zones", "digits", "status", "verification_due")
    search_fields = ("serial", "account__number")
    list_filter = ("zones", "status")
    raw_id_fields = ("account",)
    inlines = (_VerificationsInline,)


@admin.register(MeterVerification)
class MeterVerificationAdmin(ViewOnlyAdmin):
    """Verifications are history (the meter's due date follows the latest): staff can look."""

    list_display = ("meter", "verified_on", "result", "next_due", "verified_by")
    list_filter = ("result",)
    search_fields = ("meter__serial", "meter__account__number", "verified_by")
    date_hierarchy = "verified_on"
    list_select_related = ("meter",)


@admin.register(Reading)
class ReadingAdmin(ViewOnlyAdmin):
    """Readings are append-only: staff can look, not edit."""

    list_display = (
        "confirmation",
        "meter",
        "period",
        "t1",
        "t2",
        "t3",
        "kind",
        "channel",
        "status",
        "submitted_at",
    )
    list_filter = ("kind", "channel", "status")
    search_fields = ("confirmation", "meter__serial", "account__number")
    date_hierarchy = "submitted_at"


class _MailState(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"
    #: Each state of a confirmation e-mail: its name in the filter and which mails are in it.
    states = {
        "waiting": (_("waiting"), Q(sent_at__isnull=True, failed_at__isnull=True)),
        "sent": (_("sent"), Q(sent_at__isnull=False)),
        "given_up": (_("given up"), Q(failed_at__isnull=False)),
    }

    def lookups(self, request, model_admin):  # type: ignore[no-untyped-def]
        return tuple((state, label) for state, (label, _mails) in self.states.items())

    def queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        state = self.states.get(self.value() or "")
        return queryset if state is None else queryset.filter(state[1])


@admin.register(ConfirmationMail)
class ConfirmationMailAdmin(admin.ModelAdmin):
    """The confirmation e-mails' outbox: staff see what waits, what was sent and what was given
    up (with the mail server's last answer), and can have given-up mails tried again."""

    list_display = ("reading", "email", "created_at", "attempts", "next_attempt_at", "sent_at", "failed_at")
    list_filter = (_MailState,)
    search_fields = ("email", "reading__confirmation")
    raw_id_fields = ("reading",)
    readonly_fields = tuple(f.name for f in ConfirmationMail._meta.fields)
    actions = ("try_again",)

    @admin.action(description=_("Try the selected unsent e-mails again now"))
    def try_again(self, request, queryset):  # type: ignore[no-untyped-def]
        count = queryset.filter(sent_at__isnull=True).update(
            failed_at=None, attempts=0, next_attempt_at=timezone.now()
        )
        message = ngettext(
            "%(count)d e-mail will be sent again.", "%(count)d e-mails will be sent again.", count
        )
        self.message_user(request, message % {"count": count})

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

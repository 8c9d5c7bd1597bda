import contextlib
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from meterdesk.adminviews import ViewOnlyAdmin
from meterdesk.customers.models import (
    Account,
    AccountLink,
    Consent,
    ConsentText,
    LinkEvent,
    PendingLink,
    Phone,
    User,
)
from meterdesk.customers.services import registration_code_issue, user_password_set
from meterdesk.domain.phones import PhoneInvalid, phone_parse


class AccountLinkInline(admin.TabularInline):
    model = AccountLink
    extra = 0
    raw_id_fields = ("user", "account")


class PhoneInline(admin.TabularInline):
    """The login's phone numbers, in E.164 (the phone line matches callers by them)."""

    model = Phone
    extra = 0
    fields = ("number", "label", "added_at")
    readonly_fields = ("added_at",)


class ConsentInline(admin.TabularInline):
    """The consents the login gave: read only, they are the record."""

    model = Consent
    extra = 0
    can_delete = False
    fields = ("given_at", "version", "email", "address", "channel", "text")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StaffPasswordChangeForm(AdminPasswordChangeForm):
    """A password set by staff also signs the login out everywhere and revokes its device tokens."""

    def save(self, commit: bool = True) -> Any:
        return user_password_set(user=self.user, password=self.cleaned_data["password1"])


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = (
        "email",
        "full_name",
        "is_staff",
        "is_active",
        "email_verified_at",
        "date_joined",
    )
    search_fields = ("email", "full_name", "phones__number")
    list_filter = ("is_staff", "is_active")
    change_password_form = StaffPasswordChangeForm
    readonly_fields = ("signed_out_at",)
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Profile"), {"fields": ("full_name", "language")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined", "email_verified_at", "signed_out_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    inlines = [AccountLinkInline, PhoneInline, ConsentInline]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[User], search_term: str
    ) -> tuple[QuerySet[User], bool]:
        # A number searched as typed ("8 916 123-45-67") is found as stored (E.164).
        with contextlib.suppress(PhoneInvalid):
            search_term = phone_parse(search_term)
        return super().get_search_results(request, queryset, search_term)


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("number", "holder_name", "address", "category", "residents")
    search_fields = ("number", "holder_name", "address")
    list_filter = ("category",)
    inlines = [AccountLinkInline]
    actions = ["issue_registration_codes"]

    @admin.action(description=_("Issue new registration codes (printed on the next bills)"))
    def issue_registration_codes(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        count = 0
        for account in queryset:
            registration_code_issue(account=account)
            count += 1
        self.message_user(
            request,
            ngettext(
                "%(n)d registration code issued; it is printed on the account's next bill.",
                "%(n)d registration codes issued; each is printed on its account's next bill.",
                count,
            )
            % {"n": count},
            messages.SUCCESS,
        )


@admin.register(LinkEvent)
class LinkEventAdmin(ViewOnlyAdmin):
    """Who gained or lost access to which account, and who did it: read only."""

    list_display = ("at", "account", "email", "action", "by_email", "channel", "address")
    list_filter = ("action", "channel")
    search_fields = ("account__number", "email", "by_email")
    raw_id_fields = ("account", "user", "by")


@admin.register(PendingLink)
class PendingLinkAdmin(admin.ModelAdmin):
    list_display = ("user", "account", "created_at")
    search_fields = ("user__email", "account__number")
    raw_id_fields = ("user", "account")


@admin.register(Consent)
class ConsentAdmin(ViewOnlyAdmin):
    """Who agreed to the processing of personal data, when, from where, to which text: read only."""

    list_display = ("given_at", "email", "version", "channel", "address")
    list_filter = ("version", "channel")
    search_fields = ("email", "user__email", "address")
    raw_id_fields = ("user", "text")


@admin.register(ConsentText)
class ConsentTextAdmin(ViewOnlyAdmin):
    """Every text of a consent as it was shown, word for word: read only."""

    list_display = ("version", "language", "first_shown_at", "sha256")
    list_filter = ("version", "language")

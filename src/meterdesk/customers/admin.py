from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from meterdesk.adminviews import ViewOnlyAdmin
from meterdesk.customers.models import Account, AccountLink, LinkEvent, PendingLink, User
from meterdesk.customers.services import registration_code_issue, user_password_set


class AccountLinkInline(admin.TabularInline):
    model = AccountLink
    extra = 0
    raw_id_fields = ("user", "account")


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
        "phone",
        "is_staff",
        "is_active",
        "email_verified_at",
        "date_joined",
    )
    search_fields = ("email", "full_name", "phone")
    list_filter = ("is_staff", "is_active")
    change_password_form = StaffPasswordChangeForm
    readonly_fields = ("signed_out_at",)
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Profile"), {"fields": ("full_name", "phone", "language")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined", "email_verified_at", "signed_out_at")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    inlines = [AccountLinkInline]


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

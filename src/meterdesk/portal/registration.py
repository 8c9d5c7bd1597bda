"""Pages of registration and of access to accounts: register, confirm the e-mail, link a further
account, the logins of an account, undo a link from the e-mail. Thin: the rules are in
meterdesk.customers.services (docs/security.md)."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from meterdesk.customers.consent import ConsentMissing, ConsentOutdated, consent_text
from meterdesk.customers.models import Account, AccountLink, User
from meterdesk.customers.selectors import account_logins
from meterdesk.customers.services import (
    UNDO_DAYS,
    AccountMismatch,
    AlreadyLinked,
    EmailNotVerified,
    LinkGone,
    RemoveNotYet,
    TooManyAttempts,
    account_link,
    account_link_remove,
    email_masked,
    email_verification_resend,
    email_verify,
    link_undo,
    link_undo_check,
    user_register,
)
from meterdesk.metering.selectors import account_for_user
from meterdesk.portal.forms import LinkAccountForm, RegistrationForm
from meterdesk.ratelimit import client_address, wait_minutes

#: The address a visitor just registered with, shown on the "check your e-mail" page.
_REGISTERED = "meterdesk.registered_email"


def _site(request: HttpRequest) -> str:
    """The site's address as this request reached it, for the links in letters (as the password
    reset builds its link)."""
    return request.build_absolute_uri("/").rstrip("/")


def _mismatch_text() -> str:
    return _("The account number and meter serial number do not match.")


def too_many_text(wait: float) -> str:
    minutes = wait_minutes(wait)
    return ngettext(
        "Too many attempts for this account or from your address. Try again in %(n)d minute.",
        "Too many attempts for this account or from your address. Try again in %(n)d minutes.",
        minutes,
    ) % {"n": minutes}


def check_mail(request: HttpRequest, user: User) -> HttpResponse:
    """What a login that has not confirmed its e-mail sees instead of its accounts."""
    return render(request, "portal/check_mail.html", {"email": user.email, "logged_in": True})


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("portal:dashboard")
    form = RegistrationForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user_register(
                email=data["email"],
                password=data["password1"],
                account_number=data["account_number"],
                meter_serial=data["meter_serial"],
                registration_code=data.get("registration_code", ""),
                phone=data["phone"],
                consent=form.consent_given(),
                language=get_language() or "ru",
                site=_site(request),
                client=client_address(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
        except (ConsentMissing, ConsentOutdated):
            form.consent_outdated()
        except AccountMismatch:
            form.add_error(None, _mismatch_text())
        except TooManyAttempts as error:
            form.add_error(None, too_many_text(error.wait))
            status = 429
        else:
            # The same page whether or not the address already had a login (as the password reset).
            request.session[_REGISTERED] = data["email"]
            return redirect("portal:register_sent")
    return render(
        request,
        "portal/register.html",
        {"form": form, "consent_text": consent_text(get_language() or "ru")},
        status=status,
    )


def register_sent(request: HttpRequest) -> HttpResponse:
    email = request.session.get(_REGISTERED)
    if not email:
        return redirect("portal:register")
    return render(request, "portal/check_mail.html", {"email": email, "logged_in": False})


def verify_email(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    user = email_verify(uidb64=uidb64, token=token, site=_site(request))
    if user is None:
        return render(request, "portal/verify_failed.html", status=400)
    messages.success(request, _("Your e-mail is confirmed: your personal account is ready."))
    if request.user.is_authenticated and request.user.pk == user.pk:
        return redirect("portal:dashboard")
    return redirect("portal:login")


@login_required
@require_POST
def verify_resend(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    try:
        email_verification_resend(user=user, site=_site(request))
    except TooManyAttempts as error:
        messages.error(request, too_many_text(error.wait))
    else:
        messages.success(request, _("A new link is on its way to %(email)s.") % {"email": user.email})
    return redirect("portal:dashboard")


@login_required
@require_http_methods(["GET", "POST"])
def link_account(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    if not user.email_verified:
        return check_mail(request, user)
    form = LinkAccountForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            link = account_link(
                user=user,
                account_number=form.cleaned_data["account_number"],
                meter_serial=form.cleaned_data["meter_serial"],
                registration_code=form.cleaned_data.get("registration_code", ""),
                site=_site(request),
                client=client_address(request),
            )
        except AccountMismatch:
            form.add_error(None, _mismatch_text())
        except AlreadyLinked:
            form.add_error(None, _("This account is already linked to your login."))
        except TooManyAttempts as error:
            form.add_error(None, too_many_text(error.wait))
            status = 429
        except EmailNotVerified:  # pragma: no cover - checked above
            return check_mail(request, user)
        else:
            messages.success(
                request,
                _("Account %(number)s is now linked to your login.") % {"number": link.account.number},
            )
            return redirect("portal:dashboard")
    return render(request, "portal/link_account.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def logins(request: HttpRequest, number: str) -> HttpResponse:
    """The logins that see this account (masked e-mails); each may remove the others."""
    user = cast(User, request.user)
    try:
        account = account_for_user(user, number)
    except Account.DoesNotExist as exc:
        raise Http404 from exc
    status = 200
    error = ""
    if request.method == "POST":
        try:
            event = account_link_remove(
                by=user,
                account=account,
                link_id=int(request.POST.get("link", "")),
                client=client_address(request),
            )
        except (AccountLink.DoesNotExist, ValueError):
            error, status = _("This login is not linked to the account any more."), 404
        except RemoveNotYet as refusal:
            error, status = (
                _(
                    "Your login was linked only recently: it can remove the logins linked before it "
                    "from %(date)s."
                )
                % {"date": f"{refusal.until:%d.%m.%Y}"},
                403,
            )
        else:
            messages.success(
                request,
                _("The login %(email)s no longer sees this account; it was logged out everywhere.")
                % {"email": email_masked(event.email)},
            )
            return redirect("portal:logins", number=account.number)
    return render(
        request,
        "portal/logins.html",
        {"account": account, "logins": account_logins(account, user), "error": error, "days": UNDO_DAYS},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def undo_link(request: HttpRequest, token: str) -> HttpResponse:
    """From the letter about a new login: a page that says what will be removed, and one button
    (a link alone must not remove anything: mail scanners open links)."""
    try:
        asked = link_undo_check(token)
    except LinkGone:
        return render(request, "portal/undo_link.html", {"gone": True}, status=404)
    if request.method == "POST":
        try:
            link_undo(token=token, client=client_address(request))
        except LinkGone:
            return render(request, "portal/undo_link.html", {"gone": True}, status=404)
        return render(request, "portal/undo_link.html", {"done": True, "account": asked.link.account})
    return render(
        request,
        "portal/undo_link.html",
        {
            "account": asked.link.account,
            "login": email_masked(asked.link.user.email),
            "linked_at": asked.link.linked_at,
        },
    )

"""The profile of the personal account: contacts (the e-mail, changed by a link sent to the new
address; phone numbers), the language, bills by e-mail, the consent to personal data processing;
and logging out with a notice. Thin: the rules are in customers.profile and customers.consent
(docs/profile.md)."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from meterdesk.customers.consent import ConsentMissing, ConsentOutdated, Given, consent_record, consent_text
from meterdesk.customers.models import Phone, User
from meterdesk.customers.profile import (
    MAX_PHONES,
    PASSWORD_WRONG,
    EmailChangeError,
    EmailChangeGone,
    PhoneError,
    email_change_check,
    email_change_confirm,
    email_change_request,
    email_error_message,
    phone_add,
    phone_error_message,
    phone_remove,
    user_language_set,
)
from meterdesk.customers.selectors import consent_of, phones_of
from meterdesk.customers.services import TooManyAttempts
from meterdesk.documents.selectors import ebill_subscribed
from meterdesk.domain.phones import phone_format
from meterdesk.metering.selectors import accounts_for_user
from meterdesk.portal.middleware import language_cookie_set
from meterdesk.portal.profile_forms import ConsentFields, EmailChangeForm, LanguageForm, PhoneForm
from meterdesk.portal.registration import _site, check_mail, too_many_text
from meterdesk.ratelimit import client_address


def _login(request: HttpRequest) -> User:
    return cast(User, request.user)


def _page(
    request: HttpRequest,
    user: User,
    *,
    phone_form: PhoneForm | None = None,
    consent_form: ConsentFields | None = None,
    status: int = 200,
) -> HttpResponse:
    consent = consent_of(user)
    context: dict[str, Any] = {
        "phones": phones_of(user),
        "max_phones": MAX_PHONES,
        "phone_form": phone_form if phone_form is not None else PhoneForm(),
        "language_form": LanguageForm(initial={"language": user.language}),
        "consent": consent,
        "ebills": [
            {"account": account, "subscription": ebill_subscribed(user, account)}
            for account in accounts_for_user(user)
        ],
    }
    if consent is None:
        context["consent_form"] = consent_form if consent_form is not None else ConsentFields()
        context["consent_text"] = consent_text(get_language() or "ru")
    return render(request, "portal/profile.html", context, status=status)


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user = _login(request)
    if not user.email_verified:
        return check_mail(request, user)
    return _page(request, user)


@login_required
@require_POST
def phone_add_view(request: HttpRequest) -> HttpResponse:
    user = _login(request)
    if not user.email_verified:
        return check_mail(request, user)
    form = PhoneForm(request.POST)
    if form.is_valid():
        try:
            phone = phone_add(user=user, number=form.cleaned_data["number"], label=form.cleaned_data["label"])
        except PhoneError as error:
            form.add_error("number", phone_error_message(error))
        else:
            messages.success(
                request,
                _("The number %(number)s is added to your profile.") % {"number": phone_format(phone.number)},
            )
            return redirect(reverse("portal:profile") + "#phones")
    return _page(request, user, phone_form=form, status=422)


@login_required
@require_POST
def phone_remove_view(request: HttpRequest, phone_id: int) -> HttpResponse:
    try:
        phone = phone_remove(user=_login(request), phone_id=phone_id)
    except Phone.DoesNotExist as exc:
        raise Http404 from exc
    messages.success(
        request,
        _("The number %(number)s is removed from your profile.") % {"number": phone_format(phone.number)},
    )
    return redirect(reverse("portal:profile") + "#phones")


@login_required
@require_POST
def language_view(request: HttpRequest) -> HttpResponse:
    user = _login(request)
    form = LanguageForm(request.POST)
    if not form.is_valid():
        return HttpResponse(status=400)
    language = form.cleaned_data["language"]
    user_language_set(user=user, language=language)
    with translation.override(language):
        messages.success(request, _("Saved: the pages and letters are now in this language."))
    response = redirect("portal:profile")
    # This browser follows at once, even if its switch had chosen the other language before.
    language_cookie_set(response, language)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def email_change(request: HttpRequest) -> HttpResponse:
    user = _login(request)
    if not user.email_verified:
        return check_mail(request, user)
    form = EmailChangeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            sent_to = email_change_request(
                user=user,
                new_email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                site=_site(request),
            )
        except EmailChangeError as error:
            field = "password" if error.code == PASSWORD_WRONG else "email"
            form.add_error(field, email_error_message(error))
            status = 422
        except TooManyAttempts as error:
            form.add_error(None, too_many_text(error.wait))
            status = 429
        else:
            messages.info(
                request,
                _(
                    "We have sent a link to %(new)s: follow it to make it your e-mail. Until then "
                    "your e-mail stays %(old)s."
                )
                % {"new": sent_to, "old": user.email},
            )
            return redirect("portal:profile")
    return render(request, "portal/profile_email.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """From the letter sent to the new address: a page that says what will change, and one
    button (a link alone must not change anything: mail scanners open links)."""
    try:
        asked = email_change_check(token)
    except EmailChangeGone:
        return render(request, "portal/profile_email_confirm.html", {"gone": True}, status=400)
    if request.method == "GET":
        return render(request, "portal/profile_email_confirm.html", {"new_email": asked.new})
    try:
        user = email_change_confirm(token=token)
    except EmailChangeGone:
        return render(request, "portal/profile_email_confirm.html", {"gone": True}, status=400)
    messages.success(request, _("Done: your e-mail is now %(email)s.") % {"email": user.email})
    if request.user.is_authenticated and request.user.pk == user.pk:
        return redirect("portal:profile")
    return redirect("portal:login")


@login_required
@require_http_methods(["GET", "POST"])
def consent_view(request: HttpRequest) -> HttpResponse:
    """The text of the consent the login gave, word for word; for a login without one (made by
    staff, an import or the demo), the form that gives it."""
    user = _login(request)
    if not user.email_verified:
        return check_mail(request, user)
    if request.method == "POST":
        form = ConsentFields(request.POST)
        if form.is_valid():
            try:
                consent_record(
                    user=user,
                    version=form.consent_given(),
                    language=get_language() or "ru",
                    given=Given(
                        address=client_address(request),
                        user_agent=request.META.get("HTTP_USER_AGENT", ""),
                        channel="profile",
                    ),
                )
            except (ConsentMissing, ConsentOutdated):
                form.consent_outdated()
            else:
                messages.success(request, _("Thank you: your consent is recorded."))
                return redirect(reverse("portal:profile") + "#consent")
        return _page(request, user, consent_form=form, status=422)
    consent = consent_of(user)
    if consent is None:
        return redirect(reverse("portal:profile") + "#consent")
    return render(request, "portal/profile_consent.html", {"consent": consent})


class LogoutView(auth_views.LogoutView):
    """Django's logout, then the login page says so (in the language of the pages just left)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        was_logged_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_logged_in:
            messages.info(
                request,
                _(
                    "You have logged out of the personal account. On a shared computer, also close the browser."
                ),
            )
        return response

"""Pages of payments: pay (card or SBP, one account or several), the SBP QR code, the result after
the provider's page, the payment history, the provider's notifications, and the sandbox's test
pages (the card page and the SBP "bank app"). Thin: parse, call a service, render."""

from __future__ import annotations

import json
import logging
import math
import re
from decimal import Decimal
from typing import Any, cast

import segno
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from meterdesk.billing.messages import balance_words, money
from meterdesk.billing.selectors import account_balance
from meterdesk.customers.models import Account, User
from meterdesk.metering.selectors import account_for_user, accounts_for_user
from meterdesk.payments import providers
from meterdesk.payments.autopay import autopay_of, consent_words
from meterdesk.payments.forms import PayForm, SandboxCardForm, new_key
from meterdesk.payments.messages import options_text, refused_text, unavailable_text
from meterdesk.payments.models import Confirmation, Payment, PaymentChannel, PaymentMethod, SandboxPayment
from meterdesk.payments.sandbox import TEST_CARDS, sandbox_cancel, sandbox_pay, sandbox_sbp_answer
from meterdesk.payments.selectors import (
    customer_state,
    payment_for_user,
    payment_parts,
    payment_rows,
    payments_open_of,
)
from meterdesk.payments.services import (
    AmountInvalid,
    AmountMismatch,
    KeyReused,
    OptionsInvalid,
    ProviderUnavailable,
    notification_handle,
    payment_settle,
    payment_start,
)

log = logging.getLogger(__name__)


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _account(request: HttpRequest, number: str) -> Account:
    try:
        return account_for_user(_user(request), number)
    except Account.DoesNotExist as exc:
        raise Http404 from exc


def _debt_text(balance: Decimal) -> str:
    return f"{balance:.2f}".replace(".", ",") if balance > 0 else ""


@login_required
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest, number: str) -> HttpResponse:
    account = _account(request, number)
    balance = account_balance(account)
    others = list(accounts_for_user(_user(request)).exclude(pk=account.pk).order_by("number"))
    status = 200
    if request.method == "POST":
        form = PayForm(request.POST, others=others)
        if form.is_valid():
            shares = form.shares_of(account)
            method = form.cleaned_data["method"]
            save_card = bool(form.cleaned_data.get("autopay"))
            try:
                payment = payment_start(
                    shares=shares,
                    key_scope=f"web:{request.user.pk}",
                    key=form.cleaned_data["key"],
                    return_url=lambda p: request.build_absolute_uri(reverse("payments:status", args=[p.pk])),
                    user=_user(request),
                    channel=PaymentChannel.WEB,
                    method=method,
                    confirmation=Confirmation.QR if method == PaymentMethod.SBP else Confirmation.REDIRECT,
                    save_card=save_card,
                    consent_text=consent_words([s.account.number for s in shares]) if save_card else "",
                )
            except ProviderUnavailable as error:
                form.add_error(None, unavailable_text() if error.error.retryable else refused_text())
                status = 503 if error.error.retryable else 502
            except KeyReused:
                # The same form sent again with another amount (after "Back"): a fresh form.
                data = request.POST.copy()
                data["key"] = new_key()
                form = PayForm(data, others=others)
                form.is_valid()
                form.add_error(
                    None,
                    _(
                        "This form was already used for another payment. Check the amount and press “Pay” again."
                    ),
                )
                status = 409
            except (AmountInvalid, OptionsInvalid):  # pragma: no cover - the form checks the same rules
                form.add_error(None, options_text())
                status = 422
            else:
                if payment.final:
                    return redirect("payments:status", payment.pk)
                if payment.qr_data:
                    return redirect("payments:sbp", payment.pk)
                if not payment.confirmation_url:
                    return redirect("payments:status", payment.pk)
                return redirect(request.build_absolute_uri(payment.confirmation_url))
        else:
            status = 422
    else:
        initial: dict[str, Any] = {"key": new_key(), "method": PaymentMethod.CARD.value}
        initial["amount"] = _debt_text(balance)
        initial["autopay"] = request.GET.get("autopay") == "1"
        for other in others:
            initial[f"amount_{other.number}"] = _debt_text(account_balance(other))
        form = PayForm(initial=initial, others=others)
    return render(
        request,
        "payments/pay.html",
        {
            "account": account,
            "form": form,
            "balance": balance,
            "balance_text": balance_words(balance),
            "consent": consent_words([account.number]),
            "autopay": autopay_of(account),
        },
        status=status,
    )


def _open_payment(request: HttpRequest, payment_id: int) -> Payment:
    """The login's payment, brought in line with the provider while it is open."""
    try:
        payment = payment_for_user(_user(request), payment_id)
    except Payment.DoesNotExist as exc:
        raise Http404 from exc
    if not payment.final and payment.provider_payment_id:
        try:
            payment = payment_settle(payment=payment, source="return page").payment
        except (providers.ProviderError, providers.RemoteNotFound, AmountMismatch) as error:
            # The notification or reconcile settles it later; the page says "waiting".
            log.warning("payment %s: could not check it on return: %s", payment.pk, error)
    return payment


@login_required
def status(request: HttpRequest, payment_id: int) -> HttpResponse:
    """Where the provider sends the customer back: the payment's state, checked with the provider."""
    payment = _open_payment(request, payment_id)
    balance = account_balance(payment.account)
    return render(
        request,
        "payments/status.html",
        {
            "payment": payment,
            "account": payment.account,
            "parts": payment_parts(payment),
            "state": customer_state(payment),
            "balance": balance,
            "balance_text": balance_words(balance),
        },
    )


def qr_image(text: str) -> str:
    """The QR code of ``text`` as an SVG data URI (the page's policy allows data: images)."""
    return str(segno.make(text, error="m").svg_data_uri(scale=5, border=4))


@login_required
@require_GET
def sbp(request: HttpRequest, payment_id: int) -> HttpResponse:
    """An SBP payment by QR code: the code to scan with the bank's app on a phone, and the same link
    to open on the phone itself. The page follows the payment and moves on when it ends."""
    payment = _open_payment(request, payment_id)
    if payment.final or not payment.qr_data:
        return redirect("payments:status", payment.pk)
    link = request.build_absolute_uri(payment.qr_data)
    return render(
        request,
        "payments/sbp.html",
        {
            "payment": payment,
            "account": payment.account,
            "parts": payment_parts(payment),
            "link": link,
            "qr": qr_image(link),
        },
    )


@login_required
@require_GET
def state(request: HttpRequest, payment_id: int) -> JsonResponse:
    """The payment's state for the SBP page's script (asked every few seconds while it waits)."""
    payment = _open_payment(request, payment_id)
    return JsonResponse(
        {
            "state": customer_state(payment),
            "final": payment.final,
            "url": reverse("payments:status", args=[payment.pk]),
        }
    )


@login_required
def history(request: HttpRequest, number: str) -> HttpResponse:
    account = _account(request, number)
    balance = account_balance(account)
    return render(
        request,
        "payments/history.html",
        {
            "account": account,
            "rows": payment_rows(account),
            "attempts": [(p, customer_state(p)) for p in payments_open_of(account)],
            "balance": balance,
            "balance_text": balance_words(balance),
        },
    )


@csrf_exempt
@require_POST
def notification(request: HttpRequest, provider: str) -> HttpResponse:
    """A provider's notification (YooKassa's HTTP notifications; the sandbox's too). Its body only
    names the payment: the payment is fetched back from the provider before anything is done."""
    if provider not in providers.PROVIDER_NAMES:
        raise Http404
    raw = request.body
    body = _notification_body(raw)
    if body is None:
        # Recorded (and answered 400 as malformed) with the raw text made safe to store and show.
        shown = _shown(raw)
        log.warning("%s notification refused, not a plain JSON notification: %s", provider, shown)
        body = {"raw": shown}
    result = notification_handle(provider_name=provider, body=body)
    return JsonResponse({"outcome": result.outcome}, status=result.http_status)


#: A notification is a small JSON object; anything far larger, deeper or stranger is refused.
NOTIFICATION_MAX_BYTES = 64 * 1024
NOTIFICATION_MAX_DEPTH = 32
NOTIFICATION_MAX_DIGITS = 40
#: Characters refused in a notification's text, and escaped where its raw body is shown: the
#: control characters (PostgreSQL refuses a NUL in text and JSON) and lone surrogates (not UTF-8).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
SHOWN_MAX_BYTES = 2000


class _Refused(ValueError):
    pass


def _number(text: str) -> int:
    if len(text) > NOTIFICATION_MAX_DIGITS:  # before int(): at 4,300 digits it raises
        raise _Refused("number too long")
    return int(text)


def _real(text: str) -> float:
    value = float(text)
    if len(text) > NOTIFICATION_MAX_DIGITS or not math.isfinite(value):
        raise _Refused("number out of range")
    return value


def _constant(text: str) -> float:
    raise _Refused(f"{text} is not JSON")


def _notification_body(raw: bytes) -> Any | None:
    """The body as JSON if it is plain, bounded JSON (UTF-8, no control characters or lone
    surrogates in any string, nesting and numbers within reason); None otherwise."""
    if len(raw) > NOTIFICATION_MAX_BYTES:
        return None
    try:
        body = json.loads(raw.decode("utf-8"), parse_int=_number, parse_float=_real, parse_constant=_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):  # JSONDecodeError and _Refused too
        return None
    # Walked without recursion: the depth is what is checked.
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str) and _UNSAFE.search(node):
            return None
        if isinstance(node, dict | list):
            if depth > NOTIFICATION_MAX_DEPTH:
                return None
            items = [*node.keys(), *node.values()] if isinstance(node, dict) else node
            stack.extend((item, depth + 1) for item in items)
    return body


def _shown(raw: bytes) -> str:
    """The raw body as text safe to store and to log: the first bytes only, bytes that are not
    UTF-8 and control characters escaped as Python writes them (``\\xff``, ``\\x00``)."""
    text = raw[:SHOWN_MAX_BYTES].decode("utf-8", "backslashreplace")
    text = _UNSAFE.sub(lambda m: repr(m[0])[1:-1], text)
    return text + ("…" if len(raw) > SHOWN_MAX_BYTES else "")


# --- the sandbox's test payment page --------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def sandbox_page(request: HttpRequest, sandbox_id: str) -> HttpResponse:
    """The sandbox provider's payment page (the stand-in for the bank's page): no login, the
    unguessable id is the key, as with a real provider. It exists only while the sandbox is the
    configured provider: with a real one, no test card can pay anything."""
    if providers.default_provider_name() != "sandbox":
        raise Http404
    payment = SandboxPayment.objects.filter(pk=sandbox_id).first()
    if payment is None:
        raise Http404
    back = (
        payment.return_url
        if url_has_allowed_host_and_scheme(payment.return_url, allowed_hosts={request.get_host()})
        else ""
    )
    form = SandboxCardForm(request.POST or None)
    decided = payment.status != providers.PENDING or payment.bank_due_at is not None
    status_code = 200
    if payment.method == providers.SBP:
        # YooKassa's own SBP page: the QR code and the link into the bank's app.
        link = request.build_absolute_uri(reverse("payments:sandbox_sbp", kwargs={"sandbox_id": payment.pk}))
        return render(
            request,
            "payments/sandbox_sbp.html",
            {
                "payment": payment,
                "decided": decided,
                "back": back,
                "link": link,
                "qr": qr_image(link),
                "amount": money(Decimal(payment.amount)),
                "bank": False,
            },
        )
    if request.method == "POST" and not decided:
        if request.POST.get("action") == "cancel":
            sandbox_cancel(sandbox_id=payment.pk)
            return redirect(back or "portal:dashboard")
        if form.is_valid():
            sandbox_pay(sandbox_id=payment.pk, number=form.cleaned_data["number"])
            return redirect(back or "portal:dashboard")
        status_code = 422
    return render(
        request,
        "payments/sandbox.html",
        {
            "payment": payment,
            "form": form,
            "decided": decided,
            "back": back,
            "cards": TEST_CARDS,
            "amount": money(Decimal(payment.amount)),
        },
        status=status_code,
    )


@require_http_methods(["GET", "POST"])
def sandbox_sbp(request: HttpRequest, sandbox_id: str) -> HttpResponse:
    """The sandbox's stand-in for the bank's app where an SBP payment is confirmed: what a phone
    opens from the QR code. No login: the unguessable id is the key, as with a real payment link."""
    if providers.default_provider_name() != "sandbox":
        raise Http404
    payment = SandboxPayment.objects.filter(pk=sandbox_id, method=providers.SBP).first()
    if payment is None:
        raise Http404
    if request.method == "POST" and payment.status == providers.PENDING:
        payment = sandbox_sbp_answer(sandbox_id=payment.pk, pay=request.POST.get("action") == "pay")
    back = (
        payment.return_url
        if url_has_allowed_host_and_scheme(payment.return_url, allowed_hosts={request.get_host()})
        else ""
    )
    return render(
        request,
        "payments/sandbox_sbp.html",
        {
            "payment": payment,
            "decided": payment.status != providers.PENDING,
            "back": back,
            "amount": money(Decimal(payment.amount)),
            "bank": True,
        },
    )

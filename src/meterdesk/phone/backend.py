"""What the phone line reads and writes of an account, through the core like every channel:
readings by ``core.readings.reading_submit`` worded by ``metering.messages``; the money by
``core.accounts.money_of``, the prices by ``core.accounts.meter_card``, the window by
``core.accounts.window_state``. Amounts, volumes and dates are put in words (``phone.words``) so
that the synthesiser says them with the right grammar."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from datetime import time
from decimal import Decimal

from django.conf import settings
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from meterdesk.billing.selectors import AccountOverview, account_balance, last_payment, statements_of
from meterdesk.core.accounts import meter_card, money_of
from meterdesk.core.readings import ACCEPTED, reading_submit
from meterdesk.customers.models import Account, AccountLink, User
from meterdesk.customers.selectors import phone_accounts
from meterdesk.domain.phones import PhoneInvalid, phone_parse
from meterdesk.metering.check import (
    OUT_OF_SERVICE,
    MeterNotInService,
    MonthClosed,
    NeedsConfirmation,
    ReadingError,
    ReadingInvalid,
    WindowClosed,
)
from meterdesk.metering.messages import issue_message, month_closed_message, zone_label
from meterdesk.metering.models import Channel, Meter
from meterdesk.payments.links import SmsError, pay_link_possible, pay_link_send
from meterdesk.phone.dialog import AccountRef, MeterRef, ReadingAnswer
from meterdesk.phone.models import Building, CallbackRequest, Office
from meterdesk.phone.offices import offices_on
from meterdesk.phone.words import day_words, digits_words, money_words, volume_words
from meterdesk.utility.selectors import utility_now

log = logging.getLogger(__name__)

#: Abbreviations of addresses as the synthesiser should say them.
_SPOKEN = (
    (r"\bул\.\s*", "улица "),
    (r"\bпр-т\b\.?\s*", "проспект "),
    (r"\bпр-д\b\.?\s*", "проезд "),
    (r"\bпер\.\s*", "переулок "),
    (r"\bш\.\s*", "шоссе "),
    (r"\bб-р\b\.?\s*", "бульвар "),
    (r"\bнаб\.\s*", "набережная "),
    (r"\bпл\.\s*", "площадь "),
    (r"\bд\.\s*", "дом "),
    (r"\bкорп\.\s*", "корпус "),
    (r"\bстр\.\s*", "строение "),
)
_NOT_STREET = re.compile(r"^\s*(\d{6}|г\.|город|кв\.|квартира|пом\.)", re.IGNORECASE)


def street_house(address: str) -> str:
    """The street and house of an address (no postcode, city or flat): what the line reads back
    to a caller it recognised by the number, and the key of ``Building``."""
    parts = [p.strip() for p in address.split(",") if p.strip() and not _NOT_STREET.match(p)]
    return ", ".join(parts)


def spoken_address(address: str) -> str:
    text = address
    for pattern, words in _SPOKEN:
        text = re.sub(pattern, words, text)
    return text


def _ref(account: Account) -> AccountRef:
    return AccountRef(account.pk, account.number, spoken_address(street_house(account.address)))


def _distance_km(lat1: Decimal, lon1: Decimal, lat2: Decimal, lon2: Decimal) -> float:
    """The great-circle distance (haversine), enough to tell the nearest office."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def nearest_office(account: Account | None) -> Office | None:
    """The open office nearest to the account's building; the first open office when the building's
    place is not known."""
    offices = offices_on(utility_now().date(), active_only=True)
    if not offices:
        return None
    building = (
        None
        if account is None
        else Building.objects.filter(street_house=street_house(account.address)).first()
    )
    if building is None:
        return offices[0]
    return min(
        offices, key=lambda o: _distance_km(building.latitude, building.longitude, o.latitude, o.longitude)
    )


def operator_hours(spec: str) -> tuple[time, time]:
    """``09:00-20:00`` → the operators' hours, in the utility's time zone."""
    start, _sep, end = spec.partition("-")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def _russian() -> bool:
    return (get_language() or "ru").startswith("ru")


class CoreBackend:
    """The line's ``dialog.Backend`` on the database."""

    def callers(self, number: str) -> list[AccountRef]:
        return [_ref(a) for a in phone_accounts(number)[:2]]

    def identify(self, number: str, serial_tail: str) -> AccountRef | None:
        account = (
            Account.objects.filter(number=number, closed_on__isnull=True)
            .filter(meters__serial__endswith=serial_tail)
            .exclude(meters__status__in=OUT_OF_SERVICE)
            .first()
        )
        return None if account is None else _ref(account)

    def meters(self, account: AccountRef) -> list[MeterRef]:
        found = Meter.objects.filter(account_id=account.id).exclude(status__in=OUT_OF_SERVICE).order_by("pk")
        return [MeterRef(m.pk, m.serial[-4:], tuple(meter_card_labels(m)), m.digits) for m in found]

    def _login(self, account: AccountRef) -> User | None:
        """The login that gets the confirmation e-mail: the account's first linked."""
        link = AccountLink.objects.filter(account_id=account.id).select_related("user").order_by("pk").first()
        return None if link is None else link.user

    def reading(
        self,
        account: AccountRef,
        meter: MeterRef,
        values: Sequence[str],
        confirmed: Sequence[str],
        caller: str,
    ) -> ReadingAnswer:
        language = get_language() or "ru"
        try:
            result = reading_submit(
                meter_id=meter.id,
                values=list(values),
                channel=Channel.IVR,
                submitted_by=self._login(account),
                confirmed=confirmed,
                language=language,
            )
        except ReadingInvalid as error:
            said = tuple(f"{meter.labels[i.zone - 1]}: {issue_message(i)}" for i in error.issues)
            issues = tuple((i.zone, i.code) for i in error.issues)
            return ReadingAnswer(error.issues[0].code, said, retry=True, issues=issues)
        except NeedsConfirmation as error:
            said = tuple(issue_message(i) for i in error.issues)
            tokens = tuple(error.checked.token(i) for i in error.issues)
            return ReadingAnswer(
                error.code, said, tokens, issues=tuple((i.zone, i.code) for i in error.issues)
            )
        except WindowClosed as error:
            return ReadingAnswer(error.code, (self._window_closed(error),))
        except MonthClosed as error:
            return ReadingAnswer(error.code, (month_closed_message(error.period),))
        except MeterNotInService as error:
            return ReadingAnswer(error.code, (_("This meter is not in service and takes no readings."),))
        except ReadingError as error:
            return ReadingAnswer(error.code, (_("The reading was not accepted."),))
        charge = result.charge
        lines = [_("The reading is accepted.")]
        if result.replaced is not None:
            lines.append(_("It replaces the reading given earlier this month."))
        lines.append(
            _("Consumption: %(kwh)s.") % {"kwh": volume_words(sum(charge.consumption, Decimal(0)), language)}
        )
        if charge.total is not None:
            lines.append(
                _("The month's charge: %(amount)s.") % {"amount": money_words(charge.total, language)}
            )
        lines.append(
            _("Your confirmation number: %(number)s.")
            % {"number": digits_words(result.reading.confirmation, language)}
        )
        return ReadingAnswer(ACCEPTED, tuple(lines), charge=charge, replaced=result.replaced is not None)

    def _window_closed(self, error: WindowClosed) -> str:
        language = get_language() or "ru"
        return _("Readings are not accepted today. The next window is from %(start)s to %(end)s.") % {
            "start": day_words(error.opens_on, language),
            "end": day_words(error.closes_on, language),
        }

    def balance(self, account: AccountRef) -> str:
        language = get_language() or "ru"
        record = Account.objects.get(pk=account.id)
        latest = statements_of(record).first()
        money = money_of(
            AccountOverview(record, account_balance(record), last_payment(record), latest, [], None)
        )
        if money.debt:
            text = _("You owe %(amount)s.") % {"amount": money_words(money.debt, language)}
        elif money.credit:
            text = _("You have paid %(amount)s in advance.") % {"amount": money_words(money.credit, language)}
        else:
            text = _("You owe nothing.")
        if money.last_payment is not None and money.last_payment_amount is not None:
            text += " " + _("Your last payment: %(amount)s on %(day)s.") % {
                "amount": money_words(money.last_payment_amount, language),
                "day": day_words(money.last_payment.posted_on, language),
            }
        return text

    def tariff(self, account: AccountRef) -> str:
        language = get_language() or "ru"
        record = Account.objects.get(pk=account.id)
        today = utility_now().date()
        said: list[str] = []
        for meter in Meter.objects.filter(account=record).exclude(status__in=OUT_OF_SERVICE).order_by("pk"):
            card = meter_card(meter, record, today)
            for row in card.prices:
                if row.band == 1:
                    said.append(
                        _("%(zone)s: %(price)s per kilowatt-hour.")
                        % {"zone": row.label, "price": money_words(row.price, language)}
                    )
        return " ".join(dict.fromkeys(said)) or _("No tariff is set for your meters today.")

    def office(self, account: AccountRef | None) -> str:
        record = None if account is None else Account.objects.get(pk=account.id)
        office = nearest_office(record)
        if office is None:
            return _("Our offices' addresses are on our website.")
        return _("The nearest office: %(name)s, %(address)s. Opening hours: %(hours)s.") % {
            "name": office.name,
            "address": spoken_address(office.address),
            "hours": office.hours_ru if _russian() else office.hours_en,
        }

    def payment(self, account: AccountRef | None, number: str = "") -> str:
        text = _(
            "You can pay in your personal account on our website, with the QR code of your bill in "
            "your bank's app, or at a bank or post office with your bill."
        )
        if account is None:
            return text
        language = get_language() or "ru"
        current = Account.objects.get(pk=account.id)
        latest = statements_of(current).first()
        if latest is not None and latest.closing_balance > 0:
            text += " " + _("Your latest bill asks %(amount)s by %(day)s.") % {
                "amount": money_words(latest.closing_balance, language),
                "day": day_words(latest.due_date, language),
            }
        return text + self._pay_link(current, number, language)

    def _pay_link(self, account: Account, number: str, language: str) -> str:
        """A payment link by SMS to the calling number, if it is a mobile on file for the account
        (never to a number the account does not have); the words that say so, or nothing."""
        try:
            mobile = phone_parse(number)
        except PhoneInvalid:
            return ""
        if not pay_link_possible(mobile) or not phone_accounts(mobile).filter(pk=account.pk).exists():
            return ""
        try:
            pay_link_send(account=account, phone=mobile, via="phone", language=language)
        except SmsError as error:
            if error.code == "limit":
                return " " + _("A payment link has already been sent to your phone today.")
            log.warning("payment link to the caller not sent: %s", error)
            return ""
        return " " + _("We have sent a link to pay to your phone by text message.")

    def services(self) -> str:
        return _(
            "We install and replace meters, verify them, and move accounts to new owners. Staff "
            "call you back to agree the day."
        )

    def callback(self, account: AccountRef | None, number: str, topic: str) -> None:
        if account is not None and _service_order(account, number, topic):
            return  # in the service requests' queue: staff call back to agree the day
        CallbackRequest.objects.create(
            number=number, account_id=None if account is None else account.id, topic=topic
        )

    def operator(self) -> str | None:
        target = settings.METERDESK_IVR_OPERATOR
        if not target:
            return None
        start, end = operator_hours(settings.METERDESK_IVR_OPERATOR_HOURS)
        now = utility_now().time()
        return target if start <= now < end else None


def _service_order(account: AccountRef, number: str, topic: str) -> bool:
    """A service asked for by an identified caller, as a service request (``orders``); False when
    the topic is not a service or the order is refused (then a plain callback request is made)."""
    from meterdesk.orders.messages import phone_comment
    from meterdesk.orders.models import Channel as OrderChannel
    from meterdesk.orders.services import OrderError, request_order

    if topic == "meter_installation":
        has_meter = Meter.objects.filter(account_id=account.id, removed_on__isnull=True).exists()
        code = "meter-replacement" if has_meter else "meter-installation"
    elif topic == "verification":
        code = "verification"
    else:
        return False
    try:
        request_order(
            account=Account.objects.get(pk=account.id),
            service_code=code,
            channel=OrderChannel.PHONE,
            comment=phone_comment(number),
        )
    except OrderError:
        return False
    return True


def meter_card_labels(meter: Meter) -> list[str]:
    return [zone_label(meter.zones, z) for z in range(1, meter.zones + 1)]

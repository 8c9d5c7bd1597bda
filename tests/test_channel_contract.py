"""The channel contract: a reading gets the same outcome, with the same charge, whichever channel
it comes through.

``CASES`` is one table of readings (the window closed, below the previous reading, too many
digits, not a number, a rollover and an unusual consumption that need a confirmation, a second
reading of the month replacing the first, meters of one, two and three zones, someone else's
meter, a closed month). Each case runs through every adapter in ``CHANNELS``, each time in a world
of its own built the same way, and every channel must answer as the core does
(``core.readings.reading_submit`` called directly, ``CoreChannel``): the same stable outcome
code, the same issues, the same confirmations asked for, and, once accepted, the same charge
(total and lines) and whether it replaced an earlier reading.

A new channel (e-mail, the phone line, the office terminal, the back office) joins by adding one
adapter: a subclass of ``Channel`` whose ``submit`` sends the reading the way that channel's
users do (through its real entry point: a view, an endpoint, a parsed message) and reads the
answer the channel gives them back into an ``Answer``; then it goes in ``CHANNELS``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from unittest import mock

import pytest
from django.test import Client, TestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from meterdesk.api.auth import token_create
from meterdesk.billing.models import AccountClose
from meterdesk.billing.preview import ChargePreview
from meterdesk.core.readings import ACCEPTED, reading_submit
from meterdesk.customers.models import PremisesCategory, User
from meterdesk.metering.check import NeedsConfirmation, ReadingError, ReadingInvalid
from meterdesk.metering.models import Channel as ReadingChannel
from meterdesk.metering.models import Meter
from meterdesk.testing import (
    AccountFactory,
    MeterFactory,
    ReadingFactory,
    UserFactory,
    link,
    make_tariff,
    moscow,
)

pytestmark = pytest.mark.django_db

D = Decimal
IN_WINDOW = moscow(2026, 11, 20)  # the utility's window is the 15th to the 26th
BEFORE_WINDOW = moscow(2026, 11, 10)
NOVEMBER = date(2026, 11, 1)
NOT_FOUND = "not_found"


# --- what a channel answers ---------------------------------------------------------------------


Line = tuple[int, int, Decimal, Decimal, Decimal, str]  # zone, band, volume, price, amount, basis


@dataclass(frozen=True)
class Answer:
    """What a channel told its user, in the contract's terms."""

    #: ``accepted``, the refusal's stable code (a value's own code, e.g. reading_below_previous,
    #: for values that break a rule), or ``not_found``
    code: str
    #: (zone, code) of each value's problem, or of each confirmation asked for
    issues: frozenset[tuple[int, str]] = frozenset()
    #: the confirmations the user is asked to send back
    confirm: tuple[str, ...] = ()
    #: the month's charge shown once accepted: the consumption per zone, the total, the lines
    consumption: tuple[Decimal, ...] = ()
    total: Decimal | None = None
    lines: tuple[Line, ...] = ()
    replaced: bool = False


def _answer_of_charge(charge: ChargePreview, replaced: bool) -> Answer:
    lines = tuple((c.zone, c.band, c.volume, c.price, c.amount, c.basis) for c in charge.lines)
    return Answer(
        ACCEPTED, consumption=charge.consumption, total=charge.total, lines=lines, replaced=replaced
    )


@dataclass
class World:
    """One case's data, built afresh for each channel: the login and its meter."""

    user: User
    meter: Meter


class Channel:
    """An adapter: submits a reading as the channel's users do, and reads its answer."""

    name: ClassVar[str]

    def submit(self, world: World, values: Sequence[str], confirm: Sequence[str]) -> Answer:
        raise NotImplementedError


class CoreChannel(Channel):
    """The core itself, which every channel must match."""

    name = "core"

    def submit(self, world: World, values: Sequence[str], confirm: Sequence[str]) -> Answer:
        try:
            result = reading_submit(
                meter_id=world.meter.pk,
                login=world.user,
                values=list(values),
                channel=ReadingChannel.WEB,
                submitted_by=world.user,
                confirmed=confirm,
            )
        except Meter.DoesNotExist:
            return Answer(NOT_FOUND)
        except ReadingInvalid as error:
            issues = frozenset((i.zone, i.code) for i in error.issues)
            return Answer(error.issues[0].code, issues)
        except NeedsConfirmation as error:
            asked = tuple(error.checked.token(i) for i in error.issues)
            return Answer(error.code, frozenset((i.zone, i.code) for i in error.issues), asked)
        except ReadingError as error:
            return Answer(error.code)
        return _answer_of_charge(result.charge, result.replaced is not None)


class WebChannel(Channel):
    """The personal account's reading form (portal.views.submit_reading), then the receipt page
    it leads to."""

    name = "web"

    def submit(self, world: World, values: Sequence[str], confirm: Sequence[str]) -> Answer:
        client = Client()
        client.force_login(world.user)
        data: dict[str, Any] = {f"t{zone}": value for zone, value in enumerate(values, start=1)}
        data["confirm"] = list(confirm)
        response = client.post(reverse("portal:submit_reading", args=[world.meter.pk]), data)
        if response.status_code == 404:
            return Answer(NOT_FOUND)
        if response.status_code == 302:
            receipt = client.get(response["Location"])
            reading = receipt.context["reading"]
            return _answer_of_charge(receipt.context["charge"], reading.replaces_id is not None)
        context = response.context
        if context["confirmations"]:
            asked = context["confirmations"]
            issues = frozenset((int(c["confirm"].split(":")[1].split("=")[0]), c["code"]) for c in asked)
            return Answer("needs_confirmation", issues, tuple(c["confirm"] for c in asked))
        form = context["form"]
        if form.errors:
            errors = form.errors.as_data()
            issues = frozenset(
                (int(name[1:]) if name.startswith("t") else 0, error.code)
                for name, found in errors.items()
                for error in found
            )
            values_issues = {(zone, code) for zone, code in issues if zone}
            if values_issues:
                first = min(values_issues)[1]
                return Answer(first, frozenset(values_issues))
            return Answer(next(iter(issues))[1])
        if not context["window"].open:
            return Answer("window_closed")
        raise AssertionError(f"the form answered {response.status_code} without saying why")


class ApiChannel(Channel):
    """The public API: POST /api/v1/meters/{id}/readings with the login's token."""

    name = "api"

    def submit(self, world: World, values: Sequence[str], confirm: Sequence[str]) -> Answer:
        token = token_create(user=world.user, name="contract")[1]
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        response = client.post(
            f"/api/v1/meters/{world.meter.pk}/readings",
            {"values": list(values), "confirm": list(confirm)},
            content_type="application/json",
        )
        body = response.json()
        if response.status_code == 201:
            charge = body["charge"]
            lines = tuple(
                (c["zone"], c["band"], D(c["volume"]), D(c["price"]), D(c["amount"]), c["basis"])
                for c in charge["lines"]
            )
            total = None if charge["total"] is None else D(charge["total"])
            consumption = tuple(D(c["kwh"]) for c in charge["consumption"])
            replaced = body["replaced"] is not None
            return Answer(ACCEPTED, consumption=consumption, total=total, lines=lines, replaced=replaced)
        details = body["details"]
        if body["code"] == "needs_confirmation":
            asked = details["confirmations"]
            issues = frozenset((c["zone"], c["code"]) for c in asked)
            return Answer(body["code"], issues, tuple(details["confirm"]))
        if "issues" in details:
            return Answer(body["code"], frozenset((i["zone"], i["code"]) for i in details["issues"]))
        return Answer(body["code"])


class EmailChannel(Channel):
    """A letter from the login's address, signed with DKIM (its key record from a file), giving the
    account number and a value per zone, stored as the mail server stores it
    (``mail.services.letter_store``) and processed by its task; the outcome read back from what
    the letter's answer said (``mail.models.Item``). A confirmation is a reply "Да" to that
    answer."""

    name = "email"
    _signer: ClassVar[Any] = None

    def __init__(self) -> None:
        self.answered: str | None = None  # the Message-ID of our last answer

    @classmethod
    def _sign(cls, raw: bytes) -> tuple[bytes, str]:
        from meterdesk.mail.tests.helpers import Signer

        if cls._signer is None:
            cls._signer = Signer(Path(tempfile.mkdtemp(prefix="contract-dkim-")))
        return cls._signer.sign(raw), str(cls._signer.records)

    def submit(self, world: World, values: Sequence[str], confirm: Sequence[str]) -> Answer:
        from meterdesk.billing.preview import charge_loads
        from meterdesk.mail.models import Answer as Sent
        from meterdesk.mail.models import Item, Via
        from meterdesk.mail.services import letter_store
        from meterdesk.mail.tests.helpers import letter

        if confirm and self.answered:
            raw = letter(
                "Да, подтверждаю",
                subject="Re: Показания",
                sender=world.user.email,
                headers={"In-Reply-To": self.answered},
            )
        else:
            zones = "\n".join(f"Т{zone} {value}" for zone, value in enumerate(values, start=1))
            raw = letter(f"Лицевой счёт {world.meter.account.number}\n{zones}", sender=world.user.email)
        signed, records = self._sign(raw)
        with (
            override_settings(METERDESK_MAIL_DKIM_RECORDS=records),
            TestCase.captureOnCommitCallbacks(execute=True),
        ):
            stored = letter_store(
                raw=signed, via=Via.SMTP, mail_from=world.user.email, rcpt_to=["readings@meterdesk.localhost"]
            )
        sent = Sent.objects.filter(letter=stored).first()
        self.answered = sent.message_id if sent else None
        item = Item.objects.select_related("reading").get(letter=stored)
        issues = frozenset(
            (int(z), c) for z, _s, c in (i.partition(":") for i in item.issues.split(",") if i)
        )
        if item.code == ACCEPTED:
            assert item.reading is not None
            return _answer_of_charge(charge_loads(item.charge), item.reading.replaces_id is not None)
        return Answer(item.code, issues, tuple(t for t in item.confirm.split(",") if t))


class PhoneChannel(Channel):
    """The phone line's dialog (``phone.dialog.Conversation`` on ``phone.backend.CoreBackend``),
    called from the login's phone number and keyed as a caller keys it: 1 to confirm the address
    read back, 1 for readings, each zone's value and ``#``, 1 to confirm it read back, 1 to
    confirm a reading the line asks to confirm. The answer is what the line said it from (the
    backend's ``ReadingAnswer``); a caller the line does not know by the number is not found."""

    name = "phone"

    def submit(self, world: World, values: Sequence[str], confirm: Sequence[str]) -> Answer:
        from meterdesk.customers.models import Phone
        from meterdesk.phone.backend import CoreBackend
        from meterdesk.phone.dialog import Conversation, MeterRef, ReadingAnswer

        answers: list[ReadingAnswer] = []

        class Heard(CoreBackend):
            def reading(self, *args: Any, **kwargs: Any) -> ReadingAnswer:
                answers.append(super().reading(*args, **kwargs))
                return answers[-1]

        caller = f"+7916{world.user.pk:07d}"
        Phone.objects.get_or_create(user=world.user, number=caller)
        User.objects.filter(pk=world.user.pk, email_verified_at__isnull=True).update(
            email_verified_at=timezone.now()
        )
        call = Conversation(Heard(), caller=caller)
        call.start()
        if call.step != "address":
            return Answer(NOT_FOUND)
        call.press("1")
        meter = world.meter
        if all(v.isdigit() for v in values):
            keys = "1" + "".join(f"{value}#1" for value in values) + ("1" if confirm else "")
            for key in keys:
                call.press(key)
        else:
            # A keypad sends digits only: a value such as ``12a4`` reaches the line's backend as
            # it is only from a speech recogniser, checked the same way.
            assert call.account is not None
            ref = MeterRef(meter.pk, meter.serial[-4:], ("",) * meter.zones, meter.digits)
            Heard().reading(call.account, ref, list(values), [], caller)
        last = answers[-1]
        if last.code == ACCEPTED:
            assert isinstance(last.charge, ChargePreview)
            return _answer_of_charge(last.charge, last.replaced)
        return Answer(last.code, frozenset(last.issues), last.confirm)


class OfficeChannel(Channel):
    """The back office: an operator keys the customer's slip, dated the day it is given, on the
    account's page (``backoffice.views.reading_new``), then reads the reading's page it leads to.
    The slip names the customer's own account: one not linked to the login (someone else's meter)
    is a slip naming an account that has no such meter. A replacement is a correction, so the
    slip comes with a reason."""

    name = "office"

    def submit(self, world: World, values: Sequence[str], confirm: Sequence[str]) -> Answer:
        from django.contrib.auth.models import Group

        from meterdesk.backoffice.roles import OPERATOR, group_name
        from meterdesk.customers.models import Account
        from meterdesk.utility.selectors import utility_now

        operator = UserFactory(email="operator@office.example.com", is_staff=True)
        operator.groups.add(Group.objects.get(name=group_name(OPERATOR)))
        client = Client()
        client.force_login(operator)
        account = Account.objects.filter(links__user=world.user).first()
        number = account.number if account is not None else "0000000000"
        data: dict[str, Any] = {f"t{zone}": value for zone, value in enumerate(values, start=1)}
        data.update(
            meter=world.meter.pk,
            channel=ReadingChannel.PAPER,
            slip_date=utility_now().date().isoformat(),
            reason="slip",
            confirm=list(confirm),
        )
        response = client.post(reverse("backoffice:reading_new", args=[number]), data)
        if response.status_code == 404:
            return Answer(NOT_FOUND)
        if response.status_code == 302:
            receipt = client.get(response["Location"])
            reading = receipt.context["reading"]
            return _answer_of_charge(receipt.context["charge"], reading.replaces_id is not None)
        context = response.context
        if context["window_closed"]:
            return Answer("window_closed")
        if context["confirmations"]:
            asked = context["confirmations"]
            issues = frozenset((c["zone_no"], c["code"]) for c in asked)
            return Answer("needs_confirmation", issues, tuple(c["confirm"] for c in asked))
        errors = context["form"].errors.as_data()
        issues = frozenset(
            (int(name[1:]), error.code)
            for name, found in errors.items()
            if name.startswith("t")
            for error in found
        )
        if issues:
            return Answer(min(issues)[1], issues)
        codes = [error.code for found in errors.values() for error in found]
        if codes:
            return Answer(str(codes[0]))
        raise AssertionError(f"the back office answered {response.status_code} without saying why")


class TerminalChannel(Channel):
    """The office terminal (``terminal.views``): a screen enrolled by its one-time link, the
    household identified by its account number and meter serial, the reading given on the form,
    then the confirmation page it leads to. Someone else's meter: a household identified with an
    account of its own asks for the other's meter."""

    name = "terminal"

    def submit(self, world: World, values: Sequence[str], confirm: Sequence[str]) -> Answer:
        from meterdesk.customers.models import Account
        from meterdesk.terminal.services import terminal_register

        client = Client()
        _terminal, token = terminal_register(name="contract", location="office")
        client.post(reverse("terminal:enrol", args=[token]))
        own = Account.objects.filter(links__user=world.user, pk=world.meter.account_id).first()
        meter = world.meter if own is not None else MeterFactory()
        start = {"account_number": meter.account.number, "meter_serial": meter.serial}
        assert client.post(reverse("terminal:start"), start).status_code == 302
        data: dict[str, Any] = {f"t{zone}": value for zone, value in enumerate(values, start=1)}
        data["confirm"] = list(confirm)
        response = client.post(reverse("terminal:submit", args=[world.meter.pk]), data)
        if response.status_code == 404:
            return Answer(NOT_FOUND)
        if response.status_code == 302:
            receipt = client.get(response["Location"])
            reading = receipt.context["reading"]
            return _answer_of_charge(receipt.context["charge"], reading.replaces_id is not None)
        context = response.context
        if context["confirmations"]:
            asked = context["confirmations"]
            issues = frozenset((c["zone"], c["code"]) for c in asked)
            return Answer("needs_confirmation", issues, tuple(c["confirm"] for c in asked))
        issues = frozenset(
            (int(f["name"][1:]), code) for f in context["fields"] for code, _text in f["errors"]
        )
        if issues:
            return Answer(min(issues)[1], issues)
        if context["errors"]:
            return Answer(context["errors"][0][0])
        if not context["window"].open:
            return Answer("window_closed")
        raise AssertionError(f"the terminal answered {response.status_code} without saying why")


#: Every channel that takes readings. The core first: the others are compared with it.
CHANNELS: tuple[type[Channel], ...] = (
    CoreChannel,
    WebChannel,
    ApiChannel,
    EmailChannel,
    PhoneChannel,
    OfficeChannel,
    TerminalChannel,
)


# --- the cases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    values: tuple[str, ...]
    #: the outcome code every channel must answer (after the confirmations, if ``confirm``)
    expected: str
    zones: int = 2
    #: the meter's accepted readings before (month, values), oldest first
    history: tuple[tuple[date, tuple[int, ...]], ...] = ((date(2026, 10, 1), (1200, 600, 800)),)
    initial: tuple[int, ...] = (1000, 500, 700)
    #: when the reading is given
    at: datetime = IN_WINDOW
    #: a reading of the month given first, which this one replaces
    first: tuple[str, ...] | None = None
    #: the confirmation codes asked for, each confirmed by sending the reading again
    confirm: frozenset[tuple[int, str]] = field(default_factory=frozenset)
    #: the month's statement already issued
    month_closed: bool = False
    #: the meter belongs to someone else's account
    strangers: bool = False


AVERAGE_100_A_MONTH = (
    (date(2026, 8, 1), (1000, 500)),
    (date(2026, 9, 1), (1100, 550)),
    (date(2026, 10, 1), (1200, 600)),
)

CASES = (
    Case("window closed", ("1300", "650"), "window_closed", at=BEFORE_WINDOW),
    Case("below the previous reading", ("1100", "650"), "reading_below_previous"),
    Case("too many digits", ("123456", "650"), "too_many_digits"),
    Case("not a number", ("12a4", "650"), "not_a_number"),
    Case(
        "a rollover, confirmed",
        ("200",),
        ACCEPTED,
        zones=1,
        history=(),
        initial=(99500,),
        confirm=frozenset({(1, "rollover")}),
    ),
    Case(
        "an unusual consumption, confirmed",
        ("2000", "650"),
        ACCEPTED,
        history=AVERAGE_100_A_MONTH,
        confirm=frozenset({(1, "high_consumption")}),
    ),
    Case("replacing the month's earlier reading", ("1310", "655"), ACCEPTED, first=("1300", "650")),
    Case("one zone", ("1300",), ACCEPTED, zones=1),
    Case("two zones", ("1300", "650"), ACCEPTED),
    Case("three zones", ("1300", "650", "850"), ACCEPTED, zones=3),
    Case("someone else's meter", ("1300", "650"), NOT_FOUND, strangers=True),
    Case("the month already closed", ("1300", "650"), "month_closed", month_closed=True),
)

PRICES = {1: ("7.16",), 2: ("9.45", "4.08"), 3: ("10.32", "8.60", "4.08")}


def _world(case: Case, tag: str) -> World:
    account = AccountFactory(category=PremisesCategory.GAS_STOVE)
    initial = dict(zip(("initial_t1", "initial_t2", "initial_t3"), map(D, case.initial), strict=False))
    meter = MeterFactory(account=account, zones=case.zones, **initial)
    for period, values in case.history:
        given = dict(zip(("t1", "t2", "t3"), map(D, values[: case.zones]), strict=False))
        ReadingFactory(meter=meter, period=period, **given)
    user = UserFactory(email=f"{tag}@example.com")
    link(UserFactory(email=f"owner-{tag}@example.com") if case.strangers else user, account)
    if case.month_closed:
        zero = D(0)
        AccountClose.objects.create(
            account=account,
            period=NOVEMBER,
            basis="actual",
            opening_balance=zero,
            charges=zero,
            recalculations=zero,
            payments=zero,
            penalty=zero,
            closing_balance=zero,
            due_date=date(2026, 12, 10),
            closed_at=timezone.now(),
        )
    if case.first is not None:
        reading_submit(
            meter_id=meter.pk, values=list(case.first), channel=ReadingChannel.OPERATOR, now=case.at
        )
    return World(user, meter)


def _run(channel: Channel, case: Case) -> list[Answer]:
    """The answers of ``channel`` to ``case``: the reading, then, while confirmations are asked
    for, the reading again with them."""
    world = _world(case, f"{channel.name}-{CASES.index(case)}")
    with mock.patch("django.utils.timezone.now", return_value=case.at):
        answers = [channel.submit(world, case.values, ())]
        if case.confirm and answers[-1].code == "needs_confirmation":
            answers.append(channel.submit(world, case.values, answers[-1].confirm))
    return answers


@pytest.fixture(autouse=True)
def _tariffs(db, settings):
    settings.METERDESK_READING_WINDOW = None  # the utility's own window
    settings.METERDESK_API_RATE_TOKEN = "off"
    settings.METERDESK_API_RATE_ADDRESS = "off"
    for prices in PRICES.values():
        make_tariff(category=PremisesCategory.GAS_STOVE, prices=prices)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_channel_answers_a_reading_as_the_core_does(case):
    answers = {channel.name: _run(channel(), case) for channel in CHANNELS}
    core = answers[CoreChannel.name]
    assert core[-1].code == case.expected, core
    if case.confirm:
        assert [a.code for a in core] == ["needs_confirmation", ACCEPTED]
        assert core[0].issues == case.confirm
    if case.expected == ACCEPTED:
        assert core[-1].total is not None and core[-1].lines, "a priced case"
        assert core[-1].replaced == (case.first is not None)
    for name, answer in answers.items():
        assert answer == core, f"{name} answered otherwise than the core"


def test_a_channel_that_answers_otherwise_is_caught():
    """The comparison itself: an adapter whose channel words a refusal its own way fails it."""

    class Sloppy(ApiChannel):
        name = "sloppy"

        def submit(self, world: World, values: Sequence[str], confirm: Sequence[str]) -> Answer:
            answer = super().submit(world, values, confirm)
            return Answer("validation_error") if answer.code == "reading_below_previous" else answer

    case = CASES[1]
    assert _run(Sloppy(), case) != _run(CoreChannel(), case)

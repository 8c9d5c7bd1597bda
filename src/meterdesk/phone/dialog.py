"""The phone line's dialog as data, apart from the telephony.

``STEPS`` is the dialog: each ``Step`` names its prompts (the first, then a fuller one for each
retry), what it expects (one key of a menu, or an entry of digits ended by ``#``), how long it
waits, and what an answer leads to. A ``Conversation`` walks it for one call: the telephony (a SIP
endpoint, a FastAGI session, a test) hands it the keys pressed and the silences, and says the
texts it returns, transfers the call or hangs up as told. What the line reads and writes of the
account goes through a ``Backend`` (``phone.backend.CoreBackend`` calls the core).

Keys everywhere: ``*`` says the prompt again (and clears an entry begun), ``0`` in a menu is the
operator (in an entry ``0`` is a digit), ``#`` ends an entry. After ``Step.retries`` failed
answers in a row (a wrong key, silence, a number not found) the call goes to the operator. No
account data is spoken before the caller is identified: by the calling number and a confirmed
street and house, or by the account number and the last digits of a meter's serial number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from django.utils import translation
from django.utils.translation import gettext as _

from meterdesk.phone.words import counted, digits_words, number_words

SERIAL_TAIL = 4  # the last digits of a meter's serial number the caller keys in


# --- what the line says and does -----------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Transfer:
    """Put the call through to ``target`` (a SIP URI or a number)."""

    target: str


@dataclass(frozen=True)
class Hangup:
    pass


Action = Say | Transfer | Hangup


# --- what it asks of the backend -----------------------------------------------------------------


@dataclass(frozen=True)
class AccountRef:
    id: int
    number: str
    street_house: str  # what is read back to confirm the calling number's account


@dataclass(frozen=True)
class MeterRef:
    id: int
    tail: str  # the last digits of its serial number, to name it when there are several
    labels: tuple[str, ...]  # each zone in words
    digits: int  # integer digits it shows


@dataclass(frozen=True)
class ReadingAnswer:
    """The outcome of a meter's values: ``code`` as the core's (accepted, needs_confirmation, a
    refusal's or a value's code), what to say, and the confirmations asked for."""

    code: str
    said: tuple[str, ...]
    confirm: tuple[str, ...] = ()
    retry: bool = False  # the values can be keyed again (a value's problem)
    issues: tuple[tuple[int, str], ...] = ()  # (zone, code) of each value's problem or confirmation
    charge: object | None = None  # once accepted: the month's charge (billing.preview.ChargePreview)
    replaced: bool = False  # once accepted: it replaced the month's earlier reading


class Backend(Protocol):
    def callers(self, number: str) -> list[AccountRef]: ...
    def identify(self, number: str, serial_tail: str) -> AccountRef | None: ...
    def meters(self, account: AccountRef) -> list[MeterRef]: ...
    def reading(
        self,
        account: AccountRef,
        meter: MeterRef,
        values: Sequence[str],
        confirmed: Sequence[str],
        caller: str,
    ) -> ReadingAnswer: ...
    def balance(self, account: AccountRef) -> str: ...
    def tariff(self, account: AccountRef) -> str: ...
    def office(self, account: AccountRef | None) -> str: ...
    def payment(self, account: AccountRef | None, number: str = "") -> str: ...
    def services(self) -> str: ...
    def callback(self, account: AccountRef | None, number: str, topic: str) -> None: ...
    def operator(self) -> str | None: ...


# --- the dialog as data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    keys: str = ""  # a menu: one of these keys
    digits: int = 0  # an entry: up to this many digits, ended by # (or when full)
    least: int = 1  # the fewest digits of an entry
    timeout: float = 8.0  # seconds of silence after the prompt before it is asked again
    between: float = 5.0  # seconds between the digits of an entry before it counts as ended


Prompt = Callable[["Conversation"], str]
Handler = Callable[["Conversation", str], str]


@dataclass(frozen=True)
class Step:
    name: str
    prompts: tuple[Prompt, ...]  # the first; then fuller ones for the retries
    expect: Expect
    handle: Handler  # the answer → the next step's name (or raises Retry)
    retries: int = 3
    words: dict[str, str] = field(default_factory=dict)  # what a word said means here: a key


class Retry(Exception):
    """An answer the step cannot take: say ``text`` (if any) and ask again, a fuller prompt."""

    def __init__(self, text: str = "", step: str = "") -> None:
        super().__init__(text)
        self.text, self.step = text, step  # the step asked again: this one if empty


class Done(Exception):
    """End the call (after what was said)."""


# --- what may be said instead of keyed (phone.speech) ---------------------------------------------

# Each language's words and what each means: a command of the menu, yes or no, a digit, or
# "repeat". The recognizers' grammars are made of these words and nothing else.
_DIGITS_EN = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_DIGITS_RU = ("ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять")
SPOKEN: dict[str, dict[str, str]] = {
    "en": {
        **{word: str(digit) for digit, word in enumerate(_DIGITS_EN)},
        "readings": "readings",
        "balance": "balance",
        "tariff": "tariff",
        "office": "office",
        "services": "services",
        "payment": "payment",
        "operator": "operator",
        "yes": "yes",
        "no": "no",
        "repeat": "repeat",
    },
    "ru": {
        **{word: str(digit) for digit, word in enumerate(_DIGITS_RU)},
        "показания": "readings",
        "баланс": "balance",
        "тариф": "tariff",
        "офис": "office",
        "услуги": "services",
        "оплата": "payment",
        "оператор": "operator",
        "да": "yes",
        "нет": "no",
        "повторить": "repeat",
    },
}


SPOKEN_ALL = {word: meaning for words in SPOKEN.values() for word, meaning in words.items()}


# --- the prompts ---------------------------------------------------------------------------------

MENU_KEYS = "1234569"  # and 0, the operator, as in every menu


# Where a recognizer listens (``Conversation.speech``), each prompt says what may be said too.


def _p_address(c: Conversation) -> str:
    assert c.candidate is not None  # noqa: S101 - the step follows a single match
    if c.speech:
        text = _(
            "Your address: %(address)s. If this is right, say yes or press 1. If not, say no or press 2."
        )
    else:
        text = _("Your address: %(address)s. If this is right, press 1. If not, press 2.")
    return text % {"address": c.candidate.street_house}


def _p_address_more(c: Conversation) -> str:
    if c.speech:
        more = _("To hear this again, say repeat or press star. For an operator, say operator or press 0.")
    else:
        more = _("To hear this again, press star. For an operator, press 0.")
    return _p_address(c) + " " + more


def _p_account(c: Conversation) -> str:
    if c.speech:
        return _("Say your personal account number, ten digits one by one, or enter it and press hash.")
    return _("Enter your personal account number, ten digits, then press hash.")


def _p_account_more(c: Conversation) -> str:
    if c.speech:
        return _(
            "The personal account number is printed at the top of your bill. Say its ten digits "
            "one by one, or enter them on the keypad of your phone and press hash. To hear this "
            "again, say repeat or press star."
        )
    return _(
        "The personal account number is printed at the top of your bill. Enter its ten digits on "
        "the keypad of your phone, then press hash. To hear this again, press star."
    )


def _p_check(c: Conversation, heard: str) -> str:
    """A number read back, to be confirmed."""
    if c.speech:
        text = _(
            "You entered %(digits)s. If this is right, say yes or press 1. To enter it again, say no or press 2."
        )
    else:
        text = _("You entered %(digits)s. If this is right, press 1. To enter it again, press 2.")
    return text % {"digits": heard}


def _p_account_check(c: Conversation) -> str:
    return _p_check(c, digits_words(c.number, c.language))


def _p_serial(c: Conversation) -> str:
    if c.speech:
        return _("Say the last four digits of your meter's serial number, or enter them and press hash.")
    return _("Enter the last four digits of your meter's serial number, then press hash.")


def _p_serial_more(c: Conversation) -> str:
    if c.speech:
        return _(
            "The serial number is on the meter's front panel and in your bill. Say its last four "
            "digits one by one, or enter them and press hash. To hear this again, say repeat or "
            "press star."
        )
    return _(
        "The serial number is on the meter's front panel and in your bill. Enter its last four "
        "digits, then press hash. To hear this again, press star."
    )


def _p_menu(c: Conversation) -> str:
    if c.speech:
        return _(
            "Say what you are calling about: readings, balance, tariff, office, services, payment "
            "or operator. Or press 1 for readings, 2 balance, 3 tariff, 4 the nearest office, 5 "
            "services, 6 payment, 0 operator, 9 to end the call."
        )
    return _(
        "For readings, press 1. Balance, 2. Tariff, 3. The nearest office, 4. Services, 5. "
        "Payment, 6. Operator, 0. To end the call, press 9."
    )


def _p_menu_more(c: Conversation) -> str:
    if c.speech:
        return _("Please say one of these words, or choose with the keypad of your phone.") + " " + _p_menu(c)
    return _("Please choose with the keypad of your phone.") + " " + _p_menu(c)


def _p_value(c: Conversation) -> str:
    meter = c.meter
    text = ""
    if len(c.meters) > 1 and not c.values:
        text = _("The meter ending in %(tail)s.") % {"tail": digits_words(meter.tail, c.language)} + " "
    if c.speech:
        ask = _(
            "Say the reading of %(zone)s, whole kilowatt-hours, digit by digit, or enter it and press hash."
        )
    else:
        ask = _("Enter the reading of %(zone)s, whole kilowatt-hours, then press hash.")
    return text + ask % {"zone": meter.labels[len(c.values)]}


def _p_value_more(c: Conversation) -> str:
    if c.speech:
        more = _(
            "Say or key in the digits the meter shows before the decimal point, without the "
            "digits after it. To hear this again, say repeat or press star. For an operator, say "
            "operator or press 0 then hash."
        )
    else:
        more = _(
            "Key in the digits the meter shows before the decimal point, without the digits after "
            "it. To hear this again, press star. For an operator, press 0 then hash."
        )
    return _p_value(c) + " " + more


def _p_value_check(c: Conversation) -> str:
    return _p_check(c, number_words(int(c.pending), c.language))


def _p_confirm(c: Conversation) -> str:
    if c.speech:
        return _(
            "If the reading is right, say yes or press 1 to confirm it. To enter it again, say no or press 2."
        )
    return _("If the reading is right, press 1 to confirm it. To enter it again, press 2.")


def _p_services(c: Conversation) -> str:
    if c.speech:
        return _(
            "To ask for a meter installation or replacement, say or press 1. For a meter "
            "verification, say or press 2. To go back to the menu, say or press 9."
        )
    return _(
        "To ask for a meter installation or replacement, press 1. For a meter verification, "
        "press 2. To go back to the menu, press 9."
    )


def _p_services_more(c: Conversation) -> str:
    return c.backend.services() + " " + _p_services(c)


# --- the handlers ---------------------------------------------------------------------------------


def _yes_no(key: str, yes: str, no: str) -> str:
    return yes if key == "1" else no


def _h_address(c: Conversation, key: str) -> str:
    if key == "1":
        assert c.candidate is not None  # noqa: S101
        return c.identified(c.candidate)
    return "account"


def _h_account(c: Conversation, entry: str) -> str:
    if len(entry) != 10:
        raise Retry(_("An account number has ten digits."))
    c.number = entry
    return "account_check"


def _h_serial(c: Conversation, entry: str) -> str:
    found = c.backend.identify(c.number, entry)
    if found is None:
        c.failed_identifications += 1
        if c.failed_identifications >= STEPS["serial"].retries:
            return c.operator()
        c.say(_("We could not find this account number with this meter. Let us try again."))
        return "account"
    return c.identified(found)


def _h_menu(c: Conversation, key: str) -> str:
    assert c.account is not None  # noqa: S101 - the menu follows the identification
    if key == "1":
        return c.readings_start()
    if key == "9":
        c.say(_("Thank you for calling. Goodbye."))
        raise Done
    if key == "5":
        c.topic("services")
        return "services"
    topic, text = {
        "2": ("balance", c.backend.balance),
        "3": ("tariff", c.backend.tariff),
        "4": ("office", c.backend.office),
        "6": ("payment", lambda account: c.backend.payment(account, c.caller)),
    }[key]
    c.topic(topic)
    c.say(text(c.account))
    return "menu"


def _h_value(c: Conversation, entry: str) -> str:
    if entry == "0" and not c.values:
        return c.operator()
    c.pending = entry
    return "value_check"


def _h_value_check(c: Conversation, key: str) -> str:
    if key == "2":
        return "value"
    c.values.append(str(int(c.pending)))
    if len(c.values) < len(c.meter.labels):
        return "value"
    return c.reading_send()


def _h_confirm(c: Conversation, key: str) -> str:
    if key == "2":
        c.values.clear()
        c.confirmed.clear()
        return "value"
    c.confirmed.extend(c.asked)
    return c.reading_send()


def _h_services(c: Conversation, key: str) -> str:
    if key == "9":
        return "menu"
    topic = {"1": "meter_installation", "2": "verification"}[key]
    c.backend.callback(c.account, c.caller, topic)
    c.callbacks += 1
    c.say(_("Your request is recorded. We will call you back at the number you are calling from."))
    return "menu"


def _step(
    name: str,
    prompts: tuple[Prompt, ...],
    expect: Expect,
    handle: Handler,
    words: dict[str, str] | None = None,
) -> tuple[str, Step]:
    if words is None:
        words = {"yes": "1", "no": "2"} if expect == YES_NO else {}
    return name, Step(name, prompts, expect, handle, words=words)


YES_NO = Expect(keys="12")
MENU_WORDS = {"readings": "1", "balance": "2", "tariff": "3", "office": "4", "services": "5", "payment": "6"}
STEPS: dict[str, Step] = dict(
    (
        _step("address", (_p_address, _p_address_more), YES_NO, _h_address),
        _step("account", (_p_account, _p_account_more), Expect(digits=10), _h_account),
        _step(
            "account_check",
            (_p_account_check,),
            YES_NO,
            lambda c, k: _yes_no(k, "serial", "account"),
        ),
        _step(
            "serial", (_p_serial, _p_serial_more), Expect(digits=SERIAL_TAIL, least=SERIAL_TAIL), _h_serial
        ),
        _step("menu", (_p_menu, _p_menu_more), Expect(keys=MENU_KEYS), _h_menu, MENU_WORDS),
        _step("value", (_p_value, _p_value_more), Expect(digits=8), _h_value),
        _step("value_check", (_p_value_check,), YES_NO, _h_value_check),
        _step("confirm", (_p_confirm,), YES_NO, _h_confirm),
        _step("services", (_p_services, _p_services_more), Expect(keys="129"), _h_services),
    )
)


# --- one call -------------------------------------------------------------------------------------


@dataclass
class Conversation:
    """One call walking ``STEPS``. ``start``, ``press`` and ``silence`` return what to do now;
    ``expect`` is what the current step waits for (the telephony times the silences by it)."""

    backend: Backend
    caller: str = ""
    language: str = "ru"
    greeting: str = ""
    speech: bool = False  # a recognizer listens: the prompts say what may be said
    step: str = ""
    entry: str = ""
    failures: int = 0
    account: AccountRef | None = None
    candidate: AccountRef | None = None
    number: str = ""  # the account number keyed in
    pending: str = ""  # a value keyed in, before it is confirmed
    failed_identifications: int = 0
    meters: list[MeterRef] = field(default_factory=list)
    meter_at: int = 0
    values: list[str] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    asked: tuple[str, ...] = ()
    readings: int = 0
    callbacks: int = 0
    transferred: bool = False
    finished: bool = False
    path: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    _out: list[Action] = field(default_factory=list)

    # the telephony's side

    @property
    def expect(self) -> Expect:
        return STEPS[self.step].expect if self.step in STEPS else Expect()

    def start(self) -> list[Action]:
        with translation.override(self.language):
            if self.greeting:
                self.say(self.greeting)
            found = self.backend.callers(self.caller) if self.caller else []
            if len(found) == 1:
                self.candidate = found[0]
                self._go("address")
            else:
                self._go("account")
            return self._flush()

    def press(self, key: str) -> list[Action]:
        """One key (``0``-``9``, ``*``, ``#``) pressed."""
        if self.finished:
            return []
        with translation.override(self.language):
            self._press(key)
            return self._flush()

    def silence(self) -> list[Action]:
        """The step's time ran out with no answer (``expect.timeout``), or the digits of an entry
        stopped (``expect.between``): an entry begun counts as ended."""
        if self.finished:
            return []
        with translation.override(self.language):
            if self.expect.digits and self.entry:
                self._answer(self.entry)
            else:
                self._fail(_("We did not hear an answer."))
            return self._flush()

    def heard(self, text: str) -> list[Action]:
        """What the caller said (a recognizer's text, ``phone.speech``), taken as the keys it
        stands for here: a menu's command word its key, yes and no 1 and 2, digits said one by
        one an entry (ended when the caller stops), "repeat" star, "operator" the operator.
        Speech that means nothing here is asked again, as a wrong key is."""
        if self.finished or self.step not in STEPS:  # over, or not begun
            return []
        with translation.override(self.language):
            self._heard(text)
            return self._flush()

    def hang_up(self) -> None:
        self.finished = True

    # what the steps call

    def say(self, text: str) -> None:
        self._out.append(Say(text))

    def topic(self, name: str) -> None:
        self.topics.append(name)

    def identified(self, account: AccountRef) -> str:
        self.account = account
        self.candidate = None
        return "menu"

    @property
    def meter(self) -> MeterRef:
        return self.meters[self.meter_at]

    def readings_start(self) -> str:
        assert self.account is not None  # noqa: S101
        self.topic("readings")
        self.meters = self.backend.meters(self.account)
        if not self.meters:
            self.say(_("There is no meter on this account that takes readings."))
            return "menu"
        if len(self.meters) > 1:
            self.say(
                _("Meters on this account: %(n)s.") % {"n": counted(len(self.meters), "meter", self.language)}
            )
        self.meter_at = 0
        self.values, self.confirmed = [], []
        return "value"

    def reading_send(self) -> str:
        assert self.account is not None  # noqa: S101
        answer = self.backend.reading(self.account, self.meter, self.values, self.confirmed, self.caller)
        for text in answer.said:
            self.say(text)
        if answer.code == "needs_confirmation":
            self.asked = answer.confirm
            return "confirm"
        if answer.retry:
            self.values, self.confirmed = [], []
            raise Retry(step="value")
        if answer.code == "accepted":
            self.readings += 1
        self.values, self.confirmed = [], []
        if answer.code in ("accepted", "meter_not_in_service") and self.meter_at + 1 < len(self.meters):
            self.meter_at += 1
            return "value"
        return "menu"

    def operator(self) -> str:
        self.topic("operator")
        target = self.backend.operator()
        if target:
            self.say(_("Please hold: we are putting you through to an operator."))
            self._out.append(Transfer(target))
            self.transferred = True
        else:
            self.backend.callback(self.account, self.caller, "operator")
            self.callbacks += 1
            self.say(
                _(
                    "Our operators are not at work now. We have recorded your number and will call "
                    "you back. Goodbye."
                )
            )
            self._out.append(Hangup())
        self.finished = True
        raise Done

    # the walk

    def _flush(self) -> list[Action]:
        out, self._out = self._out, []
        return out

    def _go(self, name: str, *, again: bool = False) -> None:
        if not again:
            self.failures = 0
            self.path.append(name)
        self.step, self.entry = name, ""
        step = STEPS[name]
        self.say(step.prompts[min(self.failures, len(step.prompts) - 1)](self))

    def _press(self, key: str) -> None:
        expect = self.expect
        if key == "*":
            self.entry = ""
            self._go(self.step, again=True)
            return
        if expect.digits:
            if key == "#":
                if len(self.entry) >= expect.least:
                    self._answer(self.entry)
                else:
                    self._fail(_("Please enter the digits, then press hash."))
            elif key.isdigit():
                self.entry += key
                if len(self.entry) >= expect.digits:
                    self._answer(self.entry)
            return
        if key == "0":
            self.inputs.append(f"{self.step}:0")
            self._run(self.operator)
        elif key in expect.keys:
            self._answer(key)
        else:
            self._fail(_("This key does nothing here."))

    def _heard(self, text: str) -> None:
        words = text.lower().split()
        known = [SPOKEN_ALL[word] for word in words if word in SPOKEN_ALL]
        not_understood = _("Sorry, we did not understand.")
        if "operator" in known:
            self.inputs.append(f"{self.step}:0")
            self._run(self.operator)
        elif "repeat" in known:
            self._press("*")
        elif self.expect.digits:
            # Digits only: a word not understood in a number would change the number.
            if not known or len(known) < len(words) or not all(m.isdigit() for m in known):
                self._fail(not_understood)
                return
            for digit in known:
                self._press(digit)
                if not self.entry:  # the entry is full and taken
                    return
            self._press("#")
        else:
            # One meaning among other words ("the nearest office"): its key, if it has one here.
            step = STEPS[self.step]
            keys = {step.words.get(m, m if m.isdigit() else "") for m in known}
            key = keys.pop() if len(keys) == 1 else ""
            if key and (key in self.expect.keys or key == "0"):
                self._press(key)  # as keyed: "zero" in a menu is the operator too
            else:
                self._fail(not_understood)

    def _answer(self, answer: str) -> None:
        step = STEPS[self.step]
        self.inputs.append(f"{self.step}:{answer}")
        self._run(lambda: step.handle(self, answer))

    def _run(self, handler: Callable[[], str]) -> None:
        try:
            following = handler()
        except Retry as retry:
            self._fail(retry.text, retry.step)
            return
        except Done:
            self.finished = True
            if not any(isinstance(a, (Transfer, Hangup)) for a in self._out):
                self._out.append(Hangup())
            return
        self._go(following)

    def _fail(self, text: str, step: str = "") -> None:
        # A retry may go back a step (a rejected value: to its entry), its failures counted on.
        self.step = step or self.step
        self.failures += 1
        if self.failures > STEPS[self.step].retries:
            self.say(_("We could not understand your answers."))
            self._run(self.operator)
            return
        if text:
            self.say(text)
        self._go(self.step, again=True)

    # the record

    @property
    def outcome(self) -> str:
        if self.transferred:
            return "operator"
        if self.callbacks and "operator" in self.topics:
            return "callback"
        if self.readings:
            return "reading"
        if self.account is None:
            return "not_identified" if self.failed_identifications else "abandoned"
        if self.topics:
            return "callback" if self.callbacks else "informed"
        return "abandoned"

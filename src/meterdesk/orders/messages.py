"""The words of the orders' refusals, in the active language (one place for every channel)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from meterdesk.orders.services import HORIZON, MAX_COMMENT, MAX_OPEN, OrderError


def order_message(error: OrderError) -> str:
    words = {
        "service_unknown": _("This service is not offered. Choose one from the list."),
        "day_invalid": _("Choose a day from today to %(days)s days ahead.") % {"days": HORIZON.days},
        "comment_too_long": _("The comment is too long: at most %(n)s characters.") % {"n": MAX_COMMENT},
        "comment_invalid": _("The comment holds a character that cannot be stored."),
        "account_closed": _("This account is closed: services cannot be ordered for it."),
        "too_many_open": _("This account already has %(n)s requests in progress: wait until they are done.")
        % {"n": MAX_OPEN},
        "request_closed": _("This request is already closed."),
        "request_unknown": _("There is no such request of this account."),
        "window_invalid": _("Choose one of the time windows."),
        "outcome_missing": _("Say what was done."),
        "reason_missing": _("Give the reason."),
        "status_invalid": _("A request is closed as cancelled or failed."),
        "price_invalid": _("A price is a non-negative amount in roubles and kopecks."),
        "channel_unknown": _("Unknown channel."),
    }
    return words.get(error.code, _("The request cannot be changed this way."))


def office_message(what: str) -> str:
    """What the back office says after a change of a request."""
    return {
        "scheduled": _("The visit is scheduled; the customer gets a notice."),
        "done_paid": _("The service is done; its price goes on the next bill."),
        "done": _("The service is done."),
        "closed": _("The request is closed."),
    }[what]


def phone_comment(number: str) -> str:
    """The comment of a request ordered on the phone line (staff call the caller back)."""
    return _("Ordered on the phone line; call back on %(number)s.") % {"number": number}

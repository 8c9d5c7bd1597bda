"""The refusals of support in words, the same for the pages and the API."""

from __future__ import annotations

from django.utils.translation import gettext as _

from meterdesk.support.attachments import BAD_TYPE, MAX_BYTES, MAX_FILES, TOO_LARGE, AttachmentError
from meterdesk.support.services import EMPTY_TEXT, MAX_A_DAY, MAX_TEXT, TextError


def attachment_message(error: AttachmentError) -> str:
    if error.code == TOO_LARGE:
        return _("The file %(name)s is larger than %(mb)s MB.") % {
            "name": error.name,
            "mb": MAX_BYTES // 2**20,
        }
    if error.code == BAD_TYPE:
        return _("The file %(name)s is not a JPEG or PNG photo or a PDF document.") % {"name": error.name}
    return _("Attach at most %(n)s files.") % {"n": MAX_FILES}


def text_message(error: TextError) -> str:
    if error.code == EMPTY_TEXT:
        return _("Write your question.")
    return _("The text is longer than %(n)s characters.") % {"n": MAX_TEXT}


def limit_message() -> str:
    return _("You have written %(n)s messages in the last 24 hours: write again later, or call us.") % {
        "n": MAX_A_DAY
    }

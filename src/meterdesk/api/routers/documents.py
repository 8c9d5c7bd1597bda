"""Documents as PDF: the bill of a closed month (with the payment QR code) and a payment's receipt.

The same lookups as the other account operations: an account (or a payment) that is not linked
to the login is 404 ``not_found``, exactly like one that does not exist; so is a month that is not
closed. Errors keep the API's JSON shape; a success is ``application/pdf`` to save as a file.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Path, Router

from meterdesk.api.errors import not_found
from meterdesk.api.routers import NUMBER, PERIOD, account_of, errors
from meterdesk.documents.render import bill_filename, bill_pdf, receipt_filename, receipt_pdf
from meterdesk.documents.selectors import bill_data, payment_of_account
from meterdesk.documents.views import pdf_response
from meterdesk.domain.periods import month_parse

router = Router(tags=["documents"])

ENTRY = Path(..., ge=1, le=2**63 - 1, description="the payment's id (as in the list of payments)")


def _pdf(description: str) -> dict[str, Any]:
    return {
        "responses": {
            200: {
                "description": description,
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                "headers": {
                    "Content-Disposition": {
                        "description": "attachment; filename=…",
                        "schema": {"type": "string"},
                    }
                },
            }
        }
    }


@router.get(
    "/{number}/statements/{period}/bill.pdf",
    response={**errors(401, 404, 422, 429)},
    summary="The bill of a closed month as a PDF (ЕПД with the payment QR code)",
    description=(
        "In Russian, A4, fonts embedded. The QR code follows GOST R 56042-2014: a banking app "
        "fills in the payee, the account number, the period and the amount due (Sum, in kopecks; "
        "left out when nothing is due). A month that is not closed is 404."
    ),
    openapi_extra=_pdf("The bill (application/pdf)"),
)
def bill_download(request: HttpRequest, number: str = NUMBER, period: str = PERIOD) -> HttpResponse:
    account = account_of(request, number)
    data = bill_data(account, month_parse(period))
    if data is None:
        raise not_found()
    return pdf_response(bill_pdf(data), bill_filename(account.number, data.period))


@router.get(
    "/{number}/payments/{entry_id}/receipt.pdf",
    response={**errors(401, 404, 422, 429)},
    summary="The receipt of a payment as a PDF",
    description="The payment's id is the ``id`` of the list of payments.",
    openapi_extra=_pdf("The receipt (application/pdf)"),
)
def receipt_download(request: HttpRequest, number: str = NUMBER, entry_id: int = ENTRY) -> HttpResponse:
    account = account_of(request, number)
    entry = payment_of_account(account, entry_id)
    if entry is None:
        raise not_found()
    return pdf_response(receipt_pdf(entry), receipt_filename(entry))

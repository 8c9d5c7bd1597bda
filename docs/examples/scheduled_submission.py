#!/usr/bin/env python3
"""Submit a meter's reading to meterdesk on a schedule (standard library only).

For home automation: an optical reader on the meter's IR port (Tasmota SML, an ESPHome
"smart meter" sensor, a Shelly EM …) publishes the meter's registers; this script reads them and
submits them once a month, while the submission window is open.

    export METERDESK_URL=https://lk.example.ru
    export METERDESK_TOKEN=mdk_…            # POST /api/v1/auth/token, once
    export METERDESK_METER_ID=1234           # GET /api/v1/accounts/{number}/meters
    # Either give the values (T1 first), or a JSON URL and the path of each zone's value in it:
    python3 scheduled_submission.py 12345 6789
    METERDESK_SOURCE_URL=http://192.168.1.50/cm?cmnd=Status%2010 \\
    METERDESK_SOURCE_PATHS=StatusSNS.SML.Total_T1,StatusSNS.SML.Total_T2 \\
        python3 scheduled_submission.py

Schedule it inside the window (15th–26th in Moscow), e.g. with cron on the 20th from 09:00, spread
over the hour:

    0 9 20 * *  . $HOME/.meterdesk.env && METERDESK_SPREAD_SECONDS=3600 python3 /opt/meterdesk/scheduled_submission.py

METERDESK_SPREAD_SECONDS=N waits, before submitting, an offset of 0 to N-1 seconds that depends
only on the meter (the same meter always waits as long): the many homes that copy the same cron
line then arrive spread over N seconds instead of in the same second. Nothing is waited by default.

Exit status: 0 accepted (or the window is closed: nothing to do today), 1 refused (the message
says why: a value below the previous one, a confirmation needed …), 2 could not reach the service.

A retry never stores a second reading: the Idempotency-Key is derived from the meter, the month
and the values, so the same submission repeated (by this script's own retries, or by cron running
twice) gets the first answer back.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from typing import Any

TIMEOUT = 30  # seconds per request
ATTEMPTS = 5  # on network errors, 5xx and 429


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body.get('code')}: {body.get('message')}")
        self.status = status
        self.code = str(body.get("code", ""))
        self.body = body


def call(
    method: str, url: str, token: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """One request with retries; returns (status, JSON) or raises ApiError for a 4xx answer."""
    data = json.dumps(body).encode() if body is not None else None
    all_headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "Accept-Language": os.environ.get("METERDESK_LANGUAGE", "en"),
        **({"Content-Type": "application/json"} if data is not None else {}),
        **(headers or {}),
    }
    delay = 2.0
    for attempt in range(1, ATTEMPTS + 1):
        request = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            payload = json.loads(error.read() or b"{}")
            retryable = error.code == 429 or error.code >= 500
            if not retryable or attempt == ATTEMPTS:
                raise ApiError(error.code, payload) from None
            wait = float(error.headers.get("Retry-After") or delay)
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            if attempt == ATTEMPTS:
                raise
            wait = delay
        time.sleep(min(wait, 300))
        delay *= 2
    raise AssertionError("unreachable")


def read_source(url: str, paths: list[str]) -> list[str]:
    """The meter's registers from a JSON document (e.g. Tasmota's ``Status 10``), by dotted paths."""
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # noqa: S310
        document = json.loads(response.read())
    values = []
    for path in paths:
        node: Any = document
        for part in path.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        values.append(str(Decimal(str(node)).to_integral_value(ROUND_FLOOR)))  # whole kWh, as shown
    return values


def idempotency_key(meter_id: int, values: list[str], today: date) -> str:
    digest = hashlib.sha256(",".join(values).encode()).hexdigest()[:16]
    return f"sched-{meter_id}-{today:%Y-%m}-{digest}"


def spread_offset(meter_id: int, spread: int) -> int:
    """The meter's own offset within ``spread`` seconds: even over the meters, fixed for each."""
    if spread <= 0:
        return 0
    return int.from_bytes(hashlib.sha256(f"meter-{meter_id}".encode()).digest()[:8], "big") % spread


def submit(base_url: str, token: str, meter_id: int, values: list[str], confirm: list[str]) -> dict[str, Any]:
    """Submit one reading; returns the accepted reading (with its confirmation and charge)."""
    api = base_url.rstrip("/") + "/api/v1"
    key = idempotency_key(meter_id, values, date.today())  # noqa: DTZ011 - the month of the key only
    body = {"values": values, "confirm": confirm}
    _, reading = call("POST", f"{api}/meters/{meter_id}/readings", token, body, {"Idempotency-Key": key})
    return reading


def main(argv: list[str]) -> int:
    base_url = os.environ["METERDESK_URL"]
    token = os.environ["METERDESK_TOKEN"]
    meter_id = int(os.environ["METERDESK_METER_ID"])
    # Confirm a rollover automatically only if told to (METERDESK_CONFIRM=rollover): a high
    # consumption is always for a person, who may confirm a value by the token printed below.
    told = [c for c in os.environ.get("METERDESK_CONFIRM", "").split(",") if c]
    codes = {c for c in told if ":" not in c}
    confirm = [c for c in told if ":" in c]
    try:
        wait = spread_offset(meter_id, int(os.environ.get("METERDESK_SPREAD_SECONDS") or 0))
        if wait:
            print(f"Waiting {wait} s (METERDESK_SPREAD_SECONDS) …")
            time.sleep(wait)
        if argv:
            values = argv
        else:
            paths = os.environ["METERDESK_SOURCE_PATHS"].split(",")
            values = read_source(os.environ["METERDESK_SOURCE_URL"], paths)
        try:
            reading = submit(base_url, token, meter_id, values, confirm)
        except ApiError as error:
            # A confirmation names the value it confirms: send back the ones asked for, if allowed.
            asked = (error.body.get("details") or {}).get("confirmations", [])
            if error.code != "needs_confirmation" or not asked or any(c["code"] not in codes for c in asked):
                raise
            reading = submit(base_url, token, meter_id, values, confirm + [c["confirm"] for c in asked])
    except ApiError as error:
        details = error.body.get("details") or {}
        if error.code == "window_closed":
            print(f"Window closed: {error.body['message']} Next opening: {details.get('opens_on')}.")
            return 0
        print(f"Refused ({error.code}): {error.body.get('message')}", file=sys.stderr)
        for item in details.get("issues", []) + details.get("confirmations", []):
            print(f"  zone {item['zone']}: {item['message']}", file=sys.stderr)
        if error.code == "needs_confirmation":
            wanted = ",".join(details.get("confirm", []))
            print(f"  check the meter, then run again with METERDESK_CONFIRM={wanted}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, TimeoutError, ConnectionError, KeyError, ValueError) as error:
        print(f"Could not submit: {error!r}", file=sys.stderr)
        return 2
    charge = reading["charge"]
    print(
        f"Accepted: confirmation {reading['confirmation']} for {reading['period']}, "
        f"{', '.join(v['value'] for v in reading['values'])}; "
        f"charge of the month {charge['total']} RUB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

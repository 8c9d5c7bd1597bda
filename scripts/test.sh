#!/usr/bin/env bash
# Run the test suite: create .venv if needed, install meterdesk with its dev tools, make sure
# Chromium is there for the browser test, run pytest. Extra arguments go to pytest, e.g.
#   bash scripts/test.sh -x -k reading
#   bash scripts/test.sh -m "not browser"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/_lib.sh

ensure_venv "[dev]"

# The browser test drives Debian's chromium (not a `playwright install` download).
chromium="${METERDESK_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
    if [ -n "${METERDESK_CHROMIUM:-}" ]; then
        printf 'warning: METERDESK_CHROMIUM=%s is not an executable; the browser test will fail.\n' "$chromium" >&2
    elif ! apt_install chromium; then
        printf 'warning: without Chromium the browser test will fail (deselect it with -m "not browser").\n' >&2
    fi
fi

# The translation tests check the catalogue with GNU gettext's own tools.
if ! command -v msgfmt >/dev/null 2>&1 || ! command -v xgettext >/dev/null 2>&1; then
    apt_install gettext || printf 'warning: without GNU gettext the translation tests will fail.\n' >&2
fi

# The tests of the shared cache (the API's rate limits across server processes) start a private
# Redis server of their own.
if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server || printf 'warning: without redis-server the shared-cache tests will fail.\n' >&2
fi

# The tests of `meterdesk mail poll` start a private IMAP server of their own (Debian's dovecot).
if [ ! -x /usr/sbin/dovecot ]; then
    apt_install dovecot-imapd || printf 'warning: without dovecot-imapd the IMAP tests will fail.\n' >&2
fi

# The phone line's prompts are spoken by espeak-ng, and its tests call it with baresip.
if ! command -v espeak-ng >/dev/null 2>&1 || ! command -v baresip >/dev/null 2>&1; then
    apt_install espeak-ng baresip-core || printf 'warning: without espeak-ng and baresip the phone line tests will fail.\n' >&2
fi
# Its speech recognition tests speak with flite.
if ! command -v flite >/dev/null 2>&1; then
    apt_install flite || printf 'warning: without flite the speech recognition tests will fail.\n' >&2
fi

say "Running the tests"
exec .venv/bin/pytest "$@"

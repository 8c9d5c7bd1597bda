#!/usr/bin/env bash
# Run the demo: create .venv if needed, install meterdesk, migrate, load demo data, serve.
#   bash scripts/demo.sh              serve at http://127.0.0.1:8000/
#   bash scripts/demo.sh --port 8001  serve on another port (a busy port stops it before any change)
#   bash scripts/demo.sh --no-serve   only prepare the database and the demo data
# Extra arguments go to `meterdesk demo` (see `.venv/bin/meterdesk demo --help`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/_lib.sh

ensure_venv ""
say "Starting the demo"
exec .venv/bin/meterdesk demo "$@"

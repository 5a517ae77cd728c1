#!/usr/bin/env bash
# Install what the tests need (product + test tools + real SIP peers), then run lint and tests.
# The tests start their own product instances on their own free ports.
# PostgreSQL variants run when HOTLINE_TEST_POSTGRES_URL is set (.ci/run sets it); else they skip.
source "$(dirname "$0")/_bootstrap.sh"
bootstrap "test" espeak-ng sox kamailio sip-tester
cd "$ROOT"
"$VENV/bin/ruff" check .
exec "$VENV/bin/pytest" -rs "$@"

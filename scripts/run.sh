#!/usr/bin/env bash
# Install everything the product needs, then run it in the foreground (Ctrl-C drains and stops).
source "$(dirname "$0")/_bootstrap.sh"
bootstrap "" espeak-ng sox kamailio
cd "$ROOT"
exec "$VENV/bin/hotline" run "$@"

#!/usr/bin/env bash
# Create (or reuse) the Rasa 3.6 virtual environment used by the Rasa adapter's real test and by
# `benchmarks/intent_accuracy.py --engine rasa`. It lives in a cache OUTSIDE the clone so later
# runs and other clones reuse it (~2.7 GB, ~2 min to install the first time).
#
#   HOTLINE_RASA_VENV    where the venv goes (default /var/cache/hotline/rasa-3.6-py3.10)
#   HOTLINE_RASA_PYTHON  the Python 3.10 to build it with (default: python3.10 on PATH, else
#                        /root/.pyenv/versions/3.10.*/bin/python)
#
# Idempotent: a stamp file records a finished install; re-runs only print the path.
# Prints the venv path on stdout (progress goes to stderr); exits non-zero with the reason when
# no Python 3.10 exists or the install fails.
set -euo pipefail

VENV="${HOTLINE_RASA_VENV:-/var/cache/hotline/rasa-3.6-py3.10}"
RASA_SPEC="rasa==3.6.*"
STAMP="$VENV/.hotline-rasa-stamp"
WANT="rasa=3.6 jieba v1"

say() { echo "rasa_env: $*" >&2; }

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -x "$VENV/bin/rasa" ]]; then
    echo "$VENV"
    exit 0
fi

is_py310() { [[ -n "$1" ]] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; }

PY=""
if [[ -n "${HOTLINE_RASA_PYTHON:-}" ]]; then
    if ! is_py310 "$HOTLINE_RASA_PYTHON"; then
        say "HOTLINE_RASA_PYTHON=$HOTLINE_RASA_PYTHON is not a working Python 3.10"
        exit 2
    fi
    PY="$HOTLINE_RASA_PYTHON"
else
    for cand in "$(command -v python3.10 || true)" /root/.pyenv/versions/3.10.*/bin/python; do
        if is_py310 "$cand"; then PY="$cand"; break; fi
    done
fi
if [[ -z "$PY" ]]; then
    say "no Python 3.10 found (Rasa 3.6 runs only on Python <= 3.10): set HOTLINE_RASA_PYTHON," \
        "put python3.10 on PATH, or install pyenv 3.10.x"
    exit 2
fi

mkdir -p "$(dirname "$VENV")" || { say "cannot create $(dirname "$VENV")"; exit 3; }
# One installer at a time (CI runs and a developer's shell may race).
exec 9>"$(dirname "$VENV")/.$(basename "$VENV").lock"
flock 9
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -x "$VENV/bin/rasa" ]]; then
    echo "$VENV"
    exit 0
fi

say "installing $RASA_SPEC + jieba into $VENV with $PY (first time only, ~2 min, ~2.7 GB)"
start=$SECONDS
rm -f "$STAMP"
LOG="$(dirname "$VENV")/$(basename "$VENV").install.log"
fail() { say "$1 (last lines of $LOG):"; tail -n 20 "$LOG" >&2; exit 4; }
[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV" >"$LOG" 2>&1 || fail "venv creation failed"
"$VENV/bin/python" -m pip install --disable-pip-version-check "$RASA_SPEC" jieba >>"$LOG" 2>&1 \
    || fail "pip install $RASA_SPEC jieba failed"
"$VENV/bin/rasa" --version >>"$LOG" 2>&1 || fail "rasa installed but does not start"
echo "$WANT" > "$STAMP"
say "installed in $((SECONDS - start)) s"
echo "$VENV"

# Shared by run.sh and test.sh: install Debian packages when missing, then the Python venv.
# Usage: source scripts/_bootstrap.sh; bootstrap "<pip extras>" <debian packages...>
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${HOTLINE_VENV:-$ROOT/.venv}"

missing_debs() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
    done
}

install_debs() {
    local missing
    missing=$(missing_debs "$@" | tr '\n' ' ')
    [ -z "${missing// /}" ] && return 0
    if [ "$(id -u)" -eq 0 ]; then
        echo "==> installing Debian packages: $missing"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
        # The kamailio package starts a system-wide service; the product runs its own instance.
        if command -v systemctl >/dev/null 2>&1; then systemctl disable --now kamailio >/dev/null 2>&1 || true; fi
    else
        echo "Missing Debian packages. Run as root:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y $missing" >&2
        exit 1
    fi
}

find_python() {
    local candidate
    for candidate in "${HOTLINE_PYTHON:-}" python3.11 python3; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    echo "hotline needs Python 3.11 (the pjsua2-python wheel is built for CPython 3.11)." >&2
    echo "Install it (Debian: apt-get install python3.11 python3.11-venv) or set HOTLINE_PYTHON." >&2
    exit 1
}

install_python() {
    local extras="$1" python stamp
    if [ ! -x "$VENV/bin/python" ]; then
        python=$(find_python)
        # Debian's own python3 needs python3-venv for `python -m venv`.
        "$python" -c "import ensurepip" 2>/dev/null || install_debs python3-venv
        echo "==> creating virtual environment $VENV"
        "$python" -m venv "$VENV"
    fi
    stamp="$VENV/.hotline-installed${extras:+-$extras}"
    if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
        echo "==> installing Python dependencies${extras:+ ($extras)}"
        "$VENV/bin/pip" install -q --upgrade pip >/dev/null
        "$VENV/bin/pip" install -q -e "$ROOT${extras:+[$extras]}"
        touch "$stamp"
    fi
}

bootstrap() {
    local extras="$1"; shift
    install_debs "$@"
    install_python "$extras"
}

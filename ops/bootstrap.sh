#!/usr/bin/env bash
# Make this checkout runnable on a fresh machine: a virtualenv with the project and
# its test dependencies. Services (Kafka, PostgreSQL, Redis) are installed and started
# by `jackpot stack up`, which the demo and the test suite call themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "bootstrap: python3 (3.11+) is required" >&2
  exit 1
fi
"$PYTHON" - <<'PY' || { echo "bootstrap: Python 3.11 or newer is required" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    # Debian splits venv out of the interpreter package.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
      "$PYTHON" -m venv .venv
    else
      echo "bootstrap: cannot create a virtualenv (install python3-venv)" >&2
      exit 1
    fi
  fi
fi

# The browser tests drive Debian's Chromium (a browser download from elsewhere is not possible).
if [ "${1:-}" = "--with-browser" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing chromium (Debian) for the browser tests" >&2
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
  else
    echo "bootstrap: chromium is missing; browser tests will be skipped (apt-get install chromium)" >&2
  fi
fi

# Reinstall only when the dependency list changed.
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[test]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

#!/usr/bin/env bash
# One-step, idempotent set-up on a fresh Debian machine:
#   1. system packages: PostgreSQL + PostGIS (Debian), Node.js + npm (for the web app's libraries)
#   2. .venv/ with the project and its test extras from PyPI
#   3. web/node_modules from the npm registry (package-lock.json)
# The second run only checks stamps and returns in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        say "need root to run: $*"; return 1; fi
}

apt_updated=0
apt_install() {
    if [ $apt_updated = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
    done
    return 1
}

# --- 1. system packages -------------------------------------------------------------------
if ! pg_bindir >/dev/null; then
    say "installing PostgreSQL (Debian packages)"
    apt_install postgresql postgresql-contrib
fi
PGBIN=$(pg_bindir)
PGVER=$(basename "$(dirname "$PGBIN")")
if ! ls /usr/share/postgresql/"$PGVER"/extension/postgis.control >/dev/null 2>&1; then
    say "installing PostGIS for PostgreSQL $PGVER (Debian packages)"
    apt_install "postgresql-$PGVER-postgis-3"
fi
if ! command -v npm >/dev/null; then
    say "installing Node.js and npm (Debian packages)"
    apt_install nodejs npm
fi
# Headless Chromium and CJK fonts: the browser tests (offline reports, the web map) run in a real browser.
if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
    say "installing Chromium and Noto CJK fonts for browser tests (Debian packages)"
    apt_install chromium fonts-noto-cjk fontconfig
fi

# --- 2. Python environment ----------------------------------------------------------------
stamp=.venv/.setup-stamp
want=$(cat pyproject.toml | sha1sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    $PY -m venv .venv
fi
if [ "$(cat $stamp 2>/dev/null)" != "$want" ]; then
    say "installing Python packages into .venv (PyPI)"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[test]"
    echo "$want" > $stamp
fi

# --- 3. front-end libraries (npm registry, served locally: no CDN) ------------------------
wstamp=web/node_modules/.setup-stamp
wwant=$(sha1sum web/package-lock.json | cut -d' ' -f1)
if [ "$(cat $wstamp 2>/dev/null)" != "$wwant" ]; then
    say "installing front-end packages into web/node_modules (npm registry)"
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
    echo "$wwant" > $wstamp
fi

say "ready: PostgreSQL $PGVER with PostGIS, .venv/bin/gridplanner, web/node_modules"

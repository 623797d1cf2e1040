#!/usr/bin/env bash
# Runs Warden's test suite: every crate's unit and integration tests, the
# store suite on SQLite and on PostgreSQL, the HTTP API tests, the CAP schema
# checks, e-mail through a real SMTP server, SMS through a real SMPP server.
# Installs what the tests call if missing: xmllint (CAP 1.2 schema checks),
# Python's aiosmtpd (the SMTP server notifications are sent to), and Node.js
# with the npm package smpp (the SMSC warden-smpp is tested against).
#
# PostgreSQL: the tests use WARDEN_TEST_POSTGRES_URL, by default
# postgres://postgres@127.0.0.1:5432/test (each test works in its own schema).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v xmllint >/dev/null 2>&1; then
  echo "installing xmllint (libxml2-utils) for the CAP 1.2 schema checks" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxml2-utils >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxml2-utils >/dev/null
  fi
fi

if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  echo "installing aiosmtpd (PyPI) for the e-mail tests" >&2
  python3 -m pip install --quiet aiosmtpd 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages aiosmtpd
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "installing Node.js and npm for the SMPP tests" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
fi

if [ ! -f crates/smpp/tests/smsc/node_modules/smpp/package.json ]; then
  echo "installing the npm package smpp (npm ci) for the SMPP tests" >&2
  (cd crates/smpp/tests/smsc && npm ci --silent --no-audit --no-fund)
fi

exec cargo test --workspace "$@"

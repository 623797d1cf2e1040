#!/usr/bin/env bash
# End-to-end browser test of Warden's web UI in headless Chromium.
# Installs what it needs (Debian's chromium, playwright-core via npm ci),
# builds the release binary if missing, then runs `node --test tests/browser/`.
# Non-interactive (works with no standard input); exits non-zero on failure.
#
# Environment:
#   WARDEN_BIN              warden binary to test (default: target/release/warden,
#                           built with `cargo build --release -p warden` if missing)
#   CHROMIUM                browser executable (default: /usr/bin/chromium)
#   WARDEN_SCREENSHOT_DIR   where screenshots go (default: a new temp dir)
set -euo pipefail
exec </dev/null

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export DEBIAN_FRONTEND=noninteractive

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else echo "run.sh: need root (or sudo) for: $*" >&2; return 1
  fi
}

chromium_bin="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium_bin" ]; then
  echo "run.sh: $chromium_bin missing; installing Debian's chromium" >&2
  as_root apt-get update
  as_root apt-get install -y --no-install-recommends chromium
fi
export CHROMIUM="$chromium_bin"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "run.sh: node/npm missing; installing Debian's nodejs and npm" >&2
  as_root apt-get update
  as_root apt-get install -y --no-install-recommends nodejs npm
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "run.sh: Node >= 20 needed for the built-in test runner (found $(node --version))" >&2
  exit 1
fi

# playwright-core never downloads a browser; be explicit anyway.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
( cd "$here" && npm ci --no-audit --no-fund --loglevel=error )

if [ -z "${WARDEN_BIN:-}" ]; then
  WARDEN_BIN="$repo/target/release/warden"
  if [ ! -x "$WARDEN_BIN" ]; then
    echo "run.sh: building $WARDEN_BIN" >&2
    ( cd "$repo" && cargo build --release -p warden )
  fi
fi
if [ ! -x "$WARDEN_BIN" ]; then
  echo "run.sh: warden binary not found at $WARDEN_BIN" >&2
  exit 1
fi
export WARDEN_BIN

cd "$repo"
node --test tests/browser/

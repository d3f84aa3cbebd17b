#!/usr/bin/env bash
# Runs Webinaire's whole test suite: installs what the tests need when it is missing
# (PostgreSQL server binaries, Chromium and Firefox ESR from Debian's packages, the
# frontend's checking tools from package-lock.json), then go vet and every Go test with the
# race detector, the check of the Kubernetes manifests (deploy/kubernetes, a module of its
# own), the type check of the frontend, and the browser tests (headless Chromium and Firefox
# ESR driving the real pages of a real server). The tests start their own throw-away
# PostgreSQL cluster unless WEBINAIRE_TEST_DATABASE_URL names a server they may create
# databases on. Arguments go to go test, and then only the Go tests run.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }

have_pg_server() {
  command -v initdb >/dev/null 2>&1 && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

apt_updated=
apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing: $* (install with: sudo apt-get install $*)" >&2
    exit 1
  fi
  if [ -z "$apt_updated" ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

command -v go >/dev/null 2>&1 || { echo "missing: Go 1.26 or newer (https://go.dev/doc/install)" >&2; exit 1; }

# The race detector needs cgo, so a C compiler.
command -v gcc >/dev/null 2>&1 || apt_install gcc libc6-dev

if [ -z "${WEBINAIRE_TEST_DATABASE_URL:-}" ] && ! have_pg_server; then
  apt_install postgresql
fi

# The recording tests encode real VP8 and Opus, and check the files, with ffmpeg.
if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
  apt_install ffmpeg
fi

browser_tests=1
[ "$#" -eq 0 ] || browser_tests=

if [ -n "$browser_tests" ]; then
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$node_major" -lt 20 ] || ! command -v npm >/dev/null 2>&1; then
    echo "missing: Node.js 20 or newer with npm (for the frontend's type check and browser tests)" >&2
    exit 1
  fi
  chromium="${WEBINAIRE_TEST_CHROMIUM:-/usr/bin/chromium}"
  [ -x "$chromium" ] || apt_install chromium
  firefox="${WEBINAIRE_TEST_FIREFOX:-/usr/bin/firefox-esr}"
  [ -x "$firefox" ] || apt_install firefox-esr

  # node_modules is installed anew when it is missing or package-lock.json has changed.
  lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ "$(cat node_modules/.lock-sha256 2>/dev/null)" != "$lock_sum" ]; then
    say "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$lock_sum" >node_modules/.lock-sha256
  fi
fi

say "go vet ./..."
go vet ./...

say "go test -race ./..."
go test -race -count=1 -timeout 30m "$@" ./...

# The Kubernetes manifests' check is a module of its own (deploy/kubernetes/go.mod), so that
# the Kubernetes API types stay out of the main module: ./... above does not reach it.
say "go vet + go test (deploy/kubernetes)"
(cd deploy/kubernetes && go vet ./... && go test -count=1 ./...)

if [ -n "$browser_tests" ]; then
  say "tsc (type check of frontend/static)"
  node_modules/.bin/tsc --noEmit --checkJs -p frontend/tsconfig.json

  say "browser tests (frontend/browser)"
  node --test --test-concurrency=1 --test-timeout=300000 frontend/browser/
fi

#!/usr/bin/env bash
# Runs Webinaire's whole test suite: installs what the tests need when it is missing
# (PostgreSQL server binaries from Debian's packages), then go vet and every test with the
# race detector. The tests start their own throw-away PostgreSQL cluster unless
# WEBINAIRE_TEST_DATABASE_URL names a server they may create databases on.
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

say "go vet ./..."
go vet ./...

say "go test -race ./..."
go test -race -count=1 -timeout 30m "$@" ./...

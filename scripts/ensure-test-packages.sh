#!/usr/bin/env bash
# Debian packages the tests use: PostgreSQL's server (the store tests start their own throw-away
# server on loopback) and Chromium (the dashboard test in tests/browser drives it with Playwright).
# Nothing is started here.
set -euo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
# Chromium for the dashboard's browser test (Playwright drives Debian's build; no browser download).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} (Debian packages) for the tests..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${missing[@]}" >/dev/null
  # The postgresql package starts a cluster of its own; the tests use their own, so stop it.
  if command -v pg_ctlcluster >/dev/null; then
    for version in $(ls /etc/postgresql 2>/dev/null); do
      pg_ctlcluster "$version" main stop >/dev/null 2>&1 || true
    done
  fi
else
  echo "Not installed and cannot install (need root and apt-get): ${missing[*]};"
  echo "the tests that need them will be skipped."
fi

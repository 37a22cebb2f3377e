#!/usr/bin/env bash
# Make sure PostgreSQL's server binaries are installed (Debian package), for the store tests.
# The tests start their own throw-away server on loopback; nothing is started here.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing PostgreSQL (Debian package) for the store tests..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
  # The package starts a cluster of its own; the tests use their own, so stop it.
  command -v pg_ctlcluster >/dev/null && for c in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster "$c" main stop 2>/dev/null || true
  done
else
  echo "PostgreSQL server binaries not found and cannot install them (need root and apt-get);"
  echo "the PostgreSQL store tests will be skipped."
fi

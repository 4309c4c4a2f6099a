#!/usr/bin/env bash
# Installs the Debian packages the tests need (none are on a fresh machine). Idempotent: does
# nothing when everything is already there. Needs root (or sudo) only when something is missing.
set -euo pipefail
# command -> Debian package
declare -A NEEDED=(
  [make]=make              # better-sqlite3 is built from source
  [g++]=g++
  [python3]=python3
  [curl]=curl              # the docs examples test runs curl
  [chromium]=chromium      # dashboard tests (playwright-core drives /usr/bin/chromium)
  [nats-server]=nats-server  # replication tests
  [prometheus]=prometheus    # the metrics test scrapes the node with a real Prometheus
)
missing=()
for cmd in "${!NEEDED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEEDED[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"

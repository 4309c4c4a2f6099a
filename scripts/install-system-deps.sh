#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need (none are on a fresh machine). `npm test` runs
# it first (pretest). Idempotent and quiet: does nothing when everything is there. Needs root, or sudo,
# only when something is missing; when it cannot install, it prints the command to run and fails.
set -euo pipefail

# Debian package -> a file it installs. Files rather than `command -v`: Debian installs servers in /usr/sbin
# (not on every user's PATH), and a rustup toolchain first on PATH is not Debian's rustc, whose wasm32
# standard library (libstd-rust-dev-wasm32) only Debian's /usr/bin/rustc can use.
declare -A NEEDED=(
  [make]=/usr/bin/make            # better-sqlite3 is built from source
  [g++]=/usr/bin/g++
  [python3]=/usr/bin/python3
  [curl]=/usr/bin/curl            # the docs examples test runs curl
  [chromium]=/usr/bin/chromium    # dashboard tests (playwright-core drives it)
  [nats-server]=/usr/sbin/nats-server  # replication tests
  [prometheus]=/usr/bin/promtool  # the metrics test scrapes the node with a real Prometheus, and checks its rules
  [rustc]=/usr/bin/rustc          # guests written in Rust
  [libstd-rust-dev-wasm32]=/usr/lib/rustlib/wasm32-unknown-unknown/lib
  [lld]=/usr/bin/wasm-ld
  [clang]=/usr/bin/clang          # guests written in C
  [openssl]=/usr/bin/openssl      # the TLS test makes its CA and certificates
  [systemd]=/usr/bin/systemd-analyze  # the shipped systemd unit is checked with systemd-analyze verify
)

missing=()
for package in "${!NEEDED[@]}"; do
  [ -e "${NEEDED[$package]}" ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
IFS=$'\n' missing=($(sort <<<"${missing[*]}")); unset IFS

fail() {
  echo "$1" >&2
  echo "Install them, then run the command again:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
}

echo "installing Debian packages: ${missing[*]}"
command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available: these Debian packages are missing: ${missing[*]}."
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "Not root and no sudo: cannot install ${missing[*]}."
  SUDO=(sudo)
fi
"${SUDO[@]}" apt-get update -qq || fail "apt-get update failed."
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
  || fail "apt-get install failed."
for package in "${missing[@]}"; do
  [ -e "${NEEDED[$package]}" ] || fail "$package is installed but ${NEEDED[$package]} is not there."
done

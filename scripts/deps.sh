#!/usr/bin/env bash
# deps.sh — installs whatever braid's build and tests need and this machine lacks:
# Debian packages with apt-get, the Node test clients with npm from tests/js's lock
# file. Fast no-op when everything is present; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(build-essential pkg-config clang libclang-rt-14-dev
  libuv1-dev libzstd-dev libsnappy-dev liblz4-dev zlib1g-dev libssl-dev
  libjansson-dev libxxhash-dev libpg-query-dev libmicrohttpd-dev libsqlite3-dev libedit-dev
  libcmocka-dev librdkafka-dev
  kcat python3 python3-confluent-kafka python3-kafka python3-avro
  postgresql-client nodejs npm netcat-openbsd procps)

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs/npm may come from elsewhere (a newer Node on PATH): accept a working one
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node test clients, pinned by tests/js/package-lock.json. `npm ci` rejects the lock
# (per-platform optional packages of DuckDB), `npm install` honours it.
if [ ! -f tests/js/node_modules/.braid-installed ] || [ tests/js/package-lock.json -nt tests/js/node_modules/.braid-installed ]; then
  echo "deps: npm install in tests/js"
  (cd tests/js && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  touch tests/js/node_modules/.braid-installed
fi

#!/usr/bin/env bash
# Installs node_modules for the `node` first in PATH (the Makefile puts the pinned one there). One install at a time
# (flock), and a populated node_modules is never wiped: `npm ci` on a fresh clone, an incremental `npm install` from
# the lockfile afterwards. Native addons (better-sqlite3, pkcs11js, serialport) are compiled for one Node ABI: when
# node_modules was installed under another Node (a copy made under Node 20, a CI cache), they are rebuilt here against
# this Node's headers, offline (npm_config_nodedir, set by the Makefile).
set -euo pipefail
cd "$(dirname "$0")/.."
exec 9> /tmp/glimmer-npm.lock
flock 9
# prebuild-install (better-sqlite3) would try GitHub for a prebuilt binary first: build from the local headers instead.
# Set through prebuild-install's own rc variable, because npm warns about unknown npm_config_* variables.
npm() { env 'prebuild-install_buildFromSource=true' npm "$@"; }
current="$(node -p 'process.version + " abi " + process.versions.modules')"
if [ -d node_modules/typescript ]; then
  npm install --no-audit --no-fund
  if [ "$(cat node_modules/.glimmer-node 2>/dev/null || true)" != "$current" ]; then
    echo "install-deps: node_modules was built for '$(cat node_modules/.glimmer-node 2>/dev/null || echo 'another Node')', rebuilding native addons for ${current}" >&2
    npm rebuild --no-audit --no-fund
  fi
else
  npm ci --no-audit --no-fund
fi
node -e "require('better-sqlite3'); require('pkcs11js')"
printf '%s\n' "$current" > node_modules/.glimmer-node

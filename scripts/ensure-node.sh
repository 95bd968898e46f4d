#!/usr/bin/env bash
# Installs the Node.js release pinned in .nvmrc into .tools/node/v<version>-<arch>/ (ignored by git) and prints that
# folder. The binary and its C headers come from the npm registry's `node-linux-<arch>` package, so a machine with only
# an older Node (and its npm) needs nothing else; native addons then build against include/node offline
# (npm_config_nodedir). The tarball's sha512 is checked against the value pinned here before anything is unpacked.
set -euo pipefail
cd "$(dirname "$0")/.."
version="$(tr -d '[:space:]v' < .nvmrc)"
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "ensure-node: no node-linux package for machine type $(uname -m); install Node.js ${version} and put it first in PATH" >&2; exit 1 ;;
esac
# npm view node-linux-<arch>@<version> dist.integrity
declare -A integrity=(
  [26.12.1-x64]='sha512-jk5LMAmgHlPlPMWpsUrSOqNaEZG+11UNd35hWQ+p5/XGaelWuTqJ69IcAy/5xtPPN4d5ZRBNOGB6gLMCh2kL9A=='
  [26.12.1-arm64]='sha512-8Oxs6Y7rDcKufVIM/zYRSwytj46WOrZk7yFCLTKDcs17bBjAeD9HMAqo97hMfMyxozIud0S4vZCs5WB/3iavNQ=='
)
want="${integrity[${version}-${arch}]:-}"
if [ -z "$want" ]; then
  echo "ensure-node: no pinned sha512 for node-linux-${arch}@${version} in scripts/ensure-node.sh; add \`npm view node-linux-${arch}@${version} dist.integrity\`" >&2
  exit 1
fi
dest="$PWD/.tools/node/v${version}-${arch}"
if [ -x "$dest/bin/node" ] && [ "$("$dest/bin/node" --version)" = "v${version}" ]; then
  echo "$dest"
  exit 0
fi
mkdir -p .tools/node
# Concurrent make targets download once: the second waits for the first and then finds the folder in place.
exec 9> .tools/node/.lock
flock 9
if [ ! -x "$dest/bin/node" ]; then
  tmp="$(mktemp -d "$PWD/.tools/node/.fetch.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  echo "ensure-node: fetching node-linux-${arch}@${version} from the npm registry" >&2
  (cd "$tmp" && npm pack --silent "node-linux-${arch}@${version}" >/dev/null)
  tgz="$tmp/node-linux-${arch}-${version}.tgz"
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [ "$got" != "$want" ]; then
    echo "ensure-node: node-linux-${arch}-${version}.tgz has ${got}, pinned ${want}: refusing it" >&2
    exit 1
  fi
  tar xzf "$tgz" -C "$tmp"
  "$tmp/package/bin/node" --version >/dev/null
  rm -rf "$dest"
  mv "$tmp/package" "$dest"
fi
echo "$dest"

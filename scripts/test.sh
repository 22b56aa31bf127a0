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
shopt -s globstar nullglob
files=(test/**/*.test.ts)
# One file at a time: several suites start daemons and time their rounds.
exec node --import tsx --test --test-concurrency=1 --test-timeout=600000 "${files[@]}"

#!/usr/bin/env bash
# run-tests.sh NODE FILE...: run the given test files with NODE in two groups,
# and fail if either fails. npm test (scripts/test.sh) and npm run test:node22
# (scripts/container/test-node22.sh) both run their files through it.
#
#  1. Side by side, NT_TEST_CONCURRENCY files at a time (default 2): most files
#     wait on I/O — real servers, daemons, network namespaces, a browser — far
#     more than they compute. Four at a time may suit an idle machine; on
#     one already busy (load average 20-40) it made ten files miss their
#     polling deadlines, so the default is two. They cannot meet: every file takes random ports, unique
#     namespace, interface, container and Redis key names, and its own mkdtemp
#     directories (test/README.md, "Running side by side").
#  2. In pairs, two files at a time, after the first group: the files whose
#     header has the line
#         // npm test: in pairs (<why>)
#     They assert on timing too (every slot probed at the target, a deadline
#     met), but with margins one light neighbour of the same kind does not
#     eat: they mostly wait — on rounds, a fault's length, a database coming
#     back — with a few daemons and a modest number of targets. Each one
#     was proved beside the others (test/README.md, "Running in pairs").
#  3. Alone, one file at a time, after the others: the files whose header has
#     the line
#         // npm test: alone (<why>)
#     because they assert on wall-clock timing a busy CPU breaks (a latency
#     or event-loop-lag bound, rounds that must finish within their interval,
#     a CPU-bound load the machine must carry) or use something the whole
#     machine shares. Keep this group small: its time adds up in full.
#
# NT_TEST_CONCURRENCY=1 runs everything one file at a time, as before (the
# pairs group too).
set -uo pipefail
node=$1
shift
concurrency=${NT_TEST_CONCURRENCY:-2}
[[ $concurrency =~ ^[1-9][0-9]*$ ]] || { echo "NT_TEST_CONCURRENCY must be a positive integer, not \"$concurrency\"" >&2; exit 2; }

together=()
pairs=()
alone=()
for f in "$@"; do
  if grep -q '^// npm test: alone' "$f"; then alone+=("$f")
  elif grep -q '^// npm test: in pairs' "$f"; then pairs+=("$f")
  else together+=("$f"); fi
done
pair_concurrency=$((concurrency < 2 ? concurrency : 2))

# The usual output on stdout (spec on a terminal, TAP otherwise) and, on
# stderr after each group, the time of each file, slowest first (file-times.mjs).
here=$(cd "$(dirname "$0")" && pwd)
reporter=tap
[ -t 1 ] && reporter=spec
run() {
  "$node" --import tsx --test --test-timeout=600000 \
    --test-reporter="$reporter" --test-reporter-destination=stdout \
    --test-reporter="$here/file-times.mjs" --test-reporter-destination=stderr "$@"
}
say() { printf 'tests: %s\n' "$*" >&2; }

# The tests start the daemon a few hundred times: from dist/ it starts on half
# the CPU of tsx (test/helpers/daemon.ts, DAEMON_COMMAND). Build it from these
# sources first (nothing to do when dist/ already is).
t0=$SECONDS
"$node" scripts/build.mjs || { say "npm run build failed: the tests run the daemon from dist/"; exit 1; }
export NT_TEST_DAEMON=dist
# Daemons wait for /health/live by polling: a longer deadline costs nothing when
# they are quick and keeps files starting daemons at once on a busy machine
# from failing for slowness alone.
export NT_TEST_START_TIMEOUT_MS=${NT_TEST_START_TIMEOUT_MS:-120000}

status=0
tb=$SECONDS
if ((${#together[@]})); then
  say "${#together[@]} files, $concurrency at a time"
  run --test-concurrency="$concurrency" "${together[@]}" || status=1
fi
tp=$SECONDS
if ((${#pairs[@]})); then
  say "${#pairs[@]} timing files with margins, $pair_concurrency at a time"
  run --test-concurrency="$pair_concurrency" "${pairs[@]}" || status=1
fi
t1=$SECONDS
if ((${#alone[@]})); then
  say "${#alone[@]} timing-sensitive files, one at a time"
  run --test-concurrency=1 "${alone[@]}" || status=1
fi
say "build $((tb - t0)) s, side by side $((tp - tb)) s, in pairs $((t1 - tp)) s, one at a time $((SECONDS - t1)) s, $((SECONDS - t0)) s in all (load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores)"
exit $status

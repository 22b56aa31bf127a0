#!/usr/bin/env node
// getaddrinfo runs on libuv's thread pool (4 threads by default); name
// lookups of many targets must not starve file I/O. The pool starts on first
// use, which no import below triggers, so setting it here still counts.
process.env.UV_THREADPOOL_SIZE ??= '16';

import { checkConfigCommand } from './cli/check-config.js';
import { checkPrivilegesCommand } from './cli/check-privileges.js';
import { collectCommand } from './cli/collect.js';
import { geoCliCommand } from './cli/geo.js';
import { runCommand } from './cli/run.js';
import { VERSION } from './version.js';

const USAGE = `network-telemetry ${VERSION}

Usage:
  network-telemetry run                      start the daemon (what npm start runs)
  network-telemetry collect --once [--target NAME]... [--probe KIND]... [--json]
                                             probe now, print the results, exit 1 if any probe failed
  network-telemetry check-config [--json]    validate the configuration and summarize it (--json: all of it, secrets redacted)
  network-telemetry check-privileges         can fping and mtr send ICMP here? (exit 1 when not)
  network-telemetry geo IP... [--json]       what the configured geolocation backend (GEO) says
  network-telemetry --version | --help

Configuration comes from environment variables: see docs/configuration.md.
Exit codes: 0 ok, 1 a probe failed (collect) or the environment is wrong (start), 2 invalid configuration or usage.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v') {
    console.log(VERSION);
    return 0;
  }
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  switch (command) {
    case 'run':
      return runCommand();
    case 'collect':
      return collectCommand(rest, USAGE);
    case 'check-config':
      return checkConfigCommand(rest);
    case 'check-privileges':
      return checkPrivilegesCommand();
    case 'geo':
      return geoCliCommand(rest);
    default:
      console.error(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // One-shot commands are done: do not wait for keep-alive timers.
    if (process.argv[2] !== 'run' || code !== 0) setImmediate(() => process.exit(code));
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

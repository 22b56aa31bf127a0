import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * Headless Chromium from the Debian package (`chromium`, see
 * scripts/ensure-deps.sh), driven by playwright-core, which never downloads
 * a browser. A fresh profile per launch, removed on close.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Browser {
  context: BrowserContext;
  /** A page that records console errors and uncaught exceptions into `errors`. */
  page(): Promise<Page & { errors: string[] }>;
  close(): Promise<void>;
}

export interface LaunchOptions {
  colorScheme?: 'light' | 'dark';
  width?: number;
  height?: number;
  /** Accept a self-signed certificate (a daemon with WEB_CONFIG_FILE TLS in a test). */
  ignoreHTTPSErrors?: boolean;
  /** Answer basic-auth challenges with these (WEB_CONFIG_FILE basic_auth_users). */
  httpCredentials?: { username: string; password: string };
  /** The browser's time zone (`Asia/Kolkata`): a page's local times differ from UTC whatever the host's zone. */
  timezoneId?: string;
}

export async function launchBrowser(opts: LaunchOptions = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'nt-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS, // the fresh profile is the user data dir (playwright refuses --user-data-dir in args)
      viewport: { width: opts.width ?? 1400, height: opts.height ?? 1000 },
      colorScheme: opts.colorScheme ?? 'light',
      timeout: 60_000,
      ignoreHTTPSErrors: opts.ignoreHTTPSErrors,
      httpCredentials: opts.httpCredentials,
      timezoneId: opts.timezoneId,
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  return {
    context,
    async page() {
      const page = (await context.newPage()) as Page & { errors: string[] };
      page.errors = [];
      page.on('console', (m) => {
        if (m.type() === 'error') page.errors.push(`console: ${m.text()} (${m.location().url})`);
      });
      page.on('pageerror', (e) => page.errors.push(`exception: ${e.message}`));
      return page;
    },
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

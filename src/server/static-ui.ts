import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import { BaseComponent, type ComponentHealth } from '../lifecycle/component.js';

/**
 * The web UI's files: the HTML shell for `/`, `/targets/<name>` and `/matrix`, and the
 * bundled, content-hashed assets under `/ui/`.
 *
 * Where the bundle comes from (decided by what sits beside this module):
 *   - from dist/ (`npm run build`, `npm start`, the Docker image):
 *     dist/server/static-ui.js finds dist/web/manifest.json, written by
 *     scripts/build-web.ts with .gz and .br variants precompressed at maximum
 *     level. esbuild is a devDependency and is not needed at run time.
 *   - from source (tests and `tsx src/cli.ts`, which is what CI runs):
 *     src/server/static-ui.ts finds the client sources in src/web/ and bundles
 *     them in memory with esbuild's API on start (about 0.3 s), compressing
 *     the same way. No build step, and never a stale dist/web/: a fresh clone
 *     with `npm ci` serves the pages as they are in the tree.
 * Everything is held in memory (the whole set is a few hundred kB, a fixed
 * set of files), so a request costs a Map lookup.
 *
 * Caching: hashed assets are `immutable` for a year; the shell is
 * `no-cache` with an ETag, so a new version is picked up on the next load.
 * Each encoding variant carries its own ETag (its bytes differ).
 */

export interface StaticReply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

interface Variant {
  body: Buffer;
  etag: string;
}

interface Asset {
  contentType: string;
  immutable: boolean;
  identity: Variant;
  gzip?: Variant;
  br?: Variant;
}

/** The files of one build, by the URL path they are served at. */
export interface WebBundle {
  /** The shell, with the hashed asset URLs filled in. */
  shell: Buffer;
  /** `/ui/<file>` -> bytes. */
  assets: Map<string, Buffer>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.html': 'text/html; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
};

/**
 * The pages run no inline script and load nothing from another origin.
 * uPlot sizes its canvas through style attributes, hence 'unsafe-inline' for styles only.
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

const SHELL_PATH = /^\/(?:targets\/[^/]+|matrix)?$/;
const MANIFEST = 'manifest.json';

function contentType(path: string): string {
  const dot = path.lastIndexOf('.');
  return CONTENT_TYPES[dot >= 0 ? path.slice(dot) : ''] ?? 'application/octet-stream';
}

function etagOf(body: Buffer, suffix = ''): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}${suffix}"`;
}

const compressible = (type: string) => /^(text\/|application\/json|image\/svg)/.test(type);

function gzip(body: Buffer): Buffer {
  return gzipSync(body, { level: 9 });
}

function brotli(body: Buffer): Buffer {
  return brotliCompressSync(body, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: body.length } });
}

function asset(path: string, body: Buffer, immutable: boolean, pre?: { gzip?: Buffer; br?: Buffer }): Asset {
  const type = contentType(path);
  const a: Asset = { contentType: type, immutable, identity: { body, etag: etagOf(body) } };
  if (compressible(type) && body.length > 512) {
    const gz = pre?.gzip ?? gzip(body);
    const br = pre?.br ?? brotli(body);
    if (gz.length < body.length) a.gzip = { body: gz, etag: etagOf(body, '-gz') };
    if (br.length < body.length) a.br = { body: br, etag: etagOf(body, '-br') };
  }
  return a;
}

/** src/web (client sources) when this module runs from src/; dist/web (the built bundle) from dist/. */
const WEB_DIR = fileURLToPath(new URL('../web/', import.meta.url));

/**
 * Bundle src/web with esbuild: the page code as ES modules split per page
 * (the overview never loads uPlot or the world map), the stylesheet, a
 * tiny classic script that applies the saved theme before first paint, and
 * the shell with the hashed names filled in.
 */
export async function buildWebBundle(sourceDir = WEB_DIR, opts: { minify?: boolean } = {}): Promise<WebBundle> {
  // esbuild is a devDependency: loaded only when bundling from source.
  const esbuild = await import('esbuild');
  const outdir = join(sourceDir, '.out'); // virtual: write is false
  const common = {
    bundle: true,
    write: false,
    minify: opts.minify ?? true,
    outdir,
    target: ['chrome100', 'firefox100', 'safari15'],
    entryNames: '[name]-[hash]',
    chunkNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    publicPath: '/ui/',
    legalComments: 'none' as const,
    logLevel: 'silent' as const,
    absWorkingDir: sourceDir,
  };
  const [app, boot] = await Promise.all([
    esbuild.build({
      ...common,
      entryPoints: [join(sourceDir, 'main.ts'), join(sourceDir, 'styles.css')],
      format: 'esm',
      splitting: true,
      loader: { '.json': 'file' },
      metafile: true,
    }),
    esbuild.build({ ...common, entryPoints: [join(sourceDir, 'theme-boot.ts')], format: 'iife', metafile: true }),
  ]);
  const assets = new Map<string, Buffer>();
  const named: Record<string, string> = {};
  for (const result of [app, boot]) {
    for (const f of result.outputFiles ?? []) {
      const file = relative(outdir, f.path);
      const url = `/ui/${file}`;
      assets.set(url, Buffer.from(f.contents));
      const entry = result.metafile.outputs[relative(sourceDir, f.path)]?.entryPoint;
      if (entry) named[basename(entry).replace(/\.[a-z]+$/, '')] = url;
    }
  }
  for (const need of ['main', 'styles', 'theme-boot']) {
    if (!named[need]) throw new Error(`web bundle: no output for ${need} (esbuild outputs: ${[...assets.keys()].join(', ')})`);
  }
  const template = await readFile(join(sourceDir, 'index.html'), 'utf8');
  const shell = template
    .replaceAll('%MAIN%', named.main!)
    .replaceAll('%STYLES%', named.styles!)
    .replaceAll('%THEME_BOOT%', named['theme-boot']!);
  return { shell: Buffer.from(shell), assets };
}

/**
 * Write a bundle to `outDir` for production: every file with its .gz and
 * .br variants, the shell as index.html, and manifest.json listing them.
 */
export async function writeWebBundle(bundle: WebBundle, outDir: string): Promise<{ files: number; bytes: number; gzipBytes: number }> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  let bytes = 0;
  let gzipBytes = 0;
  const entries: [string, Buffer][] = [['index.html', bundle.shell], ...[...bundle.assets].map(([url, body]) => [url.slice('/ui/'.length), body] as [string, Buffer])];
  for (const [file, body] of entries) {
    const a = asset(file, body, false);
    await writeFile(join(outDir, file), body);
    if (a.gzip) await writeFile(join(outDir, `${file}.gz`), a.gzip.body);
    if (a.br) await writeFile(join(outDir, `${file}.br`), a.br.body);
    bytes += body.length;
    gzipBytes += (a.gzip ?? a.identity).body.length;
  }
  const manifest = { shell: 'index.html', assets: entries.slice(1).map(([file]) => file) };
  await writeFile(join(outDir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return { files: entries.length, bytes, gzipBytes };
}

async function readBuilt(dir: string): Promise<Map<string, Asset>> {
  const manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as { shell: string; assets: string[] };
  const present = new Set(await readdir(dir));
  const load = async (file: string, immutable: boolean): Promise<Asset> => {
    const body = await readFile(join(dir, file));
    const pre = {
      gzip: present.has(`${file}.gz`) ? await readFile(join(dir, `${file}.gz`)) : undefined,
      br: present.has(`${file}.br`) ? await readFile(join(dir, `${file}.br`)) : undefined,
    };
    return asset(file, body, immutable, pre);
  };
  const out = new Map<string, Asset>();
  out.set('shell', await load(manifest.shell, false));
  for (const f of manifest.assets) out.set(`/ui/${f}`, await load(f, true));
  return out;
}

function fromBundle(b: WebBundle): Map<string, Asset> {
  const out = new Map<string, Asset>();
  out.set('shell', asset('index.html', b.shell, false));
  for (const [url, body] of b.assets) out.set(url, asset(url, body, true));
  return out;
}

/** Prefer brotli, then gzip, as the client allows (q=0 excludes). */
function pickEncoding(acceptEncoding: string | undefined, a: Asset): ['br' | 'gzip' | undefined, Variant] {
  const accepted = new Set(
    (acceptEncoding ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s && !/;\s*q=0(\.0*)?$/.test(s))
      .map((s) => s.split(';')[0]!.trim()),
  );
  if (a.br && accepted.has('br')) return ['br', a.br];
  if (a.gzip && (accepted.has('gzip') || accepted.has('*'))) return ['gzip', a.gzip];
  return [undefined, a.identity];
}

export interface StaticUiOptions {
  /** A built dist/web directory, or client sources to bundle; default: the one beside this module. */
  dir?: string;
}

/**
 * Serves the UI files; a lifecycle component because start() reads (or
 * builds) them. A request before start() (or after a failed one) loads
 * them on demand; a failed load is retried by the next request, and the
 * page answers 503 with the reason instead of a blank page.
 */
export class StaticUi extends BaseComponent {
  readonly name = 'web-ui';
  private assets?: Map<string, Asset>;
  private loading?: Promise<Map<string, Asset>>;
  private error?: string;
  private readonly dir: string;

  constructor(opts: StaticUiOptions = {}) {
    super();
    this.dir = opts.dir ?? WEB_DIR;
  }

  /** Nothing at start: the files load (from source: bundle) on the first request, so a daemon nobody browses pays nothing. */
  protected async onStart(): Promise<void> {}

  protected async onStop(): Promise<void> {}

  health(): ComponentHealth {
    if (this.assets) return { status: 'ok', files: this.assets.size, from: this.dir };
    if (this.error) return { status: 'degraded', error: this.error };
    return { status: 'ok', loaded: false };
  }

  private load(): Promise<Map<string, Asset>> {
    if (this.assets) return Promise.resolve(this.assets);
    this.loading ??= (async () => {
      try {
        const built = existsSync(join(this.dir, MANIFEST));
        this.assets = built ? await readBuilt(this.dir) : fromBundle(await buildWebBundle(this.dir));
        this.error = undefined;
        return this.assets;
      } catch (err) {
        this.error = `web UI assets could not be loaded from ${this.dir}: ${(err as Error).message.split('\n')[0]} (from dist/, run npm run build)`;
        throw new Error(this.error);
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  /** Whether `path` is one of ours: the shell paths and everything under /ui/. */
  static handles(pathname: string): boolean {
    return SHELL_PATH.test(pathname) || pathname.startsWith('/ui/');
  }

  /**
   * The answer for a GET/HEAD of `pathname`, or undefined when the path is
   * not the UI's (the caller goes on to its other routes).
   */
  async serve(pathname: string, headers: { 'accept-encoding'?: string; 'if-none-match'?: string }): Promise<StaticReply | undefined> {
    if (!StaticUi.handles(pathname)) return undefined;
    let assets: Map<string, Asset>;
    try {
      assets = await this.load();
    } catch (err) {
      return jsonReply(503, (err as Error).message);
    }
    const a = SHELL_PATH.test(pathname) ? assets.get('shell') : assets.get(pathname);
    if (!a) return jsonReply(404, `no UI file ${pathname}`);
    const [encoding, v] = pickEncoding(headers['accept-encoding'], a);
    const out: Record<string, string> = {
      'content-type': a.contentType,
      etag: v.etag,
      'cache-control': a.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      vary: 'accept-encoding',
      'x-content-type-options': 'nosniff',
    };
    if (!a.immutable) {
      out['content-security-policy'] = CSP;
      out['referrer-policy'] = 'same-origin';
    }
    if (encoding) out['content-encoding'] = encoding;
    const inm = headers['if-none-match'];
    if (inm && inm.split(',').some((t) => t.trim() === v.etag || t.trim() === `W/${v.etag}`)) {
      return { status: 304, headers: out, body: Buffer.alloc(0) };
    }
    out['content-length'] = String(v.body.length);
    return { status: 200, headers: out, body: v.body };
  }
}

function jsonReply(status: number, error: string): StaticReply {
  return { status, headers: { 'content-type': 'application/json' }, body: Buffer.from(`${JSON.stringify({ error })}\n`) };
}

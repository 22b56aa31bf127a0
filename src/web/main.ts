import { request } from './api.js';
import type { DaemonStatus } from './api-types.js';
import { errorBox, h } from './dom.js';
import { StatusStrip } from './status-strip.js';
import { timeZoneToggle } from './format.js';
import { themeToggle } from './theme.js';

/**
 * The entry of every page: the header, the status strip, then the page
 * for the path (`/`, `/matrix` or `/targets/<name>`), each in a chunk of its own so
 * the overview does not load the chart and map libraries.
 */

export interface Page {
  /** Stop timers and requests (the page is left). */
  dispose(): void;
}

async function boot(): Promise<void> {
  const header = document.getElementById('top')!;
  const main = document.getElementById('main')!;
  const strip = new StatusStrip(document.getElementById('status-strip')!);
  header.append(timeZoneToggle(), themeToggle());
  strip.start();
  void showMatrixLink();

  const path = location.pathname;
  try {
    if (path === '/' || path === '') {
      const { OverviewPage } = await import('./overview/overview-page.js');
      new OverviewPage(main).start();
    } else if (path === '/matrix') {
      const { MatrixPage } = await import('./matrix/matrix-page.js');
      new MatrixPage(main).start();
    } else if (path.startsWith('/targets/')) {
      let name: string;
      try {
        name = decodeURIComponent(path.slice('/targets/'.length));
      } catch {
        throw new Error(`the address ${path} is not a valid URL-encoded target name`);
      }
      const { TargetPage } = await import('./target/target-page.js');
      new TargetPage(main, name).start();
    } else {
      main.replaceChildren(errorBox(`no page at ${path}`));
    }
  } catch (err) {
    main.replaceChildren(errorBox(`the page could not be shown: ${(err as Error).message}`), h('p', {}, h('a', { href: '/' }, 'Back to all targets')));
  }
}

/** The matrix is there when other sites are: the link appears once /api/status says so. */
async function showMatrixLink(): Promise<void> {
  try {
    const s = await request<DaemonStatus>('/api/status');
    const sites = s.components.sites as { sites?: unknown[] } | undefined;
    if (sites?.sites?.length) document.getElementById('nav-matrix')?.removeAttribute('hidden');
  } catch {
    // the status strip shows why the daemon does not answer
  }
}

void boot();

/**
 * SITES: the other sites this one may show, `name=URL` separated by commas,
 * e.g. `SITES=fra=https://fra.example:8080,nyc=https://reader:pw@nyc.example:8080`.
 * The name is that site's SOURCE_NAME (the `source` tag of its points: how
 * its series are found in a shared database and told apart on a page); the
 * URL is the root of its API. Userinfo in the URL is sent as basic auth
 * (a read-only user of that site's WEB_CONFIG_FILE) and never shown.
 */

export interface Site {
  /** The site's SOURCE_NAME. */
  name: string;
  /** The API root without credentials (shown, and the key of its circuit breaker). */
  url: string;
  /** Sent with every call to this site. */
  headers: Record<string, string>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;

/** The parsed list, and one line per problem (`SITES: ...`) for ConfigError. */
export function parseSites(raw: string | undefined, self: string): { sites: Site[]; problems: string[] } {
  const sites: Site[] = [];
  const problems: string[] = [];
  if (!raw) return { sites, problems };
  const example = 'e.g. SITES=fra=https://fra.example:8080,nyc=https://nyc.example:8080';
  for (const entry of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = entry.indexOf('=');
    const name = eq > 0 ? entry.slice(0, eq).trim() : '';
    const url = eq > 0 ? entry.slice(eq + 1).trim() : '';
    if (!name || !url.includes('://')) {
      problems.push(`SITES: "${entry.includes('://') ? '<name>=<redacted URL>' : entry.slice(0, 60)}" is not name=URL (${example})`);
      continue;
    }
    if (!NAME.test(name)) {
      problems.push(`SITES: site name "${name.slice(0, 60)}" must be the site's SOURCE_NAME: letters, digits and _ . : - (at most 100)`);
      continue;
    }
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      problems.push(`SITES: the URL of site ${name} does not parse (${example})`);
      continue;
    }
    if (!/^https?:$/.test(u.protocol)) {
      problems.push(`SITES: the URL of site ${name} must be http:// or https:// (it is ${u.protocol}//...)`);
      continue;
    }
    if (u.search || u.hash) {
      problems.push(`SITES: the URL of site ${name} must be the root of its API, without ?query or #fragment`);
      continue;
    }
    if (name === self) {
      problems.push(`SITES: "${name}" is this site's own SOURCE_NAME: list only the other sites`);
      continue;
    }
    if (sites.some((s) => s.name === name)) {
      problems.push(`SITES: site ${name} is listed twice`);
      continue;
    }
    const headers: Record<string, string> = {};
    if (u.username) headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
    u.username = '';
    u.password = '';
    sites.push({ name, url: u.toString().replace(/\/$/, ''), headers });
  }
  return { sites, problems };
}

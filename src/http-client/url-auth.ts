/** Credentials for a database endpoint: userinfo in its URL wins over these. */
export interface EndpointAuth {
  username?: string;
  password?: string;
  bearerToken?: string;
}

/**
 * The URL without its userinfo and the Authorization header it stands for:
 * Basic from the URL's userinfo or the username/password settings, else
 * Bearer. The one reading of credentials for remote write and QUERY_URL, so
 * a URL that works for one works for the other. Throws on a URL that does not parse.
 */
export function splitUrlAuth(raw: string, auth: EndpointAuth): { url: URL; headers: Record<string, string> } {
  const url = new URL(raw);
  const headers: Record<string, string> = {};
  const user = url.username ? decodeURIComponent(url.username) : auth.username;
  const pass = url.password ? decodeURIComponent(url.password) : auth.password;
  if (user) headers.authorization = `Basic ${Buffer.from(`${user}:${pass ?? ''}`).toString('base64')}`;
  else if (auth.bearerToken) headers.authorization = `Bearer ${auth.bearerToken}`;
  url.username = '';
  url.password = '';
  return { url, headers };
}

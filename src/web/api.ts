/** Talking to the daemon: every error becomes an ApiError with the server's own message. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Bounded: a request that hangs is abandoned after this long. */
const TIMEOUT_MS = 30_000;

export async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const signal = init.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(TIMEOUT_MS)]) : AbortSignal.timeout(TIMEOUT_MS);
  let res: Response;
  try {
    res = await fetch(path, { ...init, signal, headers: { accept: 'application/json', ...init.headers } });
  } catch (err) {
    if ((err as Error).name === 'AbortError' && init.signal?.aborted) throw err;
    const why = (err as Error).name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s` : (err as Error).message;
    throw new ApiError(0, `${path}: ${why}`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    throw new ApiError(res.status, `${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
  }
  if (!res.ok) {
    const msg = body && typeof body === 'object' && 'error' in body ? String((body as { error: unknown }).error) : `HTTP ${res.status}`;
    throw new ApiError(res.status, `${path}: ${msg}`);
  }
  return body as T;
}

/** `/api/targets/<name>/...` with the name as one path segment. */
export function targetPath(name: string, rest = ''): string {
  return `/api/targets/${encodeURIComponent(name)}${rest}`;
}

export function pagePath(name: string): string {
  return `/targets/${encodeURIComponent(name)}`;
}

export function isAbort(err: unknown): boolean {
  return (err as Error)?.name === 'AbortError';
}

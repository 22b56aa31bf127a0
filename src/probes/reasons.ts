import { isDeadline } from '../util/abort.js';
import type { Reason } from './types.js';

/** Map a Node/undici error to a probe failure reason. `signal` tells deadline from shutdown. */
export function reasonForError(err: unknown, signal?: AbortSignal): { reason: Reason; detail: string } {
  const e = err as { code?: string; message?: string; name?: string } | undefined;
  const code = e?.code ?? e?.name ?? 'ERROR';
  const detail = `${code}${e?.message && e.message !== code ? `: ${e.message}` : ''}`.slice(0, 300);
  if (signal?.aborted) return { reason: isDeadline(signal.reason) ? 'timeout' : 'aborted', detail };
  if (isDeadline(err)) return { reason: 'timeout', detail };
  switch (code) {
    case 'CIRCUIT_OPEN':
      return { reason: 'circuit_open', detail };
    case 'ECONNREFUSED':
      return { reason: 'refused', detail };
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'POOL_TIMEOUT':
    case 'DEADLINE':
      return { reason: 'timeout', detail };
    case 'ENOTFOUND':
      return { reason: 'unknown_host', detail };
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'ESERVFAIL':
      return { reason: 'dns_error', detail };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
    case 'EADDRNOTAVAIL':
      return { reason: 'unreachable', detail };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return { reason: 'connection_reset', detail };
    case 'EACCES':
    case 'EPERM':
      return { reason: 'no_permission', detail };
    case 'AbortError':
    case 'ABORT_ERR':
    case 'UND_ERR_ABORTED':
      return { reason: 'aborted', detail };
  }
  if (/CERT|SSL|TLS|EPROTO|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME/i.test(code)) return { reason: 'tls_error', detail };
  if (code.startsWith('HPE_') || code === 'UND_ERR_INFO' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
    return { reason: 'protocol_error', detail };
  }
  return { reason: 'network_error', detail };
}

/**
 * What an upstream failure means for the client: a status, a short text body naming the reason (no stack, no
 * internal address), a metric reason and a stable error code. Refused and reset are the app's fault as seen by a
 * gateway (502), a timeout is 504 (RFC 9110 §15.6.3, §15.6.5).
 */
import type {ErrorCode} from './errors.js';
import type {UpstreamErrorReason} from './metrics.js';

export interface UpstreamFailure {
  readonly reason: UpstreamErrorReason;
  readonly status: 502 | 504;
  readonly code: ErrorCode;
  /** Response body: one line of text. */
  readonly body: Buffer;
  readonly message: string;
}

function failure(reason: UpstreamErrorReason, status: 502 | 504, code: ErrorCode, message: string): UpstreamFailure {
  const title = status === 504 ? '504 Gateway Timeout' : '502 Bad Gateway';
  return Object.freeze({reason, status, code, message, body: Buffer.from(`${title}: ${message}\n`)});
}

export const UPSTREAM_FAILURES: Readonly<Record<UpstreamErrorReason, UpstreamFailure>> = Object.freeze({
  refused: failure('refused', 502, 'UPSTREAM_REFUSED', 'upstream refused the connection'),
  timeout: failure('timeout', 504, 'UPSTREAM_TIMEOUT', 'upstream did not answer in time'),
  reset: failure('reset', 502, 'UPSTREAM_RESET', 'upstream closed the connection'),
  bad_response: failure('bad_response', 502, 'UPSTREAM_BAD_RESPONSE', 'upstream sent a malformed response'),
  other: failure('other', 502, 'UPSTREAM_ERROR', 'upstream unavailable'),
});

/**
 * @param timedOut the proxy gave up waiting by itself (the WebSocket handshake's timer destroys the request, which
 *   then surfaces as a plain "socket hang up", so the caller must say so).
 *
 * Codes from node's sockets and http client (ECONNREFUSED, ECONNRESET, HPE_*) and from undici's client
 * (https://github.com/nodejs/undici/blob/main/docs/docs/api/Errors.md: UND_ERR_*).
 */
export function classifyUpstreamError(err: unknown, timedOut: boolean): UpstreamFailure {
  if (timedOut) return UPSTREAM_FAILURES.timeout;
  const code = (err as {code?: unknown} | null)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return UPSTREAM_FAILURES.refused;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return UPSTREAM_FAILURES.timeout;
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return UPSTREAM_FAILURES.reset;
    case 'UND_ERR_SOCKET':
      // "other side closed" is a close; "bad upgrade" (a 101 to a plain request) and "bad response" (a 100 Continue
      // the request did not ask for) are responses undici refuses.
      return /^bad /.test((err as Error).message) ? UPSTREAM_FAILURES.bad_response : UPSTREAM_FAILURES.reset;
    case 'UND_ERR_HEADERS_OVERFLOW':
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
      return UPSTREAM_FAILURES.bad_response;
    default:
      // The HTTP parser (llhttp) rejected the response: HPE_INVALID_CONSTANT, HPE_INVALID_HEADER_TOKEN, ... (undici's
      // HTTPParserError does not always carry the code).
      if ((typeof code === 'string' && code.startsWith('HPE_')) || (err as Error | null)?.name === 'HTTPParserError') return UPSTREAM_FAILURES.bad_response;
      return UPSTREAM_FAILURES.other;
  }
}

/**
 * Request ids: an incoming `X-Request-Id` is kept when it is short and made of safe characters
 * (it goes into logs, headers and problem bodies); anything else gets a fresh UUID.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Letters, digits and `-_.:+/=` (UUIDs, ULIDs, trace ids, base64), 1–128 of them. */
const SAFE_ID = /^[A-Za-z0-9._:+/=-]{1,128}$/;

/**
 * The request id of a request: its valid `X-Request-Id`, or a new UUID.
 * @example requestId({ headers: { 'x-request-id': 'abc-123' } }) // 'abc-123'
 */
export function requestId(request: Pick<IncomingMessage, 'headers'>): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
}

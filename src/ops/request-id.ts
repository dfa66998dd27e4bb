/**
 * Request ids: an incoming `X-Request-Id` is kept when it is short and made of safe characters
 * (it goes into logs, headers and problem bodies); anything else gets a fresh id.
 *
 * Fresh ids are UUIDs of version 8 (RFC 9562's custom layout): 74 random bits drawn once per
 * process (and again if its counter ever wraps), then a 48-bit counter. Unique across processes
 * and instances like a random UUID, at the cost of a counter increment instead of random bytes
 * per request. They are identifiers, not secrets.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Letters, digits and `-_.:+/=` (UUIDs, ULIDs, trace ids, base64), 1–128 of them. */
const SAFE_ID = /^[A-Za-z0-9._:+/=-]{1,128}$/;

const COUNTER_LIMIT = 2 ** 48;
let prefix = '';
let counter = COUNTER_LIMIT;

/** `xxxxxxxx-xxxx-8xxx-yxxx-` with random x and the variant bits in y. */
function newPrefix(): string {
  const hex = randomBytes(10).toString('hex').split('');
  hex[12] = '8';
  hex[16] = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-`;
}

/** @example freshRequestId() // '3f9c1a2b-77d0-8e41-9a5c-00000000002a' */
export function freshRequestId(): string {
  if (counter >= COUNTER_LIMIT) {
    prefix = newPrefix();
    counter = 0;
  }
  return prefix + (counter++).toString(16).padStart(12, '0');
}

/**
 * The request id of a request: its valid `X-Request-Id`, or a fresh one.
 * @example requestId({ headers: { 'x-request-id': 'abc-123' } }) // 'abc-123'
 */
export function requestId(request: Pick<IncomingMessage, 'headers'>): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && SAFE_ID.test(given) ? given : freshRequestId();
}

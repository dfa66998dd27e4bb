/**
 * Strong entity tags: a hash of the body (SHA-1 through the one-shot `crypto.hash`, a quarter
 * of a microsecond for a row; collisions are not a concern for a validator of one URL).
 */
import { hash } from 'node:crypto';

/** @example etagOf('{"data":[]}') // '"…27 base64url characters…"' */
export function etagOf(body: Buffer | string): string {
  return `"${hash('sha1', body, 'base64url')}"`;
}

/**
 * HTTP semantics of a GET's representation (RFC 9110/9111): conditional requests against the
 * entity tag, `Vary`, and content coding (brotli or gzip, negotiated by Accept-Encoding).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Transform } from 'node:stream';
import { promisify } from 'node:util';
import { brotliCompress, constants, createBrotliCompress, createGzip, gzip } from 'node:zlib';
import Negotiator from 'negotiator';

export type Encoding = 'br' | 'gzip';

/**
 * What a response depends on besides the URL: the media type asked for, the coding, and the
 * caller's credentials (which decide the rows and columns).
 */
export const VARY = 'Accept, Accept-Encoding, Authorization, X-API-Key';
const VARY_ORIGIN = `${VARY}, Origin`;

/**
 * The `Vary` of a read: {@link VARY}, and `Origin` when CORS allows a list of origins (the
 * `Access-Control-Allow-Origin` sent then depends on the request's Origin; with `*` it does not).
 * @example varyFor(config.server) // 'Accept, Accept-Encoding, Authorization, X-API-Key, Origin'
 */
export function varyFor(server: { readonly cors: { readonly origins: readonly string[] } }): string {
  const { origins } = server.cors;
  return origins.length > 0 && !origins.includes('*') ? VARY_ORIGIN : VARY;
}

const OFFERED = ['br', 'gzip', 'identity'];

/** The coding to send, or null for none (also when the client prefers identity). */
export function chooseEncoding(headers: IncomingHttpHeaders): Encoding | null {
  const accept = headers['accept-encoding'];
  if (!accept) return null;
  // negotiator 1.x breaks ties by `preferred` (its type definitions predate that option).
  const negotiator = new Negotiator({ headers: { 'accept-encoding': accept } }) as unknown as { encoding(offered: string[], options: { preferred: string[] }): string | undefined };
  const best = negotiator.encoding(OFFERED, { preferred: OFFERED });
  return best === 'br' || best === 'gzip' ? best : null;
}

const brotli = promisify(brotliCompress);
const gz = promisify(gzip);

/**
 * A body compressed off the main thread. Brotli at quality 5: close to gzip's speed, smaller
 * output (a cached entry is compressed once and sent many times).
 */
export function compress(body: Buffer | string, encoding: Encoding): Promise<Buffer> {
  if (encoding === 'br') {
    return brotli(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: Buffer.byteLength(body) } });
  }
  return gz(body, { level: 6 });
}

/** A compressing stream for NDJSON and CSV (lower brotli quality: it runs for every byte sent). */
export function compressor(encoding: Encoding): Transform {
  return encoding === 'br' ? createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 4 } }) : createGzip({ level: 5 });
}

/** The entity tags of a precondition header: '*', or the list (weak ones keep their `W/`). */
function tags(header: string): string[] | '*' {
  if (header.trim() === '*') return '*';
  return header.match(/(?:W\/)?"[^"]*"/g) ?? [];
}

/**
 * If-None-Match (weak comparison): true when the client's copy is current (→ 304).
 * @example notModified({ 'if-none-match': '"abc"' }, '"abc"') === true
 */
export function notModified(headers: IncomingHttpHeaders, etag: string): boolean {
  const header = headers['if-none-match'];
  if (!header) return false;
  const list = tags(header);
  if (list === '*') return true;
  return list.some((t) => (t.startsWith('W/') ? t.slice(2) : t) === etag);
}

/** The entity tag of a coded representation: each coding is its own representation. */
export function codedEtag(etag: string, encoding: Encoding | null): string {
  return encoding ? `${etag.slice(0, -1)}-${encoding}"` : etag;
}

/**
 * If-Match (strong comparison): true when the write may proceed. `etag` is the tag of the row as
 * a GET without parameters shows it to the caller (any coding of it matches), or null when the
 * row does not exist (then it fails, `*` included).
 */
export function preconditionHolds(header: string | undefined, etag: string | null): boolean {
  if (header === undefined) return true;
  if (etag === null) return false;
  const list = tags(header);
  const current = [etag, codedEtag(etag, 'br'), codedEtag(etag, 'gzip')];
  return list === '*' || list.some((t) => current.includes(t));
}

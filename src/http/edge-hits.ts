/**
 * Cache hits answered before Fastify: a GET whose fresh response sits in the cache is written
 * straight from Node's request listener — the same status, headers and body as the full path
 * sends, the same histogram sample, cache counter and log line — without routing, hooks or a
 * reply object. A hit measured ~55 µs of CPU through Fastify beside ~40 µs for Fastify's own
 * `{"hello":"world"}`; most of the difference was the framework's per-request machinery, which a
 * response that is already bytes does not need (docs/performance.md).
 *
 * Anything the edge does not handle exactly like the full path goes to Fastify: other methods,
 * long URLs, conditional requests, requests with an Origin when CORS is configured (and hits whose
 * entry was first served to one: the CORS headers of a request without an Origin are those the
 * full path sent then), a body that would be compressed before its coded bytes are ready,
 * credentials not verified yet, and every request while the instance drains or sheds load.
 * Nothing is answered here when rate limits are configured (every request must count), nor with
 * tracing or Server-Timing on.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Engine } from '../engine.ts';
import type { Lifecycle } from '../ops/lifecycle.ts';
import type { EdgeRecorder, Observers } from '../ops/observe.ts';
import { requestId } from '../ops/request-id.ts';
import { frontHit } from './respond.ts';
import { chooseEncoding, codedEtag, varyFor } from './representation.ts';

export interface EdgeHitOptions {
  readonly engine: Engine;
  /** The security headers every response carries (null: none). */
  readonly security: Readonly<Record<string, string>> | null;
  readonly lifecycle?: Lifecycle | undefined;
  readonly observers?: Observers | undefined;
  /** Metrics and the log line of a hit (from `observe`); undefined when nothing observes. */
  readonly record?: EdgeRecorder | undefined;
}

let served = 0;
/** How many responses this process answered at the edge (the tests' proof that the path was taken). */
export const edgeServed = (): number => served;

/** The listener's fast path: true when it answered the request. */
export type EdgeHits = (req: IncomingMessage, res: ServerResponse) => boolean;

/** @example const edge = edgeHits({ engine, security, lifecycle, observers, record }); if (!edge?.(req, res)) fastify(req, res) */
export function edgeHits(o: EdgeHitOptions): EdgeHits | null {
  const { engine, lifecycle, observers } = o;
  const { config } = engine;
  if (!engine.cache || config.rateLimits?.length || observers?.tracing || observers?.timing) return null;
  const prefix = `${config.server.basePath}/`;
  const maxUrl = config.limits.maxUrlLength;
  const cors = config.server.cors.origins.length > 0;
  const { compression } = config.server;
  const shedder = observers?.shedder ?? null;
  const fixed: string[] = [];
  if (o.security) for (const [name, value] of Object.entries(o.security)) fixed.push(name, value);
  fixed.push('vary', varyFor(config.server), 'x-cache', 'HIT');

  return (req, res) => {
    const url = req.url;
    if (req.method !== 'GET' || url === undefined || url.length > maxUrl || !url.startsWith(prefix)) return false;
    if (lifecycle?.draining || shedder?.overloaded) return false;
    const headers = req.headers;
    if (headers['if-none-match'] !== undefined || (cors && headers.origin !== undefined)) return false;
    const started = performance.now();
    const hit = frontHit(engine, headers, url);
    if (!hit) return false;
    const { entry, front } = hit;
    if (front.cors === null) return false; // its CORS headers are known only for requests with an Origin
    let body: string | Buffer = entry.body;
    let etag = entry.etag;
    let encoding: string | null = null;
    if (compression.enabled && entry.body.length >= compression.threshold && headers['accept-encoding']) {
      encoding = chooseEncoding(headers);
      if (encoding) {
        const coded = entry.encoded?.get(encoding);
        if (!Buffer.isBuffer(coded)) return false; // compressed on the full path first
        body = coded;
        etag = codedEtag(etag, encoding as 'br' | 'gzip');
      }
    }
    const id = requestId(req);
    const out = front.cors.length ? fixed.concat(front.cors) : fixed.slice();
    out.push('x-request-id', id, 'cache-control', front.cacheControl, 'etag', etag, 'content-type', entry.contentType);
    if (entry.link) out.push('link', entry.link);
    if (encoding) out.push('content-encoding', encoding);
    out.push('content-length', String(typeof body === 'string' ? (entry.bytes ??= Buffer.byteLength(body)) : body.length));
    res.writeHead(200, out);
    res.end(body);
    served++;
    o.record?.(front.route, front.resource, { id, method: 'GET', url, headers }, performance.now() - started);
    return true;
  };
}

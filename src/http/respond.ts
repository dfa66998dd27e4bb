/**
 * The last stage of a GET: the response cache (when the resource is cached), the validators
 * (`ETag`, 304 on If-None-Match), `Cache-Control`, `Vary`, `X-Cache`, and the content coding.
 * Cached entries keep their compressed bodies, so a hit compresses nothing.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { Engine } from '../engine.ts';
import type { Resource } from '../schema/model.ts';
import type { Caller } from './caller.ts';
import type { CachePolicy, CacheState, Entry, Fill, Served } from '../cache/response-cache.ts';
import type { ReadTags } from '../cache/tags.ts';
import { etagOf } from '../cache/etag.ts';
import { chooseEncoding, codedEtag, compress, notModified, varyFor } from './representation.ts';

export type XCache = CacheState | 'BYPASS';

/** A read ready to run: what identifies it for the cache, and how to get its body. */
export interface Read {
  /** Computed only when the response cache is on. */
  readonly key: () => string;
  readonly tags: () => ReadTags;
  readonly run: () => Promise<Fill>;
}

/** Private for callers with credentials; for anonymous ones, the resource's configured value. */
export function cacheControl(engine: Engine, caller: Caller, resource: Resource): string {
  if (caller.principal.kind !== 'anonymous') return 'private, no-cache';
  return engine.config.cache.resources[resource.name]?.cacheControl ?? 'no-cache';
}

const policies = new WeakMap<object, Map<string, CachePolicy>>();

/** The cache policy of a read, or null when it is not cached (one object per resource, shared by its entries). */
function policyOf(engine: Engine, resource: Resource, tags: ReadTags): CachePolicy | null {
  const { cache } = engine.config;
  const own = cache.resources[resource.name];
  if (own && !own.enabled) return null;
  if (tags.view && !own) return null;
  let byName = policies.get(cache);
  if (!byName) policies.set(cache, (byName = new Map()));
  let policy = byName.get(resource.name);
  if (policy === undefined) byName.set(resource.name, (policy = { ttl: own?.ttl ?? cache.ttl, staleWhileRevalidate: cache.staleWhileRevalidate, staleIfError: cache.staleIfError }));
  return policy;
}

/**
 * The front door of cache hits: per principal (the same object for every request with the same
 * credentials), the raw request — URL and Accept — leads to the cache key the full path computed
 * for it, so a repeated request finds its entry without parsing, planning or key building.
 * Filled by `respond`; an LRU, so that a stream of one-off URLs cannot push the hot ones out;
 * entries of an older schema snapshot are ignored. A front also names the route and resource
 * the request was served as, for the metrics and log line of a hit answered before Fastify
 * (http/edge-hits.ts).
 */
export interface Front {
  readonly key: string;
  readonly cacheControl: string;
  readonly snapshot: object;
  /** The route template (`/api/v1/:resource/:id`) and the resource. */
  readonly route: string;
  readonly resource: string;
  /**
   * The CORS headers (name, value, …) the full path sent with it to a request without an Origin,
   * when CORS is configured; null when the request that made the front had an Origin.
   */
  readonly cors: readonly string[] | null;
}
let fronts: LRUCache<string, Front> | undefined; // made on first use: only servers with a cache need it
const principalIds = new WeakMap<object, number>();
let nextPrincipal = 0;
const frontKey = (principal: object, url: string | undefined, accept: string | undefined) => {
  let id = principalIds.get(principal);
  if (id === undefined) principalIds.set(principal, (id = nextPrincipal++));
  return `${id}\0${url}\0${accept ?? ''}`;
};

/**
 * The fresh cache entry a request leads to, and its front — or undefined when the caller's
 * credentials are not known yet (the full path verifies them and answers a refusal), the request
 * was never served through the cache, or the entry is gone or stale.
 */
export function frontHit(engine: Engine, headers: IncomingHttpHeaders, url: string | undefined): { front: Front; entry: Entry } | undefined {
  if (!fronts) return undefined;
  let principal: object;
  try {
    const found = engine.auth.principal(headers);
    if (found instanceof Promise) {
      found.catch(() => undefined); // the full path asks again and answers with the refusal
      return undefined;
    }
    principal = found;
  } catch {
    return undefined; // the full path answers with the same refusal
  }
  const front = fronts.get(frontKey(principal, url, headers.accept));
  if (!front || front.snapshot !== engine.snapshot()) return undefined;
  const entry = engine.cache!.peek(front.key);
  return entry ? { front, entry } : undefined;
}

/** A cache hit answered at the door, or undefined to take the full path. */
export function quickHit(engine: Engine, request: FastifyRequest, reply: FastifyReply): unknown {
  const hit = frontHit(engine, request.headers, request.raw.url);
  if (!hit) return undefined;
  reply.header('vary', varyFor(engine.config.server)).header('cache-control', hit.front.cacheControl);
  return send(engine, request, reply, hit.entry, hit.entry.etag, 'HIT', hit.entry);
}

function remember(engine: Engine, caller: Caller, resource: Resource, request: FastifyRequest, reply: FastifyReply, key: string, control: string): void {
  fronts ??= new LRUCache<string, Front>({ max: 50_000 });
  const cors = engine.config.server.cors.origins.length === 0 ? [] : request.headers.origin === undefined ? corsHeaders(reply) : null;
  fronts.set(frontKey(caller.principal, request.raw.url, request.headers.accept), { key, cacheControl: control, snapshot: engine.snapshot(), route: request.routeOptions.url ?? '', resource: resource.name, cors });
}

/** The `Access-Control-*` headers set on a reply so far (by the CORS plugin's hook). */
function corsHeaders(reply: FastifyReply): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(reply.getHeaders())) if (name.startsWith('access-control-') && value !== undefined) out.push(name, String(value));
  return out;
}

/** Sends a JSON read through the cache (or around it), with validators and coding. */
export function respond(engine: Engine, caller: Caller, resource: Resource, request: FastifyRequest, reply: FastifyReply, read: Read): unknown {
  const control = cacheControl(engine, caller, resource);
  reply.header('vary', varyFor(engine.config.server)).header('cache-control', control);
  const tags = engine.cache ? read.tags() : null;
  const policy = tags && policyOf(engine, resource, tags);
  if (!policy) return read.run().then((fill) => send(engine, request, reply, fill, etagOf(fill.body), 'BYPASS', null));
  const key = read.key();
  if (!engine.cache!.admits(key)) return read.run().then((fill) => send(engine, request, reply, fill, etagOf(fill.body), 'MISS', null));
  remember(engine, caller, resource, request, reply, key, control);
  const served = engine.cache!.serve(key, tags.tags, policy, read.run);
  return served instanceof Promise ? served.then((s) => sendServed(engine, request, reply, s)) : sendServed(engine, request, reply, served);
}

function sendServed(engine: Engine, request: FastifyRequest, reply: FastifyReply, served: Served): unknown {
  return send(engine, request, reply, served.entry, served.entry.etag, served.state, served.entry);
}

function send(engine: Engine, request: FastifyRequest, reply: FastifyReply, fill: Fill, etag: string, state: XCache, entry: Entry | null): unknown {
  const { compression } = engine.config.server;
  const encoding = compression.enabled && fill.body.length >= compression.threshold ? chooseEncoding(request.headers) : null;
  const tag = codedEtag(etag, encoding);
  reply.header('etag', tag).header('x-cache', state);
  if (fill.link) reply.header('link', fill.link);
  if (notModified(request.headers, tag)) return reply.code(304).send();
  reply.header('content-type', fill.contentType);
  if (!encoding) return fill.body;
  let coded = entry?.encoded?.get(encoding);
  if (!coded) {
    const compressing = compress(fill.body, encoding);
    coded = compressing;
    // Kept with the entry: the next hit sends these bytes as they are.
    if (entry) {
      const kept = (entry.encoded ??= new Map());
      kept.set(encoding, compressing);
      compressing.then((bytes) => kept.set(encoding, bytes), () => kept.delete(encoding));
    }
  }
  return Promise.resolve(coded).then((bytes) => {
    reply.header('content-encoding', encoding);
    return bytes;
  });
}

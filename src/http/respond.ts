/**
 * The last stage of a GET: the response cache (when the resource is cached), the validators
 * (`ETag`, 304 on If-None-Match), `Cache-Control`, `Vary`, `X-Cache`, and the content coding.
 * Cached entries keep their compressed bodies, so a hit compresses nothing.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Engine } from '../engine.ts';
import type { Resource } from '../schema/model.ts';
import type { Caller } from './caller.ts';
import { etagOf, type CachePolicy, type CacheState, type Entry, type Fill, type Served } from '../cache/response-cache.ts';
import { chooseEncoding, codedEtag, compress, notModified, VARY } from './representation.ts';

export type XCache = CacheState | 'BYPASS';

/** A read ready to run: what identifies it for the cache, and how to get its body. */
export interface Read {
  readonly key: string;
  readonly tags: readonly string[];
  /** The read touches a view (cached only when configured for the resource). */
  readonly view: boolean;
  readonly run: () => Promise<Fill>;
}

/** Private for callers with credentials; for anonymous ones, the resource's configured value. */
export function cacheControl(engine: Engine, caller: Caller, resource: Resource): string {
  if (caller.principal.kind !== 'anonymous') return 'private, no-cache';
  return engine.config.cache.resources[resource.name]?.cacheControl ?? 'no-cache';
}

/** The cache policy of a read, or null when it is not cached. */
function policyOf(engine: Engine, resource: Resource, read: Read): CachePolicy | null {
  const { cache } = engine.config;
  if (!engine.cache || !cache.enabled) return null;
  const own = cache.resources[resource.name];
  if (own && !own.enabled) return null;
  if (read.view && !own) return null;
  return { ttl: own?.ttl ?? cache.ttl, staleWhileRevalidate: cache.staleWhileRevalidate, staleIfError: cache.staleIfError };
}

/** Sends a JSON read through the cache (or around it), with validators and coding. */
export function respond(engine: Engine, caller: Caller, resource: Resource, request: FastifyRequest, reply: FastifyReply, read: Read): unknown {
  reply.header('vary', VARY).header('cache-control', cacheControl(engine, caller, resource));
  const policy = policyOf(engine, resource, read);
  if (!policy) return read.run().then((fill) => send(engine, request, reply, fill, etagOf(fill.body), 'BYPASS', null));
  const served = engine.cache!.serve(read.key, read.tags, policy, read.run);
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
  let coded = entry?.encoded.get(encoding);
  if (!coded) {
    coded = compress(fill.body, encoding);
    // Kept with the entry: the next hit sends these bytes as they are.
    if (entry) {
      entry.encoded.set(encoding, coded);
      coded.catch(() => entry.encoded.delete(encoding));
    }
  }
  return coded.then((bytes) => {
    reply.header('content-encoding', encoding);
    return bytes;
  });
}

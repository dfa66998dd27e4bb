/**
 * GET of lists, streams and single rows: query AST → plan → one SQL statement → the body the
 * database built. Lists carry pagination and a `Link` to the next page; NDJSON and CSV stream
 * from a database cursor.
 */
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Engine } from '../engine.ts';
import type { Row } from '../db/database.ts';
import type { Resource, Snapshot } from '../schema/model.ts';
import type { Caller } from './caller.ts';
import { fillSlots } from '../auth/principal.ts';
import { SluiceError } from '../errors/registry.ts';
import { parseQuery } from '../request/query-params.ts';
import { parseKey } from '../request/key.ts';
import { planRead } from '../plan/read-plan.ts';
import { decodeCursor } from '../plan/cursor.ts';
import { listPage, nextLink, oneBody } from '../response/envelope.ts';
import { csvStream, ndjsonStream } from '../response/stream.ts';
import { ESTIMATE_CAP, type ReadStatement } from '../sql/statement.ts';
import type { ReadMode, ReadPlan } from '../plan/nodes.ts';
import { MAX_CACHED_QUERY, StatementCache } from '../plan/statement-cache.ts';
import { negotiate, type Format } from './negotiate.ts';
import { readTags } from '../cache/tags.ts';
import { cacheControl, respond } from './respond.ts';
import { chooseEncoding, compressor, varyFor } from './representation.ts';

const STREAM_BATCH = 1000;
const JSON_TYPE = 'application/json; charset=utf-8';

/** Splits `request.raw.url` into path and raw query string. */
export function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  return q < 0 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

/**
 * Waits for the first batch, so that an error before any row is still a proper problem response,
 * and ends the database cursor (freeing its connection) however the response ends: when the
 * client goes away — even before the first batch arrived — or when the body has been sent.
 * A generator that never started would never run its cleanup, so the batches are handed on
 * through a plain iterator that forwards `return()`.
 */
async function primed(source: AsyncIterable<Row[]>, response: ServerResponse): Promise<AsyncIterable<Row[]>> {
  const iterator = source[Symbol.asyncIterator]();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await iterator.return?.();
  };
  response.once('close', () => void close());
  let first: IteratorResult<Row[]> | null = await iterator.next();
  if (response.destroyed) await close();
  const batches: AsyncIterableIterator<Row[]> = {
    [Symbol.asyncIterator]: () => batches,
    next: async () => {
      if (first) {
        const value = first;
        first = null;
        if (!closed) return value;
      }
      return closed ? { done: true, value: undefined } : iterator.next();
    },
    return: async () => {
      await close();
      return { done: true, value: undefined };
    },
  };
  return batches;
}

/** A read as compiled for one exact request (resource, format and raw query string). */
interface CompiledRead {
  readonly plan: ReadPlan;
  readonly statement: ReadStatement;
  /** CSV: the header row. */
  readonly header?: readonly string[];
}

type Compiled = CompiledRead & { params: unknown[] | null };
/** Cached: compiled for the request's own parameters (`params: null`). */
type Kept = CompiledRead & { params: null };
const cache = new StatementCache<Kept>();
/**
 * Reads with no query string — a row by its key, a whole list or stream — by resource (of the
 * role's view, so a new snapshot starts afresh) and mode or format: no key to build and hash.
 */
const plainReads = new WeakMap<Resource, Map<string, Kept>>();

/** The raw query without its `cursor` parameter, and the cursor (null when there is none). */
function splitCursor(query: string): { rest: string; cursor: string | null } {
  if (!query.includes('cursor=')) return { rest: query, cursor: null };
  let cursor: string | null = null;
  const rest = query.split('&').filter((part) => {
    if (!part.startsWith('cursor=')) return true;
    cursor = part.slice('cursor='.length);
    return false;
  });
  return { rest: rest.join('&'), cursor };
}

/**
 * Which of a cursor's values are null ('0') or not ('1'): the shape of the SQL it compiles to.
 * Null when it is not even readable (the full compile then says why).
 */
function cursorShape(cursor: string): string | null {
  if (cursor.length > 4096) return null;
  try {
    const v = (JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { v?: unknown }).v;
    return Array.isArray(v) ? v.map((x) => (x === null ? '0' : '1')).join('') : null;
  } catch {
    return null;
  }
}

/**
 * Parses, plans and compiles a read — or takes it from the cache when the same request was
 * compiled before. A single-row read's key values are its first parameters: a cached statement
 * still holds the key it was compiled for, and readOne binds the request's own. Likewise a keyset
 * page: statements are cached by the cursor's shape, and the cursor's values are checked and
 * bound for each request (`params`, null when the statement's own serve).
 */
function compileRead(engine: Engine, caller: Caller, resource: Resource, query: string, format: Format, key?: readonly unknown[]): Compiled {
  const mode: ReadMode = key ? 'one' : format === 'json' ? 'list' : 'stream';
  if (query !== '') return compileQuery(engine, caller, resource, query, format, mode, key);
  const slot = mode === 'stream' ? format : mode;
  let byMode = plainReads.get(resource);
  const hit = byMode?.get(slot);
  if (hit) return hit;
  const compiled = compileQuery(engine, caller, resource, query, format, mode, key);
  if (!byMode) plainReads.set(resource, (byMode = new Map()));
  // Without a query there is no cursor: the compiled read serves with its own parameters.
  byMode.set(slot, compiled as Kept);
  return compiled;
}

function compileQuery(engine: Engine, caller: Caller, resource: Resource, query: string, format: Format, mode: ReadMode, key?: readonly unknown[]): Compiled {
  const { compiler } = engine;
  // The role's view: per-role cache entries, and hidden columns, relations and rows stay hidden.
  const { snapshot, rowFilter } = caller.view;
  const { rest, cursor } = splitCursor(query);
  const shape = cursor === null ? '' : cursorShape(cursor);
  const cacheKey = query.length <= MAX_CACHED_QUERY && shape !== null ? `${resource.name}\0${format}\0${rest}\0${mode}\0${shape}` : undefined;
  const lru = cache.for(snapshot);
  const hit = cacheKey === undefined ? undefined : lru.get(cacheKey);
  if (hit) {
    if (cursor === null) return hit;
    const { plan, statement } = hit;
    const after = decodeCursor(cursor, plan.sortTag, plan.root.sort);
    const params = [...statement.params];
    let at = statement.cursorAt!;
    after.forEach((value, i) => {
      if (value !== null) params[at++] = compiler.bind(value, plan.root.sort[i]!.column.type);
    });
    return { ...hit, params };
  }
  const plan = planRead({ snapshot, resource, ast: parseQuery(query), limits: engine.config.limits, mode, key, rowFilter });
  let compiled: CompiledRead;
  if (format === 'csv') {
    const csv = compiler.readCsv(plan);
    const { header, ...rest } = csv;
    compiled = { plan, statement: { ...rest, keyCount: 0, withTotal: false }, header };
  } else {
    compiled = { plan, statement: compiler.read(plan) };
  }
  const kept: Kept = { ...compiled, params: null };
  if (cacheKey !== undefined && (cursor === null || compiled.statement.cursorAt !== undefined)) lru.set(cacheKey, kept);
  return kept;
}

/**
 * The cache key of a read: the caller's role (its columns and row filters), the values its
 * policy slots took from the caller's claims, and the request with its parameters in a fixed
 * order (their order means nothing; a name's repeated values keep theirs).
 */
function cacheKey(caller: Caller, resource: Resource, mode: ReadMode, query: string, id: string, statement: ReadStatement, params: readonly unknown[]): string {
  const parts = query === '' ? [] : query.split('&').filter(Boolean);
  if (parts.length > 1) parts.sort((a, b) => (nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0));
  const claims = statement.slots ? statement.slots.map((s) => String(params[s.index])).join('\u0001') : '';
  return `${schemaStamp(caller.view.full)}\0${caller.view.role}\0${claims}\0${resource.name}\0${mode}\0${id}\0${parts.join('&')}`;
}

const stamps = new WeakMap<Snapshot, string>();

/**
 * What identifies a schema across instances and restarts: a hash of its resources, columns and
 * relations (the load time would differ between two instances reading the same schema).
 */
function schemaStamp(snapshot: Snapshot): string {
  let stamp = stamps.get(snapshot);
  if (stamp === undefined) {
    const shape = [...snapshot.resources.values()].map((r) => [r.name, r.kind, r.columns.map((c) => `${c.name}:${c.type.kind}:${c.nullable}`), r.primaryKey, [...r.relations.keys()]]);
    stamp = createHash('sha1').update(JSON.stringify(shape)).digest('base64url').slice(0, 12);
    stamps.set(snapshot, stamp);
  }
  return stamp;
}

const nameOf = (part: string) => {
  const eq = part.indexOf('=');
  return eq < 0 ? part : part.slice(0, eq);
};

export async function readList(engine: Engine, caller: Caller, resource: Resource, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const { db, compiler } = engine;
  const { path, query } = splitUrl(request.raw.url ?? '');
  const format = negotiate(request.headers, true);
  const { plan, statement, header, params: own } = compileRead(engine, caller, resource, query, format);
  const claims = caller.principal.claims;
  const params = fillSlots(statement, claims, compiler, own ?? undefined);

  if (format !== 'json') {
    const batches = await primed(db.stream(statement.text, params, STREAM_BATCH), reply.raw);
    const body = format === 'csv' ? csvStream(header!, batches) : ndjsonStream(batches);
    // Headers are out by now: an error can only cut the response short, so say why in the log.
    body.once('error', (err) => request.log.warn({ reqId: request.id, err, url: request.url }, 'stream ended early'));
    reply.header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8');
    reply.header('vary', varyFor(engine.config.server)).header('cache-control', cacheControl(engine, caller, resource)).header('x-cache', 'BYPASS');
    const encoding = engine.config.server.compression.enabled ? chooseEncoding(request.headers) : null;
    if (!encoding) return body;
    reply.header('content-encoding', encoding);
    return pipeline(body, compressor(encoding), () => undefined);
  }

  return respond(engine, caller, resource, request, reply, {
    key: () => cacheKey(caller, resource, 'list', query, '', statement, params),
    tags: () => readTags(plan),
    run: async () => {
      const rows = await db.query(statement.text, params);
      let total: number | null = null;
      if (statement.withTotal) {
        total = Number(rows[0]?.[1 + statement.keyCount] ?? 0);
        const explain = plan.count === 'estimated' && total > ESTIMATE_CAP ? compiler.explainCount(plan) : null;
        if (explain) {
          const plans = JSON.parse(String((await db.query(explain.text, fillSlots(explain, claims, compiler)))[0]![0])) as Array<{ Plan: { 'Plan Rows': number } }>;
          total = Math.max(ESTIMATE_CAP + 1, Math.round(plans[0]!.Plan['Plan Rows']));
        }
      }
      const page = listPage(rows, statement, plan, total);
      return { body: page.body, contentType: JSON_TYPE, link: nextLink(path, query, page) };
    },
  });
}

/**
 * The statement of a single-row GET for this caller, with the key bound: the row as the caller
 * may see it. If-Match compares a write's precondition against the same representation.
 */
export function oneRow(engine: Engine, caller: Caller, resource: Resource, key: readonly unknown[], query = ''): { plan: ReadPlan; statement: ReadStatement; params: unknown[] } {
  const { compiler } = engine;
  const { plan, statement } = compileRead(engine, caller, resource, query, 'json', key);
  // One copy of the parameters for this request: the key's values come first, then the claims.
  const params = [...statement.params];
  key.forEach((value, i) => (params[i] = compiler.bind(value, resource.columnsByName.get(resource.primaryKey[i]!)!.type)));
  return { plan, statement, params };
}

export function readOne(engine: Engine, caller: Caller, resource: Resource, rawId: string, request: FastifyRequest, reply: FastifyReply): unknown {
  const key = parseKey(resource, rawId);
  negotiate(request.headers, false);
  const query = splitUrl(request.raw.url ?? '').query;
  const { plan, statement, params } = oneRow(engine, caller, resource, key, query);
  fillSlots(statement, caller.principal.claims, engine.compiler, params);
  return respond(engine, caller, resource, request, reply, {
    key: () => cacheKey(caller, resource, 'one', query, rawId, statement, params),
    tags: () => readTags(plan),
    run: () => engine.db.query(statement.text, params).then((rows) => {
      if (rows.length === 0) throw new SluiceError('SLUICE_NOT_FOUND', `${resource.name} has no row with key ${rawId}`);
      return { body: oneBody(rows[0]![0] as string), contentType: JSON_TYPE, link: null };
    }),
  });
}

/**
 * GET of lists, streams and single rows: query AST → plan → one SQL statement → the body the
 * database built. Lists carry pagination and a `Link` to the next page; NDJSON and CSV stream
 * from a database cursor.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Engine } from '../engine.ts';
import type { Row } from '../db/database.ts';
import type { Resource } from '../schema/model.ts';
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

const cache = new StatementCache<CompiledRead>();

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
function compileRead(engine: Engine, caller: Caller, resource: Resource, query: string, format: Format, key?: readonly unknown[]): CompiledRead & { params: unknown[] | null } {
  const { compiler } = engine;
  // The role's view: per-role cache entries, and hidden columns, relations and rows stay hidden.
  const { snapshot, rowFilter } = caller.view;
  const mode: ReadMode = key ? 'one' : format === 'json' ? 'list' : 'stream';
  const { rest, cursor } = splitCursor(query);
  const shape = cursor === null ? '' : cursorShape(cursor);
  const cacheKey = query.length <= MAX_CACHED_QUERY && shape !== null ? `${resource.name}\0${format}\0${rest}\0${mode}\0${shape}` : undefined;
  const lru = cache.for(snapshot);
  const hit = cacheKey === undefined ? undefined : lru.get(cacheKey);
  if (hit) {
    if (cursor === null) return { ...hit, params: null };
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
  if (cacheKey !== undefined && (cursor === null || compiled.statement.cursorAt !== undefined)) lru.set(cacheKey, compiled);
  return { ...compiled, params: null };
}

export async function readList(engine: Engine, caller: Caller, resource: Resource, request: FastifyRequest, reply: FastifyReply): Promise<string | NodeJS.ReadableStream> {
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
    return body;
  }

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
  const link = nextLink(path, query, page);
  if (link) reply.header('link', link);
  reply.header('content-type', JSON_TYPE);
  return page.body;
}

export async function readOne(engine: Engine, caller: Caller, resource: Resource, rawId: string, request: FastifyRequest, reply: FastifyReply): Promise<string> {
  const key = parseKey(resource, rawId);
  negotiate(request.headers, false);
  const { compiler } = engine;
  const { statement } = compileRead(engine, caller, resource, splitUrl(request.raw.url ?? '').query, 'json', key);
  // One copy of the parameters for this request: the key's values come first, then the claims.
  const params = [...statement.params];
  key.forEach((value, i) => (params[i] = compiler.bind(value, resource.columnsByName.get(resource.primaryKey[i]!)!.type)));
  const rows = await engine.db.query(statement.text, fillSlots(statement, caller.principal.claims, compiler, params));
  if (rows.length === 0) throw new SluiceError('SLUICE_NOT_FOUND', `${resource.name} has no row with key ${rawId}`);
  reply.header('content-type', JSON_TYPE);
  return oneBody(rows[0]![0] as string);
}

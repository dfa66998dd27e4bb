/**
 * GET of lists, streams and single rows: query AST → plan → one SQL statement → the body the
 * database built. Lists carry pagination and a `Link` to the next page; NDJSON and CSV stream
 * from a database cursor.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Engine } from '../engine.ts';
import type { Row } from '../db/database.ts';
import type { Resource } from '../schema/model.ts';
import { SluiceError } from '../errors/registry.ts';
import { parseQuery } from '../request/query-params.ts';
import { parseKey } from '../request/key.ts';
import { planRead } from '../plan/read-plan.ts';
import { listPage, nextLink, oneBody } from '../response/envelope.ts';
import { csvStream, ndjsonStream } from '../response/stream.ts';
import { ESTIMATE_CAP } from '../sql/compiler.ts';
import { negotiate } from './negotiate.ts';

const STREAM_BATCH = 1000;
const JSON_TYPE = 'application/json; charset=utf-8';

/** Splits `request.raw.url` into path and raw query string. */
export function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  return q < 0 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

/** Waits for the first batch so that an error before any row is still a proper problem response. */
async function primed(batches: AsyncIterable<Row[]>): Promise<AsyncIterable<Row[]>> {
  const iterator = batches[Symbol.asyncIterator]();
  const first = await iterator.next();
  return {
    async *[Symbol.asyncIterator]() {
      try {
        if (first.done) return;
        yield first.value;
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
      } finally {
        await iterator.return?.();
      }
    },
  };
}

export async function readList(engine: Engine, resource: Resource, request: FastifyRequest, reply: FastifyReply): Promise<string | NodeJS.ReadableStream> {
  const { config, db, compiler } = engine;
  const { path, query } = splitUrl(request.raw.url ?? '');
  const ast = parseQuery(query);
  const format = negotiate(request.headers, true);
  const plan = planRead({ snapshot: engine.snapshot(), resource, ast, limits: config.limits, mode: format === 'json' ? 'list' : 'stream' });

  if (format === 'ndjson') {
    const statement = compiler.read(plan);
    const batches = await primed(db.stream(statement.text, statement.params, STREAM_BATCH));
    reply.type('application/x-ndjson; charset=utf-8');
    return ndjsonStream(batches);
  }
  if (format === 'csv') {
    const statement = compiler.readCsv(plan);
    const batches = await primed(db.stream(statement.text, statement.params, STREAM_BATCH));
    reply.type('text/csv; charset=utf-8');
    return csvStream(statement.header, batches);
  }

  const statement = compiler.read(plan);
  const rows = await db.query(statement.text, statement.params);
  let total: number | null = null;
  if (statement.withTotal) {
    total = Number(rows[0]?.[1 + statement.keyCount] ?? 0);
    const explain = plan.count === 'estimated' && total > ESTIMATE_CAP ? compiler.explainCount(plan) : null;
    if (explain) {
      const plans = JSON.parse(String((await db.query(explain.text, explain.params))[0]![0])) as Array<{ Plan: { 'Plan Rows': number } }>;
      total = Math.max(ESTIMATE_CAP + 1, Math.round(plans[0]!.Plan['Plan Rows']));
    }
  }
  const page = listPage(rows, statement, plan, total);
  const link = nextLink(path, query, page);
  if (link) reply.header('link', link);
  reply.type(JSON_TYPE);
  return page.body;
}

export async function readOne(engine: Engine, resource: Resource, rawId: string, request: FastifyRequest, reply: FastifyReply): Promise<string> {
  const { config, db, compiler } = engine;
  const key = parseKey(resource, rawId);
  const ast = parseQuery(splitUrl(request.raw.url ?? '').query);
  negotiate(request.headers, false);
  const plan = planRead({ snapshot: engine.snapshot(), resource, ast, limits: config.limits, mode: 'one', key });
  const statement = compiler.read(plan);
  const rows = await db.query(statement.text, statement.params);
  if (rows.length === 0) throw new SluiceError('SLUICE_NOT_FOUND', `${resource.name} has no row with key ${rawId}`);
  reply.type(JSON_TYPE);
  return oneBody(rows[0]![0] as string);
}

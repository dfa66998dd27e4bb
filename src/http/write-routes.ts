/**
 * Writes (SPEC §2): bodies validated against the resource's JSON Schema, one statement per write
 * (bulk creates too), bulk PATCH/DELETE guarded by `limits.maxAffected` so that nothing changes
 * when the filter matches too many rows. Every write returns the rows it wrote.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Engine } from '../engine.ts';
import type { Row } from '../db/database.ts';
import type { Column, Resource } from '../schema/model.ts';
import type { QueryAst } from '../ast/nodes.ts';
import type { Compiled } from '../sql/statement.ts';
import { badParam, SluiceError } from '../errors/registry.ts';
import { mapDatabaseError } from '../db/errors.ts';
import { parseQuery } from '../request/query-params.ts';
import { formatKey, parseKey } from '../request/key.ts';
import { planRead } from '../plan/read-plan.ts';
import { validateBody } from '../plan/row-validator.ts';
import { keyFilter, planDelete, planInsert, planReplace, planUpdate } from '../plan/mutate-plan.ts';
import { manyBody, oneBody } from '../response/envelope.ts';
import { negotiate } from './negotiate.ts';
import { splitUrl } from './read-routes.ts';

const JSON_TYPE = 'application/json; charset=utf-8';
type Capability = 'insertable' | 'updatable' | 'deletable';

function allowed(resource: Resource, item: boolean): string {
  const methods = ['GET', 'HEAD'];
  if (resource.insertable && !item) methods.push('POST');
  if (resource.updatable) methods.push('PATCH');
  if (resource.insertable && resource.updatable && item) methods.push('PUT');
  if (resource.deletable) methods.push('DELETE');
  return methods.join(', ');
}

/** 405 with `Allow` unless the resource takes this kind of write. */
export function assertWritable(resource: Resource, need: readonly Capability[], method: string, item: boolean): void {
  if (need.every((c) => resource[c])) return;
  throw new SluiceError('SLUICE_METHOD_NOT_ALLOWED', `${method} is not allowed on ${resource.name}${resource.kind === 'view' ? ' (a read-only view)' : ''}`, undefined, { allow: allowed(resource, item) });
}

export function methodNotAllowed(resource: Resource, method: string, item: boolean): SluiceError {
  return new SluiceError('SLUICE_METHOD_NOT_ALLOWED', `${method} is not allowed on this path`, undefined, { allow: allowed(resource, item) });
}

/** Rejects query parameters a kind of write does not take. */
function only(ast: QueryAst, allowedParams: ReadonlySet<string>): void {
  const given: Array<[string, boolean]> = [
    ['fields', ast.fields !== null], ['include', ast.include.length > 0], ['sort', ast.sort !== null], ['limit', ast.limit !== null],
    ['offset', ast.offset !== null], ['cursor', ast.cursor !== null], ['count', ast.count !== null], ['onConflict', ast.onConflict !== null],
    ['filters', ast.filters.length > 0], ['embed options', ast.embeds.size > 0],
  ];
  for (const [name, present] of given) {
    if (present && !allowedParams.has(name)) throw badParam(name === 'filters' ? ast.filters[0]!.param : name, 'does not apply to this kind of write');
  }
}

/** Columns a write returns: `fields` (columns only) or all. */
function returning(resource: Resource, ast: QueryAst): Column[] {
  if (!ast.fields) return [...resource.columns];
  const out: Column[] = [];
  for (const path of ast.fields) {
    if (path.length === 1 && path[0] === '*') return [...resource.columns];
    const column = path.length === 1 ? resource.columnsByName.get(path[0]!) : undefined;
    if (!column) throw new SluiceError('SLUICE_UNKNOWN_COLUMN', `fields: ${resource.name} has no column '${path.join('.')}' (writes return columns only)`, [{ field: 'fields', message: `unknown column '${path.join('.')}'` }]);
    if (!out.includes(column)) out.push(column);
  }
  return out;
}

async function write(engine: Engine, statement: Compiled): Promise<Row[]> {
  if (statement.params.length > engine.compiler.maxParams) {
    throw new SluiceError('SLUICE_BATCH_TOO_LARGE', `this write needs ${statement.params.length} values, more than one ${engine.db.dialect} statement carries (${engine.compiler.maxParams}); send fewer rows at once`);
  }
  try {
    return await engine.db.write(statement.text, statement.params);
  } catch (err) {
    throw mapDatabaseError(err, true);
  }
}

function location(engine: Engine, resource: Resource, row: Row): string {
  return `${engine.config.server.basePath}/${encodeURIComponent(resource.name)}/${formatKey(row.slice(1, 1 + resource.primaryKey.length))}`;
}

export async function create(engine: Engine, resource: Resource, request: FastifyRequest, reply: FastifyReply): Promise<string> {
  const query = ast(request);
  assertWritable(resource, query.onConflict ? ['insertable', 'updatable'] : ['insertable'], 'POST', false);
  negotiate(request.headers, false);
  only(query, new Set(['fields', 'onConflict']));
  const { rows, many } = validateBody(resource, request.body, 'insert', engine.config.limits.maxBatch);
  const plan = planInsert({ resource, rows, returning: returning(resource, query), onConflict: query.onConflict });
  const out = await write(engine, engine.compiler.insert(plan));
  reply.code(201).header('content-type', JSON_TYPE);
  if (many) return manyBody(out);
  if (resource.primaryKey.length) reply.header('location', location(engine, resource, out[0]!));
  return oneBody(out[0]![0] as string);
}

function ast(request: FastifyRequest): QueryAst {
  return parseQuery(splitUrl(request.raw.url ?? '').query);
}

export async function updateOne(engine: Engine, resource: Resource, rawId: string, request: FastifyRequest, reply: FastifyReply): Promise<string> {
  assertWritable(resource, ['updatable'], 'PATCH', true);
  const key = parseKey(resource, rawId);
  negotiate(request.headers, false);
  const query = ast(request);
  only(query, new Set(['fields']));
  const { rows } = validateBody(resource, request.body, 'update', 1);
  const out = await write(engine, engine.compiler.update(planUpdate({ resource, row: rows[0]!, filter: keyFilter(resource, key), returning: returning(resource, query) })));
  if (out.length === 0) throw new SluiceError('SLUICE_NOT_FOUND', `${resource.name} has no row with key ${rawId}`);
  reply.header('content-type', JSON_TYPE);
  return oneBody(out[0]![0] as string);
}

export async function replaceOne(engine: Engine, resource: Resource, rawId: string, request: FastifyRequest, reply: FastifyReply): Promise<string> {
  assertWritable(resource, ['insertable', 'updatable'], 'PUT', true);
  const key = parseKey(resource, rawId);
  negotiate(request.headers, false);
  const query = ast(request);
  only(query, new Set(['fields']));
  const { rows } = validateBody(resource, request.body, 'replace', 1);
  const plan = planReplace({ resource, key, row: rows[0]!, returning: returning(resource, query) });
  const statement = engine.compiler.insert(plan);
  let created: boolean;
  let out: Row[];
  if (engine.compiler.reportsInserted) {
    out = await write(engine, statement);
    created = isTrue(out[0]![1 + resource.primaryKey.length]);
  } else {
    const exists = engine.compiler.exists(resource, keyFilter(resource, key));
    [created, out] = await engine.db.transaction(async (tx) => {
      const found = await tx.query(exists.text, exists.params);
      return [found.length === 0, await tx.query(statement.text, statement.params)] as const;
    }).catch((err: unknown) => { throw mapDatabaseError(err, true); });
  }
  reply.code(created ? 201 : 200).header('content-type', JSON_TYPE);
  if (created) reply.header('location', location(engine, resource, out[0]!));
  return oneBody(out[0]![0] as string);
}

const isTrue = (v: unknown) => v === true || v === 't' || v === 'true' || v === 1 || v === 1n;

export async function deleteOne(engine: Engine, resource: Resource, rawId: string, request: FastifyRequest, reply: FastifyReply): Promise<string> {
  assertWritable(resource, ['deletable'], 'DELETE', true);
  const key = parseKey(resource, rawId);
  only(ast(request), new Set());
  const out = await write(engine, engine.compiler.delete(planDelete({ resource, filter: keyFilter(resource, key), returning: [] })));
  if (out.length === 0) throw new SluiceError('SLUICE_NOT_FOUND', `${resource.name} has no row with key ${rawId}`);
  reply.code(204);
  return '';
}

/** Bulk PATCH or DELETE by filter: at least one filter, at most `limits.maxAffected` rows, else nothing changes. */
export async function bulk(engine: Engine, resource: Resource, request: FastifyRequest, reply: FastifyReply, kind: 'update' | 'delete'): Promise<string> {
  assertWritable(resource, [kind === 'update' ? 'updatable' : 'deletable'], kind === 'update' ? 'PATCH' : 'DELETE', false);
  negotiate(request.headers, false);
  const query = ast(request);
  if (query.filters.length === 0) {
    throw new SluiceError('SLUICE_FILTER_REQUIRED', `bulk ${kind === 'update' ? 'PATCH' : 'DELETE'} needs at least one filter (for example ?status=cancelled)`);
  }
  only(query, new Set(['fields', 'filters']));
  const max = engine.config.limits.maxAffected;
  const filter = planRead({ snapshot: engine.snapshot(), resource, ast: { ...query, fields: null }, limits: engine.config.limits, mode: 'list' }).root.filter!;
  const cols = returning(resource, query);
  const plan = kind === 'update'
    ? planUpdate({ resource, row: validateBody(resource, request.body, 'update', 1).rows[0]!, filter, returning: cols })
    : planDelete({ resource, filter, returning: cols });
  const statement = engine.compiler.bulk(plan, max);
  const tooMany = () => new SluiceError('SLUICE_TOO_MANY_ROWS', `the filter matches more than ${max} rows (limits.maxAffected); nothing was changed`);
  let rows: Row[];
  try {
    if (statement.kind === 'guarded') {
      const out = await engine.db.write(statement.statement.text, statement.statement.params);
      if (Number(out[0]?.[0] ?? 0) > max) throw tooMany();
      rows = out.filter((r) => r[1] !== null).map((r) => [r[1]]);
    } else {
      rows = await engine.db.transaction(async (tx) => {
        const n = Number((await tx.query(statement.count.text, statement.count.params))[0]![0]);
        if (n > max) throw tooMany();
        return tx.query(statement.write.text, statement.write.params);
      });
    }
  } catch (err) {
    throw mapDatabaseError(err, true);
  }
  reply.header('content-type', JSON_TYPE);
  return manyBody(rows);
}

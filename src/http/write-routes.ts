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
import { badParam, SluiceError } from '../errors/registry.ts';
import type { PlanFilter } from '../plan/nodes.ts';
import type { Caller } from './caller.ts';
import { ClaimRef } from '../plan/nodes.ts';
import { claimFor } from '../auth/principal.ts';
import type { ActionRule } from '../auth/policies.ts';
import { assertAllowed } from './resource-routes.ts';
import { guardedWrite } from './guarded-write.ts';
import { parseQuery } from '../request/query-params.ts';
import { formatKey, parseKey } from '../request/key.ts';
import { planRead } from '../plan/read-plan.ts';
import { validateBody } from '../plan/row-validator.ts';
import { keyFilter, planDelete, planInsert, planReplace, planUpdate, type DeletePlan, type UpdatePlan } from '../plan/mutate-plan.ts';
import { manyBody, oneBody } from '../response/envelope.ts';
import { negotiate } from './negotiate.ts';
import { oneRow, splitUrl } from './read-routes.ts';
import { etagOf } from '../cache/etag.ts';
import { preconditionHolds } from './representation.ts';
import type { GuardedWrite } from './guarded-write.ts';

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

function location(engine: Engine, resource: Resource, row: Row): string {
  return `${engine.config.server.basePath}/${encodeURIComponent(resource.name)}/${formatKey(row.slice(1, 1 + resource.primaryKey.length))}`;
}

/** The resource with every column, as writes see it (the caller's view hides what it may not read). */
function fullOf(caller: Caller, resource: Resource): Resource {
  return caller.view.full.resources.get(resource.name)!;
}

function rule(caller: Caller, resource: Resource, action: 'create' | 'update' | 'delete'): ActionRule {
  return caller.view.rulesOf(resource.name)![action]!;
}

const and = (...filters: Array<PlanFilter | null | undefined>): PlanFilter | null => {
  const items = filters.filter((f): f is PlanFilter => !!f);
  return items.length === 0 ? null : items.length === 1 ? items[0]! : { kind: 'and', negate: false, items };
};

/**
 * Rows as the caller's rule lets them be written: only allowed columns (others → 403 naming
 * them), presets set whatever the body says (a preset from a missing claim → 403).
 */
function ruledBody(engine: Engine, caller: Caller, resource: Resource, body: unknown, mode: 'insert' | 'update' | 'replace', r: ActionRule): { rows: Array<Record<string, unknown>>; many: boolean } {
  const raw = Array.isArray(body) ? body : [body];
  applyColumns(caller, resource, raw.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)), r);
  const { rows, many } = validateBody(resource, body, mode, mode === 'insert' ? engine.config.limits.maxBatch : 1, new Set(r.preset.keys()));
  return { rows: applyPresets(caller, resource, rows, r), many };
}

function applyColumns(caller: Caller, resource: Resource, rows: ReadonlyArray<Readonly<Record<string, unknown>>>, r: ActionRule): void {
  if (r.columns) {
    const errors = rows.flatMap((row, i) => Object.keys(row).filter((k) => !r.columns!.has(k))
      .map((k) => ({ field: rows.length > 1 ? `[${i}].${k}` : k, message: `role '${caller.principal.role}' may not write this column` })));
    if (errors.length) throw new SluiceError('SLUICE_FORBIDDEN', `role '${caller.principal.role}' may not write ${[...new Set(errors.map((e) => e.field.replace(/^\[\d+\]\./, '')))].join(', ')} of ${resource.name}`, errors);
  }
}

function applyPresets(caller: Caller, resource: Resource, rows: ReadonlyArray<Readonly<Record<string, unknown>>>, r: ActionRule): Array<Record<string, unknown>> {
  if (r.preset.size === 0) return rows as Array<Record<string, unknown>>;
  const values: Record<string, unknown> = {};
  for (const [name, value] of r.preset) {
    if (value instanceof ClaimRef) {
      const claimed = claimFor(caller.principal.claims, { claim: value, column: resource.columnsByName.get(name)! });
      if (claimed === null) throw new SluiceError('SLUICE_FORBIDDEN', `${name} is set from ${value.toString()}, which the caller's credentials do not carry (or not as a valid ${name})`);
      values[name] = claimed;
    } else values[name] = value;
  }
  return rows.map((row) => ({ ...row, ...values }));
}

const samePreset = (a: unknown, b: unknown) => (a instanceof ClaimRef && b instanceof ClaimRef ? a.toString() === b.toString() : a !== undefined && a === b);

/**
 * A write that may update an existing row (an upsert, a PUT) sets `columns` of it: each must be
 * one the role may update, and the update rule's presets must be exactly what the row is written
 * with. Decided before the write, whether or not the row exists — as PostgreSQL decides column
 * privileges of `insert … on conflict do update` — so the outcome does not depend on the row.
 */
function assertUpdatable(caller: Caller, resource: Resource, columns: readonly Column[], create: ActionRule, update: ActionRule, method: string): void {
  const role = caller.principal.role;
  const denied = update.columns ? columns.filter((c) => !update.columns!.has(c.name)).map((c) => c.name) : [];
  const unpreset = [...update.preset].filter(([name, value]) => !samePreset(create.preset.get(name), value)).map(([name]) => name);
  const fields = [...new Set([...denied, ...unpreset])];
  if (fields.length === 0) return;
  throw new SluiceError('SLUICE_FORBIDDEN', `role '${role}' may not update ${fields.join(', ')} of ${resource.name}, which ${method} would write to an existing row`,
    fields.map((field) => ({ field, message: unpreset.includes(field) && !denied.includes(field) ? `role '${role}' sets this column by an update preset, which ${method} cannot apply` : `role '${role}' may not update this column` })));
}

/** The checks of a write that may both create and update rows (an upsert, a PUT). */
const bothChecks = (create: ActionRule, update: ActionRule) => (create.check === update.check ? create.check : and(create.check, update.check));

export async function create(engine: Engine, caller: Caller, view: Resource, request: FastifyRequest, reply: FastifyReply): Promise<string> {
  const query = ast(request);
  const upsert = query.onConflict !== null;
  assertAllowed(caller, view, upsert ? ['create', 'update'] : ['create'], 'POST');
  const resource = fullOf(caller, view);
  assertWritable(resource, upsert ? ['insertable', 'updatable'] : ['insertable'], 'POST', false);
  negotiate(request.headers, false);
  only(query, new Set(['fields', 'onConflict']));
  const createRule = rule(caller, view, 'create');
  const updateRule = upsert ? rule(caller, view, 'update') : null;
  const { rows, many } = ruledBody(engine, caller, resource, request.body, 'insert', createRule);
  const plan = planInsert({ resource, rows, returning: returning(view, query), onConflict: query.onConflict, where: updateRule?.filter });
  if (updateRule) assertUpdatable(caller, resource, plan.onConflict!.update, createRule, updateRule, 'an upsert');
  const out = await guardedWrite(engine, caller, {
    resource, action: 'create', write: engine.compiler.insert(plan), requestId: request.id,
    check: updateRule ? bothChecks(createRule, updateRule) : createRule.check,
    before: upsert ? engine.compiler.rowImages(resource, conflictFilter(resource, plan.onConflict!.columns, plan.rows), { lock: true }) : null,
    ...(updateRule?.filter ? { expectRows: rows.length } : {}),
  });
  reply.code(201).header('content-type', JSON_TYPE);
  if (many) return manyBody(out);
  if (resource.primaryKey.length) reply.header('location', location(engine, resource, out[0]!));
  return oneBody(out[0]![0] as string);
}

/** Rows whose `columns` equal those of one of `rows` (the rows an upsert may overwrite). */
function conflictFilter(resource: Resource, columns: readonly string[], rows: ReadonlyArray<ReadonlyMap<string, unknown>>): PlanFilter {
  return { kind: 'or', negate: false, items: rows.map((row) => and(...columns.map((name): PlanFilter => ({ kind: 'cond', column: resource.columnsByName.get(name)!, op: 'eq', negate: false, value: row.get(name) })))!) };
}

function ast(request: FastifyRequest): QueryAst {
  return parseQuery(splitUrl(request.raw.url ?? '').query);
}

/**
 * If-Match on a single-row write (RFC 9110 §13.1.1): in the write's transaction, the row is
 * locked, then read as the caller's GET without parameters shows it; unless it still has the tag
 * the client sent, nothing is written (412). A missing row fails the precondition too.
 */
function ifMatch(engine: Engine, caller: Caller, view: Resource, resource: Resource, key: readonly unknown[], request: FastifyRequest): GuardedWrite['first'] {
  const header = request.headers['if-match'];
  if (header === undefined) return undefined;
  return async (_tx, run) => {
    await run(engine.compiler.rowImages(resource, keyFilter(resource, key), { lock: true }));
    const { statement, params } = oneRow(engine, caller, view, key);
    const rows = await run({ ...statement, params });
    const etag = rows.length ? etagOf(oneBody(String(rows[0]![0]))) : null;
    if (!preconditionHolds(header, etag)) {
      throw new SluiceError('SLUICE_PRECONDITION_FAILED', etag === null ? `${view.name} has no such row (If-Match)` : `the row changed since the ETag in If-Match; nothing was changed`);
    }
  };
}

export async function updateOne(engine: Engine, caller: Caller, view: Resource, rawId: string, request: FastifyRequest, reply: FastifyReply): Promise<string> {
  assertAllowed(caller, view, ['update'], 'PATCH');
  const resource = fullOf(caller, view);
  assertWritable(resource, ['updatable'], 'PATCH', true);
  const key = parseKey(view, rawId);
  negotiate(request.headers, false);
  const query = ast(request);
  only(query, new Set(['fields']));
  const r = rule(caller, view, 'update');
  const { rows } = ruledBody(engine, caller, resource, request.body, 'update', r);
  const filter = and(keyFilter(resource, key), r.filter)!;
  const precondition = ifMatch(engine, caller, view, resource, key, request);
  const out = await guardedWrite(engine, caller, {
    resource, action: 'update', requestId: request.id, check: r.check,
    write: engine.compiler.update(planUpdate({ resource, row: rows[0]!, filter, returning: returning(view, query) })),
    before: engine.compiler.rowImages(resource, filter, { lock: true }),
    ...(precondition ? { first: precondition } : {}),
  });
  if (out.length === 0) throw new SluiceError('SLUICE_NOT_FOUND', `${resource.name} has no row with key ${rawId}`);
  reply.header('content-type', JSON_TYPE);
  return oneBody(out[0]![0] as string);
}

export async function replaceOne(engine: Engine, caller: Caller, view: Resource, rawId: string, request: FastifyRequest, reply: FastifyReply): Promise<string> {
  assertAllowed(caller, view, ['create', 'update'], 'PUT');
  const resource = fullOf(caller, view);
  assertWritable(resource, ['insertable', 'updatable'], 'PUT', true);
  const key = parseKey(view, rawId);
  negotiate(request.headers, false);
  const query = ast(request);
  only(query, new Set(['fields']));
  const createRule = rule(caller, view, 'create');
  const updateRule = rule(caller, view, 'update');
  const { rows } = ruledBody(engine, caller, resource, request.body, 'replace', createRule);
  const base = planReplace({ resource, key, row: rows[0]!, returning: returning(view, query) });
  assertUpdatable(caller, resource, base.onConflict!.update, createRule, updateRule, 'PUT');
  const plan = { ...base, onConflict: { ...base.onConflict!, where: updateRule.filter } };
  const statement = engine.compiler.insert(plan);
  const keyed = keyFilter(resource, key);
  let created = false;
  const precondition = ifMatch(engine, caller, view, resource, key, request);
  // Where the statement cannot tell an insert from an update, ask first (same transaction).
  const exists: GuardedWrite['first'] = engine.compiler.reportsInserted ? undefined : async (_tx, run) => {
    created = (await run(engine.compiler.exists(resource, keyed))).length === 0;
  };
  const first: GuardedWrite['first'] = precondition && exists ? async (tx, run) => {
    await precondition(tx, run);
    await exists(tx, run);
  } : precondition ?? exists;
  const out = await guardedWrite(engine, caller, {
    resource, action: 'replace', write: statement, requestId: request.id, check: bothChecks(createRule, updateRule),
    before: engine.compiler.rowImages(resource, keyed, { lock: true }),
    ...(first ? { first } : {}),
  });
  if (out.length === 0) throw new SluiceError('SLUICE_NOT_FOUND', `${resource.name} has no row with key ${rawId} that role '${caller.principal.role}' may replace`);
  if (engine.compiler.reportsInserted) created = isTrue(out[0]![1 + resource.primaryKey.length]);
  reply.code(created ? 201 : 200).header('content-type', JSON_TYPE);
  if (created) reply.header('location', location(engine, resource, out[0]!));
  return oneBody(out[0]![0] as string);
}

const isTrue = (v: unknown) => v === true || v === 't' || v === 'true' || v === 1 || v === 1n;

export async function deleteOne(engine: Engine, caller: Caller, view: Resource, rawId: string, request: FastifyRequest, reply: FastifyReply): Promise<string> {
  assertAllowed(caller, view, ['delete'], 'DELETE');
  const resource = fullOf(caller, view);
  assertWritable(resource, ['deletable'], 'DELETE', true);
  const key = parseKey(view, rawId);
  only(ast(request), new Set());
  const filter = and(keyFilter(resource, key), rule(caller, view, 'delete').filter)!;
  const precondition = ifMatch(engine, caller, view, resource, key, request);
  const out = await guardedWrite(engine, caller, {
    resource, action: 'delete', requestId: request.id,
    write: engine.compiler.delete(planDelete({ resource, filter, returning: [] })),
    before: engine.compiler.rowImages(resource, filter, { lock: true }),
    ...(precondition ? { first: precondition } : {}),
  });
  if (out.length === 0) throw new SluiceError('SLUICE_NOT_FOUND', `${resource.name} has no row with key ${rawId}`);
  reply.code(204);
  return '';
}

/** Bulk PATCH or DELETE by filter: at least one filter, at most `limits.maxAffected` rows, else nothing changes. */
export async function bulk(engine: Engine, caller: Caller, view: Resource, request: FastifyRequest, reply: FastifyReply, kind: 'update' | 'delete'): Promise<string> {
  const method = kind === 'update' ? 'PATCH' : 'DELETE';
  assertAllowed(caller, view, [kind], method);
  const resource = fullOf(caller, view);
  assertWritable(resource, [kind === 'update' ? 'updatable' : 'deletable'], method, false);
  negotiate(request.headers, false);
  const query = ast(request);
  if (query.filters.length === 0) {
    throw new SluiceError('SLUICE_FILTER_REQUIRED', `bulk ${method} needs at least one filter (for example ?status=cancelled)`);
  }
  only(query, new Set(['fields', 'filters']));
  const max = engine.config.limits.maxAffected;
  const r = rule(caller, view, kind);
  // The request's filters as the caller's view resolves them (hidden columns are unknown, related
  // rows pass through their read policy), and the rule's filter on the written rows themselves.
  const { rowFilter } = caller.view;
  const resolved = planRead({ snapshot: caller.view.snapshot, resource: view, ast: { ...query, fields: null }, limits: engine.config.limits, mode: 'list', rowFilter: (x) => (x === view ? null : rowFilter(x)) }).root.filter!;
  const filter = and(resolved, r.filter)!;
  const cols = returning(view, query);
  const plan = kind === 'update'
    ? planUpdate({ resource, row: ruledBody(engine, caller, resource, request.body, 'update', r).rows[0]!, filter, returning: cols })
    : planDelete({ resource, filter, returning: cols });
  const tooMany = () => new SluiceError('SLUICE_TOO_MANY_ROWS', `the filter matches more than ${max} rows (limits.maxAffected); nothing was changed`);
  const audit = engine.config.auth.audit.enabled;
  let rows: Row[];
  const statement = !audit && !r.check ? engine.compiler.bulk(plan, max) : null;
  if (statement?.kind === 'guarded') {
    const out = await guardedWrite(engine, caller, { resource, action: kind, write: statement.statement, requestId: request.id });
    if (Number(out[0]?.[0] ?? 0) > max) throw tooMany();
    rows = out.filter((x) => x[1] !== null).map((x) => [x[1]]);
  } else {
    rows = await guardedWrite(engine, caller, {
      resource, action: kind, requestId: request.id, check: kind === 'update' ? r.check : null,
      write: kind === 'update' ? engine.compiler.update(plan as UpdatePlan) : engine.compiler.delete(plan as DeletePlan),
      before: engine.compiler.rowImages(resource, filter, { lock: true }),
      first: async (_tx, run) => {
        const n = Number((await run(engine.compiler.countMatching(resource, filter, max)))[0]![0]);
        if (n > max) throw tooMany();
      },
    });
  }
  reply.header('content-type', JSON_TYPE);
  return manyBody(rows);
}

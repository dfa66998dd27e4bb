/**
 * The admin API, for the admin role only (`auth.adminRole`): API keys — list, create, read,
 * revoke, rotate, as `sluice keys` does — and the audit log, newest first, paged by id.
 * Anyone else gets 401 (no credentials) or 403; a key's secret is shown once, in the response
 * that created it.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Engine } from '../engine.ts';
import type { Principal } from '../auth/principal.ts';
import { SluiceError } from '../errors/registry.ts';
import { parseDuration } from '../config/units.ts';
import { systemTable } from '../auth/system-tables.ts';

const MAX_PAGE = 1000;

const newKey = z.strictObject({
  name: z.string().min(1).max(200),
  role: z.string().min(1).max(200),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
  tier: z.string().min(1).max(100).optional(),
  subject: z.string().min(1).max(500).optional(),
});
const rotation = z.strictObject({ grace: z.string().optional() });

function invalid(error: z.ZodError): SluiceError {
  const errors = error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
  return new SluiceError('SLUICE_INVALID_BODY', `${errors[0]!.field}: ${errors[0]!.message}`, errors);
}

async function admin(engine: Engine, request: FastifyRequest): Promise<Principal> {
  const principal = await engine.auth.principal(request.headers);
  if (principal.role !== engine.auth.adminRole) {
    if (principal.kind === 'anonymous') throw new SluiceError('SLUICE_UNAUTHORIZED', 'the admin API needs the credentials of an admin', undefined, { 'www-authenticate': 'Bearer realm="sluice"' });
    throw new SluiceError('SLUICE_FORBIDDEN', `the admin API is for role '${engine.auth.adminRole}' only`);
  }
  return principal;
}

function keys(engine: Engine) {
  if (!engine.auth.keys) throw new SluiceError('SLUICE_NOT_FOUND', 'API keys are disabled on this server (auth.apiKeys.enabled)');
  return engine.auth.keys;
}

const notFound = (id: string) => new SluiceError('SLUICE_NOT_FOUND', `no API key has id or prefix '${id.slice(0, 80)}'`);

/** `?resource=orders&action=update&actor=key_…&limit=50&before=1234` → one page of the audit log. */
async function auditPage(engine: Engine, query: Record<string, string | undefined>) {
  const { db } = engine;
  const limit = query.limit === undefined ? 50 : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new SluiceError('SLUICE_BAD_QUERY', `limit: expected an integer from 1 to ${MAX_PAGE}`, [{ field: 'limit', message: 'out of range' }]);
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return db.dialect === 'postgres' ? `$${params.length}` : '?';
  };
  for (const name of ['resource', 'action', 'actor', 'role', 'request_id'] as const) {
    const value = query[name === 'request_id' ? 'requestId' : name];
    if (value !== undefined) where.push(`${name} = ${p(value)}`);
  }
  if (query.before !== undefined) {
    if (!/^\d{1,18}$/.test(query.before)) throw new SluiceError('SLUICE_BAD_QUERY', 'before: expected an audit entry id', [{ field: 'before', message: 'expected an integer' }]);
    where.push(`id < ${p(db.dialect === 'postgres' ? query.before : Number(query.before))}`);
  }
  const at = db.dialect === 'postgres' ? `to_json(at) #>> '{}'` : 'at';
  const text = `select id, ${at}, request_id, actor_kind, actor, role, action, resource, row_key, before, after from ${systemTable(db.dialect, 'audit_log')}`
    + `${where.length ? ` where ${where.join(' and ')}` : ''} order by id desc limit ${limit + 1}`;
  const rows = await db.query(text, params);
  const json = (v: unknown) => (v === null || v === undefined ? null : JSON.parse(String(v)) as unknown);
  const data = rows.slice(0, limit).map((r) => ({
    id: Number(r[0]), at: new Date(String(r[1])).toISOString(), requestId: r[2], actorKind: r[3], actor: r[4], role: r[5], action: r[6],
    resource: r[7], key: json(r[8]), before: json(r[9]), after: json(r[10]),
  }));
  const hasMore = rows.length > limit;
  return { data, pagination: { limit, hasMore, nextBefore: hasMore ? data.at(-1)!.id : null } };
}

export function adminRoutes(app: FastifyInstance, engine: Engine): void {
  type Id = { Params: { id: string } };
  app.get('/admin/keys', async (request) => {
    await admin(engine, request);
    return { data: await keys(engine).list() };
  });
  app.post('/admin/keys', async (request, reply) => {
    await admin(engine, request);
    const body = newKey.safeParse(request.body);
    if (!body.success) throw invalid(body.error);
    const { name, role, tier, subject, expiresAt } = body.data;
    if (expiresAt && Date.parse(expiresAt) <= Date.now()) throw new SluiceError('SLUICE_INVALID_BODY', 'expiresAt: must be in the future', [{ field: 'expiresAt', message: 'in the past' }]);
    const { key, record } = await keys(engine).create({ name, role, tier: tier ?? null, subject: subject ?? null, expiresAt: expiresAt ? new Date(expiresAt) : null });
    reply.code(201).header('cache-control', 'no-store');
    return { data: record, key };
  });
  app.get<Id>('/admin/keys/:id', async (request) => {
    await admin(engine, request);
    const record = await keys(engine).get(request.params.id);
    if (!record) throw notFound(request.params.id);
    return { data: record };
  });
  app.delete<Id>('/admin/keys/:id', async (request) => {
    await admin(engine, request);
    const record = await keys(engine).revoke(request.params.id);
    if (!record) throw notFound(request.params.id);
    return { data: record };
  });
  app.post<Id>('/admin/keys/:id/rotate', async (request, reply) => {
    await admin(engine, request);
    const body = rotation.safeParse(request.body ?? {});
    if (!body.success) throw invalid(body.error);
    const grace = body.data.grace === undefined ? undefined : parseDuration(body.data.grace);
    if (grace === undefined && body.data.grace !== undefined) throw new SluiceError('SLUICE_INVALID_BODY', 'grace: expected a duration such as 1h', [{ field: 'grace', message: 'expected a duration' }]);
    const rotated = await keys(engine).rotate(request.params.id, grace === undefined ? {} : { grace }).catch((err: unknown) => {
      throw err instanceof SluiceError ? err : new SluiceError('SLUICE_INVALID_BODY', (err as Error).message);
    });
    if (!rotated) throw notFound(request.params.id);
    reply.code(201).header('cache-control', 'no-store');
    return { data: rotated.record, key: rotated.key };
  });
  app.get('/admin/audit', async (request) => {
    await admin(engine, request);
    if (!engine.config.auth.audit.enabled) throw new SluiceError('SLUICE_NOT_FOUND', 'the audit log is disabled on this server (auth.audit.enabled)');
    return auditPage(engine, Object.fromEntries(new URLSearchParams(request.url.split('?')[1] ?? '')));
  });
}

/**
 * The admin API (keys and audit log, admin role only) and the OpenAPI document per role, on
 * SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSluice, type TestSluice } from '../support/sluice.ts';
import { dialects, execSql, shop } from '../support/databases.ts';

const ROLES = {
  customer: {
    orders: { read: { filter: { customer_id: '$auth.sub' } }, update: { columns: ['status'] } },
    customers: { read: { filter: { id: '$auth.sub' }, columns: ['id', 'name', 'country'] } },
  },
};

describe.each(await dialects())('admin API on %s', (dialect) => {
  let s: TestSluice;
  let url: string;
  let dispose: () => Promise<void>;
  let admin: Record<string, string>;
  let customer: Record<string, string>;
  const auditTable = dialect === 'postgres' ? 'sluice.audit_log' : '_sluice_audit_log';

  beforeAll(async () => {
    const db = await shop(dialect);
    ({ url, dispose } = db);
    s = await startSluice({ url, flags: { 'auth.anonRole': undefined, roles: ROLES } });
    const keys = s.sluice.engine.auth.keys!;
    admin = { authorization: `Bearer ${(await keys.create({ name: 'root', role: 'admin' })).key}` };
    customer = { 'x-api-key': (await keys.create({ name: 'c7', role: 'customer', subject: '7' })).key };
  });
  afterAll(async () => {
    await s.close();
    await dispose();
  });

  test('anonymous callers get 401 and other roles 403 on every admin route', async () => {
    for (const [method, path] of [['GET', '/admin/keys'], ['POST', '/admin/keys'], ['GET', '/admin/audit'], ['DELETE', '/admin/keys/x'], ['POST', '/admin/keys/x/rotate']] as const) {
      const anon = await s.request(method, path, method === 'POST' ? { name: 'x', role: 'admin' } : undefined);
      expect(anon.statusCode, `${method} ${path}`).toBe(401);
      expect(anon.headers['www-authenticate']).toContain('Bearer');
      const other = await s.request(method, path, method === 'POST' ? { name: 'x', role: 'admin' } : undefined, customer);
      expect(other.statusCode, `${method} ${path}`).toBe(403);
      expect(other.json().code).toBe('SLUICE_FORBIDDEN');
    }
    const rows = await execSql(url, `select count(*) as n from ${dialect === 'postgres' ? 'sluice.api_keys' : '_sluice_api_keys'} where name = 'x'`);
    expect(Number(rows[0]!.n)).toBe(0);
  });

  test('an admin creates a key (shown once), lists, reads, rotates and revokes it', async () => {
    const created = await s.request('POST', '/admin/keys', { name: 'ci', role: 'customer', subject: '7', tier: 'gold' }, admin);
    expect(created.statusCode, created.body).toBe(201);
    const { key, data } = created.json() as { key: string; data: { id: string; prefix: string; role: string } };
    expect(key).toMatch(/^sk_/);
    expect(data).toMatchObject({ role: 'customer', tier: 'gold', subject: '7' });
    expect((await s.get('/api/v1/orders?limit=1', { 'x-api-key': key })).statusCode).toBe(200);

    const listed = await s.get('/admin/keys', admin);
    expect(listed.body).not.toContain(key);
    expect(listed.body).not.toContain(key.slice(14));
    expect((listed.json().data as Array<{ id: string }>).map((k) => k.id)).toContain(data.id);
    expect((await s.get(`/admin/keys/${data.id}`, admin)).json().data.name).toBe('ci');

    const rotated = await s.request('POST', `/admin/keys/${data.id}/rotate`, {}, admin);
    expect(rotated.statusCode).toBe(201);
    const next = rotated.json().key as string;
    expect(next).not.toBe(key);
    expect((await s.get('/api/v1/orders?limit=1', { 'x-api-key': next })).statusCode).toBe(200);
    const oldKey = await s.get('/api/v1/orders?limit=1', { 'x-api-key': key });
    expect(oldKey.statusCode).toBe(401);

    const revoked = await s.request('DELETE', `/admin/keys/${rotated.json().data.id}`, undefined, admin);
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json().data.revokedAt).not.toBeNull();
    expect((await s.get('/api/v1/orders?limit=1', { 'x-api-key': next })).statusCode).toBe(401);
    expect((await s.request('DELETE', '/admin/keys/key_doesnotexist00', undefined, admin)).statusCode).toBe(404);
  });

  test('bad key bodies are 422 problems naming the field', async () => {
    for (const body of [{ role: 'admin' }, { name: 'x' }, { name: 'x', role: 'admin', expiresAt: 'tomorrow' }, { name: 'x', role: 'admin', extra: 1 }, { name: 'x', role: 'admin', expiresAt: '2001-01-01T00:00:00Z' }]) {
      const res = await s.request('POST', '/admin/keys', body, admin);
      expect(res.statusCode, JSON.stringify(body)).toBe(422);
      expect(res.json().errors.length).toBeGreaterThan(0);
    }
  });

  test('the audit log shows who changed what, before and after, newest first, paged', async () => {
    const before = await execSql(url, 'select status from orders where id = 74');
    expect((await s.request('PATCH', '/api/v1/orders/74', { status: 'cancelled' }, customer)).statusCode).toBe(200);
    expect((await s.request('PATCH', '/api/v1/orders/74', { status: 'paid' }, customer)).statusCode).toBe(200);
    const page = await s.get('/admin/audit?resource=orders&limit=1', admin);
    expect(page.statusCode, page.body).toBe(200);
    const body = page.json() as { data: Array<Record<string, unknown>>; pagination: { hasMore: boolean; nextBefore: number } };
    expect(body.data).toHaveLength(1);
    expect(body.data[0]).toMatchObject({ action: 'update', resource: 'orders', role: 'customer', actorKind: 'apiKey', key: ['74'] });
    expect((body.data[0]!.before as { status: string }).status).toBe('cancelled');
    expect((body.data[0]!.after as { status: string }).status).toBe('paid');
    expect(body.pagination.hasMore).toBe(true);
    const older = (await s.get(`/admin/audit?resource=orders&limit=1&before=${body.pagination.nextBefore}`, admin)).json().data[0];
    expect(older.before.status).toBe(before[0]!.status);
    expect(older.after.status).toBe('cancelled');
    const n = await execSql(url, `select count(*) as n from ${auditTable} where resource = 'orders'`);
    expect(Number(n[0]!.n)).toBe(2);
    expect((await s.get('/admin/audit?limit=0', admin)).statusCode).toBe(400);
    expect((await s.get('/admin/audit?before=abc', admin)).statusCode).toBe(400);
  });

  test('the OpenAPI document shows each role only what it may use', async () => {
    const full = (await s.get('/openapi.json', admin)).json() as { paths: Record<string, unknown>; components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };
    const mine = (await s.get('/openapi.json', customer)).json() as typeof full;
    const none = (await s.get('/openapi.json')).json() as typeof full;
    expect(Object.keys(full.paths)).toContain('/products');
    expect(Object.keys(mine.paths).sort()).toEqual(['/customers', '/customers/{id}', '/orders', '/orders/{id}']);
    expect(Object.keys(none.paths)).toEqual([]);
    const schemaText = JSON.stringify(mine.components.schemas);
    expect(JSON.stringify(full.components.schemas)).toContain('email');
    expect(schemaText).not.toContain('email');
    // The customer may PATCH orders but not create or delete them.
    const orderPaths = mine.paths['/orders/{id}'] as Record<string, unknown>;
    expect(Object.keys(orderPaths)).toContain('patch');
    expect(Object.keys(orderPaths)).not.toContain('delete');
    expect(Object.keys(mine.paths['/orders'] as object)).not.toContain('post');
  });
});

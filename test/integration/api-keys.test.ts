/**
 * API keys on every dialect (SPEC §6): the system tables (created idempotently, also by two
 * instances at once, and never served), keys stored only as hashes, the per-request check with its
 * cache (unknown prefixes cost no query twice, revocation reaches another instance within
 * cacheTtl), expiry, rotation with and without grace, and batched `last_used_at` writes.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { ApiKeyStore } from '../../src/auth/api-keys.ts';
import { ensureSystemTables, systemTable } from '../../src/auth/system-tables.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Database } from '../../src/db/database.ts';
import { openDatabase } from '../../src/db/open.ts';
import { loadSnapshot } from '../../src/schema/load.ts';
import { dialects, execSql, shop } from '../support/databases.ts';

/** Opens a database whose statements land in `statements`. */
async function open(url: string, statements: string[] = []): Promise<Database> {
  const { config } = await loadConfig({ env: {}, flags: { 'database.url': url }, cwd: '/nonexistent' });
  return openDatabase(config.database, { onStatement: (sql) => statements.push(sql) });
}

describe.each(await dialects())('API keys on %s', (dialect) => {
  let url: string;
  let dispose: () => Promise<void>;
  let db: Database;
  let statements: string[];
  const cleanup: Array<() => Promise<void>> = [];
  const keysTable = systemTable(dialect, 'api_keys');

  /** A store closed after the test; `now` defaults to the real clock. */
  const store = (options: { cacheTtl?: number; touchInterval?: number; now?: () => number } = {}, on: Database = db) => {
    const s = new ApiKeyStore(on, { cacheTtl: 200, touchInterval: 0, ...options });
    cleanup.push(() => s.close());
    return s;
  };
  const rows = (where = '', params: unknown[] = []) => execSql(url, `select * from ${keysTable} ${where}`, params);

  beforeEach(async () => {
    ({ url, dispose } = await shop(dialect));
    statements = [];
    db = await open(url, statements);
    await ensureSystemTables(db, { apiKeys: true, audit: true });
  });
  afterEach(async () => {
    for (const done of cleanup.splice(0).reverse()) await done();
    await db.close();
    await dispose();
  });

  test('the system tables are created again and by two instances at once without error', async () => {
    await ensureSystemTables(db, { apiKeys: true, audit: true });
    const fresh = await shop(dialect);
    cleanup.push(fresh.dispose);
    const [a, b] = [await open(fresh.url), await open(fresh.url)];
    cleanup.push(() => a.close(), () => b.close());
    const both = [a, b].map((on) => () => ensureSystemTables(on, { apiKeys: true, audit: true }));
    // Two SQLite instances in one thread would block each other's synchronous driver (the
    // cross-process case is in test/e2e/keys-cli.test.ts); PostgreSQL instances race for real.
    if (dialect === 'postgres') await Promise.all(both.map((f) => f()));
    else for (const f of both) await f();
    expect(await execSql(fresh.url, `select count(*) as n from ${systemTable(dialect, 'api_keys')}`)).toEqual([{ n: dialect === 'postgres' ? '0' : 0 }]);
    // The audit log has the shape its writer relies on, with an id and a time filled in.
    await execSql(fresh.url, `insert into ${systemTable(dialect, 'audit_log')} (request_id, actor_kind, actor, role, action, resource, row_key, before, after)
      values ('r1', 'apiKey', 'key_1', 'admin', 'update', 'orders', '[1]', '{"total":1}', '{"total":2}')`);
    const [entry] = await execSql(fresh.url, `select id, at, actor_kind, row_key from ${systemTable(dialect, 'audit_log')}`);
    expect(entry).toMatchObject({ actor_kind: 'apiKey', row_key: '[1]' });
    expect(Number(entry!.id)).toBe(1);
    expect(entry!.at).toBeTruthy();
  });

  test('with the tables in place, a start sends no DDL', async () => {
    statements.length = 0;
    await ensureSystemTables(db, { apiKeys: true, audit: true });
    expect(statements).toHaveLength(1);
    expect(statements.filter((s) => /^\s*create/i.test(s))).toEqual([]);
  });

  test('create → authenticate returns the record with role, tier and subject', async () => {
    const keys = store();
    const { key, record } = await keys.create({ name: 'billing', role: 'service', tier: 'gold', subject: '42' });
    expect(key).toMatch(/^sk_[A-Za-z0-9]{10}_[A-Za-z0-9_-]{43}$/);
    expect(ApiKeyStore.looksLikeKey(key)).toBe(true);
    expect(ApiKeyStore.looksLikeKey('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig')).toBe(false);
    expect(record).toMatchObject({ name: 'billing', role: 'service', tier: 'gold', subject: '42', prefix: key.slice(0, 13), revokedAt: null, expiresAt: null, lastUsedAt: null });
    expect(record.id).toMatch(/^key_[A-Za-z0-9]{16}$/);
    expect(await store().authenticate(key)).toEqual(record);
    expect(await keys.get(record.id)).toEqual(record);
    expect(await keys.list()).toEqual([record]);
  });

  test('the stored row holds the hash of the key, never the key or its secret', async () => {
    const { key, record } = await store().create({ name: 'ci', role: 'admin' });
    const stored = await rows();
    expect(stored).toHaveLength(1);
    const text = JSON.stringify(stored);
    expect(text).not.toContain(key);
    expect(text).not.toContain(key.slice(14));
    expect(stored[0]).toMatchObject({ id: record.id, prefix: key.slice(0, 13), hash: createHash('sha256').update(key).digest('hex') });
    expect(JSON.stringify(await store().list())).not.toContain(stored[0]!.hash as string);
  });

  test('a wrong secret with the right prefix, an unknown prefix and a non-key are refused', async () => {
    const { key } = await store().create({ name: 'ci', role: 'admin' });
    const keys = store();
    const flipped = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    expect(await keys.authenticate(flipped)).toBeNull();
    expect(await keys.authenticate(key.slice(0, -1))).toBeNull();
    expect(await keys.authenticate(`sk_ZZZZZZZZZZ${key.slice(13)}`)).toBeNull();
    statements.length = 0;
    expect(await keys.authenticate('not a key')).toBeNull();
    expect(statements).toEqual([]);
  });

  test('an unknown prefix is remembered for cacheTtl: the second attempt sends no SQL', async () => {
    const keys = store({ cacheTtl: 60_000 });
    statements.length = 0;
    const random = `sk_ABCDEFGHIJ_${'x'.repeat(43)}`;
    expect(await keys.authenticate(random)).toBeNull();
    expect(statements.filter((s) => s.includes(keysTable))).toHaveLength(1);
    statements.length = 0;
    expect(await keys.authenticate(random)).toBeNull();
    expect(keys.cachedAuthenticate(random)).toBeNull();
    expect(statements).toEqual([]);
  });

  test('concurrent requests with one key share one query; later ones are answered from the cache', async () => {
    const { key, record } = await store().create({ name: 'ci', role: 'admin' });
    const keys = store({ cacheTtl: 60_000 });
    expect(keys.cachedAuthenticate(key)).toBeUndefined();
    statements.length = 0;
    expect(await Promise.all([1, 2, 3, 4, 5].map(() => keys.authenticate(key)))).toEqual(Array(5).fill(record));
    expect(statements).toHaveLength(1);
    expect(keys.cachedAuthenticate(key)).toEqual(record);
    expect(statements).toHaveLength(1);
  });

  test('an expired key is refused, also when its row is cached', async () => {
    let clock = Date.now();
    const keys = store({ now: () => clock, cacheTtl: 60_000 });
    const { key } = await keys.create({ name: 'temp', role: 'admin', expiresAt: new Date(clock + 1000) });
    expect(await keys.authenticate(key)).not.toBeNull();
    clock += 1000;
    expect(keys.cachedAuthenticate(key)).toBeNull();
    expect(await store({ now: () => clock }).authenticate(key)).toBeNull();
    await expect(keys.create({ name: 'past', role: 'admin', expiresAt: new Date(clock - 1) })).rejects.toThrow(/not in the future/);
  });

  test('revoke: refused at once by the same instance, within cacheTtl by another that had cached the key', async () => {
    const admin = store({ cacheTtl: 200 });
    const other = store({ cacheTtl: 200 });
    const { key, record } = await admin.create({ name: 'leaked', role: 'admin' });
    expect(await admin.authenticate(key)).not.toBeNull();
    expect(await other.authenticate(key)).not.toBeNull();

    const revoked = await admin.revoke(record.id);
    expect(revoked?.revokedAt).toEqual(expect.any(String));
    expect(await admin.authenticate(key)).toBeNull();
    // The other instance trusts its cached row for at most cacheTtl, then reads it again.
    await sleep(250);
    expect(other.cachedAuthenticate(key)).toBeUndefined();
    expect(await other.authenticate(key)).toBeNull();

    expect((await admin.revoke(record.prefix))?.revokedAt).toBe(revoked!.revokedAt);
    expect(await admin.revoke('key_unknown')).toBeNull();
  });

  test('rotate without grace: a new key with the same attributes; the old one is revoked', async () => {
    const keys = store();
    const old = await keys.create({ name: 'billing', role: 'service', tier: 'gold', subject: '7' });
    await keys.authenticate(old.key);
    const rotated = await keys.rotate(old.record.id);
    expect(rotated!.key).not.toBe(old.key);
    expect(rotated!.record).toMatchObject({ name: 'billing', role: 'service', tier: 'gold', subject: '7', revokedAt: null });
    expect(rotated!.record.id).not.toBe(old.record.id);
    expect(await keys.authenticate(old.key)).toBeNull();
    expect(await keys.authenticate(rotated!.key)).toEqual(rotated!.record);
    expect((await keys.get(old.record.id))!.revokedAt).not.toBeNull();
    expect(await keys.rotate('key_unknown')).toBeNull();
    await expect(keys.rotate(old.record.id)).rejects.toThrow(/revoked/);
  });

  test('rotate with grace: the old key works until the grace ends, then it has expired', async () => {
    let clock = Date.now();
    const keys = store({ now: () => clock });
    const old = await keys.create({ name: 'billing', role: 'service' });
    const rotated = await keys.rotate(old.record.id, { grace: 60_000 });
    expect(await keys.authenticate(old.key)).toMatchObject({ id: old.record.id, expiresAt: new Date(clock + 60_000).toISOString(), revokedAt: null });
    expect(await keys.authenticate(rotated!.key)).not.toBeNull();
    clock += 60_000;
    expect(await keys.authenticate(old.key)).toBeNull();
    expect(await keys.authenticate(rotated!.key)).not.toBeNull();
  });

  test('last_used_at is written by flush in one UPDATE, never by authenticate', async () => {
    const keys = store({ cacheTtl: 0 });
    const a = await keys.create({ name: 'a', role: 'admin' });
    const b = await keys.create({ name: 'b', role: 'admin' });
    statements.length = 0;
    const before = Date.now();
    for (const key of [a.key, b.key, a.key]) expect(await keys.authenticate(key)).not.toBeNull();
    expect(statements.filter((s) => /^\s*update/i.test(s))).toEqual([]);
    expect((await rows()).map((r) => r.last_used_at)).toEqual([null, null]);

    await keys.flush();
    expect(statements.filter((s) => /^\s*update/i.test(s))).toHaveLength(1);
    for (const record of [a.record, b.record]) {
      const used = (await keys.get(record.id))!.lastUsedAt!;
      expect(Date.parse(used)).toBeGreaterThanOrEqual(before - 1);
      expect(Date.parse(used)).toBeLessThanOrEqual(Date.now());
    }
    statements.length = 0;
    await keys.flush();
    expect(statements).toEqual([]);
  });

  test('the touch timer writes last_used_at on its own', async () => {
    const keys = store({ touchInterval: 50 });
    const { key, record } = await keys.create({ name: 'a', role: 'admin' });
    await keys.authenticate(key);
    await vi.waitFor(async () => expect((await keys.get(record.id))!.lastUsedAt).not.toBeNull(), { timeout: 2000, interval: 25 });
  });

  test("Sluice's own tables are never served", async () => {
    const snapshot = await loadSnapshot(db, ['public']);
    const names = [...snapshot.resources.keys()];
    expect(names).toContain('orders');
    expect(names.filter((n) => /sluice|api_keys|audit_log/.test(n))).toEqual([]);
    if (dialect === 'sqlite') {
      const tables = await execSql(url, `select name from sqlite_schema where type = 'table' and name like '_sluice_%'`);
      expect(tables.map((t) => t.name).sort()).toEqual(['_sluice_api_keys', '_sluice_audit_log']);
    }
  });
});

/**
 * The golden statements against real databases: every statement of ./cases.ts goes through
 * EXPLAIN (compiled and planned with its parameters bound, never run), on a fresh copy of the
 * demo shop per dialect (test/support/databases.ts). PostgreSQL suites are skipped with a message
 * when the server is unreachable, and fail when CI is set. Also checks that the hand-written
 * fixtures are what the introspectors really report, so the golden files describe real schemas.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { configSchema } from '../../src/config/schema.ts';
import { openDatabase } from '../../src/db/open.ts';
import type { Database } from '../../src/db/database.ts';
import { parseQuery } from '../../src/request/query-params.ts';
import { planRead } from '../../src/plan/read-plan.ts';
import { introspectPostgres } from '../../src/schema/introspect/postgres.ts';
import { introspectSqlite } from '../../src/schema/introspect/sqlite.ts';
import { loadSnapshot } from '../../src/schema/load.ts';
import { validateBody } from '../../src/plan/row-validator.ts';
import { planInsert } from '../../src/plan/mutate-plan.ts';
import { dialects, execSql, shop } from '../support/databases.ts';
import { LIMITS, resource, SHIPMENTS, SHIPMENTS_DDL, shopTables } from '../unit/fixtures.ts';
import { CASES, env } from './cases.ts';


/** A table each of whose columns has a default, so that `{}` is a whole row. */
const TALLIES = {
  postgres: 'create table tallies (id bigserial primary key, n integer not null default 0)',
  sqlite: 'create table tallies (id integer primary key, n integer not null default 0)',
} as const;

describe.each(await dialects())('golden statements on %s', (dialect) => {
  const e = env(dialect);
  let db: Database;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    const created = await shop(dialect);
    dispose = created.dispose;
    await execSql(created.url, SHIPMENTS_DDL[dialect]);
    db = openDatabase(configSchema.parse({ database: { url: created.url } }).database);
  });

  afterAll(async () => {
    await db?.close();
    await dispose?.();
  });

  test('the fixtures are what the introspector reports for the demo shop', async () => {
    const fixtures = shopTables(dialect, [SHIPMENTS]);
    const names = new Set(fixtures.map((t) => t.name));
    const introspected = dialect === 'postgres' ? await introspectPostgres(db, ['public']) : await introspectSqlite(db);
    expect((introspected.filter((t) => names.has(t.name)))).toEqual((fixtures));
  });

  test.each(CASES)('$name parses and plans (EXPLAIN)', async (c) => {
    for (const statement of c.compile(e)) {
      const text = statement.text.startsWith('explain ') ? statement.text : `explain ${statement.text}`;
      const plan = await db.query(text, statement.params);
      expect(plan.length).toBeGreaterThan(0);
    }
  });

  // SPEC §3: timestamps are ISO 8601 instants; a filter must compare instants, whatever offset
  // the caller writes. The first order of the shop was created at 2024-01-01T00:00:29Z.
  test.each<[string, number]>([
    ['created_at[lt]=2024-01-01T00:00:29Z', 0],
    ['created_at[lte]=2024-01-01T00:00:29Z', 1],
    ['created_at[lt]=2024-01-01T01:00:00%2B01:00', 0],
    ['created_at[lte]=2024-01-01T01:00:29%2B01:00', 1],
    ['created_at[lte]=2024-01-01%2000:00:29%2B00', 1],
  ])('%s matches %d order(s)', async (query, expected) => {
    const plan = planRead({ snapshot: e.snapshot, resource: resource(e.snapshot, 'orders'), ast: parseQuery(query), limits: LIMITS, mode: 'list' });
    const statement = e.compiler.read(plan);
    expect(await db.query(statement.text, statement.params)).toHaveLength(expected);
  });

  test('POST [{}, {}] on a table whose every column has a default creates two rows', async () => {
    await db.write(TALLIES[dialect], []);
    const snapshot = await loadSnapshot(db, [dialect === 'postgres' ? 'public' : 'main']);
    const tallies = resource(snapshot, 'tallies');
    const { rows } = validateBody(tallies, [{}, {}], 'insert', LIMITS.maxLimit);
    const statement = e.compiler.insert(planInsert({ resource: tallies, rows, returning: tallies.columns }));
    expect(await db.write(statement.text, statement.params)).toHaveLength(2);
  });
});

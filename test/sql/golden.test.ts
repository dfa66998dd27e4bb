/**
 * Golden SQL per dialect, no database: each request of ./cases.ts compiled for PostgreSQL and
 * SQLite and compared with its reviewed file under __golden__/<dialect>/. Regenerate with
 * `npx vitest run test/sql -u`, then read every changed file before committing it.
 * The parameters are checked here too: values are bound, never inlined.
 */
import { describe, expect, test } from 'vitest';
import { parseQuery } from '../../src/request/query-params.ts';
import { planRead } from '../../src/plan/read-plan.ts';
import { planInsert } from '../../src/plan/mutate-plan.ts';
import type { Compiled } from '../../src/sql/statement.ts';
import { buildSnapshot } from '../../src/schema/snapshot.ts';
import type { DialectName } from '../../src/schema/model.ts';
import { CASES, env, INJECTION, MAX_AFFECTED, render, type Env } from './cases.ts';
import { LIMITS, rawTable, resource, table } from '../unit/fixtures.ts';

const DIALECTS = ['postgres', 'sqlite'] as const;
const ENVS: Record<DialectName, Env> = { postgres: env('postgres'), sqlite: env('sqlite') };
const PLACEHOLDER = { postgres: /\$(\d+)/g, sqlite: /\?(\d+)/g } as const;

function compiled(dialect: DialectName, name: string): Compiled[] {
  const c = CASES.find((x) => x.name === name);
  if (!c) throw new Error(`no case ${name}`);
  return c.compile(ENVS[dialect]);
}

const one = (dialect: DialectName, name: string) => compiled(dialect, name)[0]!;

describe.each(DIALECTS)('golden SQL on %s', (dialect) => {
  test.each(CASES)('$name', async (c) => {
    const statements = c.compile(ENVS[dialect]);
    await expect(render(c, statements)).toMatchFileSnapshot(`__golden__/${dialect}/${c.name}.sql`);
  });

  test.each(CASES)('$name: every parameter is used, and only the dialect\'s numbered placeholders appear', (c) => {
    for (const s of c.compile(ENVS[dialect])) {
      const used = new Set([...s.text.matchAll(PLACEHOLDER[dialect])].map((m) => Number(m[1])));
      expect([...used].sort((a, b) => a - b)).toEqual(s.params.map((_, i) => i + 1));
      expect(s.text).not.toMatch(dialect === 'postgres' ? /\?/ : /\?(?!\d)|\$\d/);
    }
  });
});

describe('values are bound, never inlined', () => {
  test.each(DIALECTS)('an injection attempt in eq, a group, an in list and ilike stays in the parameters (%s)', (dialect) => {
    const { text, params } = one(dialect, 'injection');
    expect(text).not.toContain('drop table');
    expect(text).not.toContain(INJECTION);
    const flat = params.flat();
    // eq, the group's eq, the in list, and the ilike pattern (no wildcard to translate)
    expect(flat.filter((p) => p === INJECTION)).toHaveLength(4);
  });

  test.each(DIALECTS)('filters are parameters; the page size plus one (to detect a next page) is a literal (%s)', (dialect) => {
    const { text, params } = one(dialect, 'list-filter-sort-limit');
    expect(params).toEqual(['paid', '100']);
    // a literal LIMIT lets PostgreSQL keep a generic plan instead of re-planning every execution
    expect(text).toMatch(/ limit 11\) as a0/);
  });

  test('PostgreSQL binds an in list as one array parameter, SQLite as one parameter per item', () => {
    expect(one('postgres', 'in-list').params).toEqual([['paid', 'shipped'], ['1', '2', '3'], []]);
    expect(one('sqlite', 'in-list').params).toEqual(['paid', 'shipped', 1n, 2n, 3n]);
    expect(one('sqlite', 'in-list').text).toContain('false');
  });

  test('like turns * into the dialect\'s wildcard and escapes the rest; search binds the text as sent', () => {
    expect(one('postgres', 'like-ilike-search').params).toEqual(['Product 1%', '%00\\_\\%%', 'product 7']);
    // SQLite's case-sensitive like is GLOB, whose wildcard already is *
    expect(one('sqlite', 'like-ilike-search').params).toEqual(['Product 1*', '%00\\_\\%%', 'product 7']);
  });

  test.each([
    ['postgres', ['2024-01-01T01:00:00+00:00', '124']],
    ['sqlite', ['2024-01-01T01:00:00+00:00', 124n]],
  ] as const)('a cursor\'s values are parameters, typed for the driver (%s)', (dialect, params) => {
    expect(one(dialect, 'keyset-mixed').params).toEqual(params);
    expect(one(dialect, 'keyset-uniform').params).toEqual(params);
  });

  test.each(DIALECTS)('a stream is bounded by limits.maxStreamRows, not by the page size (%s)', (dialect) => {
    expect(one(dialect, 'ndjson-stream').params).toEqual(['paid']);
    expect(one(dialect, 'ndjson-stream').text).toMatch(new RegExp(` limit ${LIMITS.maxStreamRows}$`));
  });
});

describe('statement shapes the dialects differ in', () => {
  test('keyset: a row comparison for one direction without nulls, the expanded form otherwise', () => {
    for (const dialect of DIALECTS) {
      // SQLite compares timestamps as instants (strftime), whatever ISO form the text has
      const ts = (e: string) => (dialect === 'sqlite' ? `strftime('%Y-%m-%dT%H:%M:%f', ${e})` : e);
      expect(one(dialect, 'keyset-uniform').text).toContain(`(${ts('a0."created_at"')}, a0."id") < (${ts(dialect === 'sqlite' ? '?1' : '$1')}, ${dialect === 'sqlite' ? '?2' : '$2'})`);
      expect(one(dialect, 'keyset-mixed').text).not.toMatch(/\) < \(/);
      expect(one(dialect, 'keyset-nullable').text).toContain('is null');
    }
  });

  test('bulk insert: PostgreSQL writes DEFAULT for a missing value, SQLite inlines the column default', () => {
    expect(one('postgres', 'insert-bulk').text).toContain('values ($1, $2, $3, default, default), ($4, $5, $6, $7, $8)');
    expect(one('sqlite', 'insert-bulk').text).toContain('values (?1, ?2, ?3, (true), (0)), (?4, ?5, ?6, ?7, ?8)');
    expect(one('sqlite', 'insert-bulk').params).toEqual(['SKU-A', 'A', '1.00', 'SKU-B', 'B', 2.5, 0, 3]);
  });

  test(`bulk writes are guarded by maxAffected (${MAX_AFFECTED}): one statement on PostgreSQL, count then write on SQLite`, () => {
    for (const name of ['bulk-patch', 'bulk-delete']) {
      const [pg] = compiled('postgres', name);
      expect(pg!.text).toContain(`limit ${MAX_AFFECTED + 1}) as s`);
      expect(pg!.text).toContain(`(select n from n) <= ${MAX_AFFECTED}`);
      const [count, write] = compiled('sqlite', name);
      expect(count!.text).toMatch(/^select count\(\*\)/);
      expect(count!.text).toContain(`limit ${MAX_AFFECTED + 1}) as s`);
      expect(write!.text).toMatch(/^(update|delete)/);
    }
  });

  test.each(DIALECTS)('count adds the total to every row of the page (%s)', (dialect) => {
    const { snapshot, compiler } = ENVS[dialect];
    const orders = resource(snapshot, 'orders');
    for (const count of ['exact', 'estimated']) {
      const statement = compiler.read(planRead({ snapshot, resource: orders, ast: parseQuery(`count=${count}`), limits: LIMITS, mode: 'list' }));
      expect(statement).toMatchObject({ withTotal: true, keyCount: 1 });
    }
  });

  test.each(DIALECTS)('CSV names its columns, embeds last (%s)', (dialect) => {
    const { snapshot, compiler } = ENVS[dialect];
    const plan = planRead({ snapshot, resource: resource(snapshot, 'orders'), ast: parseQuery('include=customer&fields=id,total,customer'), limits: LIMITS, mode: 'stream' });
    expect(compiler.readCsv(plan).header).toEqual(['id', 'total', 'customer']);
  });

  test.each(DIALECTS)('identifiers are quoted and escaped, JSON keys are escaped literals (%s)', (dialect) => {
    const snapshot = buildSnapshot(dialect, [rawTable(dialect, table('we"ird', ['id', 'o\'clock', 'sp ace']))], [dialect === 'postgres' ? 'public' : 'main']);
    const r = resource(snapshot, 'we"ird');
    const { compiler } = ENVS[dialect];
    const read = compiler.read(planRead({ snapshot, resource: r, ast: parseQuery("sort=-o'clock"), limits: LIMITS, mode: 'list' }));
    expect(read.text).toContain('"we""ird"');
    expect(read.text).toContain('"o\'clock"');
    expect(read.text).toContain('"o\'clock" desc');
    expect(read.text).toContain('"sp ace"');
    expect(read.text).toContain(dialect === 'postgres' ? 'as "o\'clock"' : "'o''clock', ");
    const insert = compiler.insert(planInsert({ resource: r, rows: [{ 'o\'clock': 'x' }], returning: r.columns }));
    expect(insert.text).toContain('("o\'clock")');
    expect(insert.params).toEqual(['x']);
  });
});

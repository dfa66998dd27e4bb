/**
 * Databases for tests. SQLite: a private copy of the seeded demo shop per call. PostgreSQL: a
 * fresh database per call, cloned from a template holding the same shop (fast), on the server of
 * SLUICE_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 *
 * When PostgreSQL cannot be reached the PostgreSQL suites are skipped with a message — unless CI
 * is set, where they are required and the run fails.
 */
import { copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { seedDemo } from '../../src/demo/seed.ts';
import { SHOP_POSTGRES } from './shop-postgres.ts';

export type Dialect = 'sqlite' | 'postgres';

const PG_URL = process.env.SLUICE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TEMPLATE = 'sluice_test_template';
const dir = mkdtempSync(join(tmpdir(), 'sluice-test-'));
let seeded: string | undefined;
let counter = 0;

/** A new SQLite file holding the demo shop; returns its `sqlite:` URL. */
export function sqliteShop(): string {
  if (!seeded) {
    seeded = join(dir, 'seed.db');
    seedDemo(seeded);
  }
  const file = join(dir, `shop-${process.pid}-${counter++}.db`);
  copyFileSync(seeded, file);
  for (const ext of ['-wal', '-shm']) if (existsSync(seeded + ext)) copyFileSync(seeded + ext, file + ext);
  return `sqlite:${file}`;
}

/** An empty SQLite file's URL (for schemas a test builds itself). */
export function sqliteEmpty(): string {
  return `sqlite:${join(dir, `empty-${process.pid}-${counter++}.db`)}`;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

let reachable: Promise<boolean> | undefined;

/** Whether the PostgreSQL server answers (checked once per process). */
export function postgresAvailable(): Promise<boolean> {
  reachable ??= adminQuery('select 1').then(() => true, () => false);
  return reachable;
}

let template: Promise<void> | undefined;

async function ensureTemplate(): Promise<void> {
  template ??= (async () => {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      // One creator at a time across test processes.
      await client.query('select pg_advisory_lock(4242)');
      const exists = await client.query('select 1 from pg_database where datname = $1', [TEMPLATE]);
      const fresh = exists.rowCount ? await templateIsCurrent() : false;
      if (!fresh) {
        if (exists.rowCount) await client.query(`drop database ${TEMPLATE} with (force)`);
        await client.query(`create database ${TEMPLATE}`);
        const t = new pg.Client({ connectionString: withDatabase(PG_URL, TEMPLATE) });
        await t.connect();
        try {
          await t.query(SHOP_POSTGRES);
          await t.query(`comment on database ${TEMPLATE} is '${fingerprint()}'`);
        } finally {
          await t.end();
        }
      }
      await client.query('select pg_advisory_unlock(4242)');
    } finally {
      await client.end();
    }
  })();
  return template;
}

function fingerprint(): string {
  let h = 0;
  for (const c of SHOP_POSTGRES) h = (h * 31 + c.charCodeAt(0)) | 0;
  return `sluice-shop-${h}`;
}

async function templateIsCurrent(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const r = await client.query(`select shobj_description(oid, 'pg_database') d from pg_database where datname = $1`, [TEMPLATE]);
    return r.rows[0]?.d === fingerprint();
  } finally {
    await client.end();
  }
}

/** A new PostgreSQL database holding the shop; returns its URL. Drop it with {@link dropPostgres}. */
export async function postgresShop(): Promise<string> {
  await ensureTemplate();
  const name = `sluice_test_${process.pid}_${counter++}`;
  await adminQuery(`drop database if exists ${name} with (force)`);
  await adminQuery(`create database ${name} template ${TEMPLATE}`);
  return withDatabase(PG_URL, name);
}

/** A new empty PostgreSQL database. */
export async function postgresEmpty(): Promise<string> {
  const name = `sluice_test_${process.pid}_${counter++}`;
  await adminQuery(`drop database if exists ${name} with (force)`);
  await adminQuery(`create database ${name}`);
  return withDatabase(PG_URL, name);
}

export async function dropPostgres(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  await adminQuery(`drop database if exists ${name} with (force)`);
}

/**
 * The dialects a matrix suite runs on: SQLite always; PostgreSQL when reachable. Without it the
 * suite says so on stderr, and with CI set the run fails instead of skipping.
 */
export async function dialects(): Promise<Dialect[]> {
  if (await postgresAvailable()) return ['sqlite', 'postgres'];
  if (process.env.CI) throw new Error(`PostgreSQL is required when CI is set, but ${PG_URL} does not answer`);
  process.stderr.write(`\n[sluice tests] PostgreSQL at ${PG_URL} is not reachable: PostgreSQL suites are SKIPPED (set SLUICE_TEST_PG_URL, or CI=1 to require them)\n`);
  return ['sqlite'];
}

/** A fresh shop database of a dialect, and how to dispose of it. */
export async function shop(dialect: Dialect): Promise<{ url: string; dispose: () => Promise<void> }> {
  if (dialect === 'sqlite') return { url: sqliteShop(), dispose: async () => undefined };
  const url = await postgresShop();
  return { url, dispose: () => dropPostgres(url) };
}

/** Runs SQL directly on a test database (schema set-up, checking rows behind the API's back). */
export async function execSql(url: string, sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  if (url.startsWith('sqlite:')) {
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(url.slice('sqlite:'.length));
    try {
      if (params.length === 0 && !/^\s*select/i.test(sql)) {
        db.exec(sql);
        return [];
      }
      return db.prepare(sql).all(...(params as never[])) as Array<Record<string, unknown>>;
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}

/**
 * The PostgreSQL connections of src/db/pipeline-pool.ts against a real server: statements of
 * concurrent requests share connections and leave in one write per event-loop turn, an error
 * ends at its own statement, transactions and cursors hold a connection alone, slow statements
 * are routed around, the acquire timeout, a backend killed mid-statement, an unreachable server,
 * and `pipeline: 1` as a classic pool.
 */
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { dialects, dropPostgres, execSql, postgresEmpty } from '../support/databases.ts';
import { PostgresDatabase, type PostgresOptions } from '../../src/db/postgres.ts';
import { PipelinePool, SLOW_MS } from '../../src/db/pipeline-pool.ts';
import { mapDatabaseError } from '../../src/db/errors.ts';
import { SluiceError } from '../../src/errors/registry.ts';

const onPostgres = (await dialects()).includes('postgres');

describe.runIf(onPostgres)('pipelined PostgreSQL connections', () => {
  let url: string;
  const open: PostgresDatabase[] = [];
  const database = (options: Partial<PostgresOptions> = {}) => {
    const db = new PostgresDatabase({ url, max: 4, acquireTimeout: 2000, statementTimeout: 5000, streamTimeout: 0, pipeline: 8, preparedStatements: true, ...options });
    open.push(db);
    return db;
  };
  const pids = (rows: Array<readonly unknown[]>) => new Set(rows.map((r) => r[1]));
  const execSqlRows = (sql: string) => execSql(url, sql);
  /**
   * Sends three statements that wait on an advisory lock the test holds, each once the one before
   * has waited on its backend (seen in pg_stat_activity) for longer than SLOW_MS, then lets all
   * three finish at once. Neither a connection's opening (tens of ms on a loaded machine) nor the
   * time a statement takes changes what the pool sees: three statements running past SLOW_MS.
   */
  const threeBlocked = async (send: (text: string) => Promise<ReadonlyArray<readonly unknown[]>>) => {
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock(4242)');
      const blocked = [];
      for (let i = 1; i <= 3; i++) {
        const text = `select pg_backend_pid(), pg_advisory_xact_lock_shared(4242) /* ${i} */`;
        blocked.push(send(text));
        const until = Date.now() + 2000;
        while (Date.now() < until) {
          const { rows } = await holder.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and state = 'active' and query = $1`, [text]);
          if (rows[0].n > 0) break;
          await new Promise((r) => setTimeout(r, 5));
        }
        await new Promise((r) => setTimeout(r, SLOW_MS + 20));
      }
      await holder.query('select pg_advisory_unlock(4242)');
      return await Promise.all(blocked);
    } finally {
      await holder.end();
    }
  };

  beforeAll(async () => {
    url = await postgresEmpty();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('create table t (id int primary key, note text)');
    await c.end();
  });
  afterAll(async () => {
    await Promise.all(open.map((db) => db.close()));
    if (url) await dropPostgres(url);
  });

  it('runs concurrent statements on fewer connections than statements, each with its own answer', async () => {
    const db = database({ max: 16 });
    const rows = await Promise.all(Array.from({ length: 16 }, (_, i) => db.query('select $1::int as n, pg_backend_pid() as pid', [i]).then((r) => r[0]!)));
    expect(rows.map((r) => Number(r[0]))).toEqual(Array.from({ length: 16 }, (_, i) => i));
    // Sixteen statements at once would take sixteen connections of a classic pool.
    expect(pids(rows).size).toBeLessThanOrEqual(2);
    expect(db.poolStats().total).toBeLessThanOrEqual(2);
  });

  it('packs statements onto the oldest open connection, so that the others can fall idle', async () => {
    const db = database({ max: 3 });
    // Three connections: each slow statement finds the ones before it busy for a while.
    const slow = await threeBlocked((text) => db.query(text, []));
    const slowPids = new Set(slow.map((r) => r[0]![0]));
    expect(slowPids.size).toBe(3);
    expect(db.poolStats()).toMatchObject({ total: 3, idle: 3 });
    const rows = await Promise.all(Array.from({ length: 8 }, (_, i) => db.query('select $1::int, pg_backend_pid()', [i]).then((r) => r[0]!)));
    expect(pids(rows).size).toBe(1);
  });

  it('closes connections left unused for idleTimeout', async () => {
    // The three statements end together: all three connections are idle from the same moment.
    const pool = new PipelinePool({ client: { connectionString: url, application_name: 'sluice-idle-test' }, max: 3, depth: 8, acquireTimeout: 2000, idleTimeout: 400 });
    const count = async () => Number((await execSqlRows(`select count(*) from pg_stat_activity where application_name = 'sluice-idle-test' and datname = current_database()`))[0]!.count);
    try {
      await threeBlocked((text) => pool.query({ text }, []));
      expect(pool.stats().total).toBe(3);
      expect(await count()).toBe(3);
      await new Promise((r) => setTimeout(r, 900));
      expect(pool.stats()).toMatchObject({ total: 0, idle: 0 });
      expect(await count()).toBe(0);
      // and opens again on demand
      expect(Number((await pool.query({ text: 'select 7' }, []))[0]![0])).toBe(7);
    } finally {
      await pool.end();
    }
  });

  it('sends the statements of one event-loop turn in one write', async () => {
    const db = database({ max: 1 });
    await db.query('select 1', []); // connected
    const writes: number[] = [];
    const original = { write: Socket.prototype._write, writev: Socket.prototype._writev };
    Socket.prototype._write = function (this: Socket, ...args: Parameters<Socket['_write']>) {
      if (this.remotePort === Number(new URL(url).port || 5432)) writes.push(1);
      return original.write.apply(this, args);
    };
    Socket.prototype._writev = function (this: Socket, ...args: Parameters<NonNullable<Socket['_writev']>>) {
      if (this.remotePort === Number(new URL(url).port || 5432)) writes.push(args[0].length);
      return original.writev!.apply(this, args);
    };
    try {
      const rows = await Promise.all(Array.from({ length: 8 }, (_, i) => db.query('select $1::int', [i])));
      expect(rows.map((r) => Number(r[0]![0]))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    } finally {
      Socket.prototype._write = original.write;
      Socket.prototype._writev = original.writev;
    }
    expect(writes).toHaveLength(1);
  });

  it('ends an error at its own statement: the others on the same connection are answered', async () => {
    const db = database({ max: 1 });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => db.query('select 10 / $1::int', [i % 2 === 0 ? 0 : i])));
    results.forEach((r, i) => {
      if (i % 2 === 0) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason.code).toBe('22012'); // division by zero
      } else {
        expect(r.status).toBe('fulfilled');
        expect(Number((r as PromiseFulfilledResult<unknown[][]>).value[0]![0])).toBe(Math.floor(10 / i));
      }
    });
    expect(Number((await db.query('select 42', []))[0]![0])).toBe(42);
  });

  it('holds a connection alone for a transaction: other statements wait and then see its commit', async () => {
    const db = database({ max: 1 });
    await db.query('delete from t', []);
    let committed = false;
    const tx = db.transaction(async (q) => {
      await q.query('insert into t values (1, $1)', ['in the transaction']);
      await new Promise((r) => setTimeout(r, 150));
      committed = true;
      return q.query('select count(*) from t', []);
    });
    await new Promise((r) => setTimeout(r, 20));
    const outside = db.query('select count(*) from t', []).then((rows) => ({ rows, afterCommit: committed }));
    expect(Number((await tx)[0]![0])).toBe(1);
    const seen = await outside;
    expect(seen.afterCommit).toBe(true);
    expect(Number(seen.rows[0]![0])).toBe(1);
  });

  it('fails a statement that waits longer than acquireTimeout with the pool timeout (504)', async () => {
    const db = database({ max: 1, acquireTimeout: 200 });
    const tx = db.transaction(async (q) => {
      await new Promise((r) => setTimeout(r, 600));
      return q.query('select 1', []);
    });
    await new Promise((r) => setTimeout(r, 20));
    const err = await db.query('select 2', []).then(() => null, (e: unknown) => e);
    const mapped = mapDatabaseError(err, false);
    expect(mapped).toBeInstanceOf(SluiceError);
    expect((mapped as SluiceError).code).toBe('SLUICE_POOL_TIMEOUT');
    const second = await db.transaction(async () => 1).then(() => null, (e: unknown) => e);
    expect((mapDatabaseError(second, false) as SluiceError).code).toBe('SLUICE_POOL_TIMEOUT');
    await tx;
    expect(Number((await db.query('select 3', []))[0]![0])).toBe(3);
  });

  it('routes statements around a slow one', async () => {
    const db = database({ max: 2 });
    await db.query('select 1', []);
    const slow = db.query('select pg_sleep(1.5), pg_backend_pid()', []);
    await new Promise((r) => setTimeout(r, SLOW_MS + 30));
    const started = performance.now();
    const fast = await Promise.all(Array.from({ length: 5 }, (_, i) => db.query('select $1::int, pg_backend_pid()', [i])));
    expect(performance.now() - started).toBeLessThan(1000);
    const slowPid = (await slow)[0]![1];
    expect(pids(fast.map((r) => r[0]!)).has(slowPid)).toBe(false);
  });

  it('answers a statement whose backend is killed with "database unavailable" (503), then reconnects', async () => {
    const db = database({ max: 1 });
    const pid = (await db.query('select pg_backend_pid()', []))[0]![0];
    const doomed = db.query('select pg_sleep(5)', []).then(() => null, (e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query('select pg_terminate_backend($1)', [pid]);
    await admin.end();
    const err = await doomed;
    expect((mapDatabaseError(err, false) as SluiceError).code).toBe('SLUICE_DATABASE_UNAVAILABLE');
    const again = await db.query('select pg_backend_pid()', []);
    expect(again[0]![0]).not.toBe(pid);
  });

  it('streams through a cursor on its own connection while statements are pipelined beside it', async () => {
    const db = database({ max: 2 });
    const stream = (async () => {
      let n = 0;
      for await (const batch of db.stream('select g from generate_series(1, 20000) g', [], 500)) n += batch.length;
      return n;
    })();
    const others = await Promise.all(Array.from({ length: 30 }, (_, i) => db.query('select $1::int', [i])));
    expect(others.map((r) => Number(r[0]![0]))).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(await stream).toBe(20000);
  });

  it('with pipeline: 1 runs one statement per connection, like a classic pool', async () => {
    const db = database({ max: 4, pipeline: 1 });
    const rows = await Promise.all(Array.from({ length: 8 }, (_, i) => db.query('select $1::int, pg_backend_pid(), pg_sleep(0.1)', [i]).then((r) => r[0]!)));
    expect(rows.map((r) => Number(r[0]))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(pids(rows).size).toBe(4);
  });

  it('reports an unreachable server at once (503), not after the acquire timeout', async () => {
    const u = new URL(url);
    u.port = '1';
    const db = new PostgresDatabase({ url: u.toString(), max: 2, acquireTimeout: 5000, statementTimeout: 5000, streamTimeout: 0, pipeline: 8, preparedStatements: true });
    open.push(db);
    const started = performance.now();
    const errs = await Promise.all([db.query('select 1', []), db.query('select 2', [])].map((p) => p.then(() => null, (e: unknown) => e)));
    expect(performance.now() - started).toBeLessThan(2000);
    for (const err of errs) expect((mapDatabaseError(err, false) as SluiceError).code).toBe('SLUICE_DATABASE_UNAVAILABLE');
  });
});

/**
 * Values as SPEC §3 renders them, on every dialect: 64-bit integers are numbers up to 2^53 and
 * strings beyond (in rows, embeds, streams, cursors and writes), exact numerics are strings,
 * booleans, JSON, binary (base64), dates and times round-trip.
 */
import { describe, expect, test } from 'vitest';
import { dialects, execSql, type Dialect } from '../support/databases.ts';
import { useShop } from '../support/sluice.ts';

const API = '/api/v1';
const BEYOND = '9007199254740993'; // 2^53 + 1: not representable as a JSON number
const MIN64 = '-9223372036854775808';

function schema(dialect: Dialect): string {
  const pg = dialect === 'postgres';
  return `
    create table accounts (id bigint primary key, balance bigint, note text);
    create table ledger (id bigint primary key, account_id bigint not null references accounts(id), amount ${pg ? 'numeric' : 'numeric'} not null);
    create table samples (
      id integer primary key, flag boolean, doc ${pg ? 'jsonb' : 'json'}, blob ${pg ? 'bytea' : 'blob'},
      day date, at ${pg ? 'timestamp' : 'timestamp'}, ratio ${pg ? 'double precision' : 'real'});
    insert into accounts values (1, 2, 'small'), (${BEYOND}, ${MIN64}, 'huge'), (3, null, 'null balance');
    insert into ledger values (10, 1, 1.5), (11, ${BEYOND}, 2.25);
    insert into samples values (1, true, '{"a":[1,2]}', ${pg ? "'\\x00ff10'::bytea" : "x'00ff10'"}, '2024-02-29', '2024-03-01 12:30:00', 0.5);
  `;
}

describe.each(await dialects())('values on %s', (dialect) => {
  const s = useShop(dialect, { setup: async (url) => void (await execSql(url, schema(dialect))) });

  test('64-bit integers beyond 2^53 are strings, smaller ones numbers, in rows and embeds', async () => {
    const res = await s().get(`${API}/accounts?include=ledger&sort=id`);
    expect(res.statusCode).toBe(200);
    const rows = res.json().data;
    expect(rows).toEqual([
      { id: 1, balance: 2, note: 'small', ledger: [{ id: 10, account_id: 1, amount: '1.5' }] },
      { id: 3, balance: null, note: 'null balance', ledger: [] },
      { id: BEYOND, balance: MIN64, note: 'huge', ledger: [{ id: 11, account_id: BEYOND, amount: '2.25' }] },
    ]);
    const one = await s().get(`${API}/accounts/${BEYOND}`);
    expect(one.json().data).toEqual({ id: BEYOND, balance: MIN64, note: 'huge' });
    const embedded = await s().get(`${API}/ledger/11?include=account`);
    expect(embedded.json().data.account).toEqual({ id: BEYOND, balance: MIN64, note: 'huge' });
  });

  test('filters, cursors and streams carry 64-bit values exactly', async () => {
    expect((await s().get(`${API}/accounts?id=${BEYOND}&fields=note`)).json().data).toEqual([{ note: 'huge' }]);
    expect((await s().get(`${API}/accounts?balance[lt]=0&fields=id`)).json().data).toEqual([{ id: BEYOND }]);
    const first = (await s().get(`${API}/accounts?sort=id&limit=2&fields=id`)).json();
    expect(first.data).toEqual([{ id: 1 }, { id: 3 }]);
    const next = await s().get(`${API}/accounts?sort=id&limit=2&fields=id&cursor=${first.pagination.nextCursor}`);
    expect(next.json().data).toEqual([{ id: BEYOND }]);
    const ndjson = await s().get(`${API}/accounts?sort=id&fields=id,balance`, { accept: 'application/x-ndjson' });
    expect(ndjson.body.trimEnd().split('\n').map((l) => JSON.parse(l))).toEqual([{ id: 1, balance: 2 }, { id: 3, balance: null }, { id: BEYOND, balance: MIN64 }]);
    const csv = await s().get(`${API}/accounts?sort=id&fields=id,balance`, { accept: 'text/csv' });
    expect(csv.body).toBe(`id,balance\r\n1,2\r\n3,\r\n${BEYOND},${MIN64}\r\n`);
  });

  test('64-bit integers are written from strings and come back as strings; JSON numbers beyond 2^53 are refused', async () => {
    const created = await s().request('POST', `${API}/accounts`, { id: '9007199254740995', balance: '-9007199254740995', note: 'written' });
    expect(created.statusCode).toBe(201);
    expect(created.json().data).toEqual({ id: '9007199254740995', balance: '-9007199254740995', note: 'written' });
    expect(created.headers.location).toBe(`${API}/accounts/9007199254740995`);
    const lossy = await s().request('POST', `${API}/accounts`, { id: 9007199254740996, note: 'lossy' });
    expect(lossy.statusCode).toBe(422);
    expect(lossy.json().errors[0].field).toBe('id');
  });

  test('booleans, JSON, binary, dates, timestamps and floats round-trip', async () => {
    const res = await s().get(`${API}/samples/1`);
    expect(res.json().data).toEqual({
      id: 1, flag: true, doc: { a: [1, 2] }, blob: 'AP8Q', day: '2024-02-29',
      at: dialect === 'postgres' ? '2024-03-01T12:30:00' : '2024-03-01 12:30:00', ratio: 0.5,
    });
    const written = await s().request('POST', `${API}/samples`, { id: 2, flag: false, doc: [{ x: null }], blob: 'AQID', day: '2024-01-01', ratio: 1.25 });
    expect(written.statusCode).toBe(201);
    expect(written.json().data).toMatchObject({ id: 2, flag: false, doc: [{ x: null }], blob: 'AQID', day: '2024-01-01', ratio: 1.25 });
    expect((await s().get(`${API}/samples?flag=false&fields=id`)).json().data).toEqual([{ id: 2 }]);
  });
});

describe.each(await dialects())('timestamps in any ISO 8601 form on %s', (dialect) => {
  const pg = dialect === 'postgres';
  const s = useShop(dialect, {
    setup: async (url) => void (await execSql(url, `
      create table events (id integer primary key, name text, at ${pg ? 'timestamptz' : 'timestamp'}${pg ? ' default now()' : ' default current_timestamp'});
      insert into events (id, name, at) values
        (1, 'a', '2024-01-01 10:00:00'), (2, 'b', '2024-01-01T11:00:00Z'), (3, 'c', '2024-01-01T12:30:00+01:00'),
        (4, 'd', '2024-01-01T11:45:00.250+00:00'), (5, 'e', '0050-06-01T00:00:00Z');`)),
  });
  // instants: e=0050-06-01, a=10:00, b=11:00, c=11:30 (12:30+01:00), d=11:45:00.25
  test('filters compare instants, whatever form the stored text has', async () => {
    const ids = async (q: string) => (await s().get(`${API}/events?${q}&fields=id&sort=id`)).json().data.map((r: { id: number }) => r.id);
    expect(await ids('at[lt]=2024-01-01T11:30:00Z')).toEqual([1, 2, 5]);
    expect(await ids('at[gte]=2024-01-01T12:30:00%2B01:00')).toEqual([3, 4]);
    expect(await ids('at=2024-01-01T11:00:00%2B00:00')).toEqual([2]);
    expect(await ids('at[gt]=0050-01-01&at[lt]=0051-01-01')).toEqual([5]);
  });

  test('sorting and keyset pages follow time order and visit every row once', async () => {
    for (const sort of ['at', '-at']) {
      const seen: number[] = [];
      let url: string | null = `${API}/events?sort=${sort}&limit=2&fields=id`;
      for (let guard = 0; url && guard < 10; guard++) {
        const body: { data: Array<{ id: number }>; pagination: { nextCursor: string | null } } = (await s().get(url)).json();
        seen.push(...body.data.map((r) => r.id));
        url = body.pagination.nextCursor ? `${API}/events?sort=${sort}&limit=2&fields=id&cursor=${body.pagination.nextCursor}` : null;
      }
      expect(seen).toEqual(sort === 'at' ? [5, 1, 2, 3, 4] : [4, 3, 2, 1, 5]);
    }
  });

  test('a timestamp the database fills in by default sorts with the others', async () => {
    const created = await s().request('POST', `${API}/events`, { id: 6, name: 'now' });
    expect(created.statusCode).toBe(201);
    const newest = (await s().get(`${API}/events?sort=-at&limit=1&fields=id`)).json().data;
    expect(newest).toEqual([{ id: 6 }]);
    const year50 = await s().request('POST', `${API}/events`, { id: 7, name: 'old', at: '0050-06-01T00:00:00Z' });
    expect(year50.statusCode).toBe(201);
    expect(year50.json().data.at).toMatch(/^0050-06-01/);
  });
});

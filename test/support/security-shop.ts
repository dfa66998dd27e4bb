/**
 * The shop behind the security suites (test/integration/security-*.test.ts): the example policies
 * of SPEC §1 on the real schema, two customers A and B (same country, so that a filter on the
 * country could only tell them apart through the row policy) with an API key and an HS256 JWT
 * each, an admin key, and SQL helpers that read the truth behind the API's back.
 * @example const shop = await secureShop('sqlite'); await shop.s.get(`${API}/orders`, shop.a.key); await shop.close();
 */
import { SignJWT } from 'jose';
import { shop as makeShop, execSql, type Dialect } from './databases.ts';
import { startSluice, type TestSluice, type Transport } from './sluice.ts';

export const API = '/api/v1';
/** HS256 secret (≥ 32 bytes) shared by the server config and the tests' token minting. */
export const SECRET = 'sluice-security-suite-secret-0123456789-abcdef';
export const ISSUER = 'https://idp.shop.test/';
export const AUDIENCE = 'sluice-shop';
export const NOT_EXISTING = 999_999;

/**
 * SPEC §1's policies, adapted to the shop: customers read their own orders, items and customer
 * row (without email and created_at), create orders for themselves (total ≤ 10000) and items in
 * their own orders (the check defaults to the read filter), change only the status of their orders
 * (to pending or cancelled) and their own name, delete their own orders.
 * `clerk` has no column allow-lists on orders, to reach the upsert paths that `customer`'s
 * allow-lists stop earlier; `editor` may create any column but update only the status;
 * every update of a `reviewer` puts the order back to pending (an update preset). `anon` sees active products without `active` and `stock`.
 */
export const ROLES = {
  anon: { products: { read: { filter: { active: true }, columns: ['id', 'sku', 'name', 'price'] } } },
  customer: {
    orders: {
      read: { filter: { customer_id: '$auth.sub' } },
      create: { preset: { customer_id: '$auth.sub' }, columns: ['status', 'total', 'created_at'], check: { customer_id: '$auth.sub', total: { lte: 10000 } } },
      update: { columns: ['status'], check: { customer_id: '$auth.sub', status: { in: ['pending', 'cancelled'] } } },
      delete: true,
    },
    order_items: { read: { filter: 'order.customer_id=$auth.sub' }, create: true },
    customers: { read: { filter: { id: '$auth.sub' }, columns: ['id', 'name', 'country'] }, update: { columns: ['name'] } },
    products: { read: true },
  },
  clerk: {
    orders: { read: { filter: { customer_id: '$auth.sub' } }, create: { preset: { customer_id: '$auth.sub' } }, update: true, delete: true },
  },
  editor: {
    orders: { read: { filter: { customer_id: '$auth.sub' } }, create: { preset: { customer_id: '$auth.sub' } }, update: { columns: ['status'] } },
  },
  reviewer: {
    orders: { read: { filter: { customer_id: '$auth.sub' } }, create: { preset: { customer_id: '$auth.sub' } }, update: { preset: { status: 'pending' } } },
  },
  admin: '*',
} as const;

/** The `auth.jwt` section every security shop runs with. */
export const JWT_CONFIG = { secret: SECRET, algorithms: ['HS256'], issuer: ISSUER, audience: [AUDIENCE] };

/** A signed HS256 token for the shop's config; `claims` override iss/aud/exp. */
export async function shopToken(claims: Record<string, unknown>, options: { secret?: string | Uint8Array; alg?: string; exp?: number | null } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ iss: ISSUER, aud: AUDIENCE, ...claims }).setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' }).setIssuedAt(now);
  if (options.exp !== null) jwt.setExpirationTime(options.exp ?? now + 3600);
  const secret = options.secret ?? SECRET;
  return jwt.sign(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret);
}

export interface Party {
  readonly id: number;
  /** Headers with the party's API key (`X-API-Key`). */
  readonly key: Record<string, string>;
  readonly keyId: string;
  /** Headers with the party's JWT (`Authorization: Bearer`). */
  readonly jwt: Record<string, string>;
  /** Every order id of the party, ascending, read from the database. */
  readonly orders: number[];
}

export interface SecureShop {
  readonly dialect: Dialect;
  readonly url: string;
  readonly s: TestSluice;
  readonly a: Party;
  readonly b: Party;
  readonly admin: Record<string, string>;
  readonly auditTable: string;
  readonly keysTable: string;
  /** Rows straight from the database. */
  sql(text: string): Promise<Array<Record<string, unknown>>>;
  /** Numbers of one column of a query, in order. */
  ids(text: string, column?: string): Promise<number[]>;
  /** Headers with a new API key of `role` (and `subject`). */
  keyFor(role: string, subject?: number | null): Promise<Record<string, string>>;
  close(): Promise<void>;
}

/** The flags of a security shop (no anonymous role unless `flags` set one). */
export function secureFlags(flags: Record<string, unknown> = {}): Record<string, unknown> {
  return { 'auth.anonRole': undefined, roles: ROLES, 'auth.jwt': JWT_CONFIG, ...flags };
}

/** A fresh shop database with Sluice started on it under {@link ROLES}. */
export async function secureShop(dialect: Dialect, options: { flags?: Record<string, unknown>; setup?: (url: string) => Promise<void>; transport?: Transport } = {}): Promise<SecureShop> {
  const db = await makeShop(dialect);
  await options.setup?.(db.url);
  const s = await startSluice({ url: db.url, flags: secureFlags(options.flags), transport: options.transport });
  const sql = (text: string) => execSql(db.url, text);
  const ids = async (text: string, column = 'id') => (await sql(text)).map((r) => Number(r[column]));
  // A: the customer of the first order; B: the next customer of the same country with orders.
  const [first] = await sql('select o.customer_id, c.country from orders o join customers c on c.id = o.customer_id order by o.id limit 1');
  const aId = Number(first!.customer_id);
  const [other] = await sql(`select min(o.customer_id) as id from orders o join customers c on c.id = o.customer_id where c.country = '${String(first!.country)}' and o.customer_id <> ${aId}`);
  const bId = Number(other!.id);
  const keys = s.sluice.engine.auth.keys!;
  const party = async (id: number): Promise<Party> => {
    const { key, record } = await keys.create({ name: `customer ${id}`, role: 'customer', subject: String(id) });
    return {
      id, key: { 'x-api-key': key }, keyId: record.id,
      jwt: { authorization: `Bearer ${await shopToken({ sub: String(id), role: 'customer' })}` },
      orders: await ids(`select id from orders where customer_id = ${id} order by id`),
    };
  };
  const a = await party(aId);
  const b = await party(bId);
  const admin = { 'x-api-key': (await keys.create({ name: 'root', role: 'admin' })).key };
  return {
    dialect, url: db.url, s, a, b, admin, sql, ids,
    keyFor: async (role, subject = null) => ({ 'x-api-key': (await keys.create({ name: `${role} ${subject ?? '-'}`, role, subject: subject === null ? null : String(subject) })).key }),
    auditTable: dialect === 'postgres' ? 'sluice.audit_log' : '_sluice_audit_log',
    keysTable: dialect === 'postgres' ? 'sluice.api_keys' : '_sluice_api_keys',
    close: async () => {
      await s.close();
      await db.dispose();
    },
  };
}

/** The body of a problem response, checked to be one. */
export function problemOf(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }): { code: string; type: string; title: string; status: number; detail: string; errors?: Array<{ field: string; message: string }> } {
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) throw new Error(`not a problem response (${res.statusCode}): ${String(res.headers['content-type'])}`);
  return res.json() as ReturnType<typeof problemOf>;
}

/** NDJSON lines as objects. */
export function ndjson(body: string): Array<Record<string, unknown>> {
  return body.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** CSV text as a header and rows of cells (RFC 4180 quoting). */
export function csv(body: string): { header: string[]; rows: string[][] } {
  const records: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (quoted) {
      if (c === '"' && body[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && body[i + 1] === '\n') i++;
      row.push(cell);
      records.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length) {
    row.push(cell);
    records.push(row);
  }
  return { header: records[0] ?? [], rows: records.slice(1) };
}

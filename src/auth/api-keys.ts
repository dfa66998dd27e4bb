/**
 * API keys: creation, listing, revocation, rotation and the per-request check. A key is
 * `sk_<10 alphanumerics>_<43 base64url>`; its first part (`sk_` + 10) is the stored lookup prefix,
 * and only the SHA-256 of the whole key is kept. Lookups are cached per prefix for `cacheTtl`
 * (negative answers too), so a request costs no query while a revocation made on another
 * instance takes effect within `cacheTtl` plus one lookup. `last_used_at` is written in batches.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database, Executor, Row } from '../db/database.ts';
import { systemTable } from './system-tables.ts';

/** An API key as stored, without its hash. Timestamps are ISO 8601 UTC strings. */
export interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  readonly role: string;
  readonly prefix: string;
  readonly tier: string | null;
  readonly subject: string | null;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
}

export interface ApiKeyStoreOptions {
  /** Milliseconds a looked-up row (or an unknown prefix) is trusted before it is read again. */
  readonly cacheTtl: number;
  /** Milliseconds between batched `last_used_at` writes (0: only on flush/close). */
  readonly touchInterval: number;
  readonly now?: () => number;
}

export interface CreateApiKeyInput {
  readonly name: string;
  readonly role: string;
  readonly expiresAt?: Date | null;
  readonly tier?: string | null;
  readonly subject?: string | null;
}

const KEY_SHAPE = /^sk_[A-Za-z0-9]{10}_[A-Za-z0-9_-]{43}$/;
const PREFIX_LENGTH = 'sk_'.length + 10;
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Rows and unknown prefixes kept, each; the oldest entry goes first. */
const MAX_CACHED = 10_000;
const COLUMNS = 'id, name, role, prefix, tier, subject, created_at, expires_at, revoked_at, last_used_at';

/** A cached lookup: the row (null for an unknown prefix) and when it was read. */
interface Entry {
  readonly row: StoredKey | null;
  readonly at: number;
}

interface StoredKey {
  readonly record: ApiKeyRecord;
  readonly hash: Buffer;
  readonly expiresAt: number | null;
}

/** Alphanumerics without modulo bias (bytes ≥ 248 are dropped: 248 = 4 × 62). */
function randomAlphanumeric(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHANUMERIC[byte % 62];
    }
  }
  return out;
}

/**
 * A key has 256 random bits in its secret (plus ~59 in its prefix): guessing is hopeless, so a
 * fast hash is enough and no slow password hash (bcrypt, scrypt) is needed per request.
 */
function sha256(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/** `2026-11-23 04:05:06.789123+00` (PostgreSQL's text) or ISO text → `2026-11-23T04:05:06.789Z`. */
function iso(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const m = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d(?::?\d\d)?)?$/.exec(String(value));
  if (!m) return String(value);
  const zone = !m[4] || m[4] === 'Z' ? 'Z' : m[4].length === 3 ? `${m[4]}:00` : m[4];
  return new Date(`${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(3, '0').slice(0, 3)}${zone}`).toISOString();
}

function toStored(row: Row, hash: unknown): StoredKey {
  const [id, name, role, prefix, tier, subject, createdAt, expiresAt, revokedAt, lastUsedAt] = row;
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  const record: ApiKeyRecord = {
    id: String(id), name: String(name), role: String(role), prefix: String(prefix), tier: text(tier), subject: text(subject),
    createdAt: iso(createdAt)!, expiresAt: iso(expiresAt), revokedAt: iso(revokedAt), lastUsedAt: iso(lastUsedAt),
  };
  return { record, hash: Buffer.from(String(hash ?? ''), 'hex'), expiresAt: record.expiresAt === null ? null : Date.parse(record.expiresAt) };
}

/** Keeps a map under `max` entries by dropping the oldest inserted. */
function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value!);
  map.set(key, value);
}

/**
 * The API keys of one database, with a per-prefix lookup cache and batched `last_used_at` writes.
 * @example
 * const keys = new ApiKeyStore(db, { cacheTtl: 2000, touchInterval: 30_000 });
 * const { key } = await keys.create({ name: 'ci', role: 'admin' });
 * (await keys.authenticate(key))?.role === 'admin';
 */
export class ApiKeyStore {
  private readonly db: Database;
  private readonly options: ApiKeyStoreOptions;
  private readonly now: () => number;
  private readonly table: string;
  private readonly known = new Map<string, Entry>();
  /** Unknown prefixes apart from known rows, so random keys cannot push valid ones out. */
  private readonly unknown = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<StoredKey | null>>();
  /** Key id → last use (ms), waiting for the next flush. */
  private touched = new Map<string, number>();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(db: Database, options: ApiKeyStoreOptions) {
    this.db = db;
    this.options = options;
    this.now = options.now ?? Date.now;
    this.table = systemTable(db.dialect, 'api_keys');
    if (options.touchInterval > 0) {
      // A failed write re-queues its ids (see flush), so the timer can swallow the error.
      this.timer = setInterval(() => void this.flush().catch(() => undefined), options.touchInterval);
      this.timer.unref();
    }
  }

  /** @example ApiKeyStore.looksLikeKey('sk_…') — false for a JWT, which has dots. */
  static looksLikeKey(s: string): boolean {
    return KEY_SHAPE.test(s);
  }

  private p(n: number): string {
    return this.db.dialect === 'postgres' ? `$${n}` : `?${n}`;
  }

  private isoNow(): string {
    return new Date(this.now()).toISOString();
  }

  /** @example const { key, record } = await keys.create({ name: 'billing', role: 'service', tier: 'gold' }) */
  create(input: CreateApiKeyInput): Promise<{ key: string; record: ApiKeyRecord }> {
    return this.insert(input, (sql, params) => this.db.write(sql, params));
  }

  private async insert(input: CreateApiKeyInput, run: Executor['query']): Promise<{ key: string; record: ApiKeyRecord }> {
    if (!input.name.trim()) throw new Error('an API key needs a name');
    if (!input.role.trim()) throw new Error('an API key needs a role');
    const expiresAt = input.expiresAt ?? null;
    if (expiresAt && !(expiresAt.getTime() > this.now())) throw new Error(`the expiry ${expiresAt.toISOString()} is not in the future`);
    // 62^10 prefixes: a collision (a unique violation here) is too unlikely for a retry loop.
    const prefix = `sk_${randomAlphanumeric(10)}`;
    const key = `${prefix}_${randomBytes(32).toString('base64url')}`;
    const record: ApiKeyRecord = {
      id: `key_${randomAlphanumeric(16)}`, name: input.name, role: input.role, prefix, tier: input.tier ?? null, subject: input.subject ?? null,
      createdAt: this.isoNow(), expiresAt: expiresAt?.toISOString() ?? null, revokedAt: null, lastUsedAt: null,
    };
    await run(
      `insert into ${this.table} (id, name, prefix, hash, role, tier, subject, created_at, expires_at) values (${[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => this.p(n)).join(', ')})`,
      [record.id, record.name, prefix, sha256(key).toString('hex'), record.role, record.tier, record.subject, record.createdAt, record.expiresAt]);
    return { key, record };
  }

  /** Every key, newest first, without hashes. */
  async list(): Promise<ApiKeyRecord[]> {
    const rows = await this.db.query(`select ${COLUMNS} from ${this.table} order by created_at desc, id`, []);
    return rows.map((r) => toStored(r, '').record);
  }

  /** The key with this id (`key_…`) or prefix (`sk_…`), without its hash; null when unknown. */
  async get(id: string): Promise<ApiKeyRecord | null> {
    const [row] = await this.db.query(`select ${COLUMNS} from ${this.table} where id = ${this.p(1)} or prefix = ${this.p(1)}`, [id]);
    return row ? toStored(row, '').record : null;
  }

  /** Revokes now; a key revoked before keeps its first `revoked_at`. Null when unknown. */
  async revoke(idOrPrefix: string): Promise<ApiKeyRecord | null> {
    const [row] = await this.db.write(
      `update ${this.table} set revoked_at = coalesce(revoked_at, ${this.p(2)}) where id = ${this.p(1)} or prefix = ${this.p(1)} returning ${COLUMNS}`,
      [idOrPrefix, this.isoNow()]);
    if (!row) return null;
    const stored = toStored(row, '');
    this.forget(stored.record.prefix);
    return stored.record;
  }

  /**
   * A new key with the old one's name, role, tier, subject and lifetime (an expiring key's
   * successor expires as long after its creation). The old key is revoked now, or with `grace`
   * expires then (never later than it already would). Null when unknown; throws when revoked.
   */
  async rotate(id: string, options: { grace?: number; expiresAt?: Date | null } = {}): Promise<{ key: string; record: ApiKeyRecord } | null> {
    const now = this.now();
    const result = await this.db.transaction(async (tx) => {
      // Locked on PostgreSQL so that two rotations of one key cannot both succeed; SQLite's
      // transaction holds the database's write lock from its start.
      const lock = this.db.dialect === 'postgres' ? ' for update' : '';
      const [row] = await tx.query(`select ${COLUMNS} from ${this.table} where id = ${this.p(1)} or prefix = ${this.p(1)}${lock}`, [id]);
      if (!row) return null;
      const old = toStored(row, '');
      if (old.record.revokedAt !== null) throw new Error(`API key ${id} is revoked: create a new key instead`);
      const grace = Math.max(0, options.grace ?? 0);
      if (grace > 0) {
        const until = Math.min(now + grace, old.expiresAt ?? Infinity);
        await tx.query(`update ${this.table} set expires_at = ${this.p(2)} where id = ${this.p(1)}`, [old.record.id, new Date(until).toISOString()]);
      } else {
        await tx.query(`update ${this.table} set revoked_at = ${this.p(2)} where id = ${this.p(1)}`, [old.record.id, new Date(now).toISOString()]);
      }
      const { name, role, tier, subject, createdAt } = old.record;
      const lifetime = old.expiresAt === null ? null : old.expiresAt - Date.parse(createdAt);
      const expiresAt = options.expiresAt !== undefined ? options.expiresAt : lifetime === null ? null : new Date(now + lifetime);
      const created = await this.insert({ name, role, tier, subject, expiresAt }, (sql, params) => tx.query(sql, params));
      return { created, prefix: old.record.prefix };
    });
    if (result) this.forget(result.prefix);
    return result?.created ?? null;
  }

  /** The record of a valid presented key, or null (unknown prefix, wrong secret, revoked, expired). */
  async authenticate(presented: string): Promise<ApiKeyRecord | null> {
    const cached = this.cachedAuthenticate(presented);
    if (cached !== undefined) return cached;
    return this.verify(await this.lookup(presented.slice(0, PREFIX_LENGTH)), presented);
  }

  /** Same, synchronously, from the cache only: a record, null (known invalid), or undefined (not cached: call authenticate). */
  cachedAuthenticate(presented: string): ApiKeyRecord | null | undefined {
    if (!ApiKeyStore.looksLikeKey(presented)) return null;
    const prefix = presented.slice(0, PREFIX_LENGTH);
    const entry = this.known.get(prefix) ?? this.unknown.get(prefix);
    if (!entry || this.now() - entry.at >= this.options.cacheTtl) return undefined;
    return this.verify(entry.row, presented);
  }

  private verify(row: StoredKey | null, presented: string): ApiKeyRecord | null {
    if (!row) return null;
    const hash = sha256(presented);
    if (row.hash.length !== hash.length || !timingSafeEqual(row.hash, hash)) return null;
    const now = this.now();
    if (row.record.revokedAt !== null || (row.expiresAt !== null && row.expiresAt <= now)) return null;
    this.touched.set(row.record.id, now);
    return row.record;
  }

  /** One query per prefix at a time: concurrent requests with the same key share it. */
  private lookup(prefix: string): Promise<StoredKey | null> {
    const pending = this.inflight.get(prefix);
    if (pending) return pending;
    const at = this.now();
    const promise = this.db.query(`select ${COLUMNS}, hash from ${this.table} where prefix = ${this.p(1)}`, [prefix]).then((rows) => {
      const row = rows[0] ? toStored(rows[0], rows[0][10]) : null;
      // A revoke on this instance while the query ran makes its answer stale: keep it out.
      if (this.inflight.get(prefix) === promise) {
        this.inflight.delete(prefix);
        if (row) remember(this.known, prefix, { row, at }, MAX_CACHED);
        else remember(this.unknown, prefix, { row, at }, MAX_CACHED);
      }
      return row;
    }, (err: unknown) => {
      if (this.inflight.get(prefix) === promise) this.inflight.delete(prefix);
      throw err;
    });
    this.inflight.set(prefix, promise);
    return promise;
  }

  private forget(prefix: string): void {
    this.known.delete(prefix);
    this.unknown.delete(prefix);
    this.inflight.delete(prefix);
  }

  /** Writes the pending `last_used_at` values in one statement (never moving one back). */
  async flush(): Promise<void> {
    if (this.touched.size === 0) return;
    const batch = this.touched;
    this.touched = new Map();
    const uses = Object.fromEntries([...batch].map(([id, at]) => [id, new Date(at).toISOString()]));
    const sql = this.db.dialect === 'postgres'
      ? `update ${this.table} as k set last_used_at = u.at::timestamptz from json_each_text($1::json) as u(id, at) where k.id = u.id and (k.last_used_at is null or k.last_used_at < u.at::timestamptz)`
      : `update ${this.table} set last_used_at = u.value from json_each(?1) as u where ${this.table}.id = u.key and (last_used_at is null or last_used_at < u.value)`;
    try {
      await this.db.write(sql, [JSON.stringify(uses)]);
    } catch (err) {
      for (const [id, at] of batch) if (!(this.touched.get(id)! >= at)) this.touched.set(id, at);
      throw err;
    }
  }

  /** Flushes and stops the timer; the database stays open (it is not the store's). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}

/**
 * The audit log: one row per written row — who (key id or token subject), role, action,
 * resource, the row's key, and the whole row before and after — inserted by the write's own
 * transaction, so a write and its record commit or roll back together.
 */
import type { Row } from '../db/database.ts';
import type { DialectName } from '../schema/model.ts';
import type { Compiled } from '../sql/statement.ts';
import type { Principal } from './principal.ts';
import { systemTable } from './system-tables.ts';

export type AuditAction = 'create' | 'update' | 'replace' | 'delete';

export interface AuditEntry {
  readonly action: AuditAction;
  /** The row's key as JSON text (`["42"]`), or null for a table without a primary key. */
  readonly key: string | null;
  readonly before: string | null;
  readonly after: string | null;
}

const COLUMNS = ['at', 'request_id', 'actor_kind', 'actor', 'role', 'action', 'resource', 'row_key', 'before', 'after'];

/** The key of an image row [j, k0…kn, …] as JSON text. */
export function rowKey(row: Row, keyCount: number): string | null {
  return keyCount === 0 ? null : JSON.stringify(row.slice(1, 1 + keyCount).map((v) => String(v)));
}

/**
 * Entries from the images read before and after a write, paired by key: a row only before was
 * deleted, one only after was created (the action of an upsert's new rows), both: changed.
 */
export function auditEntries(action: AuditAction, keyCount: number, before: readonly Row[], after: readonly Row[]): AuditEntry[] {
  const prior = new Map<string, string>();
  for (const row of before) prior.set(rowKey(row, keyCount) ?? '', String(row[0]));
  const out: AuditEntry[] = [];
  for (const row of after) {
    const key = rowKey(row, keyCount);
    const was = key === null ? undefined : prior.get(key);
    if (was !== undefined) prior.delete(key!);
    const kind = was === undefined ? (action === 'update' ? 'update' : 'create') : action === 'create' ? 'update' : action;
    out.push({ action: kind, key, before: was ?? null, after: String(row[0]) });
  }
  for (const [key, json] of prior) out.push({ action: action === 'create' ? 'update' : action, key: keyCount ? key : null, before: json, after: null });
  return out;
}

/** @example db.query(...Object.values(auditInsert('postgres', principal, 'orders', requestId, entries))) */
export function auditInsert(dialect: DialectName, principal: Principal, resource: string, requestId: string, entries: readonly AuditEntry[]): Compiled {
  const params: unknown[] = [];
  const at = new Date().toISOString();
  const rows = entries.map((e) => {
    const values = [at, requestId, principal.kind, principal.id, principal.role, e.action, resource, e.key, e.before, e.after];
    return `(${values.map((v) => {
      params.push(v);
      return dialect === 'postgres' ? `$${params.length}` : '?';
    }).join(', ')})`;
  });
  return { text: `insert into ${systemTable(dialect, 'audit_log')} (${COLUMNS.join(', ')}) values ${rows.join(', ')}`, params };
}

/**
 * Opaque keyset cursors: base64url JSON of the last row's sort values, tagged with a hash of the
 * resource and sort so that a cursor only continues the listing it came from. Values are checked
 * against column types when read back, like any other input: a forged cursor can move the start
 * of a page but never reach past the request's filters.
 */
import { createHash } from 'node:crypto';
import { SluiceError } from '../errors/registry.ts';
import { coerceValue } from './coerce.ts';
import type { PlanSort } from './nodes.ts';

const tags = new Map<string, string>();

/** @example sortTag('orders', sort) → 'k3J9x0aQ' */
export function sortTag(resource: string, sort: readonly PlanSort[]): string {
  const text = `${resource}|${sort.map((s) => `${s.column.name}:${s.descending ? 'd' : 'a'}`).join(',')}`;
  let tag = tags.get(text);
  if (tag === undefined) {
    tag = createHash('sha256').update(text).digest('base64url').slice(0, 10);
    if (tags.size < 10_000) tags.set(text, tag); // hashing on every list request showed in profiles
  }
  return tag;
}

/** The cursor after a row whose raw sort values (as the driver returned them) are `values`. */
export function encodeCursor(tag: string, sort: readonly PlanSort[], values: readonly unknown[]): string {
  const plain = values.map((v, i) => {
    if (v === null || v === undefined) return null;
    if (sort[i]?.column.type.kind === 'boolean') return v === true || v === 't' || v === 1 || v === 1n || v === 'true' ? 'true' : 'false';
    return String(v);
  });
  return Buffer.from(JSON.stringify({ t: tag, v: plain })).toString('base64url');
}

const bad = (why: string) => new SluiceError('SLUICE_INVALID_CURSOR', `cursor: ${why}`, [{ field: 'cursor', message: why }]);

/** Typed sort values of the row a cursor points after. */
export function decodeCursor(cursor: string, tag: string, sort: readonly PlanSort[]): unknown[] {
  if (cursor.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad('not a cursor issued by this API');
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad('not a cursor issued by this API');
  }
  const { t, v } = (data ?? {}) as { t?: unknown; v?: unknown };
  if (typeof t !== 'string' || !Array.isArray(v)) throw bad('not a cursor issued by this API');
  if (t !== tag || v.length !== sort.length) throw bad('issued for another resource or sort order; start again without cursor');
  return v.map((value, i) => {
    const { column } = sort[i]!;
    if (value === null) {
      if (!column.nullable) throw bad('not a cursor issued by this API');
      return null;
    }
    if (typeof value !== 'string') throw bad('not a cursor issued by this API');
    try {
      return coerceValue(column.type, column, value, 'cursor');
    } catch {
      throw bad('not a cursor issued by this API');
    }
  });
}

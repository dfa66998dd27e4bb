/**
 * Who is calling: the role that decides what the request may do, the claims that fill `$auth.*`
 * values of the role's policies, and an id for the audit log and request logs. Also fills a
 * compiled statement's claim slots from those claims.
 */
import type { Compiled, Slot } from '../sql/statement.ts';
import type { SqlCompiler } from '../sql/compiler.ts';
import { coerceValue } from '../plan/coerce.ts';

export interface Principal {
  readonly kind: 'anonymous' | 'apiKey' | 'jwt';
  readonly role: string;
  /** `$auth.<claim>` values: a JWT's verified payload; for a key `{ sub, role, key_id, name, tier }`. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** The key id or the token's subject (null for anonymous callers). */
  readonly id: string | null;
  /** The rate tier of a key (null otherwise). */
  readonly tier: string | null;
}

/** The value at a dotted claim path, or undefined. */
export function claimValue(claims: Readonly<Record<string, unknown>>, path: readonly string[]): unknown {
  let node: unknown = claims;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/**
 * A claim as a value of a column, or null when the claim is missing or does not fit the column —
 * a condition compared with NULL matches no row, so a caller without the claim sees nothing.
 */
export function claimFor(claims: Readonly<Record<string, unknown>>, slot: Pick<Slot, 'claim' | 'column'>): unknown {
  const raw = claimValue(claims, slot.claim.path);
  if (raw === null || raw === undefined || typeof raw === 'object') return null;
  try {
    return coerceValue(slot.column.type, slot.column, String(raw), '$auth');
  } catch {
    return null;
  }
}

/**
 * The parameters of `statement` with its claim slots filled for this caller: in `params` when the
 * caller already made this request's own copy, else in a copy (none when there are no slots).
 */
export function fillSlots(statement: Compiled, claims: Readonly<Record<string, unknown>>, compiler: SqlCompiler, params?: unknown[]): readonly unknown[] {
  if (!statement.slots) return params ?? statement.params;
  params ??= [...statement.params];
  for (const slot of statement.slots) params[slot.index] = compiler.bind(claimFor(claims, slot), slot.column.type);
  return params;
}

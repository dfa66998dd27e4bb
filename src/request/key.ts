/**
 * The row key in a path: `/orders/42`, or `/order_items/5,17` for a composite key in key order.
 * Parts are split on literal commas before percent-decoding, so `%2C` is a comma inside a part.
 */
import { SluiceError } from '../errors/registry.ts';
import { coerceValue } from '../plan/coerce.ts';
import type { Resource } from '../schema/model.ts';

/** @example parseKey(orderItems, '5,17') → [5n, 17n] */
export function parseKey(resource: Resource, rawId: string): unknown[] {
  if (resource.primaryKey.length === 0) {
    throw new SluiceError('SLUICE_NOT_FOUND', `${resource.name} has no primary key, so its rows have no paths of their own; filter the list instead`);
  }
  if (resource.primaryKey.length === 1 && !rawId.includes(',')) return [keyPart(resource, 0, rawId)];
  const parts = rawId.split(',');
  if (parts.length !== resource.primaryKey.length) {
    throw new SluiceError('SLUICE_INVALID_VALUE', `the key of ${resource.name} has ${resource.primaryKey.length} part(s) (${resource.primaryKey.join(',')}), the path gives ${parts.length}`, [{ field: 'id', message: `expected ${resource.primaryKey.join(',')}` }]);
  }
  return parts.map((part, i) => keyPart(resource, i, part));
}

/** One part of a key, percent-decoded and checked against its column's type. */
function keyPart(resource: Resource, i: number, part: string): unknown {
  let text = part;
  if (part.includes('%')) {
    try {
      text = decodeURIComponent(part);
    } catch {
      throw new SluiceError('SLUICE_INVALID_VALUE', 'the key in the path has malformed percent-encoding', [{ field: 'id', message: 'malformed percent-encoding' }]);
    }
  }
  const column = resource.columnsByName.get(resource.primaryKey[i]!)!;
  return coerceValue(column.type, column, text, column.name);
}

/** The path segment of a row, for `Location` headers: key parts encoded and joined with commas. */
export function formatKey(values: readonly unknown[]): string {
  return values.map((v) => encodeURIComponent(String(v))).join(',');
}

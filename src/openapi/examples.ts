/**
 * Example values for the OpenAPI document, derived from column types only (never from data), so
 * the document stays a pure function of the schema snapshot. Each value is valid for its column's
 * JSON Schema: strings respect `maxLength`, enums take their first value, decimals their scale.
 */
import type { Column, ColumnType, Resource } from '../schema/model.ts';
import { operatorApplies, sortable } from '../plan/coerce.ts';

function typeExample(type: ColumnType, name: string): unknown {
  switch (type.kind) {
    case 'integer': case 'bigint': {
      const min = type.range ? Number(type.range[0]) : 1;
      return min > 1 ? min : 1;
    }
    case 'number': return 1.5;
    case 'decimal': return type.scale ? `19.${'9'.repeat(type.scale)}` : '19';
    case 'boolean': return true;
    case 'date': return '2024-01-31';
    // As the database prints them: an offset only where the type keeps one.
    case 'timestamp': return type.withTimeZone ? '2024-01-31T12:00:00+00:00' : '2024-01-31T12:00:00';
    case 'time': return type.withTimeZone ? '12:00:00+00:00' : '12:00:00';
    case 'uuid': return '3f2c8e9a-1b4d-4c6e-9f00-2a7b5c8d1e4f';
    case 'json': return { key: 'value' };
    case 'bytes': return 'AAECAw==';
    case 'tsvector': return "'example':1";
    case 'array': return type.element ? [typeExample(type.element, name)] : [];
    case 'string': {
      if (type.enumValues?.length) return type.enumValues[0];
      const text = /e-?mail/i.test(name) ? 'user@example.com' : 'example';
      return type.maxLength !== undefined && type.maxLength < text.length ? 'ABCDEFGH'.slice(0, type.maxLength) : text;
    }
    default: return 'example';
  }
}

/** @example exampleValue(orders.columnsByName.get('total')!) === '19.99' */
export function exampleValue(column: Column): unknown {
  return typeExample(column.type, column.name);
}

/** The example as it is written in a URL. @example urlValue(totalColumn) === '19.99' */
function urlValue(column: Column): string {
  const v = exampleValue(column);
  return encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v));
}

/** A column worth filtering on in an example: text first, then anything comparable, never the key. */
function filterColumn(resource: Resource): Column | undefined {
  const candidates = resource.columns.filter((c) => !resource.primaryKey.includes(c.name) && operatorApplies('eq', c.type));
  return candidates.find((c) => c.type.kind === 'string') ?? candidates[0];
}

/** An example filter of the resource (`status=example`), or null when no column takes `eq`. */
export function exampleFilter(resource: Resource): string | null {
  const filter = filterColumn(resource);
  return filter ? `${filter.name}=${urlValue(filter)}` : null;
}

/**
 * Example list URLs (relative to the server URL) that show filters, embeds, sorting and paging.
 * @example exampleListUrls(orders, '/orders')[0] === '/orders?status=example&include=customer&sort=-created_at&limit=10'
 */
export function exampleListUrls(resource: Resource, path: string): string[] {
  const filter = filterColumn(resource);
  const relation = [...resource.relations.keys()].sort()[0];
  const sortBy = resource.columns.find((c) => c.type.kind === 'timestamp' || c.type.kind === 'date')
    ?? resource.columns.find((c) => sortable(c.type));
  const first = [
    exampleFilter(resource) ?? '',
    relation ? `include=${relation}` : '',
    sortBy ? `sort=-${sortBy.name}` : '',
    'limit=10',
  ].filter(Boolean).join('&');
  const urls = [`${path}?${first}`];
  const ranged = resource.columns.find((c) => ['integer', 'number', 'decimal', 'date', 'timestamp'].includes(c.type.kind) && !resource.primaryKey.includes(c.name));
  const shown = resource.columns.slice(0, 3).map((c) => c.name).join(',');
  if (ranged) urls.push(`${path}?${ranged.name}[gte]=${urlValue(ranged)}&fields=${shown}&count=exact`);
  if (filter && filter.type.kind === 'string' && !filter.type.enumValues) urls.push(`${path}?or=(${filter.name}.ilike.*ex*,${filter.name}.null.true)`);
  return urls;
}

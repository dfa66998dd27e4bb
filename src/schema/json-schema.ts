/**
 * JSON Schemas of rows, derived from the snapshot: `read` describes what responses carry (exact
 * numerics as strings…), `write` what request bodies may hold. Write bodies are validated against
 * them before anything reaches the database, and the OpenAPI document publishes both.
 */
import type { Column, ColumnType, Resource } from './model.ts';

export type JsonSchema = Record<string, unknown>;
export type RowMode = 'read' | 'insert' | 'update' | 'replace';

const INTEGER_TEXT = '^-?\\d{1,19}$';
const DECIMAL_TEXT = '^[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?$';
const BASE64 = '^[A-Za-z0-9+/]*={0,2}$';

function typeSchema(type: ColumnType, mode: RowMode): JsonSchema {
  const write = mode !== 'read';
  switch (type.kind) {
    case 'integer': return { type: 'integer', ...(type.range ? { minimum: Number(type.range[0]), maximum: Number(type.range[1]) } : {}) };
    // Beyond 2^53 a JSON number loses digits: such values travel as strings.
    case 'bigint': return write
      ? { anyOf: [{ type: 'integer', minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }, { type: 'string', pattern: INTEGER_TEXT }] }
      : { anyOf: [{ type: 'integer' }, { type: 'string', pattern: INTEGER_TEXT }], description: '64-bit integer: a string beyond 2^53' };
    case 'number': return { type: 'number' };
    case 'decimal': {
      // numeric(p,s) holds |x| < 10^(p-s); strings are checked the same way after the schema.
      const bound = type.precision !== undefined ? 10 ** (type.precision - (type.scale ?? 0)) : undefined;
      const number = bound === undefined ? { type: 'number' } : { type: 'number', exclusiveMinimum: -bound, exclusiveMaximum: bound };
      return write ? { anyOf: [number, { type: 'string', pattern: DECIMAL_TEXT }] } : { type: 'string', pattern: DECIMAL_TEXT, description: 'exact decimal as a string' };
    }
    case 'boolean': return { type: 'boolean' };
    case 'date': return { type: 'string', format: 'date' };
    // RFC 3339 (date-time, time) needs an offset; a column without a time zone prints none.
    case 'timestamp': return { type: 'string', format: write || !type.withTimeZone ? 'iso-date-time' : 'date-time' };
    case 'time': return { type: 'string', format: write || !/with time zone|timetz/.test(type.dbType) ? 'iso-time' : 'time' };
    case 'uuid': return { type: 'string', format: 'uuid' };
    case 'json': return {};
    case 'bytes': return { type: 'string', contentEncoding: 'base64', ...(write ? { pattern: BASE64 } : {}) };
    case 'array': return { type: 'array', items: type.element ? typeSchema(type.element, mode) : {} };
    case 'string': return {
      type: 'string',
      ...(type.enumValues ? { enum: type.enumValues } : {}),
      ...(type.maxLength !== undefined ? { maxLength: type.maxLength } : {}),
    };
    default: return { type: 'string' };
  }
}

/** @example columnSchema(orders.columnsByName.get('total'), 'read') → { type: 'string', … } */
export function columnSchema(column: Column, mode: RowMode): JsonSchema {
  const base = typeSchema(column.type, mode);
  const described = { ...base, ...(column.comment ? { description: column.comment } : {}), ...(column.readOnly && mode === 'read' ? { readOnly: true } : {}) };
  if (!column.nullable || column.type.kind === 'json') return described;
  return Object.keys(base).length === 1 && typeof base.type === 'string'
    ? { ...described, type: [base.type, 'null'] }
    : { anyOf: [base, { type: 'null' }], ...(column.comment ? { description: column.comment } : {}) };
}

/** Columns a body must carry when creating a row. */
export function requiredOnInsert(resource: Resource): string[] {
  return resource.columns.filter((c) => !c.nullable && !c.hasDefault && !c.readOnly).map((c) => c.name);
}

/** The schema of one row for reading, or of one request body row for a kind of write. */
export function rowSchema(resource: Resource, mode: RowMode): JsonSchema {
  const columns = mode === 'read' ? resource.columns : resource.columns.filter((c) => !c.readOnly);
  const properties = Object.fromEntries(columns.map((c) => [c.name, columnSchema(c, mode)]));
  // PUT takes the primary key from the path, so the body need not repeat it.
  const required = mode === 'read' ? resource.columns.map((c) => c.name)
    : mode === 'update' ? []
    : requiredOnInsert(resource).filter((c) => mode === 'insert' || !resource.primaryKey.includes(c));
  return { type: 'object', properties, ...(required.length ? { required } : {}), additionalProperties: false };
}

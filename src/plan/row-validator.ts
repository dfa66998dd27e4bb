/**
 * Validates write bodies against the resource's JSON Schema (Ajv, compiled once per resource and
 * kind of write) before anything reaches the database: a 422 lists every field that is wrong.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { SluiceError, type FieldError } from '../errors/registry.ts';
import type { Resource } from '../schema/model.ts';
import { rowSchema, type RowMode } from '../schema/json-schema.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = addFormats(new Ajv({ allErrors: true, strict: false, coerceTypes: false, strictNumbers: true }));
const cache = new WeakMap<Resource, Map<RowMode, ValidateFunction>>();

function validator(resource: Resource, mode: Exclude<RowMode, 'read'>): ValidateFunction {
  let byMode = cache.get(resource);
  if (!byMode) cache.set(resource, (byMode = new Map()));
  let fn = byMode.get(mode);
  if (!fn) byMode.set(mode, (fn = ajv.compile(rowSchema(resource, mode))));
  return fn;
}

function fieldErrors(errors: readonly ErrorObject[], prefix: string): FieldError[] {
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    const path = e.instancePath.split('/').slice(1).join('.');
    let field = path, message = e.message ?? 'is invalid';
    if (e.keyword === 'required') {
      field = String((e.params as { missingProperty: string }).missingProperty);
      message = 'is required';
    } else if (e.keyword === 'additionalProperties') {
      field = String((e.params as { additionalProperty: string }).additionalProperty);
      message = 'is not a writable column of this resource';
    } else if (e.keyword === 'anyOf' || e.keyword === 'type' || e.keyword === 'pattern') {
      message = e.keyword === 'anyOf' ? 'has the wrong type or form' : message;
    }
    const key = `${prefix}${field}`;
    if (seen.has(key) && e.keyword !== 'required' && e.keyword !== 'additionalProperties') continue;
    seen.add(key);
    out.push({ field: key || '(body)', message });
  }
  return out;
}

/**
 * What JSON Schema cannot say: 64-bit integers given as strings stay within the column's range,
 * decimals within numeric(p,s) once rounded to its scale, and text holds no NUL character. PostgreSQL would refuse such values itself; SQLite would
 * store them, so Sluice refuses them first, alike on every dialect.
 */
function rangeErrors(resource: Resource, row: Readonly<Record<string, unknown>>, prefix: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const [name, value] of Object.entries(row)) {
    const type = resource.columnsByName.get(name)?.type;
    if (!type || value === null) continue;
    if ((type.kind === 'bigint' || type.kind === 'integer') && typeof value === 'string' && /^-?\d+$/.test(value) && type.range) {
      const n = BigInt(value);
      if (n < type.range[0] || n > type.range[1]) errors.push({ field: `${prefix}${name}`, message: `must be from ${type.range[0]} to ${type.range[1]}` });
    }
    if (typeof value === 'string' && value.includes('\0')) errors.push({ field: `${prefix}${name}`, message: 'must not contain NUL characters' });
    if (type.kind === 'decimal' && (typeof value === 'string' || typeof value === 'number')) {
      // Rounded to the column's scale first, as the database stores it (99999999.995 → 100000000.00).
      const scale = type.scale ?? 0;
      const n = type.scale === undefined ? Number(value) : Math.round(Number(value) * 10 ** scale) / 10 ** scale;
      const bound = type.precision !== undefined ? 10 ** (type.precision - scale) : Infinity;
      if (!Number.isFinite(n) || Math.abs(n) >= bound) {
        errors.push({ field: `${prefix}${name}`, message: bound === Infinity ? 'must be a finite number' : `must be below ${bound} in magnitude (${type.dbType})` });
      }
    }
  }
  return errors;
}

export interface ValidatedBody {
  readonly rows: ReadonlyArray<Readonly<Record<string, unknown>>>;
  /** The body was an array (a bulk create). */
  readonly many: boolean;
}

/** @example validateBody(orders, { customer_id: 7, status: 'paid', total: '9.90' }, 'insert', 1000) */
export function validateBody(resource: Resource, body: unknown, mode: Exclude<RowMode, 'read'>, maxBatch: number, provided?: ReadonlySet<string>): ValidatedBody {
  const many = Array.isArray(body);
  if (many && mode !== 'insert') throw new SluiceError('SLUICE_INVALID_BODY', 'expected one JSON object', [{ field: '(body)', message: 'expected an object' }]);
  const rows = many ? (body as unknown[]) : [body];
  if (rows.length === 0) throw new SluiceError('SLUICE_INVALID_BODY', 'expected at least one row', [{ field: '(body)', message: 'empty array' }]);
  if (rows.length > maxBatch) {
    throw new SluiceError('SLUICE_BATCH_TOO_LARGE', `a bulk create holds at most ${maxBatch} rows (limits.maxBatch); this one holds ${rows.length}`, [{ field: '(body)', message: `at most ${maxBatch} rows` }]);
  }
  const validate = validator(resource, mode);
  const errors: FieldError[] = [];
  rows.forEach((row, i) => {
    const prefix = many ? `[${i}].` : '';
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      errors.push({ field: many ? `[${i}]` : '(body)', message: 'expected an object' });
      return;
    }
    for (const key of Object.keys(row)) {
      const column = resource.columnsByName.get(key);
      if (column?.readOnly) errors.push({ field: `${prefix}${key}`, message: 'is computed by the database and cannot be written' });
    }
    if (!validate(row)) errors.push(...fieldErrors(validate.errors ?? [], prefix).filter((e) => !errors.some((x) => x.field === e.field)));
    else errors.push(...rangeErrors(resource, row as Record<string, unknown>, prefix));
    if (mode === 'update' && Object.keys(row).length === 0) errors.push({ field: '(body)', message: 'sets no column' });
  });
  // Columns a policy preset fills are not the body's to provide.
  if (provided?.size) errors.splice(0, errors.length, ...errors.filter((e) => !(e.message === 'is required' && provided.has(e.field.replace(/^\[\d+\]\./, '')))));
  if (errors.length) {
    const first = errors[0]!;
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    throw new SluiceError('SLUICE_INVALID_BODY', `${resource.name}: ${first.field} ${first.message}${more}`, errors.slice(0, 100));
  }
  return { rows: rows as Record<string, unknown>[], many };
}

/**
 * Checks a raw URL value against a column type and turns it into the value to bind. Anything that
 * does not fit is a 400 naming the parameter, so no malformed value ever reaches the database.
 */
import { SluiceError } from '../errors/registry.ts';
import type { Column, ColumnType } from '../schema/model.ts';

const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?$/;
const TIME = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|([+-])(\d{2})(?::?(\d{2}))?)?$/;

/** A UTC offset such as +05:30 exists (hours up to 15, minutes below 60). */
const validOffset = (hours: string | undefined, minutes: string | undefined) => hours === undefined || (Number(hours) <= 15 && Number(minutes ?? 0) < 60);
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const INFINITE = new Set(['infinity', '-infinity']);
/** Integers of a type without a declared range: those a JSON number holds exactly. */
const SAFE_RANGE = [BigInt(Number.MIN_SAFE_INTEGER), BigInt(Number.MAX_SAFE_INTEGER)] as const;

function invalid(param: string, column: Column, value: string, expected: string): SluiceError {
  const shown = value.length > 60 ? `${value.slice(0, 60)}…` : value;
  return new SluiceError('SLUICE_INVALID_VALUE', `${param}: '${shown}' is not a valid value for ${column.name} (${column.type.dbType}): expected ${expected}`,
    [{ field: param, message: `expected ${expected}` }]);
}

function validDate(y: string, m: string, d: string): boolean {
  const month = Number(m), day = Number(d);
  return Number(y) >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= new Date(Date.UTC(Number(y), month, 0)).getUTCDate();
}

/** The semantic value of `raw` for a column of `type`, or a thrown 400. */
export function coerceValue(type: ColumnType, column: Column, raw: string, param: string): unknown {
  switch (type.kind) {
    case 'integer':
    case 'bigint': {
      if (!INTEGER.test(raw)) throw invalid(param, column, raw, 'an integer');
      const n = BigInt(raw);
      const [min, max] = type.range ?? SAFE_RANGE;
      if (n < min || n > max) throw invalid(param, column, raw, `an integer from ${min} to ${max}`);
      return type.kind === 'integer' ? Number(n) : n;
    }
    case 'number': {
      if (/^(NaN|[+-]?Infinity)$/.test(raw)) return raw;
      if (!NUMBER.test(raw) || !Number.isFinite(Number(raw))) throw invalid(param, column, raw, 'a number');
      return Number(raw);
    }
    case 'decimal':
      if (!NUMBER.test(raw) || raw.length > 1000 || !Number.isFinite(Number(raw))) throw invalid(param, column, raw, 'a decimal number');
      return raw;
    case 'boolean':
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      throw invalid(param, column, raw, 'true or false');
    case 'date': {
      const m = DATE.exec(raw);
      if ((!m || !validDate(m[1]!, m[2]!, m[3]!)) && !INFINITE.has(raw)) throw invalid(param, column, raw, 'a date (YYYY-MM-DD)');
      return raw;
    }
    case 'timestamp': {
      const m = TIMESTAMP.exec(raw);
      const ok = m && validDate(m[1]!, m[2]!, m[3]!) && Number(m[4] ?? 0) < 24 && Number(m[5] ?? 0) < 60 && Number(m[6] ?? 0) < 60 && validOffset(m[10], m[11]);
      if (!ok && !INFINITE.has(raw)) throw invalid(param, column, raw, 'an ISO 8601 timestamp (2024-01-31T12:00:00Z)');
      return raw;
    }
    case 'time': {
      const m = TIME.exec(raw);
      if (!m || Number(m[1]) > 24 || Number(m[2]) > 59 || Number(m[3] ?? 0) > 59 || !validOffset(m[5], m[6])) throw invalid(param, column, raw, 'a time (HH:MM:SS)');
      return raw;
    }
    case 'uuid':
      if (!UUID.test(raw)) throw invalid(param, column, raw, 'a UUID');
      return raw;
    case 'string':
      if (type.enumValues && !type.enumValues.includes(raw)) throw invalid(param, column, raw, `one of ${type.enumValues.join(', ')}`);
      if (raw.includes('\0')) throw invalid(param, column, raw, 'text without NUL characters');
      return raw;
    default:
      if (raw.includes('\0')) throw invalid(param, column, raw, 'text without NUL characters');
      return raw;
  }
}

/**
 * A timestamp as UTC text that sorts like the instant it names: `YYYY-MM-DDTHH:MM:SS[.f]+00:00`
 * (the form PostgreSQL prints). SQLite compares timestamps as text, so Sluice writes and compares
 * this one form there. Values that are not ISO timestamps are returned unchanged.
 * @example canonicalTimestamp('2024-01-01T01:00:00+01:00') === '2024-01-01T00:00:00+00:00'
 */
export function canonicalTimestamp(raw: string): string {
  const m = TIMESTAMP.exec(raw);
  if (!m) return raw;
  const [, y, mo, d, h = '00', mi = '00', sec = '00', frac = '', , sign, oh = '00', om = '00'] = m;
  const offset = sign ? (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) : 0;
  const day = new Date(0);
  day.setUTCFullYear(Number(y), Number(mo) - 1, Number(d)); // not Date.UTC: it reads years 0–99 as 19xx
  const date = new Date(day.getTime() + ((Number(h) * 60 + Number(mi) - offset) * 60 + Number(sec)) * 1000);
  if (!Number.isFinite(date.getTime()) || date.getUTCFullYear() < 0 || date.getUTCFullYear() > 9999) return raw;
  const base = date.toISOString().slice(0, 19);
  const fraction = frac.replace(/0+$/, '');
  return `${base}${fraction === '.' ? '' : fraction}+00:00`;
}

/** Column kinds each operator applies to (`null` applies to all). */
const ORDERED = new Set(['integer', 'bigint', 'number', 'decimal', 'string', 'date', 'timestamp', 'time', 'uuid', 'other']);
const EQUATABLE = new Set([...ORDERED, 'boolean']);
const TEXT = new Set(['string']);

export function operatorApplies(op: string, type: ColumnType): boolean {
  switch (op) {
    case 'null': return true;
    case 'eq': case 'ne': case 'in': case 'nin': return EQUATABLE.has(type.kind);
    case 'gt': case 'gte': case 'lt': case 'lte': return ORDERED.has(type.kind);
    case 'like': case 'ilike': return TEXT.has(type.kind);
    case 'search': return TEXT.has(type.kind) || type.kind === 'tsvector';
    default: return false;
  }
}

/** Whether rows can be ordered by a column of this type. */
export const sortable = (type: ColumnType): boolean => EQUATABLE.has(type.kind);

/**
 * Database errors → coded Sluice errors. Constraint violations name the column where the
 * database tells it; no SQL text, value or table detail from the database reaches a client.
 */
import { SluiceError, type ProblemCode } from '../errors/registry.ts';

interface DriverError {
  code?: string;
  errcode?: number;
  errstr?: string;
  message?: string;
  column?: string;
  constraint?: string;
  detail?: string;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006']);

function fieldsOf(err: DriverError): string[] {
  if (err.column) return [err.column];
  const key = /Key \(([^)]+)\)=/.exec(err.detail ?? '');
  if (key) return key[1]!.split(',').map((s) => s.trim().replace(/^"|"$/g, ''));
  const sqlite = /constraint failed: (.+)$/.exec(err.message ?? '');
  if (sqlite) return sqlite[1]!.split(',').map((s) => s.trim().split('.').at(-1)!);
  return [];
}

function coded(code: ProblemCode, detail: string, err: DriverError, headers?: Record<string, string>): SluiceError {
  const fields = fieldsOf(err);
  return new SluiceError(code, fields.length ? `${detail}: ${fields.join(', ')}` : detail, fields.map((f) => ({ field: f, message: detail })), headers);
}

/**
 * @param write whether the statement wrote: a malformed value then is a 422 (invalid row),
 *   otherwise a 400 (invalid query value).
 */
export function mapDatabaseError(error: unknown, write: boolean): unknown {
  if (error instanceof SluiceError) return error;
  const err = (error ?? {}) as DriverError;
  const code = err.code ?? '';
  const message = err.message ?? '';
  if (code === 'ERR_SQLITE_ERROR') {
    const ext = err.errcode ?? 0;
    if (ext === 2067 || ext === 1555) return coded('SLUICE_UNIQUE_VIOLATION', 'a row with this unique key already exists', err);
    if (ext === 787) return coded('SLUICE_FOREIGN_KEY_VIOLATION', 'the row refers to a missing row, or rows still refer to it', err);
    if (ext === 1299) return coded('SLUICE_NOT_NULL_VIOLATION', 'a value is required', err);
    if (ext === 275) return new SluiceError('SLUICE_CHECK_VIOLATION', 'a check constraint of the table is violated');
    if ((ext & 0xff) === 19) return new SluiceError('SLUICE_INVALID_ROW', 'the database refused the row');
    if ((ext & 0xff) === 5 || (ext & 0xff) === 6) return new SluiceError('SLUICE_DATABASE_UNAVAILABLE', 'the database is busy', undefined, { 'retry-after': '1' });
    if (/too big|string or blob too big/i.test(message)) return new SluiceError(write ? 'SLUICE_INVALID_ROW' : 'SLUICE_INVALID_VALUE', 'a value is too large');
    return error;
  }
  if (code === 'ERR_INVALID_ARG_VALUE' && /too large to bind/.test(message)) return new SluiceError(write ? 'SLUICE_INVALID_ROW' : 'SLUICE_INVALID_VALUE', 'a number is out of range');
  if (code === '23505') return coded('SLUICE_UNIQUE_VIOLATION', 'a row with this unique key already exists', err);
  if (code === '23503') return coded('SLUICE_FOREIGN_KEY_VIOLATION', 'the row refers to a missing row, or rows still refer to it', err);
  if (code === '23502') return coded('SLUICE_NOT_NULL_VIOLATION', 'a value is required', err);
  if (code === '23514') return new SluiceError('SLUICE_CHECK_VIOLATION', `a check constraint of the table is violated${err.constraint ? ` (${err.constraint})` : ''}`);
  if (code.startsWith('23')) return new SluiceError('SLUICE_INVALID_ROW', 'the database refused the row');
  if (code.startsWith('22')) return write ? new SluiceError('SLUICE_INVALID_ROW', 'a value is out of range or of the wrong form') : new SluiceError('SLUICE_INVALID_VALUE', 'a value is out of range or of the wrong form');
  // No equality or ordering operator for the column's type (point, xml…): a bad query, not a crash.
  if (code === '42883') return new SluiceError('SLUICE_OPERATOR_NOT_APPLICABLE', 'the column\'s type cannot be compared or sorted this way');
  if (code === '21000') return new SluiceError(write ? 'SLUICE_INVALID_BODY' : 'SLUICE_BAD_QUERY', 'the request would change or read one row twice');
  if (code === '57014') return new SluiceError('SLUICE_STATEMENT_TIMEOUT', 'the statement ran longer than database.pool.statementTimeout');
  if (code === '40001' || code === '40P01') return new SluiceError('SLUICE_DATABASE_UNAVAILABLE', 'the transaction conflicted with another one; retry', undefined, { 'retry-after': '1' });
  if (CONNECTION_CODES.has(code) || /Connection terminated|connect ECONNREFUSED|getaddrinfo/.test(message)) {
    return new SluiceError('SLUICE_DATABASE_UNAVAILABLE', 'the database cannot be reached', undefined, { 'retry-after': '5' });
  }
  if (/timeout exceeded when trying to connect/i.test(message)) return new SluiceError('SLUICE_POOL_TIMEOUT', 'no database connection became free within database.pool.acquireTimeout', undefined, { 'retry-after': '1' });
  return error;
}

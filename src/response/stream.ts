/**
 * Streamed reads: NDJSON (one row's JSON per line, as the database built it) and CSV (RFC 4180,
 * header first, embeds as JSON in their cell). Rows arrive in batches from a database cursor and
 * leave as one chunk per batch, so memory stays constant whatever the size of the result.
 */
import { Readable } from 'node:stream';
import type { Row } from '../db/database.ts';

const CSV_SPECIAL = /[",\r\n]/;

/** One CSV cell; null is an empty cell. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : String(value);
  return CSV_SPECIAL.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

async function* ndjson(batches: AsyncIterable<Row[]>): AsyncGenerator<string> {
  for await (const rows of batches) {
    let chunk = '';
    for (const row of rows) chunk += `${row[0] as string}\n`;
    yield chunk;
  }
}

async function* csv(header: readonly string[], batches: AsyncIterable<Row[]>): AsyncGenerator<string> {
  yield `${header.map(csvCell).join(',')}\r\n`;
  for await (const rows of batches) {
    let chunk = '';
    for (const row of rows) chunk += `${row.map(csvCell).join(',')}\r\n`;
    yield chunk;
  }
}

/** @example reply.send(ndjsonStream(db.stream(sql, params, 1000))) */
export function ndjsonStream(batches: AsyncIterable<Row[]>): Readable {
  return Readable.from(ndjson(batches), { objectMode: false });
}

export function csvStream(header: readonly string[], batches: AsyncIterable<Row[]>): Readable {
  return Readable.from(csv(header, batches), { objectMode: false });
}

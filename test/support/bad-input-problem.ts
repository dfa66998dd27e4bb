/**
 * What a user must see for bad input (SPEC §4): a 4xx `application/problem+json` with `type`,
 * `title`, `status`, `code`, `detail` and `requestId`, and nothing of the inside — no SQL text,
 * no stack, no file paths, no driver messages. {@link checkProblem} lists every way a response
 * misses that; {@link expectProblem} fails with the request, the list and a body excerpt, so a
 * failing case reads as a bug report.
 *
 * @example await expectProblem(s, { name: 'unknown column', url: '/api/v1/orders?totl=1', status: 400, code: 'SLUICE_UNKNOWN_COLUMN', detail: ['totl'] })
 */
import { expect } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import type { ProblemCode } from '../../src/errors/registry.ts';
import type { TestSluice } from './sluice.ts';

/** One bad request and what SPEC §4 says a user gets back. */
export interface BadCase {
  readonly name: string;
  readonly method?: string;
  readonly url: string;
  /** Sent as JSON text (with `content-type: application/json` unless `headers` say otherwise). */
  readonly json?: unknown;
  /** Sent byte for byte (with `content-type: application/json` unless `headers` say otherwise). */
  readonly raw?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly status: number;
  /** The expected code, or the codes SPEC leaves open. */
  readonly code?: ProblemCode | readonly ProblemCode[];
  /** Substrings the `detail` must contain (the offending parameter or field). */
  readonly detail?: readonly string[];
  /** Names `errors[].field` must contain. */
  readonly field?: string | readonly string[];
}

/** Markers of text that must never reach a client. */
export const LEAKS: ReadonlyArray<readonly [string, RegExp]> = [
  ['SQL text (select)', /\bselect\s/i],
  ['SQL text (insert into)', /\binsert\s+into\b/i],
  ['SQL text (update … set)', /\bupdate\s+"?\w+"?\s+set\b/i],
  ['SQL text (from ")', /\bfrom\s+"/i],
  ['SQL placeholder ($n)', /\$\d/],
  ['SQL placeholder (?n)', /\?\d/],
  ['stack frame', /(^|\\n|\n)\s*at\s+\S+\s+\(|\s{4}at\s/],
  ['internal file path', /\/(src|node_modules|dist|work|home|usr)\/|\.ts:\d+|\.js:\d+|file:\/\//],
  ['JavaScript error class', /\b(TypeError|ReferenceError|RangeError|SyntaxError|AggregateError)\b/],
  ['driver message', /ERR_SQLITE|SQLITE_[A-Z]|sqlite3?_|\bpg_|relation "|violates (check|foreign key|unique|not-null) constraint|syntax error at or near|invalid input syntax/i],
];

export function leaksIn(text: string): string[] {
  return LEAKS.filter(([, re]) => re.test(text)).map(([what]) => what);
}

const codesOf = (c: BadCase['code']): readonly string[] => (c === undefined ? [] : typeof c === 'string' ? [c] : c);

/** What a check needs of a response: an `inject()` answer, or one read off a socket. */
export interface ResponseLike {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string | string[] | number | undefined>>;
  readonly body: string;
}

/** Every way `res` is not the problem `c` expects; empty when it is. */
export function checkProblem(res: ResponseLike, c: Pick<BadCase, 'status' | 'code' | 'detail' | 'field'>): string[] {
  const out: string[] = [];
  if (res.statusCode !== c.status) out.push(`status ${res.statusCode}, expected ${c.status}`);
  if (res.statusCode >= 500) out.push(`a 5xx (${res.statusCode}) for bad input`);
  const type = String(res.headers['content-type'] ?? '');
  if (!type.startsWith('application/problem+json')) out.push(`content-type '${type}', expected application/problem+json`);
  for (const leak of leaksIn(res.body)) out.push(`body leaks ${leak}`);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(res.body) as Record<string, unknown>;
  } catch {
    out.push('body is not JSON');
    return out;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [...out, 'body is not a JSON object'];
  if (typeof body.type !== 'string' || !/^\/problems\/[a-z0-9-]+$/.test(body.type)) out.push(`type ${JSON.stringify(body.type)}, expected /problems/<slug>`);
  if (typeof body.title !== 'string' || body.title === '') out.push('title missing');
  if (body.status !== res.statusCode) out.push(`body.status ${JSON.stringify(body.status)} differs from the HTTP status ${res.statusCode}`);
  if (typeof body.code !== 'string' || !/^SLUICE_[A-Z_]+$/.test(body.code)) out.push(`code ${JSON.stringify(body.code)}, expected SLUICE_*`);
  else if (codesOf(c.code).length && !codesOf(c.code).includes(body.code)) out.push(`code ${body.code}, expected ${codesOf(c.code).join(' or ')}`);
  if (typeof body.detail !== 'string' || body.detail === '') out.push('detail missing');
  else for (const want of c.detail ?? []) if (!body.detail.includes(want)) out.push(`detail does not name '${want}'`);
  if (typeof body.requestId !== 'string' || body.requestId === '') out.push('requestId missing');
  else if (res.headers['x-request-id'] !== undefined && res.headers['x-request-id'] !== body.requestId) out.push('requestId differs from the X-Request-Id header');
  if (body.errors !== undefined) {
    const ok = Array.isArray(body.errors) && body.errors.every((e: unknown) => typeof (e as { field?: unknown })?.field === 'string' && typeof (e as { message?: unknown })?.message === 'string');
    if (!ok) out.push('errors is not a list of { field, message }');
  }
  const wanted = c.field === undefined ? [] : typeof c.field === 'string' ? [c.field] : c.field;
  const fields = Array.isArray(body.errors) ? body.errors.map((e: { field?: unknown }) => e.field) : [];
  for (const field of wanted) if (!fields.includes(field)) out.push(`errors[].field does not include '${field}' (has ${JSON.stringify(fields)})`);
  return out;
}

/** Sends a case through `inject()` (no socket), exactly as written; a header given as '' is left out. */
export function send(s: TestSluice, c: Pick<BadCase, 'method' | 'url' | 'json' | 'raw' | 'headers'>): Promise<LightMyRequestResponse> {
  const payload = c.raw ?? (c.json === undefined ? undefined : JSON.stringify(c.json));
  const all: Record<string, string> = { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...c.headers };
  const headers = Object.fromEntries(Object.entries(all).filter(([, v]) => v !== ''));
  return s.sluice.app.inject({ method: (c.method ?? 'GET') as 'GET', url: c.url, headers, ...(payload === undefined ? {} : { payload }) });
}

export const excerpt = (text: string, n = 400) => (text.length > n ? `${text.slice(0, n)}…` : text);

/** Fails with the request, every mismatch and a body excerpt. */
export function assertProblem(c: BadCase, res: ResponseLike): void {
  const issues = checkProblem(res, c);
  const request = `${c.method ?? 'GET'} ${excerpt(c.url, 200)}${c.raw !== undefined ? ` body ${excerpt(c.raw, 120)}` : c.json !== undefined ? ` body ${excerpt(JSON.stringify(c.json), 120)}` : ''}`;
  expect(issues, `${request}\n→ ${res.statusCode} ${excerpt(res.body)}`).toEqual([]);
}

/** Sends `c` and asserts the problem response. */
export async function expectProblem(s: TestSluice, c: BadCase): Promise<void> {
  assertProblem(c, await send(s, c));
}

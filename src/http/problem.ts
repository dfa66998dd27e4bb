/**
 * The HTTP shell's one place where errors become responses: problem+json (RFC 9457) from the
 * coded registry. Fastify's own errors (body too large, bad JSON, wrong media type) are mapped to
 * codes of the registry; anything unexpected is a 500 whose detail says nothing of the inside.
 */
import { PROBLEMS, SluiceError, type ProblemCode } from '../errors/registry.ts';
import { mapDatabaseError } from '../db/errors.ts';

export interface Problem {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Readonly<Record<string, string>>;
  /** Unexpected: log it with its stack. */
  readonly unexpected: boolean;
}

const FASTIFY_CODES: Record<string, ProblemCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'SLUICE_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'SLUICE_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'SLUICE_INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'SLUICE_INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'SLUICE_BAD_REQUEST',
  FST_ERR_CTP_INVALID_TYPE: 'SLUICE_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_BAD_URL: 'SLUICE_BAD_REQUEST',
};

const FASTIFY_DETAIL: Partial<Record<ProblemCode, string>> = {
  SLUICE_BODY_TOO_LARGE: 'the request body is larger than limits.bodySize',
  SLUICE_UNSUPPORTED_MEDIA_TYPE: 'request bodies must be application/json',
  SLUICE_INVALID_JSON: 'the request body is not valid JSON',
};

function toSluiceError(error: unknown): SluiceError | null {
  if (error instanceof SluiceError) return error;
  const mapped = mapDatabaseError(error, false);
  if (mapped instanceof SluiceError) return mapped;
  const e = error as { code?: string; statusCode?: number; message?: string } | null;
  const code = e?.code ? FASTIFY_CODES[e.code] : undefined;
  if (code) return new SluiceError(code, FASTIFY_DETAIL[code] ?? PROBLEMS[code].title);
  if (error instanceof SyntaxError || (e?.statusCode === 400 && /JSON|prototype|constructor/i.test(e.message ?? ''))) {
    return new SluiceError('SLUICE_INVALID_JSON', 'the request body is not valid JSON');
  }
  if (e?.statusCode && e.statusCode >= 400 && e.statusCode < 500) return new SluiceError('SLUICE_BAD_REQUEST', 'the request cannot be understood as sent');
  return null;
}

/** @example const p = problem(err, requestId); reply.code(p.status).headers(p.headers).send(p.body) */
export function problem(error: unknown, requestId: string): Problem {
  const err = toSluiceError(error) ?? new SluiceError('SLUICE_INTERNAL', 'something failed inside Sluice; the request id finds it in the logs');
  const kind = PROBLEMS[err.code];
  const body: Record<string, unknown> = {
    type: `/problems/${kind.slug}`, title: kind.title, status: kind.status, detail: err.detail, code: err.code, requestId,
  };
  if (err.errors?.length) body.errors = err.errors;
  return { status: kind.status, body, headers: { ...err.headers }, unexpected: err.code === 'SLUICE_INTERNAL' };
}

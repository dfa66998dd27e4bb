/**
 * The one registry of coded errors. Every stage throws {@link SluiceError} with a code from here;
 * only the HTTP shell turns them into problem+json (RFC 9457). `slug` names the page under
 * `/problems/` that explains the error.
 */
export interface ProblemKind {
  readonly status: number;
  readonly title: string;
  readonly slug: string;
  /** One paragraph for the `/problems/{slug}` page. */
  readonly help: string;
}

export const PROBLEMS = {
  SLUICE_BAD_QUERY: { status: 400, title: 'Bad query', slug: 'bad-query', help: 'A query parameter is malformed. The detail names the parameter and what was expected.' },
  SLUICE_UNKNOWN_COLUMN: { status: 400, title: 'Unknown column', slug: 'unknown-column', help: 'The query names a column the resource does not have (or that the caller may not see).' },
  SLUICE_UNKNOWN_RELATION: { status: 400, title: 'Unknown relation', slug: 'unknown-relation', help: 'The query names a relation the resource does not have. Relations come from foreign keys: a to-one relation is named after its column without `_id`, a to-many one after the referencing table.' },
  SLUICE_UNKNOWN_OPERATOR: { status: 400, title: 'Unknown operator', slug: 'unknown-operator', help: 'Filters take the operators eq, ne, gt, gte, lt, lte, in, nin, like, ilike, null and search, optionally negated with `not.`.' },
  SLUICE_OPERATOR_NOT_APPLICABLE: { status: 400, title: 'Operator not applicable', slug: 'operator-not-applicable', help: 'The operator cannot be used with the type of this column (for example `like` on a number).' },
  SLUICE_INVALID_VALUE: { status: 400, title: 'Invalid value', slug: 'invalid-value', help: 'A value in the query or path does not match the type of its column.' },
  SLUICE_LIMIT_TOO_LARGE: { status: 400, title: 'Limit too large', slug: 'limit-too-large', help: 'The requested limit is above `limits.maxLimit` (or `limits.maxStreamRows` for streams). Page with `cursor`, or use an export for large reads.' },
  SLUICE_DEPTH_EXCEEDED: { status: 400, title: 'Embedding too deep', slug: 'depth-exceeded', help: 'Embedded relations nest deeper than `limits.maxDepth` allows.' },
  SLUICE_INVALID_CURSOR: { status: 400, title: 'Invalid cursor', slug: 'invalid-cursor', help: 'The cursor is malformed or was issued for another resource or sort order. Start again without `cursor`.' },
  SLUICE_FILTER_REQUIRED: { status: 400, title: 'Filter required', slug: 'filter-required', help: 'Bulk PATCH and DELETE need at least one filter, so that no request changes a whole table by accident.' },
  SLUICE_TOO_MANY_ROWS: { status: 400, title: 'Too many rows affected', slug: 'too-many-rows', help: 'The bulk write would change more rows than `limits.maxAffected` allows. Nothing was changed; narrow the filter.' },
  SLUICE_BATCH_TOO_LARGE: { status: 400, title: 'Batch too large', slug: 'batch-too-large', help: 'A bulk create holds more rows than `limits.maxBatch` allows, or more values than one statement can carry.' },
  SLUICE_INVALID_JSON: { status: 400, title: 'Invalid JSON', slug: 'invalid-json', help: 'The request body is not valid JSON.' },
  SLUICE_BAD_REQUEST: { status: 400, title: 'Bad request', slug: 'bad-request', help: 'The request cannot be understood as sent.' },
  SLUICE_UNAUTHORIZED: { status: 401, title: 'Unauthorized', slug: 'unauthorized', help: 'Credentials are missing or invalid.' },
  SLUICE_FORBIDDEN: { status: 403, title: 'Forbidden', slug: 'forbidden', help: 'The caller may not do this.' },
  SLUICE_UNKNOWN_RESOURCE: { status: 404, title: 'Unknown resource', slug: 'unknown-resource', help: 'No table or view of the exposed schemas has this name.' },
  SLUICE_NOT_FOUND: { status: 404, title: 'Not found', slug: 'not-found', help: 'No row has this key, or nothing is served at this path.' },
  SLUICE_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed', slug: 'method-not-allowed', help: 'This path does not take this method; the `Allow` header lists the ones it takes. Views are read-only unless the database says they are updatable.' },
  SLUICE_NOT_ACCEPTABLE: { status: 406, title: 'Not acceptable', slug: 'not-acceptable', help: 'Sluice answers with application/json, application/x-ndjson or text/csv.' },
  SLUICE_UNIQUE_VIOLATION: { status: 409, title: 'Unique constraint violated', slug: 'unique-violation', help: 'A row with the same unique key already exists.' },
  SLUICE_FOREIGN_KEY_VIOLATION: { status: 409, title: 'Foreign key violated', slug: 'foreign-key-violation', help: 'The row refers to a row that does not exist, or other rows still refer to it.' },
  SLUICE_REQUEST_TIMEOUT: { status: 408, title: 'Request timeout', slug: 'request-timeout', help: 'The client did not send the request headers within `server.headersTimeout` (or the whole request within `server.requestTimeout`).' },
  SLUICE_BODY_TOO_LARGE: { status: 413, title: 'Body too large', slug: 'body-too-large', help: 'The request body is larger than `limits.bodySize`.' },
  SLUICE_URL_TOO_LONG: { status: 414, title: 'URL too long', slug: 'url-too-long', help: 'The request URL is longer than `limits.maxUrlLength`.' },
  SLUICE_PRECONDITION_FAILED: { status: 412, title: 'Precondition failed', slug: 'precondition-failed', help: 'The row changed (or is gone) since the `ETag` sent in `If-Match`; read it again and retry with its new tag.' },
  SLUICE_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type', slug: 'unsupported-media-type', help: 'Request bodies must be `application/json`.' },
  SLUICE_INVALID_BODY: { status: 422, title: 'Invalid body', slug: 'invalid-body', help: 'The body does not match the JSON Schema of the resource; `errors` lists each field.' },
  SLUICE_NOT_NULL_VIOLATION: { status: 422, title: 'Missing value', slug: 'not-null-violation', help: 'A column that may not be null was left empty.' },
  SLUICE_CHECK_VIOLATION: { status: 422, title: 'Check constraint violated', slug: 'check-violation', help: 'A value breaks a CHECK constraint of the table.' },
  SLUICE_INVALID_ROW: { status: 422, title: 'Invalid row', slug: 'invalid-row', help: 'The database refused a value of the row (out of range, too long or of the wrong form).' },
  SLUICE_RATE_LIMITED: { status: 429, title: 'Too many requests', slug: 'rate-limited', help: 'The caller sent more requests than a rate limit of this API admits (the detail names the limit). Retry after the seconds in `Retry-After`; the `RateLimit-Remaining` and `RateLimit-Reset` headers of every response show how close a caller is.' },
  SLUICE_HEADERS_TOO_LARGE: { status: 431, title: 'Headers too large', slug: 'headers-too-large', help: 'The request headers are larger than the server accepts.' },
  SLUICE_INTERNAL: { status: 500, title: 'Internal error', slug: 'internal', help: 'Something failed inside Sluice. The request id in the response finds it in the logs.' },
  SLUICE_DATABASE_UNAVAILABLE: { status: 503, title: 'Database unavailable', slug: 'database-unavailable', help: 'The database cannot be reached right now. Retry after the time in `Retry-After`.' },
  SLUICE_NOT_READY: { status: 503, title: 'Not ready', slug: 'not-ready', help: 'The instance is starting or draining.' },
  SLUICE_OVERLOADED: { status: 503, title: 'Overloaded', slug: 'overloaded', help: 'The instance is shedding load: its event loop lags more than `server.loadShedding.maxEventLoopDelay`. Retry after the time in `Retry-After`; health checks and metrics still answer.' },
  SLUICE_POOL_TIMEOUT: { status: 504, title: 'Database busy', slug: 'pool-timeout', help: 'No database connection became free within `database.pool.acquireTimeout`.' },
  SLUICE_STATEMENT_TIMEOUT: { status: 504, title: 'Statement timeout', slug: 'statement-timeout', help: 'The statement ran longer than `database.pool.statementTimeout`.' },
} as const satisfies Record<string, ProblemKind>;

export type ProblemCode = keyof typeof PROBLEMS;

/** One field-level error, as listed in the `errors` member of a problem. */
export interface FieldError {
  readonly field: string;
  readonly message: string;
}

/**
 * The error every stage throws. `detail` is for people; it never holds SQL text or a stack.
 * @example throw new SluiceError('SLUICE_UNKNOWN_COLUMN', "orders has no column 'totl'", [{ field: 'totl', message: 'unknown column' }])
 */
export class SluiceError extends Error {
  readonly code: ProblemCode;
  readonly detail: string;
  readonly errors: readonly FieldError[] | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(code: ProblemCode, detail: string, errors?: readonly FieldError[], headers?: Record<string, string>) {
    super(detail);
    this.name = 'SluiceError';
    this.code = code;
    this.detail = detail;
    this.errors = errors;
    this.headers = headers;
  }

  get status(): number {
    return PROBLEMS[this.code].status;
  }
}

/** Shorthand for a 400 naming the query parameter that is wrong. */
export function badParam(param: string, message: string, code: ProblemCode = 'SLUICE_BAD_QUERY'): SluiceError {
  return new SluiceError(code, `${param}: ${message}`, [{ field: param, message }]);
}

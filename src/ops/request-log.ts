/**
 * Request logs: one JSON line per request (pino, at info) with the request id, method, route
 * template, URL, status, response time and the caller (principal id and role — never the key or
 * token). Credentials never reach a log: the logger redacts the credential headers wherever a
 * logged object carries headers.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import type { Engine } from '../engine.ts';

/**
 * pino `redact` paths: the credential headers of a logged request, response or error, under the
 * names Sluice and its libraries log them. No wildcards: a `*.headers` path made every log line
 * cost about 8 µs more (fast-redact walks the object), explicit paths well under 1 µs.
 */
export const REDACT_PATHS = ['authorization', 'x-api-key', 'cookie', 'set-cookie', 'proxy-authorization'].flatMap((h) => [
  'headers', 'req.headers', 'request.headers', 'res.headers', 'response.headers', 'err.headers', 'err.config.headers', 'error.headers',
].map((at) => `${at}["${h}"]`));

export interface LoggedCaller {
  readonly id?: string;
  readonly role: string;
}

/**
 * Who made a request, as far as its credentials were verified while it was served: the
 * principal comes from the verified-credentials cache, so this starts no verification of its own.
 */
export function callerOf(engine: Engine, request: { readonly headers: IncomingHttpHeaders }): LoggedCaller | undefined {
  try {
    // Credentials not verified while serving (e.g. refused by a rate limit first): no caller.
    const principal = engine.auth.knownPrincipal(request.headers);
    if (!principal) return undefined;
    return principal.id === null ? { role: principal.role } : { id: principal.id, role: principal.role };
  } catch {
    return undefined;
  }
}

export interface RequestLine {
  readonly route: string;
  /** Whether the route takes credentials (the line then names the caller). */
  readonly withCaller: boolean;
  /** Health checks and scrapes log at debug: a load balancer polls them every few seconds. */
  readonly quiet: boolean;
}

/** What a request line says of the request (a FastifyRequest is one; so is a cache hit answered before Fastify). */
export interface LoggedRequest {
  readonly id: string;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/** @example logRequest(app.log, engine, request, 200, 1.52, { route: '/api/v1/orders/:id', withCaller: true, quiet: false }) */
export function logRequest(log: FastifyBaseLogger, engine: Engine, request: LoggedRequest, status: number, ms: number, line: RequestLine): void {
  const level = line.quiet ? 'debug' : 'info';
  // (Fastify's stand-in when logging is off has no isLevelEnabled; its methods do nothing.)
  const enabled = (log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled;
  if (typeof enabled === 'function' && !enabled.call(log, level)) return;
  const caller = line.withCaller ? callerOf(engine, request) : undefined;
  log[level]({
    reqId: request.id, method: request.method, route: line.route, url: request.url, status,
    ms: Math.round(ms * 100) / 100, ...(caller ? { caller } : {}),
  }, 'request');
}

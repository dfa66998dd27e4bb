/**
 * Headers every response carries at the edge: CORS for the configured origins (through
 * @fastify/cors, which answers preflights before authentication) and security headers — no MIME
 * sniffing, no referrer, no framing, a CSP that lets an API response run nothing, and HSTS when
 * Sluice is served over TLS (`server.hsts`).
 */
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/schema.ts';

/** Response headers a browser reads; everything else stays hidden from cross-origin scripts. */
const EXPOSED = ['link', 'location', 'x-request-id', 'retry-after', 'www-authenticate', 'etag', 'x-cache', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'];

/** CSP of pages that style themselves inline (the problem pages); /docs sets its own. */
export const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

/**
 * CORS, when origins are configured; returns the security headers every response carries (null:
 * none), which the shell's one onRequest hook sets — a hook of their own cost every request more.
 * @example const headers = edgeHeaders(app, config.server)
 */
export function edgeHeaders(app: FastifyInstance, server: Config['server']): Readonly<Record<string, string>> | null {
  const { origins, credentials, maxAge } = server.cors;
  if (origins.length) {
    // The configuration refuses '*' with credentials: a wildcard may never carry cookies or tokens.
    void app.register(cors, {
      origin: origins.includes('*') ? '*' : origins,
      credentials,
      maxAge: Math.round(maxAge / 1000),
      methods: ['GET', 'HEAD', 'POST', 'PATCH', 'PUT', 'DELETE'],
      exposedHeaders: EXPOSED,
    });
  }
  if (!server.securityHeaders && !server.hsts) return null;
  const headers: Record<string, string> = server.securityHeaders ? {
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  } : {};
  if (server.hsts) headers['strict-transport-security'] = 'max-age=31536000; includeSubDomains';
  return headers;
}

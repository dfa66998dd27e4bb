/**
 * Rate limits on the API routes (SPEC §7): every route under `server.basePath` gets one
 * `onRequest` hook — before the body is read, before any plan or SQL. `/health/*`, `/metrics`,
 * `/docs`, `/openapi.json`, `/problems/*` and `/admin/*` are never limited. Nothing is registered
 * when `rateLimits` is absent.
 *
 * Order, so that limits protect the work behind them: when the caller's credentials are cached
 * (`engine.auth.knownPrincipal` answers), every limit is decided in one call (one Redis
 * round trip). When they are not (an API key or JWT seen for the first time, or a key whose cache
 * entry expired), the `ip` limits are decided first — before the key's database lookup or the
 * token's signature check, so that credential spraying is limited by address — and the limits
 * keyed by the principal once it is known. Missing or invalid credentials count against the `ip`
 * limits and are then refused with the usual 401.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify';
import type { Engine } from '../engine.ts';
import type { Principal } from '../auth/principal.ts';
import { SluiceError } from '../errors/registry.ts';
import type { RateLimiter } from '../ratelimit/limiter.ts';
import type { Decision } from '../ratelimit/store.ts';
import { CallerKeyMemo, isEmpty, RuleTable, type Rule, type RulePlan } from '../ratelimit/rules.ts';

/** Paths that are never limited, even when the base path is empty. */
const EXEMPT = ['/health', '/metrics', '/docs', '/openapi.json', '/problems', '/admin'];


const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

const limitText = (d: Decision) => (d.limit === d.rule.limit ? d.rule.limitText : String(d.limit));

/** The headers of a decision: IETF draft `RateLimit-*` and the older `X-RateLimit-*`, reset in seconds. */
function limitHeaders(d: Decision): Record<string, string> {
  const limit = limitText(d);
  const remaining = String(Math.max(0, d.remaining));
  const reset = String(seconds(d.resetMs));
  return {
    'ratelimit-limit': limit, 'ratelimit-remaining': remaining, 'ratelimit-reset': reset,
    'x-ratelimit-limit': limit, 'x-ratelimit-remaining': remaining, 'x-ratelimit-reset': reset,
  };
}

/** Same as {@link limitHeaders} on an admitted request, without the intermediate object. */
function setHeaders(reply: FastifyReply, d: Decision): void {
  const limit = limitText(d);
  const remaining = String(Math.max(0, d.remaining));
  const reset = String(seconds(d.resetMs));
  reply.header('ratelimit-limit', limit).header('ratelimit-remaining', remaining).header('ratelimit-reset', reset)
    .header('x-ratelimit-limit', limit).header('x-ratelimit-remaining', remaining).header('x-ratelimit-reset', reset);
}

/** Of two decisions (the ip phase and the principal phase), the one the headers describe. */
function tighter(a: Decision | null, b: Decision): Decision {
  if (!a) return b;
  return b.remaining < a.remaining || (b.remaining === a.remaining && b.resetMs > a.resetMs) ? b : a;
}

function refusal(d: Decision): SluiceError {
  const wait = seconds(d.resetMs);
  const headers = { ...limitHeaders(d), 'retry-after': String(wait) };
  return new SluiceError('SLUICE_RATE_LIMITED', `rate limit '${d.rule.name}' exceeded: at most ${d.limit} requests per ${d.rule.window / 1000} s; retry in ${wait} s`, undefined, headers);
}

/** Whether a route's URL is an API route that the limits cover. */
export function limitedRoute(url: string, basePath: string): boolean {
  return url !== '/' && url.startsWith(`${basePath}/`) && !EXEMPT.some((p) => url === p || url.startsWith(`${p}/`));
}

/**
 * Adds the limit hook to every API route registered after it: call before the routes.
 * @example rateLimits(app, engine); resourceRoutes(app, engine)
 */
export function rateLimits(app: FastifyInstance, engine: Engine): void {
  const limiter = engine.rateLimiter;
  if (!limiter || !engine.config.rateLimits?.length) return;
  const hook = limitHook(engine, limiter, new RuleTable(limiter.rules, engine.config.rateLimits));
  const base = engine.config.server.basePath;
  app.addHook('onRoute', (route) => {
    if (!limitedRoute(route.url, base)) return;
    const existing = route.onRequest;
    route.onRequest = existing ? [hook, ...(Array.isArray(existing) ? existing : [existing])] : [hook];
  });
}

function limitHook(engine: Engine, limiter: RateLimiter, table: RuleTable): onRequestHookHandler {
  const callers = new CallerKeyMemo();
  /**
   * Decides `rules` for `principal` (or the address alone); calls `next` with the decision, or
   * `fail` when deciding threw — never both: an error thrown by `next` itself (the rest of the
   * request, run at once when a leased slot decides) is not the limiter's to report.
   */
  const decide = (request: FastifyRequest, rules: readonly Rule[], principal: Principal | null, next: (d: Decision | null) => void, fail: (err: Error) => void) => {
    const caller = callers.of(rules, request.ip, principal);
    if (!caller) return next(null);
    let decided = false;
    try {
      limiter.decideWith(caller.keys, caller.rules, (d) => {
        decided = true;
        next(d);
      }, caller.id);
    } catch (err) {
      if (decided) throw err;
      fail(err as Error);
    }
  };

  return function rateLimitHook(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    const plan: RulePlan = table.plan(request.method, (request.params as { resource?: string } | undefined)?.resource);
    if (isEmpty(plan)) return done();
    const finish = (d: Decision | null, authError: unknown) => {
      if (d) {
        if (!d.admitted) return done(refusal(d));
        setHeaders(reply, d);
      }
      done(authError ? (authError as Error) : undefined);
    };
    if (!plan.principal.length) return decide(request, plan.ip, null, (d) => finish(d, null), done);

    let known: Principal | undefined;
    try {
      known = engine.auth.knownPrincipal(request.headers);
    } catch (err) {
      // No or malformed credentials: the address limits count it, then the 401.
      return decide(request, plan.ip, null, (d) => finish(d, err), done);
    }
    if (known) return decide(request, plan.all, known, (d) => finish(d, null), done);
    // Credentials not verified yet (a key not in the cache, a token not seen before): the address
    // limits go first, and the key's database lookup or the token's signature check only happens
    // for an address within them; the limits keyed by the principal once it is known.
    decide(request, plan.ip, null, (first) => {
      if (first && !first.admitted) return finish(first, null);
      let later: Principal | Promise<Principal>;
      try {
        later = engine.auth.principal(request.headers);
      } catch (err) {
        return finish(first, err);
      }
      const next = (p: Principal) => decide(request, plan.principal, p, (second) => finish(second ? tighter(first, second) : first, null), done);
      if (later instanceof Promise) later.then(next, (err: unknown) => finish(first, err));
      else next(later);
    }, done);
  };
}

/**
 * Authentication: request headers → {@link Principal}. `X-API-Key` or `Authorization: Bearer sk_…`
 * is an API key, any other bearer token a JWT; no credentials is the anonymous role when one is
 * configured, else 401. Invalid credentials are always 401 — never a fall-back to anonymous.
 * Verified keys and tokens are cached, so a repeated caller costs a map lookup and no promise.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../config/schema.ts';
import type { Snapshot } from '../schema/model.ts';
import { SluiceError } from '../errors/registry.ts';
import { ApiKeyStore, type ApiKeyRecord } from './api-keys.ts';
import type { JwtIdentity, JwtVerifier } from './jwt.ts';
import type { Principal } from './principal.ts';
import { compilePolicies, type Policies } from './policies.ts';
import { RoleViews, type RoleView } from './role-view.ts';

const CHALLENGE = { 'www-authenticate': 'Bearer realm="sluice"' };
const unauthorized = (detail: string, headers: Record<string, string> = CHALLENGE) => new SluiceError('SLUICE_UNAUTHORIZED', detail, undefined, headers);

export interface AuthOptions {
  readonly config: Config;
  readonly keys: ApiKeyStore | null;
  readonly jwt: JwtVerifier | null;
}

/** @example const principal = await auth.principal(request.headers); const view = auth.view(snapshot, principal) */
export class Auth {
  readonly keys: ApiKeyStore | null;
  readonly adminRole: string;
  private readonly jwt: JwtVerifier | null;
  private readonly anonymous: Principal | null;
  private readonly views: RoleViews;
  private readonly byKey = new WeakMap<ApiKeyRecord, Principal>();
  private readonly byToken = new WeakMap<JwtIdentity, Principal>();
  private readonly policyCache = new WeakMap<Snapshot, Policies>();
  private readonly config: Config;

  constructor(options: AuthOptions) {
    const { config } = options;
    this.config = config;
    this.keys = options.keys;
    this.jwt = options.jwt;
    this.adminRole = config.auth.adminRole;
    const anonRole = config.auth.anonRole;
    this.anonymous = anonRole ? Object.freeze({ kind: 'anonymous', role: anonRole, claims: Object.freeze({ role: anonRole }), id: null, tier: null }) : null;
    this.views = new RoleViews((snapshot) => this.policies(snapshot));
  }

  /**
   * The compiled policies of a snapshot, compiled on first use of each snapshot (start-up
   * compiles the first one, so that a bad policy stops it).
   */
  policies(snapshot: Snapshot): Policies {
    let policies = this.policyCache.get(snapshot);
    if (!policies) {
      policies = compilePolicies(this.config.roles, snapshot, this.adminRole);
      this.policyCache.set(snapshot, policies);
    }
    return policies;
  }

  view(snapshot: Snapshot, principal: Principal): RoleView {
    return this.views.of(snapshot, principal.role);
  }

  /** The caller of a request: synchronous when its credentials were verified before. */
  principal(headers: IncomingHttpHeaders): Principal | Promise<Principal> {
    return this.resolve(headers, true)!;
  }

  /**
   * The caller when knowing it starts no work — anonymous, or credentials verified before —
   * else undefined (a key lookup or a signature check would be needed). Malformed or refused
   * credentials throw as in {@link principal}. For what runs before or after the request's own
   * work: rate limits by address first, the request log.
   */
  knownPrincipal(headers: IncomingHttpHeaders): Principal | undefined {
    return this.resolve(headers, false) as Principal | undefined;
  }

  private resolve(headers: IncomingHttpHeaders, verify: boolean): Principal | Promise<Principal> | undefined {
    const apiKey = headers['x-api-key'];
    const authorization = headers.authorization;
    if (apiKey !== undefined) {
      if (authorization !== undefined) throw unauthorized('send one credential: X-API-Key or Authorization, not both');
      return this.fromKey(Array.isArray(apiKey) ? '' : apiKey, verify);
    }
    if (authorization === undefined) {
      if (this.anonymous) return this.anonymous;
      throw unauthorized('this API needs credentials: an API key (X-API-Key or Authorization: Bearer sk_…) or a JWT');
    }
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    if (!match) throw unauthorized('the Authorization header must be "Bearer <API key or JWT>"');
    const token = match[1]!;
    return ApiKeyStore.looksLikeKey(token) ? this.fromKey(token, verify) : this.fromToken(token, verify);
  }

  private fromKey(presented: string, verify: boolean): Principal | Promise<Principal> | undefined {
    if (!this.keys) throw unauthorized('API keys are disabled on this server (auth.apiKeys.enabled)');
    const cached = this.keys.cachedAuthenticate(presented);
    if (cached !== undefined) return this.keyPrincipal(cached);
    if (!verify) return undefined;
    return this.keys.authenticate(presented).then((record) => this.keyPrincipal(record));
  }

  private keyPrincipal(record: ApiKeyRecord | null): Principal {
    if (!record) throw unauthorized('the API key is unknown, revoked or expired', { 'www-authenticate': 'Bearer realm="sluice", error="invalid_token"' });
    let principal = this.byKey.get(record);
    if (!principal) {
      const claims = Object.freeze({ sub: record.subject ?? undefined, role: record.role, key_id: record.id, name: record.name, tier: record.tier ?? undefined });
      principal = Object.freeze({ kind: 'apiKey', role: record.role, claims, id: record.id, tier: record.tier });
      this.byKey.set(record, principal);
    }
    return principal;
  }

  private fromToken(token: string, verify: boolean): Principal | Promise<Principal> | undefined {
    if (!this.jwt) throw unauthorized('this server takes API keys; JWTs are not configured (auth.jwt)');
    const cached = this.jwt.cached(token);
    if (cached) return this.tokenPrincipal(cached);
    if (!verify) return undefined;
    return this.jwt.verify(token).then((identity) => this.tokenPrincipal(identity));
  }

  private tokenPrincipal(identity: JwtIdentity): Principal {
    let principal = this.byToken.get(identity);
    if (!principal) {
      if (identity.role === null) throw new SluiceError('SLUICE_FORBIDDEN', 'the token carries no role (auth.jwt.roleClaim) and no default role is configured (auth.jwt.defaultRole)');
      principal = Object.freeze({ kind: 'jwt', role: identity.role, claims: identity.claims, id: identity.subject, tier: null });
      this.byToken.set(identity, principal);
    }
    return principal;
  }
}

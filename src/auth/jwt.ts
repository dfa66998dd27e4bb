/**
 * JWT bearer tokens (SPEC §6): owns checking the `auth.jwt` settings, finding the verification key
 * (shared secret, PEM public key, JWKS URL or OIDC discovery), verifying a compact JWS with jose
 * against an algorithm allow-list and the `iss`/`aud`/`exp`/`nbf` claims, reading the role from the
 * configured claim path, and the cache of verified tokens that lets a repeated token cost no crypto.
 * Every rejection is a `SLUICE_UNAUTHORIZED` (401) whose detail says what was wrong and never
 * repeats the token or any key material. The module logs nothing: the HTTP shell owns logging.
 *
 * Decisions:
 * - Tokens without `exp` are accepted (PostgREST does the same; some service tokens have none), but
 *   stay in the cache at most 60 s, so that a cached verdict is never older than a minute.
 * - Negative cache: only tokens whose signature checked but whose claims were refused for good
 *   (expired, wrong issuer or audience, malformed claims) are remembered (1,000, oldest dropped).
 *   Those come from the real issuer and are what stale clients resend in a loop, and their verdict
 *   cannot change. Forged signatures are not remembered (an attacker varies them at will, so they
 *   would only fill the cache), nor failures that may heal: key set unreachable, unknown `kid`
 *   (key rotation), `nbf` in the future.
 * - Secrets must have at least 32 bytes (as PostgREST requires; RFC 7518 §3.2 asks for the hash
 *   size). More than one public key source is refused rather than guessed between.
 * - The key-set timers (jose's `cooldownDuration`/`cacheMaxAge` and the discovery retry) run on
 *   the real clock; the `now` option moves only the token clock (claims and cache expiry).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, errors, importSPKI, jwtVerify, type CryptoKey, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions, type JWTVerifyResult } from 'jose';
import { ConfigError } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { SluiceError } from '../errors/registry.ts';

export type JwtConfig = NonNullable<Config['auth']['jwt']>;

export interface JwtIdentity {
  /** Role from the configured claim path, or jwt.defaultRole when the claim is missing; null when neither. */
  readonly role: string | null;
  /** The verified payload (claims), frozen. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** `sub` as a string, or null. */
  readonly subject: string | null;
}

const HMAC = ['HS256', 'HS384', 'HS512'];
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** `Ed25519` is the fully-specified name of EdDSA over Ed25519 (RFC 9864); jose knows both. */
const KNOWN = new Set([...HMAC, ...ASYMMETRIC, 'Ed25519']);
const MIN_SECRET_BYTES = 32;
/** Node's default limit on all request headers together is 16 KiB; no real token is longer. */
const MAX_TOKEN_LENGTH = 16_384;
const MAX_CACHED = 10_000;
const MAX_REJECTED = 1_000;
const NO_EXP_CACHE_MS = 60_000;
const FETCH_TIMEOUT_MS = 5_000;
/** Three base64url segments; the third may be empty so that `alg: none` is refused by name. */
const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Which algorithms a PEM public key can verify, by Node's key type (and curve for EC). */
function algorithmsOf(key: KeyObject): readonly string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa': return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss': return ['PS256', 'PS384', 'PS512'];
    case 'ed25519': return ['EdDSA', 'Ed25519'];
    case 'ec': return { prime256v1: ['ES256'], secp384r1: ['ES384'], secp521r1: ['ES512'] }[key.asymmetricKeyDetails?.namedCurve ?? ''] ?? [];
    default: return [];
  }
}

interface Settings {
  readonly algorithms: readonly string[];
  readonly secret: Uint8Array | undefined;
}

function invalid(key: string, message: string): ConfigError {
  return new ConfigError(`invalid configuration: auth.jwt${key ? `.${key}` : ''}: ${message}`);
}

function isHttpUrl(text: string): boolean {
  return URL.canParse(text) && /^https?:$/.test(new URL(text).protocol);
}

/** The secret as bytes: `base64:` values decoded, others taken as UTF-8 text. */
function secretBytes(secret: string): Uint8Array {
  if (!secret.startsWith('base64:')) return new TextEncoder().encode(secret);
  const text = secret.slice('base64:'.length).trim();
  // Buffer.from skips characters it does not know; a typo must not silently shorten the secret.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) throw invalid('secret', "the value after 'base64:' is not base64");
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** Validates the settings and resolves the defaults; throws ConfigError naming the key. */
function settle(config: JwtConfig): Settings {
  for (const alg of config.algorithms) {
    if (alg.toLowerCase() === 'none') throw invalid('algorithms', "'none' is never accepted: unsigned tokens would let anyone choose their role");
    if (!KNOWN.has(alg)) throw invalid('algorithms', `unknown algorithm '${alg}' (expected some of ${[...KNOWN].join(', ')})`);
  }
  const secret = config.secret === undefined ? undefined : secretBytes(config.secret);
  if (secret && secret.length < MIN_SECRET_BYTES) throw invalid('secret', `expected at least ${MIN_SECRET_BYTES} bytes (it has ${secret.length}); generate one with \`openssl rand -base64 32\``);
  const sources = [config.publicKey && 'publicKey', config.jwksUrl && 'jwksUrl', config.discovery && 'discovery'].filter(Boolean);
  if (sources.length > 1) throw invalid(String(sources[0]), `${sources.map((s) => `auth.jwt.${s}`).join(' and ')} are alternatives: set one`);
  if (config.discovery) {
    if (config.issuer === undefined) throw invalid('issuer', 'discovery needs the issuer: its OpenID configuration is read from {issuer}/.well-known/openid-configuration');
    if (!isHttpUrl(config.issuer)) throw invalid('issuer', 'discovery needs the issuer as an http(s) URL');
  }
  if (config.jwksUrl !== undefined && !isHttpUrl(config.jwksUrl)) throw invalid('jwksUrl', 'expected an http(s) URL');
  if (!secret && sources.length === 0) throw invalid('', 'no key source: set auth.jwt.secret, auth.jwt.publicKey, auth.jwt.jwksUrl, or auth.jwt.discovery with auth.jwt.issuer');
  let fitting: readonly string[] | undefined;
  if (config.publicKey !== undefined) {
    let key: KeyObject;
    try {
      // createPublicKey also derives a public key from a private one; only a public key belongs here.
      if (!config.publicKey.includes('-----BEGIN PUBLIC KEY-----')) throw new Error('not SPKI');
      key = createPublicKey({ key: config.publicKey, format: 'pem' });
    } catch {
      throw invalid('publicKey', "expected a PEM public key ('-----BEGIN PUBLIC KEY-----', SPKI)");
    }
    fitting = algorithmsOf(key);
    if (fitting.length === 0) throw invalid('publicKey', `a ${key.asymmetricKeyType} key cannot verify JWTs (expected RSA, EC P-256/384/521 or Ed25519)`);
    const bits = key.asymmetricKeyDetails?.modulusLength;
    if (bits !== undefined && bits < 2048) throw invalid('publicKey', `an RSA key needs at least 2048 bits (this one has ${bits})`);
  }
  // The default follows the key source: HS* for a lone secret, else the public-key algorithms
  // (narrowed to what a PEM key can verify, so a mismatch reads as "not allowed").
  if (config.algorithms.length === 0) return { algorithms: sources.length === 0 ? HMAC : fitting ?? ASYMMETRIC, secret };
  for (const alg of config.algorithms) {
    if (HMAC.includes(alg)) {
      if (!secret) throw invalid('secret', `auth.jwt.algorithms lists ${alg}, which needs the shared secret`);
    } else if (sources.length === 0) {
      throw invalid('algorithms', `${alg} needs a public key: set auth.jwt.publicKey, auth.jwt.jwksUrl or auth.jwt.discovery`);
    } else if (fitting && !fitting.includes(alg)) {
      throw invalid('algorithms', `${alg} does not fit auth.jwt.publicKey (it fits ${fitting.join(', ')})`);
    }
  }
  return { algorithms: [...new Set(config.algorithms)], secret };
}

/**
 * Throws ConfigError with one line naming the key when the jwt settings cannot work.
 * @example checkJwtConfig(config.auth.jwt) // throws "invalid configuration: auth.jwt.issuer: discovery needs the issuer…"
 */
export function checkJwtConfig(config: JwtConfig): void {
  settle(config);
}

/** A key could not be obtained (key set unreachable, PEM not fitting); its message is the detail. */
class KeyUnavailable extends Error {}

type GetKey = (header: Parameters<JWTVerifyGetKey>[0], token: Parameters<JWTVerifyGetKey>[1]) => Promise<CryptoKey | Uint8Array>;

function pemKeys(pem: string): GetKey {
  const imported = new Map<string, Promise<CryptoKey>>();
  return (header) => {
    const alg = header.alg!;
    let key = imported.get(alg);
    if (!key) {
      key = importSPKI(pem, alg).catch(() => {
        throw new KeyUnavailable(`the token's algorithm ${alg} does not fit the configured public key`);
      });
      imported.set(alg, key);
    }
    return key;
  };
}

function remoteKeys(url: URL, config: JwtConfig): GetKey {
  const keySet = createRemoteJWKSet(url, { cooldownDuration: config.jwksCooldown, cacheMaxAge: config.jwksCacheMaxAge, timeoutDuration: FETCH_TIMEOUT_MS });
  return async (header, token) => {
    try {
      return await keySet(header, token);
    } catch (error) {
      // These speak of the token; everything else (network, status, JSON, timeout) of the key set.
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys || error instanceof errors.JOSENotSupported) throw error;
      throw new KeyUnavailable('the key set (JWKS) to verify the token could not be fetched');
    }
  };
}

async function discoverJwksUri(issuer: string): Promise<URL> {
  const failed = new KeyUnavailable("the issuer's OpenID configuration could not be read");
  let document: unknown;
  try {
    const response = await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, {
      redirect: 'manual', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { accept: 'application/json' },
    });
    if (response.status !== 200) throw failed;
    document = await response.json();
  } catch {
    throw failed;
  }
  const { issuer: named, jwks_uri: jwksUri } = (typeof document === 'object' && document !== null ? document : {}) as Record<string, unknown>;
  // OpenID Connect Discovery §4.3: the document must name exactly the issuer it was fetched for.
  if (named !== issuer) throw new KeyUnavailable("the issuer's OpenID configuration names another issuer");
  if (typeof jwksUri !== 'string' || !isHttpUrl(jwksUri)) throw new KeyUnavailable("the issuer's OpenID configuration has no usable jwks_uri");
  return new URL(jwksUri);
}

function discoveredKeys(config: JwtConfig): GetKey {
  const issuer = config.issuer!;
  let keys: Promise<GetKey> | undefined;
  let failedAt = -Infinity;
  return async (header, token) => {
    if (!keys) {
      // A failed discovery is retried, but not by every request while the issuer is down.
      if (Date.now() - failedAt < config.jwksCooldown) throw new KeyUnavailable("the issuer's OpenID configuration could not be read");
      const pending = discoverJwksUri(issuer).then((url) => remoteKeys(url, config));
      pending.catch(() => {
        keys = undefined;
        failedAt = Date.now();
      });
      keys = pending;
    }
    return (await keys)(header, token);
  };
}

/** The value at a dotted path; a key may itself hold dots (`https://example.com/role`), the longest wins. */
function claimAt(claims: Record<string, unknown>, segments: readonly string[]): unknown {
  let value: unknown = claims;
  let i = 0;
  while (i < segments.length) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const object = value as Record<string, unknown>;
    let j = segments.length;
    // Own keys only: a path such as `constructor.name` must not reach into Object.prototype.
    while (j > i && !Object.hasOwn(object, segments.slice(i, j).join('.'))) j--;
    if (j === i) return undefined;
    value = object[segments.slice(i, j).join('.')];
    i = j;
  }
  return value;
}

function roleOf(value: unknown): string | null {
  const first = Array.isArray(value) ? value.find((v) => typeof v === 'string') : value;
  return typeof first === 'string' && first !== '' ? first : null;
}

/** Identities are shared by every request that presents the token: nothing may change them. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The token's header for wording a refusal; `{}` when it cannot be read. */
function headerOf(token: string): { alg?: unknown; kid?: unknown } {
  try {
    return decodeProtectedHeader(token);
  } catch {
    return {};
  }
}

/** What was wrong, in words that repeat neither the token nor a key. */
function explain(error: unknown, token: string): string {
  if (error instanceof KeyUnavailable) return error.message;
  if (error instanceof errors.JOSEAlgNotAllowed) {
    const { alg } = headerOf(token);
    if (typeof alg !== 'string' || !/^[A-Za-z0-9-]{1,20}$/.test(alg)) return "the token's algorithm is not allowed";
    if (alg.toLowerCase() === 'none') return 'unsigned tokens (alg none) are not accepted';
    return `the token's algorithm ${alg} is not allowed`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the token's signature is invalid";
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    const claim = error.claim;
    if (claim === 'nbf' && error.reason === 'check_failed') return 'the token is not valid yet (nbf is in the future)';
    if (claim === 'iss') return error.reason === 'missing' ? 'the token has no issuer (iss)' : "the token's issuer (iss) is not accepted";
    if (claim === 'aud') return error.reason === 'missing' ? 'the token has no audience (aud)' : "the token's audience (aud) is not accepted";
    // Only names jose itself checks are echoed; anything else stays generic.
    return ['nbf', 'exp', 'iat', 'sub', 'typ'].includes(claim) ? `the token's ${claim} claim is invalid` : "one of the token's claims is invalid";
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return headerOf(token).kid !== undefined ? "no key of the key set matches the token's key id (kid)" : 'no key of the key set fits the token';
  }
  if (error instanceof errors.JOSENotSupported) return 'the token uses an unsupported algorithm or critical header';
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'the bearer token is not a well-formed JWT';
  return 'the token could not be verified';
}

/** Rejections that cannot turn into acceptance later: the signature held, the claims did not. */
function isFinal(error: unknown): boolean {
  return error instanceof errors.JWTExpired || error instanceof errors.JWTInvalid
    || (error instanceof errors.JWTClaimValidationFailed && error.claim !== 'nbf');
}

function unauthorized(detail: string): SluiceError {
  // RFC 6750 §3: error_description holds printable ASCII without `"` and `\`.
  const description = detail.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, ' ');
  return new SluiceError('SLUICE_UNAUTHORIZED', detail, undefined, { 'www-authenticate': `Bearer error="invalid_token", error_description="${description}"` });
}

interface Verified {
  readonly identity: JwtIdentity;
  /** ms since the epoch; the entry is valid while now < until. */
  readonly until: number;
}

/**
 * Verifies JWT bearer tokens and remembers the verified ones until they expire.
 * @example
 * const verifier = new JwtVerifier(config.auth.jwt);
 * const identity = verifier.cached(token) ?? await verifier.verify(token); // identity.role, identity.claims
 */
export class JwtVerifier {
  readonly #now: () => number;
  readonly #options: JWTVerifyOptions;
  readonly #tolerance: number;
  readonly #roleClaim: readonly string[];
  readonly #defaultRole: string | null;
  readonly #getKey: GetKey;
  /** Insertion-ordered, so the first key is the oldest entry to evict. */
  readonly #verified = new Map<string, Verified>();
  readonly #rejected = new Map<string, string>();
  /** One verification per token at a time: a burst of requests with a new token shares it. */
  readonly #pending = new Map<string, Promise<JwtIdentity>>();

  /** Throws ConfigError (see {@link checkJwtConfig}) so that no verifier runs with settings that cannot work. */
  constructor(config: JwtConfig, options: { now?: () => number } = {}) {
    const { algorithms, secret } = settle(config);
    this.#now = options.now ?? Date.now;
    this.#tolerance = config.clockTolerance;
    this.#roleClaim = config.roleClaim.split('.');
    this.#defaultRole = config.defaultRole ?? null;
    this.#options = {
      algorithms: [...algorithms],
      clockTolerance: config.clockTolerance / 1000,
      ...(config.issuer !== undefined ? { issuer: config.issuer } : {}),
      ...(config.audience.length > 0 ? { audience: [...config.audience] } : {}),
    };
    const asymmetric = config.publicKey !== undefined ? pemKeys(config.publicKey)
      : config.jwksUrl !== undefined ? remoteKeys(new URL(config.jwksUrl), config)
        : config.discovery ? discoveredKeys(config) : undefined;
    // The key follows the algorithm class, never the token's say-so: an HS* token is checked with
    // the secret only, so a public key can never be used as an HMAC secret.
    this.#getKey = async (header, token) => {
      const key = HMAC.includes(header.alg ?? '') ? secret : asymmetric && await asymmetric(header, token);
      if (!key) throw new KeyUnavailable(`no key is configured for the token's algorithm`);
      return key;
    };
  }

  /**
   * Verifies a compact JWS; resolves the identity or rejects with a 401 SluiceError.
   * @example const { role, subject } = await verifier.verify(token)
   */
  verify(token: string): Promise<JwtIdentity> {
    const hit = this.cached(token);
    if (hit) return Promise.resolve(hit);
    const rejected = this.#rejected.get(token);
    if (rejected !== undefined) return Promise.reject(unauthorized(rejected));
    let pending = this.#pending.get(token);
    if (!pending) {
      pending = this.#verify(token).finally(() => this.#pending.delete(token));
      this.#pending.set(token, pending);
    }
    return pending;
  }

  /**
   * The identity of a token verified before and still valid; no crypto, no promise.
   * @example const identity = verifier.cached(token) ?? await verifier.verify(token)
   */
  cached(token: string): JwtIdentity | undefined {
    const entry = this.#verified.get(token);
    if (entry === undefined) return undefined;
    if (this.#now() < entry.until) return entry.identity;
    this.#verified.delete(token);
    return undefined;
  }

  async #verify(token: string): Promise<JwtIdentity> {
    if (typeof token === 'string' && token.length > MAX_TOKEN_LENGTH) throw unauthorized(`the bearer token is longer than ${MAX_TOKEN_LENGTH} characters`);
    if (typeof token !== 'string' || !COMPACT.test(token)) throw unauthorized('the bearer token is not a JWT (three base64url segments separated by dots)');
    const now = this.#now();
    let payload: JWTPayload;
    try {
      payload = (await this.#check(token, { ...this.#options, currentDate: new Date(now) })).payload;
    } catch (error) {
      const detail = explain(error, token);
      if (isFinal(error)) remember(this.#rejected, token, detail, MAX_REJECTED);
      throw unauthorized(detail);
    }
    const claims = deepFreeze(payload) as Readonly<Record<string, unknown>>;
    const role = roleOf(claimAt(claims, this.#roleClaim)) ?? this.#defaultRole;
    const identity: JwtIdentity = Object.freeze({ role, claims, subject: typeof claims.sub === 'string' ? claims.sub : null });
    const until = typeof payload.exp === 'number' ? payload.exp * 1000 + this.#tolerance : now + NO_EXP_CACHE_MS;
    remember(this.#verified, token, { identity, until }, MAX_CACHED);
    return identity;
  }

  async #check(token: string, options: JWTVerifyOptions): Promise<JWTVerifyResult> {
    try {
      return await jwtVerify(token, this.#getKey, options);
    } catch (error) {
      if (!(error instanceof errors.JWKSMultipleMatchingKeys)) throw error;
      // Without a `kid` several keys of the set may fit (during a rotation): the one whose
      // signature holds wins; a claim failure with that key is final.
      for await (const key of error) {
        try {
          return await jwtVerify(token, key, options);
        } catch (next) {
          if (!(next instanceof errors.JWSSignatureVerificationFailed)) throw next;
        }
      }
      throw new errors.JWSSignatureVerificationFailed();
    }
  }
}

/** Bounded insert: the oldest entry makes room (FIFO keeps a cache hit a plain lookup). */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  if (map.size >= max) map.delete(map.keys().next().value!);
  map.set(key, value);
}

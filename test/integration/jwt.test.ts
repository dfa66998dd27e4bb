/**
 * JWT bearer tokens (SPEC §6) against real components: a `node:http` identity provider serving a
 * JWKS and an OIDC discovery document (and counting what it is asked), key pairs and tokens made by
 * jose, hand-built tokens for the attacks. Every refusal must be a 401 SluiceError whose detail
 * says what was wrong without repeating the token.
 */
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkJwtConfig, JwtVerifier, type JwtConfig } from '../../src/auth/jwt.ts';
import { ConfigError } from '../../src/config/load.ts';
import { configSchema } from '../../src/config/schema.ts';
import { SluiceError } from '../../src/errors/registry.ts';
import { ASYMMETRIC_ALGS, makeKey, makeKeys, signToken, startIssuer, type AsymmetricAlg, type SigningKey, type TestIssuer } from '../support/jwt-issuer.ts';

const SECRET = 'correct-horse-battery-staple-0123456789';
const SECRET_BYTES = new TextEncoder().encode(SECRET);
/** A fixed token clock for the tests that move time: 2027-01-15T08:00:00Z. */
const T = 1_800_000_000_000;
const T_S = T / 1000;

/** The `auth.jwt` section as the real schema parses it (durations, defaults). */
function jwtConfig(input: Record<string, unknown>): JwtConfig {
  return configSchema.parse({ auth: { jwt: input } }).auth.jwt!;
}

function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** A token HMAC-signed by hand with any bytes as the key, as an attacker would build it. */
function handSigned(alg: 'HS256', key: string | Uint8Array, claims: Record<string, unknown>): string {
  const input = `${b64url({ alg, typ: 'JWT' })}.${b64url(claims)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

/** Awaits a refusal and checks its shape: SluiceError 401, a Bearer challenge, no token text. */
async function refusal(promise: Promise<unknown>, token?: string): Promise<SluiceError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(SluiceError);
  const e = error as SluiceError;
  expect(e.code).toBe('SLUICE_UNAUTHORIZED');
  expect(e.status).toBe(401);
  expect(e.headers?.['www-authenticate']).toMatch(/^Bearer error="invalid_token", error_description="[^"\\]+"$/);
  if (token !== undefined) {
    for (const part of token.split('.').filter((p) => p.length >= 8)) {
      expect(e.detail).not.toContain(part.slice(0, 32));
      expect(e.headers?.['www-authenticate']).not.toContain(part.slice(0, 32));
    }
  }
  return e;
}

/** A clock the test moves by hand. */
function clock(start = T): { now: () => number; set(ms: number): void } {
  let at = start;
  return { now: () => at, set: (ms) => { at = ms; } };
}

let keys: Record<AsymmetricAlg, SigningKey>;
let idp: TestIssuer;
beforeAll(async () => {
  keys = await makeKeys();
  idp = await startIssuer(keys);
});
afterAll(() => idp.close());

describe('shared secrets (HS*)', () => {
  test.each(['HS256', 'HS384', 'HS512'])('a %s token signed with the secret is accepted with its role and subject', async (alg) => {
    const verifier = new JwtVerifier(jwtConfig({ secret: SECRET }));
    const token = await signToken(alg, SECRET_BYTES, { sub: 'user-7', role: 'clerk', tenant: 3 });
    const identity = await verifier.verify(token);
    expect(identity).toMatchObject({ role: 'clerk', subject: 'user-7' });
    expect(identity.claims).toMatchObject({ sub: 'user-7', role: 'clerk', tenant: 3 });
  });

  test('a base64: secret is used as the decoded bytes, not as its text', async () => {
    const raw = randomBytes(48);
    const text = raw.toString('base64');
    const verifier = new JwtVerifier(jwtConfig({ secret: `base64:${text}` }));
    expect((await verifier.verify(await signToken('HS256', new Uint8Array(raw), { role: 'clerk' }))).role).toBe('clerk');
    const withText = await signToken('HS256', new TextEncoder().encode(text), { role: 'clerk' });
    expect((await refusal(verifier.verify(withText), withText)).detail).toBe("the token's signature is invalid");
  });

  test('a token signed with another secret is refused: signature invalid', async () => {
    const verifier = new JwtVerifier(jwtConfig({ secret: SECRET }));
    const token = await signToken('HS256', new TextEncoder().encode(`${SECRET}-other`), { role: 'admin' });
    expect((await refusal(verifier.verify(token), token)).detail).toBe("the token's signature is invalid");
  });
});

describe('public keys', () => {
  test.each(ASYMMETRIC_ALGS)('%s via the JWKS URL', async (alg) => {
    const verifier = new JwtVerifier(jwtConfig({ jwksUrl: idp.jwksUrl }));
    const identity = await verifier.verify(await idp.sign(alg, { sub: 'kc-1', role: `role-${alg}` }));
    expect(identity).toMatchObject({ role: `role-${alg}`, subject: 'kc-1' });
    expect(identity.claims.iss).toBe(idp.issuer);
  });

  test.each(ASYMMETRIC_ALGS)('%s via a PEM public key', async (alg) => {
    const verifier = new JwtVerifier(jwtConfig({ publicKey: keys[alg].pem }));
    expect((await verifier.verify(await idp.sign(alg, { role: 'pem-user' }))).role).toBe('pem-user');
    // Another key pair of the same algorithm: its tokens do not verify with this PEM.
    const stranger = await makeKey(alg);
    const forged = await signToken(alg, stranger.privateKey, { role: 'admin' });
    expect((await refusal(verifier.verify(forged), forged)).detail).toBe("the token's signature is invalid");
  });

  test('tokens of several algorithms from one key set cost one JWKS fetch', async () => {
    const own = await startIssuer(keys);
    try {
      const verifier = new JwtVerifier(jwtConfig({ jwksUrl: own.jwksUrl }));
      expect(own.requests.jwks).toBe(0);
      for (const alg of ASYMMETRIC_ALGS) expect((await verifier.verify(await own.sign(alg, { role: alg }))).role).toBe(alg);
      expect(own.requests).toEqual({ jwks: 1, discovery: 0 });
    } finally {
      await own.close();
    }
  });

  test('discovery reads the OpenID configuration once, lazily, and uses its jwks_uri', async () => {
    const own = await startIssuer(keys);
    try {
      const verifier = new JwtVerifier(jwtConfig({ discovery: true, issuer: own.issuer, audience: ['sluice'] }));
      expect(own.requests).toEqual({ jwks: 0, discovery: 0 });
      expect((await verifier.verify(await own.sign('ES256', { aud: 'sluice', role: 'reader' }))).role).toBe('reader');
      expect((await verifier.verify(await own.sign('RS256', { aud: 'sluice', role: 'writer' }))).role).toBe('writer');
      expect(own.requests).toEqual({ jwks: 1, discovery: 1 });
    } finally {
      await own.close();
    }
  });

  test('a discovery document naming another issuer is refused and its keys are never fetched', async () => {
    const own = await startIssuer(keys);
    try {
      own.documentIssuer = 'https://evil.example/realms/shop';
      const verifier = new JwtVerifier(jwtConfig({ discovery: true, issuer: own.issuer }));
      const token = await own.sign('RS256', { role: 'admin' });
      expect((await refusal(verifier.verify(token), token)).detail).toBe("the issuer's OpenID configuration names another issuer");
      expect(own.requests).toEqual({ jwks: 0, discovery: 1 });
    } finally {
      await own.close();
    }
  });

  test('without a kid and with several fitting keys, the key whose signature holds verifies the token', async () => {
    const own = await startIssuer(keys);
    try {
      const older = await makeKey('RS256', 'rs256-old');
      own.keys = [older.jwk, keys.RS256.jwk];
      const verifier = new JwtVerifier(jwtConfig({ jwksUrl: own.jwksUrl }));
      const token = await own.sign('RS256', { role: 'rotated' }, { kid: null });
      expect((await verifier.verify(token)).role).toBe('rotated');
      const forged = await signToken('RS256', (await makeKey('RS256')).privateKey, { role: 'admin' });
      expect((await refusal(verifier.verify(forged), forged)).detail).toBe("the token's signature is invalid");
    } finally {
      await own.close();
    }
  });
});

describe('role claim', () => {
  test.each([
    { path: 'role', claims: { role: 'clerk' }, defaultRole: undefined, role: 'clerk' },
    { path: 'app_metadata.role', claims: { app_metadata: { role: 'manager' } }, defaultRole: 'anon', role: 'manager' },
    { path: 'realm_access.roles', claims: { realm_access: { roles: ['auditor', 'admin'] } }, defaultRole: undefined, role: 'auditor' },
    { path: 'realm_access.roles', claims: { realm_access: { roles: [7, { x: 1 }, 'second'] } }, defaultRole: undefined, role: 'second' },
    { path: 'https://example.com/role', claims: { 'https://example.com/role': 'namespaced' }, defaultRole: undefined, role: 'namespaced' },
    { path: 'role', claims: {}, defaultRole: 'member', role: 'member' },
    { path: 'app_metadata.role', claims: { app_metadata: {} }, defaultRole: undefined, role: null },
    { path: 'role', claims: { role: 42 }, defaultRole: 'member', role: 'member' },
    { path: 'role', claims: { role: '' }, defaultRole: undefined, role: null },
    { path: 'role', claims: { role: { name: 'admin' } }, defaultRole: undefined, role: null },
    { path: 'realm_access.roles', claims: { realm_access: { roles: [] } }, defaultRole: 'member', role: 'member' },
    { path: 'constructor.name', claims: {}, defaultRole: undefined, role: null },
  ])('$path of $claims (default $defaultRole) → $role', async ({ path, claims, defaultRole, role }) => {
    const verifier = new JwtVerifier(jwtConfig({ secret: SECRET, roleClaim: path, ...(defaultRole ? { defaultRole } : {}) }));
    expect((await verifier.verify(await signToken('HS256', SECRET_BYTES, claims))).role).toBe(role);
  });

  test('subject is null when sub is missing or not a string', async () => {
    const verifier = new JwtVerifier(jwtConfig({ secret: SECRET }));
    expect((await verifier.verify(await signToken('HS256', SECRET_BYTES, { role: 'x' }))).subject).toBeNull();
    expect((await verifier.verify(await signToken('HS256', SECRET_BYTES, { sub: 12 as unknown as string }))).subject).toBeNull();
  });
});

describe('attacks are refused with 401', () => {
  /** The strict setup of a real deployment: JWKS, issuer and audience checked. */
  const strict = () => new JwtVerifier(jwtConfig({ jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: ['sluice'] }));

  test.each(['none', 'None', 'NONE'])('an unsigned token (alg %s) is refused, with or without a signature part', async (alg) => {
    for (const verifier of [strict(), new JwtVerifier(jwtConfig({ secret: SECRET }))]) {
      const claims = { iss: idp.issuer, aud: 'sluice', role: 'admin', exp: Math.floor(Date.now() / 1000) + 600 };
      const unsigned = `${b64url({ alg, typ: 'JWT' })}.${b64url(claims)}.`;
      expect((await refusal(verifier.verify(unsigned), unsigned)).detail).toBe('unsigned tokens (alg none) are not accepted');
      const withJunk = `${unsigned}c2lnbmF0dXJl`;
      expect((await refusal(verifier.verify(withJunk), withJunk)).detail).toBe('unsigned tokens (alg none) are not accepted');
    }
  });

  test('HS/RS confusion: an HS256 token keyed with the public key text is refused by a public-key configuration', async () => {
    const claims = { iss: idp.issuer, aud: 'sluice', role: 'admin' };
    const pemToken = handSigned('HS256', keys.RS256.pem, claims);
    const byPem = new JwtVerifier(jwtConfig({ publicKey: keys.RS256.pem }));
    expect((await refusal(byPem.verify(pemToken), pemToken)).detail).toBe("the token's algorithm HS256 is not allowed");
    expect((await refusal(strict().verify(pemToken), pemToken)).detail).toBe("the token's algorithm HS256 is not allowed");
    const jwkToken = handSigned('HS256', JSON.stringify(keys.RS256.jwk), claims);
    expect((await refusal(strict().verify(jwkToken), jwkToken)).detail).toBe("the token's algorithm HS256 is not allowed");
  });

  test('HS/RS confusion: with both a secret and a public key allowed, HS256 is checked with the secret only', async () => {
    const both = new JwtVerifier(jwtConfig({ secret: SECRET, publicKey: keys.RS256.pem, algorithms: ['HS256', 'RS256'] }));
    const forged = handSigned('HS256', keys.RS256.pem, { role: 'admin' });
    expect((await refusal(both.verify(forged), forged)).detail).toBe("the token's signature is invalid");
    expect((await both.verify(handSigned('HS256', SECRET, { role: 'hs' }))).role).toBe('hs');
    expect((await both.verify(await idp.sign('RS256', { role: 'rs' }))).role).toBe('rs');
  });

  test.each([
    { name: 'wrong audience', claims: { aud: 'another-api' }, detail: "the token's audience (aud) is not accepted" },
    { name: 'no audience', claims: {}, detail: 'the token has no audience (aud)' },
    { name: 'wrong issuer', claims: { aud: 'sluice', iss: 'https://evil.example/' }, detail: "the token's issuer (iss) is not accepted" },
    { name: 'no issuer', claims: { aud: 'sluice', iss: undefined }, detail: 'the token has no issuer (iss)' },
  ])('$name → $detail', async ({ claims, detail }) => {
    const token = await idp.sign('ES256', { role: 'admin', ...claims });
    expect((await refusal(strict().verify(token), token)).detail).toBe(detail);
  });

  test('an audience list in the token passes when one member is configured', async () => {
    expect((await strict().verify(await idp.sign('ES256', { aud: ['billing', 'sluice'], role: 'multi' }))).role).toBe('multi');
  });

  test('expired, and not yet valid (nbf in the future), on the real clock', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await idp.sign('RS256', { aud: 'sluice' }, { iat: now - 7200, exp: now - 3600 });
    expect((await refusal(strict().verify(expired), expired)).detail).toBe('the token has expired');
    const early = await idp.sign('RS256', { aud: 'sluice' }, { nbf: now + 3600 });
    expect((await refusal(strict().verify(early), early)).detail).toBe('the token is not valid yet (nbf is in the future)');
  });

  test('a tampered payload (role changed, signature kept) is refused: signature invalid', async () => {
    const verifier = strict();
    const token = await idp.sign('EdDSA', { aud: 'sluice', role: 'reader' });
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${header}.${b64url({ ...claims, role: 'admin' })}.${signature}`;
    expect((await refusal(verifier.verify(tampered), tampered)).detail).toBe("the token's signature is invalid");
    expect((await verifier.verify(token)).role).toBe('reader');
  });

  test('an algorithm outside the allow-list is refused before any key is looked up', async () => {
    const own = await startIssuer(keys);
    try {
      const rsOnly = new JwtVerifier(jwtConfig({ jwksUrl: own.jwksUrl, algorithms: ['RS256'] }));
      const es = await own.sign('ES256', { role: 'admin' });
      expect((await refusal(rsOnly.verify(es), es)).detail).toBe("the token's algorithm ES256 is not allowed");
      expect(own.requests.jwks).toBe(0);
      const hs256Only = new JwtVerifier(jwtConfig({ secret: SECRET, algorithms: ['HS256'] }));
      const hs384 = await signToken('HS384', SECRET_BYTES, { role: 'admin' });
      expect((await refusal(hs256Only.verify(hs384), hs384)).detail).toBe("the token's algorithm HS384 is not allowed");
    } finally {
      await own.close();
    }
  });

  test('a PEM key narrows the default algorithms to the ones it can verify', async () => {
    const ecPem = new JwtVerifier(jwtConfig({ publicKey: keys.ES256.pem }));
    const rs = await idp.sign('RS256', { role: 'admin' });
    expect((await refusal(ecPem.verify(rs), rs)).detail).toBe("the token's algorithm RS256 is not allowed");
  });

  const valid = `${b64url({ alg: 'HS256' })}.${b64url({ role: 'admin' })}`;
  test.each([
    { name: 'garbage', token: 'not a token at all', detail: /not a JWT/ },
    { name: 'empty', token: '', detail: /not a JWT/ },
    { name: 'two segments', token: valid, detail: /not a JWT/ },
    { name: 'four segments', token: `${valid}.c2ln.c2ln`, detail: /not a JWT/ },
    { name: 'huge', token: `${b64url({ alg: 'HS256' })}.${'A'.repeat(20_000)}.c2ln`, detail: /longer than 16384 characters/ },
    { name: 'header not JSON', token: `${b64url('nope')}.${b64url({ role: 'admin' })}.c2ln`, detail: /not a well-formed JWT/ },
    { name: 'header a JSON array', token: `${b64url(['HS256'])}.${b64url({ role: 'admin' })}.c2ln`, detail: /not a well-formed JWT/ },
    { name: 'header without alg', token: `${b64url({ typ: 'JWT' })}.${b64url({ role: 'admin' })}.c2ln`, detail: /not a well-formed JWT/ },
    { name: 'Bearer prefix left on', token: `Bearer ${valid}.c2ln`, detail: /not a JWT/ },
  ])('malformed ($name) → 401', async ({ token, detail }) => {
    const verifier = new JwtVerifier(jwtConfig({ secret: SECRET }));
    expect((await refusal(verifier.verify(token), token)).detail).toMatch(detail);
  });

  test('a payload that is not a JSON object, correctly signed, is refused as malformed', async () => {
    const input = `${b64url({ alg: 'HS256' })}.${b64url('[1,2]')}`;
    const token = `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
    expect((await refusal(new JwtVerifier(jwtConfig({ secret: SECRET })).verify(token), token)).detail).toBe('the bearer token is not a well-formed JWT');
  });
});

describe('unknown key ids and the JWKS cooldown', () => {
  test('an unknown kid refetches the JWKS once; a second unknown kid within the cooldown fetches nothing', async () => {
    const own = await startIssuer(keys);
    try {
      const verifier = new JwtVerifier(jwtConfig({ jwksUrl: own.jwksUrl, jwksCooldown: 300 }));
      await verifier.verify(await own.sign('RS256', { role: 'warm' }));
      expect(own.requests.jwks).toBe(1);
      await sleep(350);
      const ghost1 = await own.sign('RS256', {}, { kid: 'ghost-1' });
      expect((await refusal(verifier.verify(ghost1), ghost1)).detail).toBe("no key of the key set matches the token's key id (kid)");
      expect(own.requests.jwks).toBe(2);
      const ghost2 = await own.sign('RS256', {}, { kid: 'ghost-2' });
      expect((await refusal(verifier.verify(ghost2), ghost2)).detail).toBe("no key of the key set matches the token's key id (kid)");
      expect((await refusal(verifier.verify(ghost1), ghost1)).detail).toBe("no key of the key set matches the token's key id (kid)");
      expect(own.requests.jwks).toBe(2);
    } finally {
      await own.close();
    }
  });

  test('a rotated-in key is found after the cooldown: an unknown kid is not remembered as a failure', async () => {
    const own = await startIssuer(keys);
    try {
      const verifier = new JwtVerifier(jwtConfig({ jwksUrl: own.jwksUrl, jwksCooldown: 300 }));
      await verifier.verify(await own.sign('ES256', { role: 'warm' }));
      const next = await makeKey('ES256', 'es256-2');
      own.keys = [...own.keys, next.jwk];
      const token = await signToken('ES256', next.privateKey, { role: 'rotated' }, { kid: 'es256-2' });
      await refusal(verifier.verify(token), token);
      expect(own.requests.jwks).toBe(1);
      await sleep(350);
      expect((await verifier.verify(token)).role).toBe('rotated');
      expect(own.requests.jwks).toBe(2);
    } finally {
      await own.close();
    }
  });
});

describe('key set unavailable → 401, and recovery', () => {
  test('a JWKS answering 500 gives 401; once it recovers the same token is accepted', async () => {
    const own = await startIssuer(keys);
    try {
      own.jwksStatus = 500;
      const verifier = new JwtVerifier(jwtConfig({ jwksUrl: own.jwksUrl }));
      const token = await own.sign('PS256', { role: 'patient' });
      expect((await refusal(verifier.verify(token), token)).detail).toBe('the key set (JWKS) to verify the token could not be fetched');
      own.jwksStatus = 200;
      expect((await verifier.verify(token)).role).toBe('patient');
      expect(own.requests.jwks).toBe(2);
    } finally {
      await own.close();
    }
  });

  test('a JWKS server that is down gives 401, and tokens of the secret still pass', async () => {
    const own = await startIssuer(keys);
    const jwksUrl = own.jwksUrl;
    await own.close();
    const verifier = new JwtVerifier(jwtConfig({ jwksUrl, secret: SECRET, algorithms: ['HS256', 'RS256'] }));
    const token = await signToken('RS256', keys.RS256.privateKey, { role: 'x' }, { kid: keys.RS256.kid });
    expect((await refusal(verifier.verify(token), token)).detail).toBe('the key set (JWKS) to verify the token could not be fetched');
    expect((await verifier.verify(await signToken('HS256', SECRET_BYTES, { role: 'local' }))).role).toBe('local');
  });

  test('an issuer that is down during discovery gives 401', async () => {
    const own = await startIssuer(keys);
    const issuer = own.issuer;
    await own.close();
    const verifier = new JwtVerifier(jwtConfig({ discovery: true, issuer }));
    const token = await signToken('RS256', keys.RS256.privateKey, { iss: issuer }, { kid: keys.RS256.kid });
    expect((await refusal(verifier.verify(token), token)).detail).toBe("the issuer's OpenID configuration could not be read");
    expect((await refusal(verifier.verify(token), token)).detail).toBe("the issuer's OpenID configuration could not be read");
  });
});

describe('clock tolerance', () => {
  test.each([
    { ago: 2, tolerance: '5s', accepted: true },
    { ago: 10, tolerance: '5s', accepted: false },
    { ago: 10, tolerance: '15s', accepted: true },
    { ago: 1, tolerance: '0s', accepted: false },
  ])('expired $ago s ago with $tolerance tolerance: accepted $accepted', async ({ ago, tolerance, accepted }) => {
    const verifier = new JwtVerifier(jwtConfig({ secret: SECRET, clockTolerance: tolerance }), { now: () => T });
    const token = await signToken('HS256', SECRET_BYTES, { role: 'late' }, { iat: T_S - 3600, exp: T_S - ago });
    if (accepted) expect((await verifier.verify(token)).role).toBe('late');
    else expect((await refusal(verifier.verify(token), token)).detail).toBe('the token has expired');
  });

  test.each([
    { ahead: 2, accepted: true },
    { ahead: 10, accepted: false },
  ])('nbf $ahead s ahead with 5 s tolerance: accepted $accepted', async ({ ahead, accepted }) => {
    const verifier = new JwtVerifier(jwtConfig({ secret: SECRET }), { now: () => T });
    const token = await signToken('HS256', SECRET_BYTES, { role: 'early' }, { iat: T_S, nbf: T_S + ahead });
    if (accepted) expect((await verifier.verify(token)).role).toBe('early');
    else expect((await refusal(verifier.verify(token), token)).detail).toBe('the token is not valid yet (nbf is in the future)');
  });

  test('a token refused for nbf is accepted once its time comes (not remembered as a failure)', async () => {
    const time = clock();
    const verifier = new JwtVerifier(jwtConfig({ secret: SECRET, clockTolerance: 0 }), { now: time.now });
    const token = await signToken('HS256', SECRET_BYTES, { role: 'patient' }, { iat: T_S, nbf: T_S + 30 });
    await refusal(verifier.verify(token), token);
    time.set(T + 30_000);
    expect((await verifier.verify(token)).role).toBe('patient');
  });
});

describe('verified-token cache', () => {
  test('after a verify, cached() returns the same frozen identity synchronously', async () => {
    const verifier = new JwtVerifier(jwtConfig({ secret: SECRET }));
    const token = await signToken('HS256', SECRET_BYTES, { sub: 'u1', role: 'clerk', app_metadata: { tags: ['a'] } });
    expect(verifier.cached(token)).toBeUndefined();
    const identity = await verifier.verify(token);
    const hit = verifier.cached(token);
    expect(hit).toBe(identity);
    expect(hit).toMatchObject({ role: 'clerk', subject: 'u1' });
    expect(Object.isFrozen(hit)).toBe(true);
    expect(Object.isFrozen(hit!.claims)).toBe(true);
    expect(Object.isFrozen((hit!.claims.app_metadata as { tags: string[] }).tags)).toBe(true);
    expect(() => { (hit!.claims as Record<string, unknown>).role = 'admin'; }).toThrow(TypeError);
    expect(await verifier.verify(token)).toBe(identity);
  });

  test('a cached token verifies after the JWKS server has closed, with no request', async () => {
    const own = await startIssuer(keys);
    const verifier = new JwtVerifier(jwtConfig({ jwksUrl: own.jwksUrl }));
    const token = await own.sign('ES256', { role: 'offline' });
    expect((await verifier.verify(token)).role).toBe('offline');
    expect(own.requests.jwks).toBe(1);
    await own.close();
    expect(verifier.cached(token)?.role).toBe('offline');
    expect((await verifier.verify(token)).role).toBe('offline');
    expect(own.requests.jwks).toBe(1);
    const other = await signToken('ES256', keys.ES256.privateKey, { iss: own.issuer, role: 'new' }, { kid: keys.ES256.kid });
    expect(verifier.cached(other)).toBeUndefined();
    expect((await verifier.verify(other)).role).toBe('new');
  });

  test('a cached token stops being accepted after its exp (plus tolerance)', async () => {
    const time = clock();
    const verifier = new JwtVerifier(jwtConfig({ secret: SECRET, clockTolerance: '5s' }), { now: time.now });
    const token = await signToken('HS256', SECRET_BYTES, { role: 'brief' }, { iat: T_S, exp: T_S + 60 });
    await verifier.verify(token);
    time.set(T + 64_999);
    expect(verifier.cached(token)?.role).toBe('brief');
    time.set(T + 65_000);
    expect(verifier.cached(token)).toBeUndefined();
    expect((await refusal(verifier.verify(token), token)).detail).toBe('the token has expired');
    expect(verifier.cached(token)).toBeUndefined();
  });

  test('a token without exp is accepted but cached for at most 60 s', async () => {
    const time = clock();
    const verifier = new JwtVerifier(jwtConfig({ secret: SECRET }), { now: time.now });
    const token = await signToken('HS256', SECRET_BYTES, { role: 'service' }, { iat: T_S, exp: null });
    expect((await verifier.verify(token)).role).toBe('service');
    time.set(T + 59_999);
    expect(verifier.cached(token)?.role).toBe('service');
    time.set(T + 60_000);
    expect(verifier.cached(token)).toBeUndefined();
    expect((await verifier.verify(token)).role).toBe('service');
    expect(verifier.cached(token)?.role).toBe('service');
  });

  test('failed verifications are never cached as successes, and repeat their refusal', async () => {
    const verifier = new JwtVerifier(jwtConfig({ secret: SECRET }));
    const now = Math.floor(Date.now() / 1000);
    const expired = await signToken('HS256', SECRET_BYTES, { role: 'admin' }, { iat: now - 100, exp: now - 60 });
    const forged = handSigned('HS256', 'not-the-secret', { role: 'admin' });
    for (let i = 0; i < 3; i++) {
      expect((await refusal(verifier.verify(expired), expired)).detail).toBe('the token has expired');
      expect((await refusal(verifier.verify(forged), forged)).detail).toBe("the token's signature is invalid");
    }
    expect(verifier.cached(expired)).toBeUndefined();
    expect(verifier.cached(forged)).toBeUndefined();
  });

  test('concurrent verifications of one new token resolve to one identity', async () => {
    const verifier = new JwtVerifier(jwtConfig({ jwksUrl: idp.jwksUrl }));
    const token = await idp.sign('PS256', { role: 'burst' });
    const identities = await Promise.all(Array.from({ length: 20 }, () => verifier.verify(token)));
    expect(new Set(identities).size).toBe(1);
    expect(identities[0]!.role).toBe('burst');
  });

  test('the cache holds at most 10,000 tokens: the oldest is evicted first', async () => {
    const verifier = new JwtVerifier(jwtConfig({ secret: SECRET }));
    const tokens = await Promise.all(Array.from({ length: 10_001 }, (_, i) => signToken('HS256', SECRET_BYTES, { sub: `u${i}` })));
    for (const token of tokens) await verifier.verify(token);
    expect(verifier.cached(tokens[0]!)).toBeUndefined();
    expect(verifier.cached(tokens[1]!)?.subject).toBe('u1');
    expect(verifier.cached(tokens[10_000]!)?.subject).toBe('u10000');
  });
});

describe('checkJwtConfig', () => {
  const rsaPem = () => keys.RS256.pem;
  const cases: { name: string; input: () => Record<string, unknown>; key: string }[] = [
    { name: 'no key source', input: () => ({}), key: 'auth.jwt: no key source' },
    { name: 'only an issuer', input: () => ({ issuer: 'https://idp.example' }), key: 'auth.jwt: no key source' },
    { name: 'discovery without issuer', input: () => ({ discovery: true }), key: 'auth.jwt.issuer' },
    { name: 'discovery with an issuer that is not a URL', input: () => ({ discovery: true, issuer: 'shop-realm' }), key: 'auth.jwt.issuer' },
    { name: 'HS256 listed with a JWKS URL and no secret', input: () => ({ jwksUrl: 'https://idp.example/jwks', algorithms: ['HS256', 'RS256'] }), key: 'auth.jwt.secret' },
    { name: 'HS256 listed with a PEM key and no secret', input: () => ({ publicKey: rsaPem(), algorithms: ['HS256'] }), key: 'auth.jwt.secret' },
    { name: 'RS256 listed with only a secret', input: () => ({ secret: SECRET, algorithms: ['RS256'] }), key: 'auth.jwt.algorithms' },
    { name: 'an unknown algorithm', input: () => ({ secret: SECRET, algorithms: ['HS256', 'XS999'] }), key: 'auth.jwt.algorithms' },
    { name: "'none'", input: () => ({ secret: SECRET, algorithms: ['none'] }), key: 'auth.jwt.algorithms' },
    { name: "'None'", input: () => ({ jwksUrl: 'https://idp.example/jwks', algorithms: ['RS256', 'None'] }), key: 'auth.jwt.algorithms' },
    { name: 'a secret shorter than 32 bytes', input: () => ({ secret: 'short-secret' }), key: 'auth.jwt.secret' },
    { name: 'a base64: secret that is not base64', input: () => ({ secret: 'base64:not*base64!' }), key: 'auth.jwt.secret' },
    { name: 'a base64: secret shorter than 32 bytes', input: () => ({ secret: `base64:${randomBytes(16).toString('base64')}` }), key: 'auth.jwt.secret' },
    { name: 'a publicKey that is not PEM', input: () => ({ publicKey: 'ssh-rsa AAAAB3Nza' }), key: 'auth.jwt.publicKey' },
    { name: 'a private key as publicKey', input: () => ({ publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) }), key: 'auth.jwt.publicKey' },
    { name: 'an RSA key of 1024 bits', input: () => ({ publicKey: generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'pem', type: 'spki' }) }), key: 'auth.jwt.publicKey' },
    { name: 'an X25519 key', input: () => ({ publicKey: generateKeyPairSync('x25519').publicKey.export({ format: 'pem', type: 'spki' }) }), key: 'auth.jwt.publicKey' },
    { name: 'an algorithm the PEM key cannot verify', input: () => ({ publicKey: rsaPem(), algorithms: ['RS256', 'ES256'] }), key: 'auth.jwt.algorithms' },
    { name: 'publicKey and jwksUrl together', input: () => ({ publicKey: rsaPem(), jwksUrl: 'https://idp.example/jwks' }), key: 'auth.jwt.publicKey' },
    { name: 'jwksUrl and discovery together', input: () => ({ jwksUrl: 'https://idp.example/jwks', discovery: true, issuer: 'https://idp.example' }), key: 'auth.jwt.jwksUrl' },
    { name: 'a jwksUrl that is not http(s)', input: () => ({ jwksUrl: 'ftp://idp.example/jwks' }), key: 'auth.jwt.jwksUrl' },
  ];

  test.each(cases)('$name → ConfigError naming $key, also from the constructor', ({ input, key }) => {
    const config = jwtConfig(input());
    const error = (() => { try { checkJwtConfig(config); } catch (e) { return e; } return undefined; })();
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain(`invalid configuration: ${key}`);
    expect(message).not.toContain('\n');
    if (typeof config.secret === 'string') expect(message).not.toContain(config.secret.replace(/^base64:/, ''));
    expect(() => new JwtVerifier(config)).toThrow(ConfigError);
  });

  test.each([
    { name: 'a secret alone', input: () => ({ secret: SECRET }), sign: () => signToken('HS512', SECRET_BYTES, { role: 'ok' }) },
    { name: 'a PEM key with its algorithm', input: () => ({ publicKey: keys.ES256.pem, algorithms: ['ES256'] }), sign: () => idp.sign('ES256', { role: 'ok' }) },
    { name: 'a secret and a JWKS with both families listed', input: () => ({ secret: SECRET, jwksUrl: idp.jwksUrl, algorithms: ['HS256', 'EdDSA'] }), sign: () => idp.sign('EdDSA', { role: 'ok' }) },
    { name: 'Ed25519, the fully-specified name', input: () => ({ publicKey: keys.EdDSA.pem, algorithms: ['EdDSA', 'Ed25519'] }), sign: () => idp.sign('EdDSA', { role: 'ok' }) },
  ])('$name is a working configuration: accepted, and its verifier verifies', async ({ input, sign }) => {
    const config = jwtConfig(input());
    expect(checkJwtConfig(config)).toBeUndefined();
    expect((await new JwtVerifier(config).verify(await sign())).role).toBe('ok');
  });
});

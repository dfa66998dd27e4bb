/**
 * OWASP API2:2023 (Broken Authentication) and API5:2023 (Broken Function Level Authorization)
 * over HTTP, on every dialect: missing, garbage, forged, revoked and expired API keys; JWT attacks
 * (`alg: none`, HS/RS key confusion with a JWKS and with a PEM key, wrong issuer or audience,
 * expired, not yet valid, unknown `kid`, tampered payload or signature, algorithms outside the
 * allow-list); two credentials at once; invalid credentials never falling back to the anonymous
 * role; the admin API refused to anonymous and non-admin callers; and a revocation made on one
 * instance refused by another instance of the same database within seconds.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { dialects, shop as makeShop } from '../support/databases.ts';
import { startSluice, type TestSluice } from '../support/sluice.ts';
import { makeKey, makeKeys, signToken, startIssuer, type AsymmetricAlg, type SigningKey, type TestIssuer } from '../support/jwt-issuer.ts';
import { API, AUDIENCE, ISSUER, problemOf, SECRET, secureFlags, secureShop, shopToken, type SecureShop } from '../support/security-shop.ts';

type Row = Record<string, unknown>;
const all = await dialects();
const ORDER = { status: 'pending', total: '12.50', created_at: '2025-03-01T10:00:00Z' };

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
/** A token built by hand: any header, any payload, HMAC-SHA256 with any key bytes (or a given signature). */
function handMade(header: Row, payload: Row, key?: string | Buffer, signature?: string): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${signature ?? (key === undefined ? '' : createHmac('sha256', key).update(input).digest('base64url'))}`;
}
const now = () => Math.floor(Date.now() / 1000);
/** Changes one character in the middle of a base64url segment (the last one may only carry padding bits). */
const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);

/** A 401 problem with a Bearer challenge that neither echoes the credential nor carries data. */
function expectUnauthorized(res: LightMyRequestResponse, credential?: string): void {
  expect(res.statusCode, res.body).toBe(401);
  expect(problemOf(res).code).toBe('SLUICE_UNAUTHORIZED');
  expect(String(res.headers['www-authenticate'])).toMatch(/^Bearer /);
  expect(res.body).not.toContain('"data"');
  if (credential && credential.length > 12) {
    for (const part of credential.split('.').filter((p) => p.length >= 12)) expect(res.body).not.toContain(part.slice(-12));
  }
}

describe.each(all)('authentication on %s', (dialect) => {
  let shop: SecureShop;
  beforeAll(async () => {
    shop = await secureShop(dialect);
  });
  afterAll(() => shop.close());
  const get = (path: string, headers: Record<string, string> = {}) => shop.s.get(`${API}${path}`, headers);
  const orderCount = async () => Number((await shop.sql('select count(*) as n from orders'))[0]!.n);
  const keyOf = () => shop.a.key['x-api-key']!;

  test('without credentials and without an anonymous role: 401 with a Bearer challenge, for every path and method', async () => {
    const before = await orderCount();
    for (const [method, path] of [['GET', '/orders'], ['GET', `/orders/${shop.a.orders[0]}`], ['GET', '/zz_no_such_table'], ['POST', '/orders'], ['PATCH', '/orders?id=1'], ['DELETE', `/orders/${shop.a.orders[0]}`], ['PUT', `/orders/${shop.a.orders[0]}`]] as const) {
      const res = await shop.s.request(method, `${API}${path}`, method === 'GET' || method === 'DELETE' ? undefined : ORDER);
      expectUnauthorized(res);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="sluice"');
    }
    expect(await orderCount()).toBe(before);
    // The OpenAPI document lists nothing to a caller without credentials.
    expect(Object.keys((await shop.s.get('/openapi.json')).json().paths as Row).filter((p) => p.startsWith(API))).toEqual([]);
  });

  test('valid credentials are accepted: the key as X-API-Key and as Bearer, the JWT as Bearer (control)', async () => {
    for (const headers of [shop.a.key, { authorization: `Bearer ${keyOf()}` }, shop.a.jwt, { authorization: `bearer ${keyOf()}` }]) {
      const res = await get('/orders?limit=1000', headers);
      expect(res.statusCode, res.body).toBe(200);
      expect((res.json() as { data: Row[] }).data.map((o) => o.id)).toEqual(shop.a.orders);
    }
  });

  test.each([
    ['a garbage X-API-Key', () => ({ 'x-api-key': 'garbage' })],
    ['an empty X-API-Key', () => ({ 'x-api-key': '' })],
    ['an unknown key of the right shape', () => ({ 'x-api-key': `sk_ABCDEFGHIJ_${'x'.repeat(43)}` })],
    ['the right prefix with a wrong secret', (k: string) => ({ 'x-api-key': flip(k, 30) })],
    ['the right prefix with a wrong secret, as Bearer', (k: string) => ({ authorization: `Bearer ${flip(k, 30)}` })],
    ['the key cut short', (k: string) => ({ 'x-api-key': k.slice(0, -1) })],
    ['the key with a character more', (k: string) => ({ 'x-api-key': `${k}A` })],
    ['the key cut short, as Bearer', (k: string) => ({ authorization: `Bearer ${k.slice(0, -1)}` })],
    ['the prefix alone', (k: string) => ({ 'x-api-key': k.slice(0, 13) })],
    ['Basic credentials', () => ({ authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` })],
    ['a Bearer without a token', () => ({ authorization: 'Bearer' })],
    ['a Bearer with two tokens', (k: string) => ({ authorization: `Bearer ${k} ${k}` })],
  ])('%s: 401, and no rows', async (_label, headers) => {
    const h = headers(keyOf());
    expectUnauthorized(await get('/orders', h), Object.values(h)[0]);
    expectUnauthorized(await shop.s.request('POST', `${API}/orders`, ORDER, h));
  });

  test('both X-API-Key and Authorization at once: 401, even when both are valid', async () => {
    const before = await orderCount();
    for (const authorization of [`Bearer ${keyOf()}`, shop.a.jwt.authorization!, `Bearer ${shop.admin['x-api-key']}`]) {
      expectUnauthorized(await get('/orders', { ...shop.a.key, authorization }));
      expectUnauthorized(await shop.s.request('POST', `${API}/orders`, ORDER, { ...shop.admin, authorization }));
    }
    expect(await orderCount()).toBe(before);
  });

  test('a revoked key is refused at once by the instance that revoked it, for reads and writes', async () => {
    const headers = await shop.keyFor('customer', shop.a.id);
    expect((await get('/orders', headers)).statusCode).toBe(200);
    expect((await shop.s.sluice.engine.auth.keys!.revoke(headers['x-api-key']!.slice(0, 13)))?.revokedAt).toEqual(expect.any(String));
    const before = await orderCount();
    expectUnauthorized(await get('/orders', headers));
    expectUnauthorized(await get('/orders', { authorization: `Bearer ${headers['x-api-key']}` }));
    expectUnauthorized(await shop.s.request('POST', `${API}/orders`, ORDER, headers));
    expect(await orderCount()).toBe(before);
  });

  test('an expired key is refused, also while its row is cached', async () => {
    const keys = shop.s.sluice.engine.auth.keys!;
    const { key } = await keys.create({ name: 'short-lived', role: 'customer', subject: String(shop.a.id), expiresAt: new Date(Date.now() + 1500) });
    expect((await get('/orders', { 'x-api-key': key })).statusCode).toBe(200);
    await sleep(1600);
    expectUnauthorized(await get('/orders', { 'x-api-key': key }), key);
    expectUnauthorized(await get('/orders', { authorization: `Bearer ${key}` }), key);
  });

  test('a key whose role no policy names sees nothing at all (deny by default)', async () => {
    const ghost = await shop.keyFor('ghost', shop.a.id);
    for (const name of ['orders', 'customers', 'products', 'order_items']) {
      const res = await get(`/${name}`, ghost);
      expect(res.statusCode).toBe(404);
      expect(problemOf(res).code).toBe('SLUICE_UNKNOWN_RESOURCE');
    }
    expect((await shop.s.request('POST', `${API}/orders`, ORDER, ghost)).statusCode).toBe(404);
    // A key's name is a label, not a role.
    const { key } = await shop.s.sluice.engine.auth.keys!.create({ name: 'admin', role: 'customer', subject: String(shop.a.id) });
    expect((await shop.s.get('/admin/keys', { 'x-api-key': key })).statusCode).toBe(403);
  });

  describe('JWT attacks (HS256 with issuer and audience)', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const claims = (extra: Row = {}): Row => ({ sub: String(shop.a.id), role: 'customer', iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + 600, ...extra });

    test('a well-formed token is accepted (control), and so is the same token once more from the cache', async () => {
      const token = await shopToken({ sub: String(shop.a.id), role: 'customer' });
      for (let i = 0; i < 2; i++) expect((await get('/orders', { authorization: `Bearer ${token}` })).statusCode).toBe(200);
      expect((await get('/orders', { authorization: `Bearer ${handMade({ alg: 'HS256', typ: 'JWT' }, claims(), SECRET)}` })).statusCode).toBe(200);
    });

    test.each([
      ['alg none, no signature', () => handMade({ alg: 'none', typ: 'JWT' }, claims({ role: 'admin' }))],
      ['alg None', () => handMade({ alg: 'None', typ: 'JWT' }, claims({ role: 'admin' }))],
      ['alg NONE with a signature', () => handMade({ alg: 'NONE' }, claims({ role: 'admin' }), SECRET)],
      ['alg none with the HMAC of the secret', () => handMade({ alg: 'none' }, claims({ role: 'admin' }), undefined, createHmac('sha256', SECRET).update('x').digest('base64url'))],
      ['no alg at all', () => handMade({ typ: 'JWT' }, claims({ role: 'admin' }), SECRET)],
      ['signed with another secret', () => handMade({ alg: 'HS256' }, claims({ role: 'admin' }), `${SECRET}-not`)],
      ['signed with an empty secret', () => handMade({ alg: 'HS256' }, claims({ role: 'admin' }), '')],
      ['payload tampered (role admin) with the original signature', () => {
        const [h, , sig] = handMade({ alg: 'HS256' }, claims(), SECRET).split('.');
        return `${h}.${b64url(claims({ role: 'admin' }))}.${sig}`;
      }],
      ['payload tampered (sub of B) with the original signature', () => {
        const [h, , sig] = handMade({ alg: 'HS256' }, claims(), SECRET).split('.');
        return `${h}.${b64url(claims({ sub: String(shop.b.id) }))}.${sig}`;
      }],
      ['signature tampered', () => {
        const [h, p, sig] = handMade({ alg: 'HS256' }, claims(), SECRET).split('.');
        return `${h}.${p}.${flip(sig!, 10)}`;
      }],
      ['signature removed', () => handMade({ alg: 'HS256' }, claims(), SECRET).split('.').slice(0, 2).join('.') + '.'],
      ['expired', () => handMade({ alg: 'HS256' }, claims({ iat: now() - 7200, exp: now() - 3600 }), SECRET)],
      ['not valid yet (nbf in an hour)', () => handMade({ alg: 'HS256' }, claims({ nbf: now() + 3600 }), SECRET)],
      ['wrong issuer', () => handMade({ alg: 'HS256' }, claims({ iss: 'https://evil.example/' }), SECRET)],
      ['no issuer', () => handMade({ alg: 'HS256' }, claims({ iss: undefined }), SECRET)],
      ['wrong audience', () => handMade({ alg: 'HS256' }, claims({ aud: 'another-api' }), SECRET)],
      ['no audience', () => handMade({ alg: 'HS256' }, claims({ aud: undefined }), SECRET)],
      ['HS512 with the right secret (not in the allow-list)', async () => signToken('HS512', new TextEncoder().encode(SECRET), claims({ iat: undefined, exp: undefined }), { exp: now() + 600 })],
      ['RS256 signed with a key of the attacker', async () => signToken('RS256', (await makeKey('RS256')).privateKey, claims({ iat: undefined, exp: undefined }))],
      ['HS256 signed with the public key of that pair', () => handMade({ alg: 'HS256' }, claims({ role: 'admin' }), rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string)],
      ['two segments', () => handMade({ alg: 'HS256' }, claims(), SECRET).split('.').slice(0, 2).join('.')],
      ['four segments', () => `${handMade({ alg: 'HS256' }, claims(), SECRET)}.x`],
      ['not base64 JSON', () => 'eyJhbGciOi.bm90IGpzb24.c2ln'],
    ])('%s: 401', async (_label, make) => {
      const token = await make();
      const before = await orderCount();
      expectUnauthorized(await get('/orders', { authorization: `Bearer ${token}` }), token);
      expectUnauthorized(await shop.s.request('POST', `${API}/orders`, ORDER, { authorization: `Bearer ${token}` }), token);
      expectUnauthorized(await shop.s.get('/admin/keys', { authorization: `Bearer ${token}` }), token);
      expect(await orderCount()).toBe(before);
    });

    test('a valid token without a role claim is refused (403), never served as some default role', async () => {
      const res = await get('/orders', { authorization: `Bearer ${handMade({ alg: 'HS256' }, claims({ role: undefined }), SECRET)}` });
      expect(res.statusCode).toBe(403);
      expect(res.body).not.toContain('"data"');
    });
  });

  describe('admin routes', () => {
    const routes = [['GET', '/admin/keys'], ['POST', '/admin/keys'], ['GET', '/admin/audit'], ['GET', '/admin/keys/{id}'], ['DELETE', '/admin/keys/{id}'], ['POST', '/admin/keys/{id}/rotate']] as const;

    test('no credentials: 401; customer keys and tokens: 403; never 200, and nothing changes', async () => {
      const keys = shop.s.sluice.engine.auth.keys!;
      const countKeys = async () => Number((await shop.sql(`select count(*) as n from ${shop.keysTable}`))[0]!.n);
      const before = await countKeys();
      const callers: Array<[Record<string, string>, number]> = [[{}, 401], [shop.a.key, 403], [shop.a.jwt, 403], [{ authorization: `Bearer ${keyOf()}` }, 403]];
      for (const [method, route] of routes) {
        for (const [headers, status] of callers) {
          const path = route.replace('{id}', shop.a.keyId);
          const res = await shop.s.request(method, path, method === 'POST' ? { name: 'backdoor', role: 'admin' } : undefined, headers);
          expect(res.statusCode, `${method} ${path} ${JSON.stringify(headers).slice(0, 20)}: ${res.body}`).toBe(status);
          expect(res.body).not.toContain('"data"');
          expect(res.body).not.toMatch(/sk_[A-Za-z0-9]{10}_/);
        }
      }
      expect(await countKeys()).toBe(before);
      expect((await keys.get(shop.a.keyId))!.revokedAt).toBeNull();
      expect((await get('/orders', shop.a.key)).statusCode).toBe(200);
      // The admin gets them (so the refusals above are about the caller, not a missing route).
      expect((await shop.s.get('/admin/keys', shop.admin)).statusCode).toBe(200);
      expect((await shop.s.get('/admin/audit', shop.admin)).statusCode).toBe(200);
    });

    test('anonymous callers get 401 when an anonymous role is configured too', async () => {
      const anon = await secureShop(dialect, { flags: { 'auth.anonRole': 'anon' } });
      try {
        for (const [method, route] of routes) {
          const res = await anon.s.request(method, route.replace('{id}', anon.a.keyId), method === 'POST' ? { name: 'backdoor', role: 'admin' } : undefined);
          expect(res.statusCode, `${method} ${route}`).toBe(401);
        }
        // The anonymous role serves what it may: the products.
        expect((await anon.s.get(`${API}/products`)).statusCode).toBe(200);
      } finally {
        await anon.close();
      }
    });
  });

  test('invalid credentials never fall back to the anonymous role', async () => {
    const anon = await secureShop(dialect, { flags: { 'auth.anonRole': 'anon' } });
    try {
      expect((await anon.s.get(`${API}/products`)).statusCode).toBe(200);
      const forged = handMade({ alg: 'none' }, { role: 'anon' });
      const attempts: Array<Record<string, string>> = [{ 'x-api-key': 'garbage' }, { 'x-api-key': flip(anon.a.key['x-api-key']!, 30) }, { authorization: `Bearer ${forged}` }, { authorization: 'Basic eDp5' }];
      for (const headers of attempts) {
        expectUnauthorized(await anon.s.get(`${API}/products`, headers));
      }
    } finally {
      await anon.close();
    }
  });
});

describe.each(all)('HS/RS key confusion and JWKS attacks on %s', (dialect) => {
  let keys: Record<AsymmetricAlg, SigningKey>;
  let idp: TestIssuer;
  const cleanup: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    keys = await makeKeys();
    idp = await startIssuer(keys);
  });
  afterAll(async () => {
    for (const done of cleanup.splice(0).reverse()) await done();
    await idp.close();
  });

  /** A shop whose JWTs are RS256 only, from the issuer's JWKS or from its PEM public key. */
  const start = async (source: 'jwks' | 'pem'): Promise<{ s: TestSluice }> => {
    const db = await makeShop(dialect);
    const jwt = source === 'jwks'
      ? { jwksUrl: idp.jwksUrl, algorithms: ['RS256'], issuer: idp.issuer, audience: [AUDIENCE] }
      : { publicKey: keys.RS256.pem, algorithms: ['RS256'], issuer: idp.issuer, audience: [AUDIENCE] };
    const s = await startSluice({ url: db.url, flags: secureFlags({ 'auth.jwt': jwt }) });
    cleanup.push(() => db.dispose(), () => s.close());
    return { s };
  };
  const claims = (extra: Row = {}): Row => ({ sub: '1', role: 'customer', iss: idp.issuer, aud: AUDIENCE, iat: now(), exp: now() + 600, ...extra });

  test.each(['jwks', 'pem'] as const)('with the key from %s: an RS256 token of the issuer works; forgeries get 401', async (source) => {
    const { s } = await start(source);
    const call = (token: string) => s.get(`${API}/orders`, { authorization: `Bearer ${token}` });
    const good = await idp.sign('RS256', { sub: '1', role: 'customer', aud: AUDIENCE });
    expect((await call(good)).statusCode).toBe(200);

    const pem = keys.RS256.pem;
    const stranger = await makeKey('RS256', keys.RS256.kid);
    const unknownKid = await makeKey('RS256', 'kid-nobody-knows');
    const forgeries: Array<[string, string]> = [
      ['HS256 signed with the public key PEM', handMade({ alg: 'HS256', kid: keys.RS256.kid }, claims({ role: 'admin' }), pem)],
      ['HS256 signed with the PEM without its final newline', handMade({ alg: 'HS256', kid: keys.RS256.kid }, claims({ role: 'admin' }), pem.trimEnd())],
      ['HS256 signed with the modulus', handMade({ alg: 'HS256', kid: keys.RS256.kid }, claims({ role: 'admin' }), Buffer.from(String(keys.RS256.jwk.n), 'base64url'))],
      ['alg none', handMade({ alg: 'none', kid: keys.RS256.kid }, claims({ role: 'admin' }))],
      ['signed by a stranger under the issuer\'s kid', await signToken('RS256', stranger.privateKey, claims({ iat: undefined, exp: undefined }), { kid: keys.RS256.kid })],
      ['an unknown kid', await signToken('RS256', unknownKid.privateKey, claims({ iat: undefined, exp: undefined }), { kid: 'kid-nobody-knows' })],
      ['ES256 of the issuer (not in the allow-list)', await idp.sign('ES256', { sub: '1', role: 'customer', aud: AUDIENCE })],
      ['expired', await idp.sign('RS256', { sub: '1', role: 'customer', aud: AUDIENCE }, { iat: now() - 7200, exp: now() - 3600 })],
      ['wrong issuer', await idp.sign('RS256', { sub: '1', role: 'customer', aud: AUDIENCE, iss: 'https://evil.example/' })],
      ['wrong audience', await idp.sign('RS256', { sub: '1', role: 'customer', aud: 'another-api' })],
      ['payload tampered (role admin)', (() => {
        const [h, , sig] = good.split('.');
        return `${h}.${b64url({ ...JSON.parse(Buffer.from(good.split('.')[1]!, 'base64url').toString()) as Row, role: 'admin' })}.${sig}`;
      })()],
      ['signature tampered', (() => {
        const [h, p, sig] = good.split('.');
        return `${h}.${p}.${flip(sig!, 40)}`;
      })()],
    ];
    for (const [label, token] of forgeries) {
      const res = await call(token);
      expect(res.statusCode, `${label}: ${res.body}`).toBe(401);
      expectUnauthorized(res, token);
      expect((await s.get('/admin/keys', { authorization: `Bearer ${token}` })).statusCode, label).toBe(401);
    }
    // A genuine admin token of the issuer does open the admin API (control for the line above).
    expect((await s.get('/admin/keys', { authorization: `Bearer ${await idp.sign('RS256', { role: 'admin', aud: AUDIENCE })}` })).statusCode).toBe(200);
  });
});

describe.each(all)('revocation across two instances on %s', (dialect) => {
  /** Polls `check` every 50 ms until it returns true or `ms` have passed; returns the time it took. */
  const within = async (ms: number, check: () => Promise<boolean>): Promise<number> => {
    const started = Date.now();
    while (Date.now() - started < ms) {
      if (await check()) return Date.now() - started;
      await sleep(50);
    }
    return Infinity;
  };

  test.each(['the key store', 'the admin API'] as const)('a key revoked on instance 1 through %s is refused by instance 2 within 5 s', async (via) => {
    const db = await makeShop(dialect);
    const flags = secureFlags({ 'auth.apiKeys.cacheTtl': '300ms' });
    const one = await startSluice({ url: db.url, flags });
    const two = await startSluice({ url: db.url, flags });
    try {
      const { key, record } = await one.sluice.engine.auth.keys!.create({ name: 'leaked', role: 'customer', subject: '1' });
      const admin = { 'x-api-key': (await one.sluice.engine.auth.keys!.create({ name: 'root', role: 'admin' })).key };
      // Both instances accept the key (and now hold it in their caches).
      for (const s of [one, two, one, two]) expect((await s.get(`${API}/orders`, { 'x-api-key': key })).statusCode).toBe(200);

      if (via === 'the key store') await one.sluice.engine.auth.keys!.revoke(record.id);
      else expect((await one.request('DELETE', `/admin/keys/${record.id}`, undefined, admin)).statusCode).toBe(200);

      expect((await one.get(`${API}/orders`, { 'x-api-key': key })).statusCode).toBe(401);
      const took = await within(5000, async () => (await two.get(`${API}/orders`, { 'x-api-key': key })).statusCode === 401);
      expect(took).toBeLessThan(5000);
      // And it stays refused, on both, for reads and writes.
      for (const s of [one, two]) {
        expectUnauthorized(await s.get(`${API}/orders`, { authorization: `Bearer ${key}` }), key);
        expectUnauthorized(await s.request('POST', `${API}/orders`, ORDER, { 'x-api-key': key }), key);
      }
    } finally {
      await two.close();
      await one.close();
      await db.dispose();
    }
  });
});

/**
 * `/openapi.json` follows the current schema snapshot (one document per snapshot); `/docs` and its
 * assets are served by Sluice itself with the right types, a long cache for hashed assets and a
 * policy that lets the page load nothing from elsewhere.
 */
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildServer } from '../../src/http/server.ts';
import type { Snapshot } from '../../src/schema/model.ts';
import { sqliteShop } from '../support/databases.ts';
import { startSluice, type TestSluice } from '../support/sluice.ts';

describe('documentation routes', () => {
  let s: TestSluice;
  beforeAll(async () => {
    s = await startSluice({ url: sqliteShop() });
  });
  afterAll(() => s?.close());

  test('/openapi.json is built per snapshot: a reloaded schema gets a new document', async () => {
    let current: Snapshot = s.sluice.snapshot();
    const app = buildServer({ engine: { ...s.sluice.engine, snapshot: () => current }, logger: false });
    try {
      const first = await app.inject('/openapi.json');
      // Per caller: the document depends on the role the credentials carry.
      expect(first.headers['cache-control']).toBe('private, no-cache');
      expect(first.headers.vary).toBe('authorization, x-api-key');
      expect(Object.keys(first.json().paths)).toContain('/products');
      const resources = new Map([...current.resources].filter(([name]) => name !== 'products'));
      current = { ...current, resources };
      const second = await app.inject('/openapi.json');
      expect(Object.keys(second.json().paths)).not.toContain('/products');
      expect(Object.keys(second.json().paths)).toContain('/orders');
    } finally {
      await app.close();
    }
  });

  test.each(['/docs', '/docs/'])('%s is an HTML page that loads only its own assets and /openapi.json', async (path) => {
    const res = await s.get(path);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(res.body).not.toMatch(/(https?:)?\/\/[a-z]/i);
    const assets = [...res.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(4);
    for (const url of assets) {
      const asset = await s.get(url);
      expect(asset.statusCode, url).toBe(200);
      expect(asset.headers['cache-control'], url).toBe('public, max-age=31536000, immutable');
    }
    const init = assets.find((u) => u.endsWith('/init.js'))!;
    expect((await s.get(init)).body).toContain("url: '/openapi.json'");
  });

  test('assets have their content types and are gzipped when the client accepts it', async () => {
    const page = (await s.get('/docs')).body;
    const bundle = /src="([^"]+swagger-ui-bundle\.js)"/.exec(page)![1]!;
    const css = /href="([^"]+swagger-ui\.css)"/.exec(page)![1]!;
    const plain = await s.get(bundle);
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(plain.headers['content-encoding']).toBeUndefined();
    const zipped = await s.get(bundle, { 'accept-encoding': 'gzip, br' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toContain('accept-encoding');
    expect(gunzipSync(zipped.rawPayload).equals(plain.rawPayload)).toBe(true);
    expect((await s.get(css)).headers['content-type']).toBe('text/css; charset=utf-8');
  });

  test('an asset of another build is served but not cached; an unknown one is a 404 problem', async () => {
    const stale = await s.get('/docs/assets/0000000000000000/swagger-ui.css');
    expect(stale.statusCode).toBe(200);
    expect(stale.headers['cache-control']).toBe('no-cache');
    const missing = await s.get('/docs/assets/0000000000000000/package.json');
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toBe('application/problem+json');
    expect((await s.get('/docs/assets/x/..%2F..%2Fpackage.json')).statusCode).toBe(404);
  });
});

/**
 * `/docs` in a real headless Chromium (SPEC §9): the page renders the operations of the live
 * schema, "Try it out" runs a filtered list against Sluice, and the browser asks no host but the
 * Sluice server for anything — the documentation works offline.
 *
 * Needs /usr/bin/chromium (Debian's `chromium` package). Without it the suite is skipped with a
 * message on stderr, unless CI is set: there it is required and the run fails.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sqliteShop } from '../support/databases.ts';
import { startSluice, type TestSluice } from '../support/sluice.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const available = existsSync(CHROMIUM);
if (!available && !process.env.CI) {
  process.stderr.write(`\n[sluice tests] ${CHROMIUM} is missing: the /docs browser suite is SKIPPED (apt-get install -y chromium, or CI=1 to require it)\n`);
}

describe.runIf(available || process.env.CI)('/docs in a real browser', () => {
  let s: TestSluice;
  let origin: string;
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];

  beforeAll(async () => {
    if (!available) throw new Error(`${CHROMIUM} is required when CI is set (apt-get install -y chromium)`);
    s = await startSluice({ url: sqliteShop() });
    await s.sluice.app.listen({ port: 0, host: '127.0.0.1' });
    origin = `http://127.0.0.1:${(s.sluice.app.server.address() as { port: number }).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    // The context sees requests of every page and worker, not only the top document's.
    context.on('request', (request) => requests.push(request.url()));
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  test('renders the operations of the schema from /docs (no trailing slash)', async () => {
    const response = await page.goto(`${origin}/docs`);
    expect(response?.status()).toBe(200);
    const orders = page.locator('.opblock-summary-path', { hasText: /^\/orders$/ }).first();
    await orders.waitFor({ timeout: 20_000 });
    const paths = await page.locator('.opblock-summary-path').allTextContents();
    expect(paths.map((p) => p.replace(/\u200b/g, ''))).toEqual(expect.arrayContaining(['/orders', '/orders/{id}', '/customers', '/order_items/{id}']));
    expect(await page.locator('.info .title').textContent()).toContain('Sluice API');
  });

  test('"Try it out" sends a deepObject filter that Sluice understands', async () => {
    const op = page.locator('#operations-orders-listOrders');
    await op.locator('.opblock-summary-control').click();
    await op.locator('.try-out__btn').click();
    await op.locator('tr[data-param-name="total"] textarea').fill('{"gte": "990", "lt": "991"}');
    await op.locator('tr[data-param-name="limit"] input').fill('3');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().startsWith(`${origin}/api/v1/orders?`), { timeout: 20_000 }),
      op.locator('.execute').click(),
    ]);
    expect(decodeURIComponent(response.url())).toBe(`${origin}/api/v1/orders?limit=3&total[gte]=990&total[lt]=991`);
    expect(response.status()).toBe(200);
    const body = await response.json() as { data: Array<{ total: string }> };
    expect(body.data.length).toBeGreaterThan(0);
    for (const row of body.data) expect(Number(row.total)).toBeGreaterThanOrEqual(990);
    // …and the page shows what came back.
    const status = op.locator('.live-responses-table tbody .response-col_status').first();
    await expect.poll(() => status.textContent(), { timeout: 20_000 }).toContain('200');
    expect(await op.locator('.live-responses-table .highlight-code pre').first().textContent()).toContain(body.data[0]!.total);
  });

  test('made no request to any host but the Sluice server', () => {
    expect(requests.length).toBeGreaterThan(4);
    expect(requests.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    expect(requests).toContain(`${origin}/openapi.json`);
  });
});

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dialects, shop } from '../support/databases.ts';
import { startSluice, type TestSluice } from '../support/sluice.ts';

describe.each(await dialects())('smoke on %s', (dialect) => {
  let s: TestSluice;
  let dispose: () => Promise<void>;
  beforeAll(async () => {
    const db = await shop(dialect);
    dispose = db.dispose;
    s = await startSluice({ url: db.url });
  });
  afterAll(async () => {
    await s.close();
    await dispose();
  });

  test('GET /api/v1/orders?include=customer,items costs exactly one SQL statement', async () => {
    s.statements.length = 0;
    const res = await s.get('/api/v1/orders?include=customer,items');
    expect(res.statusCode).toBe(200);
    expect(s.statements).toHaveLength(1);
    const body = res.json();
    expect(body.data).toHaveLength(25);
    expect(body.data[0]).toMatchObject({ id: 1, customer_id: 920, status: 'paid', total: '47.29', customer: { id: 920, name: 'Customer 920' } });
    expect(body.data[0].items.map((i: { product_id: number }) => i.product_id)).toEqual([46, 139]);
  });
});

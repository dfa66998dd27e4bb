/**
 * Streams under stress, on every dialect: clients that go away before or during a stream must
 * not leak a database connection (the pool would run dry), and a slow reader gets every row even
 * when it takes longer than the per-request statement timeout.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { dialects } from '../support/databases.ts';
import { useShop } from '../support/sluice.ts';

const BIG = '/api/v1/order_items?include=product,order.customer';

async function listen(s: ReturnType<ReturnType<typeof useShop>>): Promise<number> {
  if (!s.sluice.app.server.listening) await s.sluice.app.listen({ port: 0, host: '127.0.0.1' });
  return (s.sluice.app.server.address() as AddressInfo).port;
}

describe.each(await dialects())('streams on %s', (dialect) => {
  // A pool of 2 and a 300 ms statement timeout make leaks and cut-offs show at once.
  const s = useShop(dialect, { flags: { 'database.pool.max': 2, 'database.pool.acquireTimeout': '3s', 'database.pool.statementTimeout': '300ms' } });

  test('clients that hang up before or during a stream leave no connection behind', async () => {
    const port = await listen(s());
    for (let i = 0; i < 12; i++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write(`GET ${BIG} HTTP/1.1\r\nHost: x\r\nAccept: application/x-ndjson\r\n\r\n`);
      await sleep(i % 4); // gone before the first byte, or a few ms into the stream
      socket.destroy();
    }
    // The abandoned streams drain one after another through the pool of 2; a leaked connection
    // would never come back. So: wait (bounded) until reads answer again, then use both
    // connections at once — with one leaked, one of the two streams would time out.
    let status = 0;
    for (let waited = 0; waited < 15_000 && status !== 200; waited += 250) {
      status = (await s().get('/api/v1/orders/1')).statusCode;
      if (status !== 200) await sleep(250);
    }
    expect(status).toBe(200);
    const both = await Promise.all([1, 2].map(() => s().get('/api/v1/orders?fields=id', { accept: 'application/x-ndjson' })));
    for (const res of both) {
      expect(res.statusCode).toBe(200);
      expect(res.body.trimEnd().split('\n')).toHaveLength(10000);
    }
  });

  test('a slow reader receives every row, past the per-request statement timeout', async () => {
    const port = await listen(s());
    const lines = await new Promise<number>((done, fail) => {
      const req = httpRequest({ port, host: '127.0.0.1', path: BIG, headers: { accept: 'application/x-ndjson' } }, (res) => {
        let count = 0, tail = '';
        res.setEncoding('utf8');
        res.pause();
        setTimeout(() => res.resume(), 800); // hold the stream back well past 300 ms
        res.on('data', (chunk: string) => {
          const text = tail + chunk;
          const parts = text.split('\n');
          tail = parts.pop()!;
          count += parts.length;
        });
        res.on('end', () => done(count));
        res.on('error', fail);
      });
      req.on('error', fail);
      req.end();
    });
    expect(lines).toBe(25000);
  });
});

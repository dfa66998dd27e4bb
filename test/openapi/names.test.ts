/**
 * Component names of resources: valid OpenAPI component keys, unique with their derived names,
 * and independent of the order resources come in; on PostgreSQL a `schema.table` resource gets a
 * valid document end to end.
 */
import pg from 'pg';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, test } from 'vitest';
import { componentNames, resourcePath } from '../../src/openapi/names.ts';
import type { Resource } from '../../src/schema/model.ts';
import { dialects, dropPostgres, postgresEmpty } from '../support/databases.ts';
import { startSluice } from '../support/sluice.ts';

const named = (...names: string[]) => names.map((name) => ({ name }) as Resource);
const COMPONENT_KEY = /^[a-zA-Z0-9.\-_]+$/;

describe('componentNames', () => {
  test('PascalCase of the resource name, dots and odd characters dropped', () => {
    const names = componentNames(named('orders', 'order_items', 'sales.orders', 'Größe', '2024_stats', '***', 'café_bar'));
    expect(Object.fromEntries(names)).toEqual({
      orders: 'Orders', order_items: 'OrderItems', 'sales.orders': 'SalesOrders', Größe: 'GroE', '2024_stats': 'R2024Stats', '***': 'Resource', café_bar: 'CafeBar',
    });
    for (const n of names.values()) expect(n).toMatch(COMPONENT_KEY);
  });

  test('clashes, also with derived and fixed names, are numbered in name order whatever the input order', () => {
    const a = componentNames(named('order_items', 'orderItems', 'orders', 'orders_insert', 'problem'));
    const b = componentNames(named('problem', 'orders_insert', 'orders', 'orderItems', 'order_items'));
    expect(a).toEqual(b);
    expect(Object.fromEntries(a)).toEqual({
      orderItems: 'OrderItems', order_items: 'OrderItems2', orders: 'Orders', orders_insert: 'OrdersInsert2', problem: 'Problem2',
    });
  });

  test('paths encode what a URL cannot carry', () => {
    expect(resourcePath({ name: 'sales.orders' } as Resource)).toBe('/sales.orders');
    expect(resourcePath({ name: 'odd name' } as Resource)).toBe('/odd%20name');
  });
});

describe.runIf((await dialects()).includes('postgres'))('a table name shared by two schemas (PostgreSQL)', () => {
  test('becomes schema.table with a valid component name and path', async () => {
    const url = await postgresEmpty();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`create schema sales; create table public.orders (id int primary key); create table sales.orders (id int primary key, note text)`);
    await client.end();
    const s = await startSluice({ url, flags: { 'database.schemas': 'public,sales' } });
    try {
      const doc = (await s.get('/openapi.json')).json();
      expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/sales.orders', '/sales.orders/{id}']));
      expect(doc.components.schemas.SalesOrders.properties.note).toBeDefined();
      expect((await new Validator().validate(doc)).valid).toBe(true);
    } finally {
      await s.close();
      await dropPostgres(url);
    }
  });
});

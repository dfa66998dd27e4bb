/**
 * Relation names (the words users write in `include` and relation filters), derived from foreign
 * keys by src/schema/relations.ts through buildSnapshot, on hand-written RawTables.
 */
import { describe, expect, test } from 'vitest';
import { singular } from '../../src/schema/relations.ts';
import type { Relation, Snapshot } from '../../src/schema/model.ts';
import { buildSnapshot } from '../../src/schema/snapshot.ts';
import { rawTable, resource, shopSnapshot, table, type TableSpec } from './fixtures.ts';

function snapshotOf(...specs: TableSpec[]): Snapshot {
  return buildSnapshot('postgres', specs.map((s) => rawTable('postgres', s)), ['public']);
}

function relation(snapshot: Snapshot, from: string, name: string): Relation {
  const r = resource(snapshot, from).relations.get(name);
  if (!r) throw new Error(`${from} has no relation '${name}'; it has ${[...resource(snapshot, from).relations.keys()].join(', ')}`);
  return r;
}

const names = (snapshot: Snapshot, from: string) => [...resource(snapshot, from).relations.keys()].sort();

describe.each(['postgres', 'sqlite'] as const)('the shop on %s', (dialect) => {
  const shop = shopSnapshot(dialect);

  test.each<[string, string[]]>([
    ['customers', ['orders']],
    ['orders', ['customer', 'items', 'order_items', 'products']],
    ['order_items', ['order', 'product']],
    ['products', ['order_items', 'orders']],
  ])('%s has the relations %j', (from, expected) => {
    expect(names(shop, from)).toEqual(expected);
  });

  test('to-one: orders.customer_id → customer', () => {
    expect(relation(shop, 'orders', 'customer')).toEqual({ name: 'customer', kind: 'one', target: 'customers', columns: ['customer_id'], targetColumns: ['id'] });
  });

  test('to-many: customers.orders', () => {
    expect(relation(shop, 'customers', 'orders')).toEqual({ name: 'orders', kind: 'many', target: 'orders', columns: ['id'], targetColumns: ['customer_id'] });
  });

  test('order_items seen from orders is items, and order_items names the same relation', () => {
    const items = relation(shop, 'orders', 'items');
    expect(items).toMatchObject({ name: 'items', kind: 'many', target: 'order_items', columns: ['id'], targetColumns: ['order_id'] });
    expect(relation(shop, 'orders', 'order_items')).toEqual(items);
  });

  test('order_items seen from products keeps its full name (the prefix is not products)', () => {
    expect(relation(shop, 'products', 'order_items')).toMatchObject({ kind: 'many', columns: ['id'], targetColumns: ['product_id'] });
  });

  test('many-to-many through the junction: orders → products and back', () => {
    const schema = dialect === 'postgres' ? 'public' : 'main';
    expect(relation(shop, 'orders', 'products')).toEqual({
      name: 'products', kind: 'manyToMany', target: 'products', columns: ['id'], targetColumns: ['id'],
      junction: { resource: 'order_items', schema, table: 'order_items', sourceColumns: ['order_id'], targetColumns: ['product_id'] },
    });
    expect(relation(shop, 'products', 'orders')).toMatchObject({
      kind: 'manyToMany', target: 'orders', junction: { sourceColumns: ['product_id'], targetColumns: ['order_id'] },
    });
  });
});

describe('hand-written schemas', () => {
  test('a unique foreign key is one-to-one from both sides', () => {
    const s = snapshotOf(table('customers', ['id']), table('customer_profiles', ['id', 'customer_id', 'bio'], { unique: [['customer_id']], fks: [[['customer_id'], 'customers', ['id']]] }));
    expect(relation(s, 'customer_profiles', 'customer')).toMatchObject({ kind: 'one', target: 'customers' });
    const profile = relation(s, 'customers', 'profile');
    expect(profile).toEqual({ name: 'profile', kind: 'one', target: 'customer_profiles', columns: ['id'], targetColumns: ['customer_id'] });
    expect(relation(s, 'customers', 'customer_profile')).toEqual(profile);
  });

  test('two foreign keys to the same table: named after their columns on both sides', () => {
    const s = snapshotOf(table('accounts', ['id']), table('transfers', ['id', 'from_account_id', 'to_account_id'], {
      fks: [[['from_account_id'], 'accounts', ['id']], [['to_account_id'], 'accounts', ['id']]],
    }));
    expect(relation(s, 'transfers', 'from_account')).toMatchObject({ kind: 'one', target: 'accounts', columns: ['from_account_id'] });
    expect(relation(s, 'transfers', 'to_account')).toMatchObject({ kind: 'one', target: 'accounts', columns: ['to_account_id'] });
    expect(names(s, 'accounts')).toEqual(['transfers_by_from_account_id', 'transfers_by_to_account_id']);
    expect(relation(s, 'accounts', 'transfers_by_to_account_id')).toMatchObject({ kind: 'many', target: 'transfers', columns: ['id'], targetColumns: ['to_account_id'] });
  });

  test('a to-one name that clashes with a column falls back to {table}_by_{columns}', () => {
    const s = snapshotOf(table('customers', ['id']), table('orders', ['id', 'customer', 'customer_id'], { fks: [[['customer_id'], 'customers', ['id']]] }));
    expect(names(s, 'orders')).toEqual(['customers_by_customer_id']);
    expect(relation(s, 'orders', 'customers_by_customer_id')).toMatchObject({ name: 'customers_by_customer_id', kind: 'one', columns: ['customer_id'] });
  });

  test('a to-many alias that clashes with a column is dropped; the full name stays', () => {
    const s = snapshotOf(table('orders', ['id', 'items']), table('order_items', ['order_id', 'product_id'], { pk: ['order_id', 'product_id'], fks: [[['order_id'], 'orders', ['id']]] }));
    expect(names(s, 'orders')).toEqual(['order_items']);
    expect(relation(s, 'orders', 'order_items').name).toBe('order_items');
  });

  test('a foreign key without _id is named after the singular of its target', () => {
    const s = snapshotOf(table('customers', ['id']), table('orders', ['id', 'buyer'], { fks: [[['buyer'], 'customers', ['id']]] }));
    expect(relation(s, 'orders', 'customer')).toMatchObject({ kind: 'one', columns: ['buyer'], targetColumns: ['id'] });
  });

  test('self reference: the parent (to-one) and the children (to-many), no many-to-many to itself', () => {
    const s = snapshotOf(table('employees', ['id', 'manager_id'], { fks: [[['manager_id'], 'employees', ['id']]] }));
    expect(relation(s, 'employees', 'manager')).toEqual({ name: 'manager', kind: 'one', target: 'employees', columns: ['manager_id'], targetColumns: ['id'] });
    expect(relation(s, 'employees', 'employees')).toEqual({ name: 'employees', kind: 'many', target: 'employees', columns: ['id'], targetColumns: ['manager_id'] });
    expect(names(s, 'employees')).toEqual(['employees', 'manager']);
  });

  test('two self references fall back to {table}_by_{columns} for the children', () => {
    const s = snapshotOf(table('people', ['id', 'mother_id', 'father_id'], { fks: [[['mother_id'], 'people', ['id']], [['father_id'], 'people', ['id']]] }));
    expect(names(s, 'people')).toEqual(['father', 'mother', 'people_by_father_id', 'people_by_mother_id']);
  });

  test('a composite foreign key relates column lists element-wise', () => {
    const s = snapshotOf(
      table('order_lines', ['order_id', 'line_no', 'qty'], { pk: ['order_id', 'line_no'] }),
      table('shipments', ['id', 'order_id', 'line_no'], { fks: [[['order_id', 'line_no'], 'order_lines', ['order_id', 'line_no']]] }),
    );
    expect(relation(s, 'shipments', 'order_line')).toEqual({ name: 'order_line', kind: 'one', target: 'order_lines', columns: ['order_id', 'line_no'], targetColumns: ['order_id', 'line_no'] });
    expect(relation(s, 'order_lines', 'shipments')).toEqual({ name: 'shipments', kind: 'many', target: 'shipments', columns: ['order_id', 'line_no'], targetColumns: ['order_id', 'line_no'] });
  });

  test('a foreign key to a table outside the exposed schemas makes no relation', () => {
    const s = snapshotOf(table('orders', ['id', 'customer_id'], { fks: [[['customer_id'], 'customers', ['id']]] }));
    expect(names(s, 'orders')).toEqual([]);
  });

  test('many-to-many: include=tags on posts embeds tags through post_tags (the junction keeps its own name)', () => {
    const s = snapshotOf(
      table('posts', ['id']), table('tags', ['id']),
      table('post_tags', ['post_id', 'tag_id'], { pk: ['post_id', 'tag_id'], fks: [[['post_id'], 'posts', ['id']], [['tag_id'], 'tags', ['id']]] }),
    );
    // Seen from tags the names are right: posts is the many-to-many, post_tags the junction rows.
    expect(relation(s, 'tags', 'posts')).toMatchObject({ kind: 'manyToMany', target: 'posts' });
    expect(relation(s, 'tags', 'post_tags')).toMatchObject({ kind: 'many', target: 'post_tags' });
    // Seen from posts, `tags` must name the tags too, not the junction rows.
    expect(relation(s, 'posts', 'post_tags')).toMatchObject({ kind: 'many', target: 'post_tags' });
    expect(relation(s, 'posts', 'tags')).toMatchObject({ kind: 'manyToMany', target: 'tags' });
  });
});

describe('singular', () => {
  test.each([
    ['order_items', 'order_item'], ['orders', 'order'], ['categories', 'category'], ['boxes', 'box'],
    ['addresses', 'address'], ['branches', 'branch'], ['glass', 'glass'], ['person', 'person'],
  ])('%s → %s', (word, expected) => {
    expect(singular(word)).toBe(expected);
  });
});

/**
 * Schema fixtures for tests that need no database: RawTables written by hand, exactly as the
 * introspectors report them (types through `pgColumnType` / `sqliteColumnType`, defaults as the
 * catalogs print them), plus a small builder for ad-hoc tables. `test/sql/golden-parses.test.ts`
 * checks the shop fixtures against what the introspectors really return.
 *
 * @example const snapshot = shopSnapshot('postgres'); const orders = resource(snapshot, 'orders');
 */
import { configSchema } from '../../src/config/schema.ts';
import type { ReadLimits } from '../../src/plan/read-plan.ts';
import { pgColumnType } from '../../src/schema/introspect/postgres.ts';
import { sqliteColumnType } from '../../src/schema/introspect/sqlite.ts';
import type { Column, DialectName, RawForeignKey, RawTable, Resource, Snapshot } from '../../src/schema/model.ts';
import { buildSnapshot } from '../../src/schema/snapshot.ts';

/** The default limits of the configuration contract (SPEC §1: maxLimit 1000, maxDepth 3, limit 25). */
export const LIMITS: ReadLimits = configSchema.parse({}).limits;

/** `format_type()` text → [typname, typcategory] as pg_type holds them. */
const PG_TYPES: Record<string, readonly [string, string]> = {
  bigint: ['int8', 'N'], integer: ['int4', 'N'], text: ['text', 'S'], 'character(2)': ['bpchar', 'S'],
  boolean: ['bool', 'B'], 'timestamp with time zone': ['timestamptz', 'D'],
  'numeric(10,2)': ['numeric', 'N'], 'numeric(12,2)': ['numeric', 'N'],
};

/** One column of a fixture: its declared type in each dialect. */
export interface ColumnSpec {
  readonly name: string;
  /** As `format_type` prints it, e.g. `numeric(12,2)`. */
  readonly pg: string;
  /** As declared in the SQLite DDL, e.g. `INTEGER`, `numeric(12,2)`. */
  readonly sqlite: string;
  readonly nullable?: boolean;
  /** A bigserial in PostgreSQL, an `integer primary key` (rowid alias) in SQLite. */
  readonly serial?: boolean;
  /** The default's SQL text, as both catalogs print it. */
  readonly defaultSql?: string;
}

export interface TableSpec {
  readonly name: string;
  readonly columns: readonly ColumnSpec[];
  readonly primaryKey: readonly string[];
  /** Unique keys besides the primary key. */
  readonly unique?: readonly (readonly string[])[];
  /** Foreign keys in each dialect's catalog order: [columns, table, refColumns]. */
  readonly fks?: { readonly pg: readonly FkSpec[]; readonly sqlite: readonly FkSpec[] };
}

type FkSpec = readonly [columns: readonly string[], table: string, refColumns: readonly string[]];

function column(dialect: DialectName, table: string, spec: ColumnSpec): Column {
  if (dialect === 'postgres') {
    const [typname, category] = PG_TYPES[spec.pg] ?? ['text', 'S'];
    const defaultSql = spec.serial ? `nextval('${table}_${spec.name}_seq'::regclass)` : spec.defaultSql;
    return {
      name: spec.name, type: pgColumnType(spec.pg, typname, 'b', category, null, null, null), nullable: spec.nullable ?? false,
      hasDefault: defaultSql !== undefined, defaultSql, readOnly: false, comment: undefined,
    };
  }
  return {
    name: spec.name, type: sqliteColumnType(spec.sqlite), nullable: spec.nullable ?? false,
    hasDefault: spec.defaultSql !== undefined || Boolean(spec.serial), defaultSql: spec.defaultSql, readOnly: false,
  };
}

/** The RawTable an introspector of `dialect` reports for `spec`. */
export function rawTable(dialect: DialectName, spec: TableSpec): RawTable {
  const schema = dialect === 'postgres' ? 'public' : 'main';
  const fks: RawForeignKey[] = (spec.fks?.[dialect === 'postgres' ? 'pg' : 'sqlite'] ?? []).map(([columns, refTable, refColumns]) => ({ columns, refSchema: schema, refTable, refColumns }));
  return {
    schema, name: spec.name, kind: 'table', columns: spec.columns.map((c) => column(dialect, spec.name, c)),
    primaryKey: spec.primaryKey, uniqueKeys: [spec.primaryKey, ...(spec.unique ?? [])], foreignKeys: fks,
    insertable: true, updatable: true, deletable: true,
    ...(dialect === 'postgres' ? { comment: undefined } : {}),
  };
}

const id: ColumnSpec = { name: 'id', pg: 'bigint', sqlite: 'INTEGER', serial: true };
const created: ColumnSpec = { name: 'created_at', pg: 'timestamp with time zone', sqlite: 'timestamp' };

/** The shop of /work/shared/bench/shop-postgres.sql (and src/demo/seed.ts). */
export const SHOP: readonly TableSpec[] = [
  {
    name: 'customers', primaryKey: ['id'], unique: [['email']],
    columns: [id, { name: 'email', pg: 'text', sqlite: 'TEXT' }, { name: 'name', pg: 'text', sqlite: 'TEXT' }, { name: 'country', pg: 'character(2)', sqlite: 'char(2)' }, created],
  },
  {
    name: 'order_items', primaryKey: ['order_id', 'product_id'],
    columns: [
      { name: 'order_id', pg: 'bigint', sqlite: 'bigint' }, { name: 'product_id', pg: 'bigint', sqlite: 'bigint' },
      { name: 'quantity', pg: 'integer', sqlite: 'INTEGER' }, { name: 'unit_price', pg: 'numeric(10,2)', sqlite: 'numeric(10,2)' },
    ],
    fks: {
      pg: [[['order_id'], 'orders', ['id']], [['product_id'], 'products', ['id']]],
      sqlite: [[['product_id'], 'products', ['id']], [['order_id'], 'orders', ['id']]],
    },
  },
  {
    name: 'orders', primaryKey: ['id'],
    columns: [id, { name: 'customer_id', pg: 'bigint', sqlite: 'bigint' }, { name: 'status', pg: 'text', sqlite: 'TEXT' }, { name: 'total', pg: 'numeric(12,2)', sqlite: 'numeric(12,2)' }, created],
    fks: { pg: [[['customer_id'], 'customers', ['id']]], sqlite: [[['customer_id'], 'customers', ['id']]] },
  },
  {
    name: 'products', primaryKey: ['id'], unique: [['sku']],
    columns: [
      id, { name: 'sku', pg: 'text', sqlite: 'TEXT' }, { name: 'name', pg: 'text', sqlite: 'TEXT' }, { name: 'price', pg: 'numeric(10,2)', sqlite: 'numeric(10,2)' },
      { name: 'active', pg: 'boolean', sqlite: 'boolean', defaultSql: 'true' }, { name: 'stock', pg: 'integer', sqlite: 'INTEGER', defaultSql: '0' },
    ],
  },
];

/** A table beside the shop whose columns may be null (keyset pagination over nullable sorts). */
export const SHIPMENTS: TableSpec = {
  name: 'shipments', primaryKey: ['id'],
  columns: [
    id, { name: 'order_id', pg: 'bigint', sqlite: 'bigint', nullable: true }, { name: 'carrier', pg: 'text', sqlite: 'TEXT', nullable: true },
    { name: 'shipped_at', pg: 'timestamp with time zone', sqlite: 'timestamp', nullable: true },
  ],
  fks: { pg: [[['order_id'], 'orders', ['id']]], sqlite: [[['order_id'], 'orders', ['id']]] },
};

/** DDL that creates {@link SHIPMENTS} in a shop database of each dialect. */
export const SHIPMENTS_DDL: Record<DialectName, string> = {
  postgres: 'create table shipments (id bigserial primary key, order_id bigint references orders(id), carrier text, shipped_at timestamptz)',
  sqlite: 'create table shipments (id integer primary key, order_id bigint references orders(id), carrier text, shipped_at timestamp)',
};

/** The shop's RawTables as the introspector of `dialect` reports them, in its order (by name). */
export function shopTables(dialect: DialectName, extra: readonly TableSpec[] = []): RawTable[] {
  return [...SHOP, ...extra].map((t) => rawTable(dialect, t)).sort((a, b) => a.name.localeCompare(b.name));
}

export function shopSnapshot(dialect: DialectName, extra: readonly TableSpec[] = []): Snapshot {
  return buildSnapshot(dialect, shopTables(dialect, extra), [dialect === 'postgres' ? 'public' : 'main']);
}

export function resource(snapshot: Snapshot, name: string): Resource {
  const r = snapshot.resources.get(name);
  if (!r) throw new Error(`fixture has no resource ${name}`);
  return r;
}

/**
 * A compact hand-written table for relation tests: every column text unless named in `types`.
 * @example table('orders', ['id', 'customer_id'], { fks: [[['customer_id'], 'customers', ['id']]] })
 */
export function table(name: string, columns: readonly string[], options: { pk?: readonly string[]; unique?: readonly (readonly string[])[]; fks?: readonly FkSpec[] } = {}): TableSpec {
  const pk = options.pk ?? ['id'];
  const fks = options.fks ?? [];
  return {
    name, primaryKey: pk, unique: options.unique ?? [], fks: { pg: fks, sqlite: fks },
    columns: columns.map((c) => ({ name: c, pg: 'text', sqlite: 'TEXT' })),
  };
}

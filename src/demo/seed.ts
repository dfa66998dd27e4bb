/**
 * The demo database: the shop of `shop-postgres.sql` (same tables and columns) in SQLite, seeded
 * deterministically — 1,000 customers, 200 products, 10,000 orders, about 25,000 order items.
 */
import { DatabaseSync } from 'node:sqlite';

export const DEMO_COUNTS = { customers: 1000, products: 200, orders: 10_000 } as const;

const SCHEMA = `
create table customers (
  id         integer primary key,
  email      text unique not null,
  name       text not null,
  country    char(2) not null,
  created_at timestamp not null
);
create table products (
  id     integer primary key,
  sku    text unique not null,
  name   text not null,
  price  numeric(10,2) not null,
  active boolean not null default true,
  stock  integer not null default 0
);
create table orders (
  id          integer primary key,
  customer_id bigint not null references customers(id),
  status      text not null check (status in ('pending','paid','shipped','cancelled')),
  total       numeric(12,2) not null,
  created_at  timestamp not null
);
create table order_items (
  order_id   bigint not null references orders(id) on delete cascade,
  product_id bigint not null references products(id),
  quantity   integer not null check (quantity > 0),
  unit_price numeric(10,2) not null,
  primary key (order_id, product_id)
);
create index orders_customer_status on orders (customer_id, status);
create index orders_created_at on orders (created_at);
create index order_items_product on order_items (product_id);
`;

const seq = (n: number) => `with recursive g(n) as (select 1 union all select n + 1 from g where n < ${n})`;
/** ISO 8601 in UTC as PostgreSQL prints timestamptz, so both dialects answer alike. */
const iso = (base: string, seconds: string) => `strftime('%Y-%m-%dT%H:%M:%S+00:00', '${base}', '+' || (${seconds}) || ' seconds')`;

const DATA = `
${seq(DEMO_COUNTS.customers)}
insert into customers (id, email, name, country, created_at)
select n, 'customer' || n || '@example.com', 'Customer ' || n,
       substr('DEUSFRGBESITNLPLSEJP', 1 + (n % 10) * 2, 2), ${iso('2024-01-01', 'n * 37')} from g;
${seq(DEMO_COUNTS.products)}
insert into products (id, sku, name, price, active, stock)
select n, 'SKU-' || printf('%07d', n), 'Product ' || n, round(1 + (n * 7919 % 50000) / 100.0, 2), n % 17 <> 0, n * 31 % 500 from g;
${seq(DEMO_COUNTS.orders)}
insert into orders (id, customer_id, status, total, created_at)
select n, 1 + (n * 7919) % ${DEMO_COUNTS.customers},
       case (n * 13) % 4 when 0 then 'pending' when 1 then 'paid' when 2 then 'shipped' else 'cancelled' end,
       round(((n * 104729) % 100000) / 100.0, 2), ${iso('2024-01-01', 'n * 29')} from g;
${seq(DEMO_COUNTS.orders)}, k(k) as (select 1 union all select k + 1 from k where k < 4)
insert or ignore into order_items (order_id, product_id, quantity, unit_price)
select n, 1 + ((n * 31 + k * 7907) % ${DEMO_COUNTS.products}), 1 + (n + k) % 5, round(1 + ((n + k) * 7919 % 50000) / 100.0, 2)
from g join k on k <= 1 + n % 4 order by n, k;
`;

/** Creates and fills the demo shop in a new SQLite file (or `:memory:`). */
export function seedDemo(path: string): void {
  const db = new DatabaseSync(path);
  try {
    db.exec('pragma journal_mode = wal; pragma foreign_keys = on');
    db.exec('begin');
    db.exec(SCHEMA);
    for (const statement of DATA.split(';').map((s) => s.trim()).filter(Boolean)) db.exec(statement);
    db.exec('commit');
  } finally {
    db.close();
  }
}

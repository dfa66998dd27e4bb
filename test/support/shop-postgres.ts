/**
 * The demo shop in PostgreSQL: the tables of ../shared/bench/shop-postgres.sql with exactly the
 * rows `src/demo/seed.ts` writes to SQLite, so one spec can compare both dialects' answers.
 */
export const SHOP_POSTGRES = `
drop table if exists order_items, orders, products, customers cascade;
create table customers (
  id bigserial primary key, email text unique not null, name text not null,
  country char(2) not null, created_at timestamptz not null);
create table products (
  id bigserial primary key, sku text unique not null, name text not null,
  price numeric(10,2) not null, active boolean not null default true, stock integer not null default 0);
create table orders (
  id bigserial primary key, customer_id bigint not null references customers(id),
  status text not null check (status in ('pending','paid','shipped','cancelled')),
  total numeric(12,2) not null, created_at timestamptz not null);
create table order_items (
  order_id bigint not null references orders(id) on delete cascade,
  product_id bigint not null references products(id),
  quantity integer not null check (quantity > 0), unit_price numeric(10,2) not null,
  primary key (order_id, product_id));
insert into customers (id, email, name, country, created_at)
select g, 'customer' || g || '@example.com', 'Customer ' || g,
       (array['DE','US','FR','GB','ES','IT','NL','PL','SE','JP'])[1 + g % 10],
       timestamptz '2024-01-01 00:00:00+00' + g * interval '37 seconds'
from generate_series(1, 1000) g;
insert into products (id, sku, name, price, active, stock)
select g, 'SKU-' || lpad(g::text, 7, '0'), 'Product ' || g, round((1 + (g * 7919 % 50000) / 100.0)::numeric, 2),
       g % 17 <> 0, g * 31 % 500
from generate_series(1, 200) g;
insert into orders (id, customer_id, status, total, created_at)
select g, 1 + (g * 7919) % 1000, (array['pending','paid','shipped','cancelled'])[1 + (g * 13) % 4],
       round(((g * 104729) % 100000 / 100.0)::numeric, 2), timestamptz '2024-01-01 00:00:00+00' + g * interval '29 seconds'
from generate_series(1, 10000) g;
insert into order_items (order_id, product_id, quantity, unit_price)
select o, 1 + ((o * 31 + k * 7907) % 200), 1 + (o + k) % 5, round((1 + ((o + k) * 7919 % 50000) / 100.0)::numeric, 2)
from generate_series(1, 10000) o, generate_series(1, 1 + o % 4) k
on conflict do nothing;
select setval('customers_id_seq', 1000), setval('products_id_seq', 200), setval('orders_id_seq', 10000);
create index orders_customer_status on orders (customer_id, status);
create index orders_created_at on orders (created_at);
create index order_items_product on order_items (product_id);
analyze;
`;

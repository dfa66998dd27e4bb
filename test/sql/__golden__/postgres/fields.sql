-- GET /orders?fields=id,total,customer.name
-- params: [26]
select row_to_json(a3) as j, a0."id" as k0 from (select a0."id", a0."total", a0."customer_id" from "public"."orders" as a0 order by a0."id" limit $1) as a0, lateral (select case when a0."id" between -9007199254740991 and 9007199254740991 then to_json(a0."id") else to_json(a0."id"::text) end as "id", a0."total"::text as "total", (select row_to_json(a2) from "public"."customers" as a1, lateral (select a1."name" as "name") as a2 where a1."id" = a0."customer_id" limit 1) as "customer") as a3 order by a0."id";

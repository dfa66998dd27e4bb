-- GET /orders?fields=id,total,customer.name
-- params: []
select json_object('id', (case when a0."id" > 9007199254740991 or a0."id" < -9007199254740991 then cast(a0."id" as text) else a0."id" end), 'total', (case when a0."total" is null then null else printf('%.2f', a0."total") end), 'customer', json((select json_object('name', a1."name") from "main"."customers" as a1 where a1."id" = a0."customer_id" limit 1))) as j, a0."id" as k0 from (select a0."id", a0."total", a0."customer_id" from "main"."orders" as a0 order by a0."id" limit 26) as a0 order by a0."id";

-- GET /orders/7
-- params: [7n]
select json_object('id', (case when a0."id" > 9007199254740991 or a0."id" < -9007199254740991 then cast(a0."id" as text) else a0."id" end), 'customer_id', (case when a0."customer_id" > 9007199254740991 or a0."customer_id" < -9007199254740991 then cast(a0."customer_id" as text) else a0."customer_id" end), 'status', a0."status", 'total', (case when a0."total" is null then null else printf('%.2f', a0."total") end), 'created_at', a0."created_at") as j from "main"."orders" as a0 where a0."id" = ?1;

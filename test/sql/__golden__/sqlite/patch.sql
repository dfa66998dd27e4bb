-- PATCH /orders/5 {status}
-- params: ["shipped", 5n]
update "main"."orders" as a0 set "status" = ?1 where a0."id" = ?2 returning json_object('id', (case when "id" > 9007199254740991 or "id" < -9007199254740991 then cast("id" as text) else "id" end), 'customer_id', (case when "customer_id" > 9007199254740991 or "customer_id" < -9007199254740991 then cast("customer_id" as text) else "customer_id" end), 'status', "status", 'total', (case when "total" is null then null else printf('%.2f', "total") end), 'created_at', "created_at") as j, "id" as k0;

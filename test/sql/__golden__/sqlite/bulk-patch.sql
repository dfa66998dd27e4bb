-- PATCH /orders?status=pending&customer.country=DE {status} (maxAffected 10000)
-- params: ["pending", "DE"]
select count(*) from (select 1 from "main"."orders" as a0 where (a0."status" = ?1 and exists (select 1 from "main"."customers" as a1 where a1."id" = a0."customer_id" and a1."country" = ?2)) limit 10001) as s;

-- params: ["cancelled", "pending", "DE"]
update "main"."orders" as a0 set "status" = ?1 where (a0."status" = ?2 and exists (select 1 from "main"."customers" as a1 where a1."id" = a0."customer_id" and a1."country" = ?3)) returning json_object('id', (case when "id" > 9007199254740991 or "id" < -9007199254740991 then cast("id" as text) else "id" end), 'customer_id', (case when "customer_id" > 9007199254740991 or "customer_id" < -9007199254740991 then cast("customer_id" as text) else "customer_id" end), 'status', "status", 'total', (case when "total" is null then null else printf('%.2f', "total") end), 'created_at', "created_at") as j, "id" as k0;

-- DELETE /orders?status=cancelled&total[lt]=1 (maxAffected 10000)
-- params: ["cancelled", "1"]
select count(*) from (select 1 from "main"."orders" as a0 where (a0."status" = ?1 and a0."total" < ?2) limit 10001) as s;

-- params: ["cancelled", "1"]
delete from "main"."orders" as a0 where (a0."status" = ?1 and a0."total" < ?2) returning json_object('id', (case when "id" > 9007199254740991 or "id" < -9007199254740991 then cast("id" as text) else "id" end), 'customer_id', (case when "customer_id" > 9007199254740991 or "customer_id" < -9007199254740991 then cast("customer_id" as text) else "customer_id" end), 'status', "status", 'total', (case when "total" is null then null else printf('%.2f', "total") end), 'created_at', "created_at") as j, "id" as k0;

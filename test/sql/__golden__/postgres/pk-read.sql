-- GET /orders/7
-- params: ["7"]
select row_to_json(a1) as j from "public"."orders" as a0, lateral (select case when a0."id" between -9007199254740991 and 9007199254740991 then to_json(a0."id") else to_json(a0."id"::text) end as "id", case when a0."customer_id" between -9007199254740991 and 9007199254740991 then to_json(a0."customer_id") else to_json(a0."customer_id"::text) end as "customer_id", a0."status" as "status", a0."total"::text as "total", a0."created_at" as "created_at") as a1 where a0."id" = $1;

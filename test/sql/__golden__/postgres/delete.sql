-- DELETE /order_items/5,17
-- params: ["5", "17"]
with a1 as (delete from "public"."order_items" as a0 where (a0."order_id" = $1 and a0."product_id" = $2) returning *) select row_to_json(a2) as j, a1."order_id" as k0, a1."product_id" as k1 from a1, lateral (select ) as a2;

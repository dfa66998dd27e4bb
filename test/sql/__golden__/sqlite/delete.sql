-- DELETE /order_items/5,17
-- params: [5n, 17n]
delete from "main"."order_items" as a0 where (a0."order_id" = ?1 and a0."product_id" = ?2) returning json_object() as j, "order_id" as k0, "product_id" as k1;

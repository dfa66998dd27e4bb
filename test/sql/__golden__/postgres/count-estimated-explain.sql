-- GET /orders?status=paid&count=estimated, when more than 10000 rows match (PostgreSQL asks the planner; SQLite has no estimate)
-- params: ["paid"]
explain (format json) select 1 from "public"."orders" as a0 where a0."status" = $1;

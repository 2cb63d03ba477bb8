-- Run once by the postgres image on first start: the statistics pg_top_queries reads.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;

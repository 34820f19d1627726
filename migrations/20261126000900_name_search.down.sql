DROP INDEX products_name_search_idx;
ALTER TABLE products DROP COLUMN name_search;

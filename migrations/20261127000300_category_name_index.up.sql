-- A category's products by name, read in order from an index like its newest and cheapest
-- (products_category_newest_idx, products_category_price_idx): a page of one category
-- ordered by name read every product of it and sorted them.
CREATE INDEX products_category_name_idx ON products (category_id, name, id) WHERE is_active;

-- Back to one SKU per product. A product keeps the SKU and price of its first variant and
-- the sum of its variants' stock; the ledger, cart lines and order lines of its other
-- variants move onto it (cart lines of one product merge, keeping the largest quantity).
-- Option values and compare-at prices are lost.

DROP TRIGGER product_options_changed ON product_options;
DROP TRIGGER product_variants_changed ON product_variants;

ALTER TABLE order_items DROP COLUMN options, DROP COLUMN variant_id;

ALTER TABLE cart_items
    DROP CONSTRAINT cart_items_variant_id_fkey,
    DROP CONSTRAINT cart_items_variant_key;
UPDATE cart_items c SET variant_id = v.product_id FROM product_variants v WHERE v.id = c.variant_id;
DELETE FROM cart_items c USING cart_items d
WHERE c.user_id = d.user_id AND c.variant_id = d.variant_id
  AND (c.quantity, c.id) < (d.quantity, d.id);
ALTER TABLE cart_items RENAME COLUMN variant_id TO product_id;
ALTER TABLE cart_items
    ADD CONSTRAINT cart_items_product_key UNIQUE (user_id, product_id),
    ADD CONSTRAINT cart_items_product_id_fkey FOREIGN KEY (product_id) REFERENCES products (id);

ALTER TABLE inventory_movements DROP CONSTRAINT inventory_movements_variant_id_fkey;
UPDATE inventory_movements m SET variant_id = v.product_id
FROM product_variants v WHERE v.id = m.variant_id AND v.id <> v.product_id;
ALTER TABLE inventory_movements RENAME COLUMN variant_id TO product_id;
ALTER INDEX inventory_movements_variant_idx RENAME TO inventory_movements_product_idx;

ALTER TABLE stock_levels DROP CONSTRAINT stock_levels_variant_id_fkey;
CREATE TEMPORARY TABLE product_stock ON COMMIT DROP AS
SELECT v.product_id, sum(s.on_hand)::int AS on_hand
FROM stock_levels s JOIN product_variants v ON v.id = s.variant_id GROUP BY v.product_id;
DELETE FROM stock_levels;
ALTER TABLE stock_levels RENAME COLUMN variant_id TO product_id;
INSERT INTO stock_levels (product_id, on_hand) SELECT product_id, on_hand FROM product_stock;
ALTER TABLE stock_levels
    ADD CONSTRAINT stock_levels_product_id_fkey FOREIGN KEY (product_id) REFERENCES products (id);
ALTER TABLE inventory_movements
    ADD CONSTRAINT inventory_movements_product_id_fkey
        FOREIGN KEY (product_id) REFERENCES stock_levels (product_id);

DROP INDEX products_price_idx;
DROP INDEX products_category_price_idx;
ALTER TABLE products ADD COLUMN sku text, ADD COLUMN price numeric(12, 2);
UPDATE products p SET sku = v.sku, price = v.price
FROM (SELECT DISTINCT ON (product_id) product_id, sku, price
      FROM product_variants ORDER BY product_id, position, id) v
WHERE v.product_id = p.id;
ALTER TABLE products
    ALTER COLUMN sku SET NOT NULL,
    ALTER COLUMN price SET NOT NULL,
    ADD CONSTRAINT products_price_check CHECK (price >= 0),
    ADD CONSTRAINT products_sku_key UNIQUE (sku);
CREATE INDEX products_price_idx ON products (price, id) WHERE is_active;
CREATE INDEX products_category_price_idx ON products (category_id, price, id) WHERE is_active;
CREATE INDEX products_sku_lower_idx ON products (lower(sku));

DROP INDEX products_search_idx;
ALTER TABLE products DROP COLUMN search;
ALTER TABLE products ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', sku), 'A')
    || setweight(to_tsvector('english', name), 'A')
    || setweight(to_tsvector('english', description), 'C')
) STORED;
CREATE INDEX products_search_idx ON products USING gin (search) WHERE is_active;
ALTER TABLE products
    DROP COLUMN price_min, DROP COLUMN price_max, DROP COLUMN variant_skus, DROP COLUMN option_terms;

DROP TABLE product_variants;
DROP TABLE product_options;

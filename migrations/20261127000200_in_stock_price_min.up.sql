-- A product's lowest in-stock price: the lowest price among its active variants that have
-- stock, NULL when none has. It is to `in_stock=true` what `price_min` is to every active
-- variant: a product whose `in_stock_price_min` lies in a price range has an in-stock
-- variant in that range, so those products alone are a lower bound of an in-stock range's
-- count, read from one index without a variant (swift-core's catalog::repository::
-- count_products). Before, such a count probed every product's in-stock variants: 10 to
-- 60 ms each, the largest share of a cold catalog's work.
--
-- Kept by swift-core's refresh_summary (every write to a product's variants) and, when a
-- sale or a restock makes a variant run out or come back, by the stock trigger below, in
-- the same transaction, and only when it moves. That update fires the products trigger
-- like any product update: a second notice beside the variant's in_stock one, naming the
-- same product, so it drops the same answers.
ALTER TABLE products ADD COLUMN in_stock_price_min numeric(12, 2);
UPDATE products p SET in_stock_price_min = v.low
  FROM (SELECT product_id, min(price) AS low FROM product_variants
         WHERE is_active AND in_stock GROUP BY product_id) v
 WHERE v.product_id = p.id;
CREATE INDEX products_in_stock_price_idx ON products (in_stock_price_min, id)
    WHERE is_active AND price_min IS NOT NULL;

CREATE OR REPLACE FUNCTION stock_crossed_zero() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    product uuid;
BEGIN
    UPDATE product_variants SET in_stock = NEW.on_hand > 0 WHERE id = NEW.variant_id
        RETURNING product_id INTO product;
    UPDATE products p SET in_stock_price_min = v.low
      FROM (SELECT min(price) AS low FROM product_variants
             WHERE product_id = product AND is_active AND in_stock) v
     WHERE p.id = product AND p.in_stock_price_min IS DISTINCT FROM v.low;
    RETURN NULL;
END $$;

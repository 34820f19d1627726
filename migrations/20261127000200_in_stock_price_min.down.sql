CREATE OR REPLACE FUNCTION stock_crossed_zero() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE product_variants SET in_stock = NEW.on_hand > 0 WHERE id = NEW.variant_id;
    RETURN NULL;
END $$;
DROP INDEX products_in_stock_price_idx;
ALTER TABLE products DROP COLUMN in_stock_price_min;

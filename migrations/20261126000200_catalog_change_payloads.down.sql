DROP INDEX product_variants_in_stock_idx;
DROP INDEX product_variants_in_stock_price_idx;
DROP INDEX product_variants_active_price_idx;
DROP TRIGGER stock_levels_truncated ON stock_levels;
DROP TRIGGER stock_levels_crossed_zero ON stock_levels;
DROP FUNCTION stock_crossed_zero();
DROP TRIGGER product_options_truncated ON product_options;
DROP TRIGGER product_options_deleted ON product_options;
DROP TRIGGER product_options_updated ON product_options;
DROP TRIGGER product_options_inserted ON product_options;
DROP FUNCTION notify_options_changed();
DROP TRIGGER product_variants_truncated ON product_variants;
DROP TRIGGER product_variants_deleted ON product_variants;
DROP TRIGGER product_variants_updated ON product_variants;
DROP TRIGGER product_variants_inserted ON product_variants;
DROP FUNCTION notify_variants_changed();
DROP TRIGGER products_truncated ON products;
DROP TRIGGER products_deleted ON products;
DROP TRIGGER products_updated ON products;
DROP TRIGGER products_inserted ON products;
DROP FUNCTION notify_products_changed();
DROP FUNCTION notify_catalog_products(uuid[], numeric[], boolean, boolean, boolean);

CREATE TRIGGER products_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();
CREATE TRIGGER product_variants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON product_variants
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();
CREATE TRIGGER product_options_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON product_options
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();
CREATE TRIGGER stock_levels_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON stock_levels
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();

ALTER TABLE product_variants DROP COLUMN in_stock;

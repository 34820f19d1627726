-- Catalog changes say what they touched, so that caches drop only what a change can affect
-- (swift-core/src/catalog/changes.rs reads these payloads). Before, every statement on a
-- catalog table, every sale included, sent an empty NOTIFY that emptied every instance's
-- whole cache, and NOTIFY serialises the commits of the transactions that send it.
--
-- A payload is '' (anything may have changed) or
--   {"products": [ids], "categories": [ids or null], "prices": ["12.50", ...],
--    "price": bool, "stock": bool, "text": bool}
-- naming the products whose shown fields changed, their categories, the variant prices
-- involved (before and after), and which facets of a listing (price filters and ordering,
-- in-stock filters, search and name ordering) the change can move.
-- A product is listed while it is active and has an active variant (price_min not null);
-- becoming or ceasing to be listed, or moving category, changes which listings hold it and
-- their counts: that is '', as are categories' changes and TRUNCATE.

DROP TRIGGER products_changed ON products;
DROP TRIGGER product_variants_changed ON product_variants;
DROP TRIGGER product_options_changed ON product_options;
DROP TRIGGER stock_levels_changed ON stock_levels;

-- More products than this in one statement (an import, a seed) is simply "anything".
CREATE FUNCTION notify_catalog_products(ids uuid[], prices numeric[], price boolean, stock boolean, text boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(ids) > 100 THEN
        PERFORM pg_notify('catalog_changed', '');
    ELSIF cardinality(ids) > 0 THEN
        PERFORM pg_notify('catalog_changed', json_build_object(
            'products', ids,
            'categories', ARRAY(SELECT DISTINCT category_id FROM products WHERE id = ANY (ids)),
            'prices', ARRAY(SELECT DISTINCT p::text FROM unnest(prices) p WHERE p IS NOT NULL),
            'price', coalesce(price, false), 'stock', coalesce(stock, false),
            'text', coalesce(text, false))::text);
    END IF;
END $$;

CREATE FUNCTION notify_products_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[];
    prices numeric[];
    price boolean;
    text boolean;
    membership boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        membership := EXISTS (SELECT 1 FROM new_rows WHERE is_active AND price_min IS NOT NULL);
    ELSIF TG_OP = 'DELETE' THEN
        membership := EXISTS (SELECT 1 FROM old_rows WHERE is_active AND price_min IS NOT NULL);
    ELSE
        SELECT array_agg(n.id),
               array_agg(o.price_min) || array_agg(n.price_min) || array_agg(o.price_max) || array_agg(n.price_max),
               bool_or(o.price_min IS DISTINCT FROM n.price_min OR o.price_max IS DISTINCT FROM n.price_max),
               bool_or(o.search IS DISTINCT FROM n.search OR o.name IS DISTINCT FROM n.name),
               bool_or((o.is_active AND o.price_min IS NOT NULL) IS DISTINCT FROM (n.is_active AND n.price_min IS NOT NULL)
                       OR o.category_id IS DISTINCT FROM n.category_id)
          INTO ids, prices, price, text, membership
          FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE (o.is_active AND o.price_min IS NOT NULL) OR (n.is_active AND n.price_min IS NOT NULL);
    END IF;
    IF membership THEN
        PERFORM pg_notify('catalog_changed', '');
    ELSE
        PERFORM notify_catalog_products(ids, prices, price, false, text);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER products_inserted AFTER INSERT ON products REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_products_changed();
CREATE TRIGGER products_updated AFTER UPDATE ON products REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_products_changed();
CREATE TRIGGER products_deleted AFTER DELETE ON products REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_products_changed();
CREATE TRIGGER products_truncated AFTER TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();

-- A variant's price moves price filters; its being sold (is_active) moves every filter; its
-- SKU and option values are searched. A new or removed variant is all of these.
CREATE FUNCTION notify_variants_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[];
    prices numeric[];
    price boolean;
    stock boolean;
    text boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT product_id), array_agg(DISTINCT new_rows.price), true, true, true
          INTO ids, prices, price, stock, text FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT product_id), array_agg(DISTINCT old_rows.price), true, true, true
          INTO ids, prices, price, stock, text FROM old_rows;
    ELSE
        SELECT array_agg(DISTINCT n.product_id) || array_agg(DISTINCT o.product_id),
               array_agg(o.price) || array_agg(n.price),
               bool_or(o.price IS DISTINCT FROM n.price OR o.is_active IS DISTINCT FROM n.is_active
                       OR o.product_id IS DISTINCT FROM n.product_id),
               bool_or(o.is_active IS DISTINCT FROM n.is_active OR o.in_stock IS DISTINCT FROM n.in_stock
                       OR o.product_id IS DISTINCT FROM n.product_id),
               bool_or(o.sku IS DISTINCT FROM n.sku OR o.option_values IS DISTINCT FROM n.option_values
                       OR o.is_active IS DISTINCT FROM n.is_active OR o.product_id IS DISTINCT FROM n.product_id)
          INTO ids, prices, price, stock, text
          FROM new_rows n JOIN old_rows o ON o.id = n.id;
    END IF;
    PERFORM notify_catalog_products(ARRAY(SELECT DISTINCT unnest(ids)), prices, price, stock, text);
    RETURN NULL;
END $$;
CREATE TRIGGER product_variants_inserted AFTER INSERT ON product_variants REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_variants_changed();
CREATE TRIGGER product_variants_updated AFTER UPDATE ON product_variants REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_variants_changed();
CREATE TRIGGER product_variants_deleted AFTER DELETE ON product_variants REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_variants_changed();
CREATE TRIGGER product_variants_truncated AFTER TRUNCATE ON product_variants
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();

-- Options: their names and values are searched.
CREATE FUNCTION notify_options_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT product_id) INTO ids FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT product_id) INTO ids FROM old_rows;
    ELSE
        SELECT array_agg(DISTINCT product_id) INTO ids
          FROM (SELECT product_id FROM new_rows UNION ALL SELECT product_id FROM old_rows) changed;
    END IF;
    PERFORM notify_catalog_products(ids, '{}', false, false, true);
    RETURN NULL;
END $$;
CREATE TRIGGER product_options_inserted AFTER INSERT ON product_options REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_options_changed();
CREATE TRIGGER product_options_updated AFTER UPDATE ON product_options REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_options_changed();
CREATE TRIGGER product_options_deleted AFTER DELETE ON product_options REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_options_changed();
CREATE TRIGGER product_options_truncated AFTER TRUNCATE ON product_options
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();

-- Stock: listings show only whether a variant has some. That fact is kept on the variant
-- (`in_stock`), so listings filter and show it from the variants' own indexes instead of
-- probing every variant's stock row; the stock trigger sets it when a variant runs out or
-- comes back, and the variants' trigger announces it like any other variant change. A sale
-- that does neither costs nothing here (the row-level WHEN) and sends no NOTIFY: product
-- pages read the stock itself live. Stock rows are opened empty and filled by an update
-- (swift-core's inventory::open); the seed, which copies rows in bulk, writes in_stock itself.
ALTER TABLE product_variants ADD COLUMN in_stock boolean NOT NULL DEFAULT false;
UPDATE product_variants v SET in_stock = true FROM stock_levels s WHERE s.variant_id = v.id AND s.on_hand > 0;

CREATE FUNCTION stock_crossed_zero() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE product_variants SET in_stock = NEW.on_hand > 0 WHERE id = NEW.variant_id;
    RETURN NULL;
END $$;
CREATE TRIGGER stock_levels_crossed_zero AFTER UPDATE OF on_hand ON stock_levels FOR EACH ROW
    WHEN ((OLD.on_hand > 0) IS DISTINCT FROM (NEW.on_hand > 0))
    EXECUTE FUNCTION stock_crossed_zero();

CREATE TRIGGER stock_levels_truncated AFTER TRUNCATE ON stock_levels
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();

-- Price-range filters scan active variants by price (index only) instead of all variants,
-- and in-stock ones among them alone when asked.
CREATE INDEX product_variants_active_price_idx ON product_variants (price, product_id) WHERE is_active;
CREATE INDEX product_variants_in_stock_price_idx ON product_variants (price, product_id) WHERE is_active AND in_stock;
CREATE INDEX product_variants_in_stock_idx ON product_variants (product_id) WHERE is_active AND in_stock;
